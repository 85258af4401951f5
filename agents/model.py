"""The Mesa model: defenders, an attacker and a coordination authority over repeated
rounds on one game (Mesa's idiom: ``model.py`` beside ``agents.py``).

One :meth:`CoordinationModel.step` is one round of :class:`~agents.roles.RoundLoop`
(the same loop :func:`~agents.roles.play_rounds` runs without Mesa). All randomness
comes from ``model.rng``, seeded from the ``rng`` argument (a ``SeedSequence``, an int
or a ``Generator``).
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from agents.agents import AttackerAgent, CoordinationAuthority, DefenderAgent
from agents.attackers import AttackerModel, make_attacker
from agents.roles import Behaviours, RoundLoop, check_behaviours
from agents.rounds import RoundRecord
from mechanisms.base import Mechanism
from sim.errors import InvalidParameterError
from sim.game import SecurityGame


class CoordinationModel(mesa.Model):
    """Repeated coordination rounds on one game.

    Parameters
    ----------
    game : SecurityGame
        The true game; mechanisms only ever see reported games.
    mechanism : Mechanism
    behaviours : sequence of (ReportingBehaviour, ExecutionBehaviour), one per defender
        Copied (fresh learning state) for this model.
    attacker : AttackerModel, optional
        Default: ``informed``.
    rounds : int
        Rounds :meth:`run` plays.
    rng : SeedSequence, int or Generator, optional
        Seeds ``model.rng``.

    Attributes
    ----------
    authority : CoordinationAuthority
    defenders : list of DefenderAgent
    attacker : AttackerAgent
    records : list of RoundRecord
        One per round played.

    Notes
    -----
    Mesa 3.3 keeps every model alive through ``Agent._ids`` (fixed in Mesa 3.5);
    call :meth:`release` (or use the model as a context manager, or
    :func:`simulate`) after a run so long studies do not leak memory.
    """

    def __init__(
        self,
        game: SecurityGame,
        mechanism: Mechanism,
        behaviours: Behaviours,
        *,
        attacker: AttackerModel | None = None,
        rounds: int = 100,
        rng: Any = None,
    ) -> None:
        check_behaviours(game, behaviours, "CoordinationModel")
        if not (isinstance(rounds, int) and not isinstance(rounds, bool) and rounds >= 0):
            raise InvalidParameterError(
                f"CoordinationModel.rounds must be an int >= 0; got {rounds!r}"
            )
        super().__init__(rng=rng)
        if not isinstance(rng, np.random.Generator):
            # Mesa 3.3 seeds model.random with a draw from model.rng when given a
            # SeedSequence; restart the stream so model.rng is exactly default_rng(rng)
            self.reset_rng(rng)
        self.game = game
        self.rounds = rounds
        self.round_index = 0
        self.records: list[RoundRecord] = []
        self.authority = CoordinationAuthority(self, mechanism)
        self.defenders = [
            DefenderAgent(self, i, reporting, executing)
            for i, (reporting, executing) in enumerate(behaviours)
        ]
        self.attacker = AttackerAgent(
            self, attacker if attacker is not None else make_attacker("informed")
        )
        self.loop = RoundLoop(game, self.authority, self.defenders, self.attacker)

    def step(self) -> None:
        """Play one round and append its :class:`~agents.rounds.RoundRecord`."""
        self.records.append(self.loop.play(self.round_index, self.rng))
        self.round_index += 1

    def run(self) -> list[RoundRecord]:
        """Play :attr:`rounds` rounds; returns the records."""
        for _ in range(self.rounds):
            self.step()
        return self.records

    def release(self) -> None:
        """Drop the agents and Mesa's class-level reference to this model."""
        for agent in list(self.agents):
            agent.remove()
        mesa.Agent._ids.pop(self, None)  # Mesa 3.3 holds every model here forever

    def __enter__(self) -> CoordinationModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def simulate(
    game: SecurityGame,
    mechanism: Mechanism,
    behaviours: Behaviours,
    *,
    attacker: AttackerModel | None = None,
    rounds: int = 100,
    rng: Any = None,
) -> list[RoundRecord]:
    """Run a :class:`CoordinationModel` for ``rounds`` rounds and release it."""
    with CoordinationModel(
        game, mechanism, behaviours, attacker=attacker, rounds=rounds, rng=rng
    ) as model:
        return model.run()
