"""Reading a game from a JSON file (:meth:`sim.game.SecurityGame.to_dict`'s format),
bounded and with one clear error per way a file can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

from sim.errors import InvalidGameError
from sim.game import SecurityGame

#: The largest game file read (a game of 1000 defenders x 1000 targets is about
#: 40 MB of JSON).
GAME_FILE_LIMIT = 64 * 2**20

#: The environment variable through which ``defcoord viz --game`` hands the live view
#: (a separate server process) the game file it opens on.
VIZ_GAME_ENV = "DEFCOORD_VIZ_GAME"


def read_game(path: str | Path) -> SecurityGame:
    """The game in the JSON file ``path``; :class:`InvalidGameError` naming the file
    when it cannot be read, is too large, is not UTF-8 JSON or is not a valid game."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(GAME_FILE_LIMIT + 1)  # bounded: /dev/zero never fills memory
    except OSError as exc:
        raise InvalidGameError(f"cannot read game file {str(path)!r}: {exc.strerror}") from None
    if len(raw) > GAME_FILE_LIMIT:
        raise InvalidGameError(
            f"game file {str(path)!r} is larger than {GAME_FILE_LIMIT} bytes; not a game"
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidGameError(f"game file {str(path)!r} is not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise InvalidGameError(f"game file {str(path)!r} is not JSON: {reason}") from None
    try:
        return SecurityGame.from_dict(data)
    except InvalidGameError as exc:
        raise InvalidGameError(f"game file {str(path)!r}: {exc}") from None
