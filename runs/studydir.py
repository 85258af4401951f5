"""A study's output directory, kept safe: one writer at a time, one study per
directory, verified parts, and no write that leaves the directory.

* :meth:`StudyDir.lock` takes an exclusive ``fcntl`` lock on ``.lock`` for the whole
  run; a second run into the same directory is refused, naming the holder's process.
* The study's identity (config SHA-256, root seed, schema version, dataset format) is
  written to ``study.json`` before the first part, and every ledger entry carries it;
  a resume (or a ledger line) with another identity is refused, naming what differs.
* Every part's SHA-256 is in its ledger entry; :meth:`Ledger.done` counts a chunk as
  finished only while its part exists and matches, so a missing, truncated or swapped
  part is simply run again.
* :func:`atomic_write` writes through a fresh ``mkstemp`` file (``O_EXCL``, a random
  name, so a planted symlink is never followed) renamed into place; the ledger is
  appended with ``O_NOFOLLOW``; symlinked subdirectories are refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.errors import InvalidConfigError, StudyIOError, StudyStateError

#: Bumped whenever the dataset's columns change: a study of another schema is refused.
SCHEMA_VERSION = 3

#: Files and folders a study directory may hold (anything else is left alone).
SUBDIRECTORIES = ("parts", "dataset", "figures")

#: The keys of the identity in ``study.json`` (:func:`identity`): a ``study.json``
#: without them is not this tool's.
IDENTITY_KEYS = ("design_sha256", "root_seed", "schema_version", "format")

#: Where this tool writes in a study directory, one component pattern per level (a
#: temporary file of :func:`atomic_write` is ``.<name>.<random>.tmp`` beside its file;
#: consolidation stages the next dataset in ``.dataset.new``, ``runs.export.STAGING``).
OWN_FILES = tuple(
    tuple(pattern.split("/"))
    for pattern in (
        "study.json",
        ".lock",
        "ledger.jsonl",
        "manifest.json",
        "summary.csv",
        ".*.tmp",
        "parts/*.arrow",
        "parts/*.parquet",
        "parts/.*.tmp",
        *(
            f"{folder}/{place}"
            for folder in ("dataset", ".dataset.new", ".dataset.old")
            for place in ("*.csv", "*/mechanism=*/part-0.parquet")
        ),
        "figures/*.png",
        "figures/*.pdf",
        "figures/report.md",
        "figures/report.html",
        "figures/.*.tmp",
    )
)


#: A finished chunk's part file: ``parts/<chunk>`` with this suffix, an Arrow IPC file
#: (``runs.export.encode_part``).
PART_SUFFIX = ".arrow"


def part_path(root: Path, chunk: str) -> Path:
    """Where the study in ``root`` keeps chunk ``chunk``'s part file."""
    return root / "parts" / f"{chunk}{PART_SUFFIX}"


def sha256(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_path(path: Path, what: str) -> None:
    """Refuse, before any work, a path whose name is not UTF-8 (the dataset's Parquet
    writer cannot open it) or has a component longer than the file system allows."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise StudyIOError(f"{what} {shown!r} is not a UTF-8 name; choose another") from None
    try:
        limit = os.pathconf(_existing(path), "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part in path.parts:
        if len(part.encode("utf-8")) > limit:
            raise StudyIOError(
                f"{what} {text[:60]!r}...: the name {part[:20]!r}... is "
                f"{len(part.encode('utf-8'))} bytes, more than this file system's {limit}"
            )


def _existing(path: Path) -> Path:
    """The nearest folder of ``path`` that exists (the current one at worst)."""
    for parent in [path, *path.parents]:
        try:
            if parent.is_dir():
                return parent
        except OSError:
            continue
    return Path(".")


def refuse_symlinks(root: Path, path: Path) -> None:
    """Refuse a path under ``root`` that passes through a symbolic link."""
    current = root
    for part in path.relative_to(root).parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise StudyIOError(
                f"study directory {str(root)!r}: {str(current)!r} is a symbolic link; "
                "refusing to write through it"
            )


def current_umask() -> int:
    """The process's umask: from ``/proc/self/status`` on Linux (no side effect), else
    by setting it and setting it back."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(root: Path, path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (inside ``root``) atomically: a new temporary file in
    the same folder, then a rename that replaces ``path`` itself, never its target. The
    file gets the mode a plain ``open`` would give it (0666 less the umask:
    collaborators can read a shared study), not ``mkstemp``'s 0600."""
    refuse_symlinks(root, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o666 & ~current_umask())
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise StudyIOError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None


def identity(design_sha256: str, seed: int, fmt: str) -> dict[str, Any]:
    """What makes a study itself: resuming anything else into its directory is refused
    (its number of replications may grow; see :meth:`StudyDir.claim`)."""
    return {
        "design_sha256": design_sha256,
        "root_seed": seed,
        "schema_version": SCHEMA_VERSION,
        "format": fmt,
    }


def code_identity(plugins: Sequence[str]) -> dict[str, Any]:
    """The code a study's results come from: this framework's version and the SHA-256
    of each plug-in module's source (every ``.py`` file of a plug-in package)."""
    try:
        version = metadata.version("defense-coordination")
    except metadata.PackageNotFoundError:
        version = "not installed"
    sources = {}
    for module in plugins:
        spec = importlib.util.find_spec(module)
        origin = Path(spec.origin) if spec is not None and spec.origin else None
        if origin is None or not origin.is_file():
            sources[module] = "unknown"
            continue
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.relative_to(origin.parent).as_posix().encode())
            digest.update(path.read_bytes())
        sources[module] = digest.hexdigest()
    return {"version": version, "plugins": sources}


def _changed(before: Any, after: Any, path: str = "") -> list[str]:
    """The dotted fields where two resolved configurations differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            out += _changed(before.get(key), after.get(key), f"{path}.{key}" if path else key)
        return out
    return [] if before == after else [path or "(the whole configuration)"]


def identity_key(ident: dict[str, Any]) -> str:
    """A short digest of an identity, carried by every ledger entry."""
    return sha256(json.dumps(ident, sort_keys=True).encode())[:16]


def _drop_torn_tail(fd: int) -> None:
    """Truncate an open file after its last newline when it does not end with one."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return
    data = os.pread(fd, size, 0)
    os.ftruncate(fd, data.rfind(b"\n") + 1)


@dataclass
class Ledger:
    """``ledger.jsonl``: one line per chunk outcome; the last line of a chunk wins.

    A line cut short at the end of the file (a kill mid-write) is ignored, so that
    chunk runs again; any other malformed line, or a line of another study, is refused.
    """

    root: Path
    key: str
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.root / "ledger.jsonl"

    @classmethod
    def load(cls, root: Path, key: str) -> Ledger:
        ledger = cls(root, key)
        if not ledger.path.exists():
            return ledger
        try:
            lines = ledger.path.read_bytes().decode("utf-8").splitlines()
        except UnicodeDecodeError:
            raise StudyStateError(
                f"{str(ledger.path)!r} is not UTF-8 text: not a ledger this tool wrote"
            ) from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):
                    continue  # cut short by a kill: that chunk runs again
                raise StudyStateError(
                    f"{str(ledger.path)!r} line {number} is not JSON; the ledger is damaged"
                ) from None
            if not (isinstance(entry, dict) and isinstance(entry.get("chunk"), str)):
                raise StudyStateError(
                    f"{str(ledger.path)!r} line {number} is not a ledger entry (a JSON "
                    "object with a 'chunk')"
                )
            if entry.get("study") != key:
                raise StudyStateError(
                    f"{str(ledger.path)!r} line {number} belongs to another study "
                    f"({entry.get('study')!r}, this one is {key!r})"
                )
            ledger.entries[entry["chunk"]] = entry
        return ledger

    def record(self, entries: list[dict[str, Any]]) -> None:
        """Append entries durably (one fsync for the lot). A line left cut short by an
        earlier write (a kill, a full disk) is dropped first, so the new entries start
        a line of their own; a write that cannot finish is an error, and its own cut
        line is dropped by the next record."""
        text = "".join(json.dumps({**e, "study": self.key}, sort_keys=True) + "\n" for e in entries)
        try:
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
            fd = os.open(self.path, flags, 0o644)
            try:
                _drop_torn_tail(fd)
                data = memoryview(text.encode())
                while data:
                    written = os.write(fd, data)
                    if written <= 0:
                        raise OSError(0, "the write made no progress")
                    data = data[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StudyIOError(
                f"cannot append to {str(self.path)!r}: {exc.strerror or exc}"
            ) from None
        for entry in entries:
            self.entries[entry["chunk"]] = {**entry, "study": self.key}

    def done(self) -> set[str]:
        """Chunks finished successfully whose part file exists and matches its SHA-256."""
        out = set()
        for chunk, entry in self.entries.items():
            part = part_path(self.root, chunk)
            if entry.get("status") != "ok" or part.is_symlink() or not part.is_file():
                continue
            if sha256(part.read_bytes()) == entry.get("sha256"):
                out.add(chunk)
        return out


@dataclass
class StudyDir:
    """A study's output directory (see the module docstring)."""

    root: Path

    def prepare(self) -> None:
        """Create the directory; refuse a path it cannot be (:func:`check_path`), a
        file, symlinked subdirectories, or a directory that holds anything but a study
        of this tool (its files are not ours to write among)."""
        check_path(self.root, "--out")
        if self.root.exists() and not self.root.is_dir():
            raise StudyIOError(f"--out {str(self.root)!r} is a file, not a directory")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StudyIOError(
                f"cannot create --out {str(self.root)!r}: {exc.strerror or exc}"
            ) from None
        for name in SUBDIRECTORIES:
            if (self.root / name).is_symlink():
                raise StudyIOError(
                    f"study directory {str(self.root)!r}: {name}/ is a symbolic link; "
                    "refusing to write through it"
                )
        if not os.access(self.root, os.W_OK):
            raise StudyIOError(f"--out {str(self.root)!r} is not writable")
        if not (self.root / "study.json").exists():
            held = [p.name for p in sorted(self.root.iterdir()) if p.name != ".lock"]
            if held:
                raise StudyStateError(
                    f"--out {str(self.root)!r} is not empty ({', '.join(held[:3])}"
                    f"{', ...' if len(held) > 3 else ''}) and holds no study of this tool "
                    "(no study.json); choose a new or empty --out"
                )

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the directory's exclusive lock for the block."""
        path = self.root / ".lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise StudyIOError(f"cannot open {str(path)!r}: {exc.strerror}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                raise StudyStateError(
                    f"{str(self.root)!r} is being written by another run (process {holder}); "
                    "wait for it to finish or choose another --out"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def read_identity(self) -> dict[str, Any] | None:
        """The identity recorded in ``study.json`` (None: no study here yet)."""
        path = self.root / "study.json"
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise StudyStateError(f"{str(path)!r} is damaged (not JSON)") from None
        if not isinstance(data, dict):
            raise StudyStateError(f"{str(path)!r} is damaged (not a JSON object)")
        missing = [key for key in IDENTITY_KEYS if key not in data]
        if missing:
            raise StudyStateError(
                f"{str(path)!r} is not a study file this tool wrote (it has no "
                f"{', '.join(missing)})"
            )
        return data

    def files(self) -> tuple[list[Path], list[Path]]:
        """Every file under the directory, as (this tool's, anything else): a file is
        the tool's when its place matches :data:`OWN_FILES` and it is no symbolic link."""
        own: list[Path] = []
        foreign: list[Path] = []
        for path in sorted(self.root.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                continue
            parts = path.relative_to(self.root).parts
            mine = not path.is_symlink() and any(
                len(pattern) == len(parts) and all(map(fnmatch.fnmatchcase, parts, pattern))
                for pattern in OWN_FILES
            )
            (own if mine else foreign).append(path)
        return own, foreign

    def remove_own(self) -> None:
        """Delete the tool's files (:meth:`files`) and the folders they leave empty;
        anything else stays."""
        own, _ = self.files()
        for path in own:
            path.unlink(missing_ok=True)
        for folder in sorted(self.root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir() and not folder.is_symlink() and not any(folder.iterdir()):
                folder.rmdir()

    def claim(
        self,
        ident: dict[str, Any],
        design: dict[str, Any],
        replications: int,
        *,
        resume: bool,
        code: dict[str, Any] | None = None,
        allow_code_change: bool = False,
    ) -> None:
        """Make this directory the study ``ident``'s, or refuse: a different study
        (naming the fields that changed), fewer replications, an existing study
        without ``resume``, or other ``code`` (:func:`code_identity`) unless
        ``allow_code_change``. More replications grow the study: only the new ones
        run."""
        recorded = self.read_identity()
        record = {**ident, "replications": replications, "design": design, "code": code}
        if recorded is None:
            atomic_write(self.root, self.root / "study.json", json.dumps(record, indent=2).encode())
            return
        if not resume:
            raise InvalidConfigError(
                f"{str(self.root)!r} already holds a study; pass --resume or another --out"
            )
        changed = sorted(k for k in ident if k != "design_sha256" and recorded.get(k) != ident[k])
        if recorded.get("design_sha256") != ident["design_sha256"]:
            changed += _changed(recorded.get("design"), design) or ["design_sha256"]
        if changed:
            raise InvalidConfigError(
                f"--resume: {str(self.root)!r} holds a different study (it differs in "
                f"{', '.join(changed)}); only study.replications may grow; choose another --out"
            )
        moved = _changed(recorded.get("code"), code, "code") if "code" in recorded else []
        if moved and not allow_code_change:
            raise InvalidConfigError(
                f"--resume: the code changed since {str(self.root)!r} began "
                f"({', '.join(moved)}), so its results would mix two versions; run into "
                "another --out, or pass --allow-code-change to continue anyway"
            )
        before = int(recorded.get("replications", replications))
        if replications < before:
            raise InvalidConfigError(
                f"--resume: {str(self.root)!r} has {before} replications; a study can grow "
                f"but not shrink (got {replications})"
            )
        if replications > before or moved:
            atomic_write(self.root, self.root / "study.json", json.dumps(record, indent=2).encode())

    def is_study(self) -> bool:
        """Whether this directory is one this tool created (it holds ``study.json``)."""
        try:
            return self.read_identity() is not None
        except StudyStateError:
            return False
