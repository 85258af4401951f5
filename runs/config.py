"""Study configurations: a TOML file in ``runs/configs/``, validated on load.

Layout (every table but ``[study]`` and ``[generator]`` is optional)::

    [study]
    name = "quickstart"
    seed = 2020
    replications = 200        # games per grid point
    rounds = 20               # simulation rounds; 0 = one-shot audits only (no Mesa)
    chunk_size = 20           # replications per work item
    question = "..."          # what the study asks (the report opens with it)
    plugins = []              # modules to import first (their registered plug-ins;
                              # the config's folder is importable)

    [generator]               # a registered game family
    name = "uniform"
    params = { resources = { low = 1, high = 2 } }
    grid = { n_defenders = [2, 3], n_targets = [4, 6] }   # cartesian product

    [[mechanisms]]            # registered mechanisms with parameters
    name = "csw_max"
    params = {}

    [[profiles]]              # behaviour profiles (strategic defenders)
    name = "deviate"
    executing = "optimal_deviation"

    [attacker]
    name = "informed"

    [audits]                  # one-shot audits per game and mechanism
    pareto = true
    utility_preservation = true
    up_reference = "worst"    # the `up` verdict's NSE: worst (weak UP), best, found
    misreport_budget = 30     # 0 disables the SP search
    ir = true
    min_gain = 1e-6           # failure: gain > min_gain x the defender's payoff range
    nash = false              # is the coverage a Nash strategy of the pooled game?

A grid may sweep the generator's ``attacker_resources`` (the attacker hits that many
targets at once): PE, UP, SP and IR model one attack and are audited only where it is
1; utilities, welfare, the Nash audit and the simulations cover every value.

Every bad field raises :class:`~sim.errors.InvalidConfigError` naming the field and
the value; unknown names list the valid ones.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import itertools
import json
import math
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.attackers import ATTACKERS, AttackerModel, make_attacker
from agents.profiles import BehaviourProfile
from mechanisms import MECHANISMS, make_mechanism
from mechanisms.base import plans_schedules, pools_resources
from runs.design import Design, parse_design
from runs.schema import parameter_columns
from runs.summary import DEFAULT_MIN_GAIN
from sim.errors import InvalidConfigError, SimError
from sim.generators import GENERATORS, make_generator

CONFIG_DIR = Path(__file__).parent / "configs"

#: Design points name the attacker parameters ``[attacker] grid`` sweeps with this
#: prefix (``attacker.precision``), which is also their column's name.
ATTACKER_PREFIX = "attacker."


def generator_part(point: Mapping[str, Any]) -> dict[str, Any]:
    """A design point's generator parameters."""
    return {k: v for k, v in point.items() if not k.startswith(ATTACKER_PREFIX)}


def attacker_part(point: Mapping[str, Any]) -> dict[str, Any]:
    """A design point's swept attacker parameters, by their names."""
    return {
        k.removeprefix(ATTACKER_PREFIX): v
        for k, v in point.items()
        if k.startswith(ATTACKER_PREFIX)
    }


@dataclass(frozen=True)
class MechanismSpec:
    """A mechanism condition: registry name and parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Name plus parameters, unique within a study."""
        if not self.params:
            return self.name
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name}[{inner}]"


@dataclass(frozen=True)
class AuditSpec:
    """Which one-shot audits to run per game and mechanism, and what counts as a
    failure: a misreport or deviation gaining more than ``min_gain`` times the
    defender's payoff range (her largest reward minus her smallest penalty)."""

    pareto: bool
    utility_preservation: bool
    misreport_budget: int
    ir: bool
    min_gain: float
    nash: bool
    up_reference: str = "worst"


#: The NSEs utility preservation can be judged against (``[audits] up_reference``): the
#: worst (weak UP, Gan et al. 2020's focus after Theorem 3.2), the best (strong UP), or
#: the one the finder returns.
UP_REFERENCES = ("worst", "best", "found")


@dataclass(frozen=True)
class StudyConfig:
    """A validated study."""

    name: str
    seed: int
    replications: int
    rounds: int
    chunk_size: int
    generator: str
    generator_params: Mapping[str, Any]
    grid: Mapping[str, tuple[Any, ...]]
    mechanisms: tuple[MechanismSpec, ...]
    profiles: tuple[BehaviourProfile, ...]
    attacker: str
    attacker_params: Mapping[str, Any]
    audits: AuditSpec
    plugins: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)
    memory_gb: float | None = None
    question: str = ""
    sampling: Design = field(default_factory=Design)
    attacker_grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def point_parameters(self) -> list[dict[str, Any]]:
        """Every grid point's full generator parameters (defaults filled in)."""
        return [
            {
                **make_generator(
                    self.generator, **{**self.generator_params, **generator_part(point)}
                ).params(),
                **{k: v for k, v in point.items() if k.startswith(ATTACKER_PREFIX)},
            }
            for point in self.grid_points()
        ]

    def parameter_columns(self) -> dict[str, str]:
        """The typed parameter columns of this study's tables."""
        return dict(self._parameter_columns)

    @functools.cached_property
    def _parameter_columns(self) -> dict[str, str]:
        # asked for by every chunk a worker encodes: worked out once per config
        return parameter_columns(self.point_parameters())

    def grid_points(self) -> list[dict[str, Any]]:
        """The points of the design: the cartesian product of the grid, in a fixed
        order, or the sampled design's points (:mod:`runs.design`)."""
        return [dict(p) for p in self._grid_points]

    @functools.cached_property
    def _grid_points(self) -> list[dict[str, Any]]:
        if self.sampling.sampled:
            games = self.sampling.points(self.seed)
        else:
            keys = sorted(self.grid)
            games = [
                dict(zip(keys, values, strict=True))
                for values in itertools.product(*(self.grid[k] for k in keys))
            ]
        names = sorted(self.attacker_grid)
        attackers = [
            {ATTACKER_PREFIX + k: v for k, v in zip(names, values, strict=True)}
            for values in itertools.product(*(self.attacker_grid[k] for k in names))
        ]
        return [{**game, **attacker} for game in games for attacker in attackers]

    def attacker_for(self, point: Mapping[str, Any]) -> AttackerModel:
        """The attacker model at a design point (its ``attacker.*`` values over
        ``[attacker] params``)."""
        return make_attacker(self.attacker, **{**self.attacker_params, **attacker_part(point)})

    def swept(self) -> list[str]:
        """The parameters the grid varies (more than one value): what the study's
        summary is grouped by."""
        swept = [k for k, v in self.grid.items() if len(v) > 1]
        swept += [ATTACKER_PREFIX + k for k, v in self.attacker_grid.items() if len(v) > 1]
        return sorted(swept)

    def resolved(self) -> dict[str, Any]:
        """The configuration with every default filled in (JSON-ready)."""
        study: dict[str, Any] = {
            "name": self.name,
            "seed": self.seed,
            "replications": self.replications,
            "rounds": self.rounds,
            "chunk_size": self.chunk_size,
        }
        if self.plugins:  # absent when empty: older studies keep their hash
            study["plugins"] = list(self.plugins)
        if self.memory_gb is not None:  # likewise
            study["memory_gb"] = self.memory_gb
        if self.question:  # likewise
            study["question"] = self.question
        extra = {"design": self.sampling.resolved()} if self.sampling.sampled else {}  # likewise
        swept_attacker = {k: list(v) for k, v in self.attacker_grid.items()}
        return {
            **extra,
            "study": study,
            "generator": {
                "name": self.generator,
                "params": dict(self.generator_params),
                "grid": {k: list(v) for k, v in self.grid.items()},
            },
            "mechanisms": [{"name": m.name, "params": dict(m.params)} for m in self.mechanisms],
            "profiles": [
                {
                    "name": p.name,
                    "reporting": p.reporting,
                    "executing": p.executing,
                    "reporting_params": dict(p.reporting_params),
                    "executing_params": dict(p.executing_params),
                    "strategic": p.strategic,
                }
                for p in self.profiles
            ],
            "attacker": {
                "name": self.attacker,
                "params": dict(self.attacker_params),
                # absent when empty: older studies keep their hash
                **({"grid": swept_attacker} if swept_attacker else {}),
            },
            "audits": {
                "pareto": self.audits.pareto,
                "utility_preservation": self.audits.utility_preservation,
                "misreport_budget": self.audits.misreport_budget,
                "min_gain": self.audits.min_gain,
                "ir": self.audits.ir,
                "nash": self.audits.nash,
                "up_reference": self.audits.up_reference,
            },
        }

    def sha256(self) -> str:
        """SHA-256 of the resolved configuration (canonical JSON)."""
        text = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def design(self) -> dict[str, Any]:
        """The resolved configuration without ``study.replications`` and
        ``study.question``: what a study keeps when it grows (the seed tree leaves
        earlier replications unchanged) or its question is reworded."""
        resolved = self.resolved()
        del resolved["study"]["replications"]
        resolved["study"].pop("question", None)
        return resolved

    def design_sha256(self) -> str:
        """SHA-256 of :meth:`design`: the study a dataset belongs to, however many
        replications it has."""
        return self._design_sha256

    @functools.cached_property
    def _design_sha256(self) -> str:
        # every part a worker encodes is named for it: worked out once per config
        text = json.dumps(self.design(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def with_overrides(
        self, *, seed: int | None = None, replications: int | None = None
    ) -> StudyConfig:
        """The same study with a CLI override of the seed or the replications."""
        data = self.resolved()
        if seed is not None:
            data["study"]["seed"] = seed
        if replications is not None:
            data["study"]["replications"] = replications
        return parse_config(data)


def _fail(field_name: str, message: str, value: Any) -> InvalidConfigError:
    return InvalidConfigError(f"config field {field_name!r} {message}; got {value!r}")


def _table(data: Mapping[str, Any], key: str, required: bool) -> Mapping[str, Any]:
    value = data.get(key, None if required else {})
    if value is None:
        raise InvalidConfigError(f"config is missing the required table [{key}]")
    if not isinstance(value, Mapping):
        raise _fail(key, "must be a table", value)
    return value


#: The largest integer a config field takes (a seed, replications, rounds, a budget).
INT_LIMIT = 2**32 - 1

#: The most work items a study may plan (raise chunk_size for more replications).
CHUNK_LIMIT = 1_000_000


def _int(table: Mapping[str, Any], key: str, owner: str, minimum: int) -> int:
    """The integer field ``owner.key`` (its default from :data:`FIELDS`)."""
    value = table.get(key, _default(owner, key))
    if value is None:
        raise InvalidConfigError(f"config field '{owner}.{key}' is required")
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(f"{owner}.{key}", f"must be an integer >= {minimum}", value)
    if value > INT_LIMIT:
        raise _fail(f"{owner}.{key}", f"must be at most {INT_LIMIT}", value)
    return int(value)


def _params(table: Mapping[str, Any], key: str, owner: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, Mapping):
        raise _fail(f"{owner}.{key}", "must be a table of parameters", value)
    return dict(value)


def _unknown(table: Mapping[str, Any], allowed: set[str], owner: str) -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        raise InvalidConfigError(
            f"config table [{owner}] has unknown field(s) {extra}; allowed: {sorted(allowed)}"
        )


def _name(table: Mapping[str, Any], owner: str, valid: list[str]) -> str:
    value = table.get("name")
    if not isinstance(value, str):
        raise _fail(f"{owner}.name", "must be a string", value)
    if value not in valid:
        raise InvalidConfigError(
            f"config field '{owner}.name' is {value!r}; valid names are {valid}"
        )
    return value


def _min_gain(value: Any) -> float:
    if not (isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1):
        raise _fail("audits.min_gain", "must be a number in [0, 1)", value)
    return float(value)


def _plugins(value: Any) -> tuple[str, ...]:
    """Import the plug-in modules a study names, so their registrations are in force
    before any name is checked (each worker parses the config, so imports them too)."""
    if not (isinstance(value, list) and all(isinstance(v, str) and v for v in value)):
        raise _fail("study.plugins", "must be a list of importable module names", value)
    for module in value:
        try:
            importlib.import_module(module)
        except (Exception, SystemExit) as exc:  # any failure of a user's module
            why = (
                f"it called sys.exit({exc.code!r})"
                if isinstance(exc, SystemExit)
                else f"{type(exc).__name__}: {exc}"
            )
            if isinstance(exc, ModuleNotFoundError) and exc.name == module.split(".")[0]:
                why += (
                    "; put it beside the config file, in the folder you run from, or on "
                    "PYTHONPATH (on a Dask cluster, installed on every worker)"
                )
            raise _fail("study.plugins", f"could not import {module!r} ({why})", value) from None
    return tuple(value)


@dataclass(frozen=True)
class Field:
    """One field of a study config: the table it is in, its TOML type, its default
    (None: required, or no default) and what it means."""

    table: str
    name: str
    kind: str
    default: Any
    meaning: str


#: Every field a study config may have: :func:`parse_config` accepts exactly these,
#: and ``defcoord schema`` prints them (one source of truth).
#: A behaviour profile's defaults, from :class:`~agents.profiles.BehaviourProfile` itself
#: (the one place they are written).
_PROFILE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(BehaviourProfile)}

FIELDS: tuple[Field, ...] = (
    Field("study", "name", "string", None, "the study's name (a file name; default --out)"),
    Field("study", "seed", "integer >= 0", None, "the root seed: it determines every byte"),
    Field("study", "replications", "integer >= 1", None, "games per grid point"),
    Field("study", "rounds", "integer >= 0", 0, "simulated rounds per run; 0: audits only"),
    Field("study", "chunk_size", "integer >= 1", 10, "replications per work item"),
    Field(
        "study",
        "question",
        "string",
        "",
        "the question the study asks (the report opens with it)",
    ),
    Field(
        "study",
        "plugins",
        "array of strings",
        [],
        "modules to import first (the config's folder is importable)",
    ),
    Field(
        "study",
        "memory_gb",
        "number > 0",
        "half this machine's memory",
        "the most memory (GB) one instance or work item may need",
    ),
    Field("generator", "name", "string", None, "a registered game generator (defcoord list)"),
    Field("generator", "params", "table", {}, "the generator's fixed parameters"),
    Field("generator", "grid", "table of arrays", {}, "parameters to sweep (cartesian)"),
    Field("design", "kind", "string", "full", "full (the grid), lhs, sobol or saltelli"),
    Field("design", "samples", "integer >= 1", None, "points (sobol, saltelli: a power of 2)"),
    Field(
        "design",
        "ranges",
        "table",
        None,
        "parameter -> [low, high] or {low, high, integer} (docs/designs.md)",
    ),
    Field("mechanisms", "name", "string", None, "a registered mechanism ([[mechanisms]])"),
    Field("mechanisms", "params", "table", {}, "the mechanism's parameters"),
    Field("profiles", "name", "string", None, "the profile's name ([[profiles]])"),
    Field(
        "profiles",
        "reporting",
        "string",
        _PROFILE_DEFAULTS["reporting"],
        "the strategic defenders' reporting",
    ),
    Field(
        "profiles",
        "executing",
        "string",
        _PROFILE_DEFAULTS["executing"],
        "the strategic defenders' execution",
    ),
    Field("profiles", "reporting_params", "table", {}, "the reporting behaviour's parameters"),
    Field("profiles", "executing_params", "table", {}, "the execution behaviour's parameters"),
    Field(
        "profiles",
        "strategic",
        '"random" | "each" | "first" | "all" | array of indices',
        _PROFILE_DEFAULTS["strategic"],
        "who is strategic: one drawn per replication, each in turn, defender 0, all, a list",
    ),
    Field("attacker", "name", "string", "informed", "a registered attacker model"),
    Field("attacker", "params", "table", {}, "the attacker model's parameters"),
    Field(
        "attacker",
        "grid",
        "table of arrays",
        {},
        "attacker parameters to sweep (each point of the generator's design meets each); "
        "their columns are named attacker.<parameter>",
    ),
    Field("audits", "pareto", "boolean", True, "audit Pareto efficiency"),
    Field("audits", "utility_preservation", "boolean", True, "audit weak and strong UP"),
    Field(
        "audits",
        "up_reference",
        '"worst" | "best" | "found"',
        "worst",
        "the NSE the `up` verdict compares with: worst (weak UP), best (strong UP), found",
    ),
    Field("audits", "misreport_budget", "integer >= 0", 0, "SP search budget; 0: no search"),
    Field("audits", "ir", "boolean", True, "audit individual rationality"),
    Field(
        "audits",
        "nash",
        "boolean",
        False,
        "audit whether the coverage is a Nash strategy of the pooled game (n_a attacks)",
    ),
    Field(
        "audits",
        "min_gain",
        "number in [0, 1)",
        DEFAULT_MIN_GAIN,
        "failure: gain > this x payoff range",
    ),
)


def _default(table: str, name: str) -> Any:
    return next(f.default for f in FIELDS if (f.table, f.name) == (table, name))


def _allowed(table: str) -> set[str]:
    return {f.name for f in FIELDS if f.table == table}


def schema_text() -> str:
    """Every config field with its type, default and meaning (``defcoord schema``)."""
    lines = []
    for table, fields in itertools.groupby(FIELDS, key=lambda f: f.table):
        header = f"[[{table}]]" if table in ("mechanisms", "profiles") else f"[{table}]"
        lines.append(header)
        for f in fields:
            default = "required" if f.default is None else f"default {json.dumps(f.default)}"
            lines.append(f"  {f.name:<22} {f.kind:<26} {default}")
            lines.append(f"  {'':<22} {f.meaning}")
    return "\n".join(lines)


def parse_config(data: Mapping[str, Any]) -> StudyConfig:
    """Validate a parsed TOML document (see the module docstring)."""
    _unknown(data, {f.table for f in FIELDS}, "top level")
    study = _table(data, "study", True)
    _unknown(study, _allowed("study"), "study")
    plugins = _plugins(study.get("plugins", _default("study", "plugins")))
    name = study.get("name")
    if not (
        isinstance(name, str)
        and 0 < len(name) <= 100
        and name not in (".", "..")
        and name.isprintable()
        and not any(c in name for c in "/\\ ")
    ):
        raise _fail(
            "study.name",
            "must be a non-empty string usable as a file name (at most 100 printable "
            "characters, no spaces or slashes, not '.' or '..')",
            name,
        )
    seed = _int(study, "seed", "study", 0)
    replications = _int(study, "replications", "study", 1)
    rounds = _int(study, "rounds", "study", 0)
    chunk_size = _int(study, "chunk_size", "study", 1)
    question = study.get("question", _default("study", "question"))
    if not (isinstance(question, str) and len(question) <= 1000):
        raise _fail("study.question", "must be a string of at most 1000 characters", question)
    memory_gb = study.get("memory_gb")
    if memory_gb is not None and not (
        isinstance(memory_gb, int | float) and not isinstance(memory_gb, bool) and memory_gb > 0
    ):
        raise _fail("study.memory_gb", "must be a number > 0", memory_gb)

    gen = _table(data, "generator", True)
    _unknown(gen, _allowed("generator"), "generator")
    generator = _name(gen, "generator", GENERATORS.names())
    generator_params = _params(gen, "params", "generator")
    raw_grid = _params(gen, "grid", "generator")
    grid: dict[str, tuple[Any, ...]] = {}
    for key, values in raw_grid.items():
        if not isinstance(values, list) or not values:
            raise _fail(f"generator.grid.{key}", "must be a non-empty list", values)
        if key in generator_params:
            raise _fail(f"generator.grid.{key}", "is also set in generator.params", values)
        grid[key] = tuple(values)
    size = math.prod(len(values) for values in grid.values())  # before enumerating any
    if size > CHUNK_LIMIT:
        raise _fail(
            "generator.grid",
            f"makes {size} grid points, more than the {CHUNK_LIMIT} work items a study may "
            f"have (each point is at least one per mechanism)",
            {k: f"{len(v)} values" for k, v in grid.items()},
        )
    design = parse_design(_table(data, "design", False), CHUNK_LIMIT)
    if design.sampled:
        if grid:
            raise _fail(
                "generator.grid",
                f"is set with a sampled design (design.kind = {design.kind!r}): sweep "
                "parameters in design.ranges instead",
                dict(grid),
            )
        for r in design.ranges:
            if r.name in generator_params:
                raise _fail(f"design.ranges.{r.name}", "is also set in generator.params", r.name)
        size = design.size()
    # every combination of the grid's values, or of each range's ends, is a valid game
    checked = {r.name: (r.low, r.high) for r in design.ranges} if design.sampled else grid
    keys = sorted(checked)
    for point in itertools.product(*(checked[k] for k in keys)):
        params = {**generator_params, **dict(zip(keys, point, strict=True))}
        try:
            make_generator(generator, **params)
        except SimError as exc:
            raise InvalidConfigError(f"config [generator] with {params}: {exc}") from None

    raw_mechanisms = data.get("mechanisms", [])
    if not isinstance(raw_mechanisms, list) or not raw_mechanisms:
        raise _fail(
            "mechanisms", "must be a non-empty array of tables [[mechanisms]]", raw_mechanisms
        )
    mechanisms = []
    for index, entry in enumerate(raw_mechanisms):
        owner = f"mechanisms[{index}]"
        if not isinstance(entry, Mapping):
            raise _fail(owner, "must be a table", entry)
        _unknown(entry, _allowed("mechanisms"), owner)
        spec = MechanismSpec(
            _name(entry, owner, MECHANISMS.names()), _params(entry, "params", owner)
        )
        try:
            make_mechanism(spec.name, **spec.params)
        except SimError as exc:
            raise InvalidConfigError(f"config {owner}: {exc}") from None
        mechanisms.append(spec)
    labels = [m.label for m in mechanisms]
    if len(set(labels)) != len(labels):
        raise _fail("mechanisms", "must not repeat a mechanism with the same parameters", labels)

    raw_profiles = data.get("profiles", [{"name": "truthful"}])
    if not isinstance(raw_profiles, list) or not raw_profiles:
        raise _fail("profiles", "must be a non-empty array of tables [[profiles]]", raw_profiles)
    profiles = []
    allowed = _allowed("profiles")
    for index, entry in enumerate(raw_profiles):
        owner = f"profiles[{index}]"
        if not isinstance(entry, Mapping):
            raise _fail(owner, "must be a table", entry)
        _unknown(entry, allowed, owner)
        if not isinstance(entry.get("name"), str) or not entry["name"].strip():
            # an empty name is also what an empty CSV field reads back as (missing)
            raise _fail(f"{owner}.name", "must be a non-empty string", entry.get("name"))
        try:
            profiles.append(BehaviourProfile(**dict(entry)))
        except SimError as exc:
            raise InvalidConfigError(f"config {owner}: {exc}") from None
        except TypeError as exc:
            raise InvalidConfigError(f"config {owner}: {exc}") from None
    if len({p.name for p in profiles}) != len(profiles):
        raise _fail("profiles", "must have distinct names", [p.name for p in profiles])

    att = _table(data, "attacker", False)
    _unknown(att, _allowed("attacker"), "attacker")
    attacker = _name(
        {"name": att.get("name", _default("attacker", "name"))}, "attacker", ATTACKERS.names()
    )
    attacker_params = _params(att, "params", "attacker")
    if "resources" in attacker_params:
        raise _fail(
            "attacker.params.resources",
            "is not an attacker parameter: the attack count is the game's "
            "([generator] params or grid attacker_resources)",
            attacker_params["resources"],
        )
    attacker_grid: dict[str, tuple[Any, ...]] = {}
    for key, values in _params(att, "grid", "attacker").items():
        if not isinstance(values, list) or not values:
            raise _fail(f"attacker.grid.{key}", "must be a non-empty list", values)
        if key in attacker_params or key == "resources":
            raise _fail(f"attacker.grid.{key}", "is also set in attacker.params", values)
        attacker_grid[key] = tuple(values)
    names = sorted(attacker_grid)
    for values in itertools.product(*(attacker_grid[k] for k in names)):
        params = {**attacker_params, **dict(zip(names, values, strict=True))}
        try:
            make_attacker(attacker, **params)
        except SimError as exc:
            raise InvalidConfigError(f"config [attacker] with {params}: {exc}") from None
    size *= math.prod(len(values) for values in attacker_grid.values())

    aud = _table(data, "audits", False)
    _unknown(aud, _allowed("audits"), "audits")
    flags = {}
    for key in ("pareto", "utility_preservation", "ir", "nash"):
        value = aud.get(key, _default("audits", key))
        if not isinstance(value, bool):
            raise _fail(f"audits.{key}", "must be true or false", value)
        flags[key] = value
    reference = aud.get("up_reference", _default("audits", "up_reference"))
    if reference not in UP_REFERENCES:
        raise _fail("audits.up_reference", f"must be one of {', '.join(UP_REFERENCES)}", reference)
    audits = AuditSpec(
        misreport_budget=_int(aud, "misreport_budget", "audits", 0),
        min_gain=_min_gain(aud.get("min_gain", _default("audits", "min_gain"))),
        up_reference=reference,
        **flags,
    )

    config = StudyConfig(
        name=name,
        seed=seed,
        replications=replications,
        rounds=rounds,
        chunk_size=chunk_size,
        generator=generator,
        generator_params=generator_params,
        grid=grid,
        mechanisms=tuple(mechanisms),
        profiles=tuple(profiles),
        attacker=attacker,
        attacker_params=attacker_params,
        audits=audits,
        plugins=plugins,
        raw=dict(data),
        memory_gb=None if memory_gb is None else float(memory_gb),
        question=question.strip(),
        sampling=design,
        attacker_grid=attacker_grid,
    )
    blocks = -(-replications // chunk_size)  # ceiling
    planned = size * len(mechanisms) * blocks * (1 + (len(profiles) if rounds else 0))
    if planned > CHUNK_LIMIT:
        raise _fail(
            "study.replications",
            f"makes {planned} work items, more than {CHUNK_LIMIT}; raise study.chunk_size",
            replications,
        )
    try:
        points = config.point_parameters()
    except SimError as exc:
        raise InvalidConfigError(f"config [generator]: {exc}") from None
    for index, profile in enumerate(config.profiles):
        if isinstance(profile.strategic, list | tuple):
            smallest = min(int(p["n_defenders"]) for p in points)
            if max(profile.strategic) >= smallest:
                raise _fail(
                    f"profiles[{index}].strategic",
                    f"must name defenders that exist in every game (n_defenders >= {smallest})",
                    profile.strategic,
                )
    _check_jurisdictions(config, points)
    _check_schedules(config, points)
    _check_memory(config, points)
    return config


#: Bytes one audited instance needs per target squared: the outcome space and the
#: pooled optimum hold m x m coverages, about six such arrays at the peak (measured in
#: the commit that set it). Jurisdictions add an m x m share per defender.
BYTES_PER_TARGET_PAIR = 48

#: Bytes one simulated round row takes in a worker before its chunk is encoded: rows
#: are packed into Arrow as they are played (about 340 B a row on the quickstart's
#: columns), and the chunk's table is combined from those batches once (twice that).
BYTES_PER_ROUND_ROW = 768


def machine_memory() -> int:
    """This machine's physical memory, in bytes."""
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def _check_memory(config: StudyConfig, points: list[dict[str, Any]]) -> None:
    """Refuse a study whose instances or work items would need more memory than its
    ``memory_gb`` (default: half this machine's), naming the field to change."""
    gb = config.memory_gb
    limit = machine_memory() / 2 if gb is None else gb * 2**30
    shown = f"{limit / 2**30:.1f} GB ([study] memory_gb)"
    for point in points:
        m, n = int(point["n_targets"]), int(point["n_defenders"])
        shares = n if float(point.get("jurisdiction", 1.0)) < 1.0 else 0
        need = BYTES_PER_TARGET_PAIR * m * m * (1 + shares)
        if need > limit:
            raise _fail(
                "generator.n_targets",
                f"needs about {need / 2**30:.1f} GB per instance (its outcome space is "
                f"m x m), more than {shown}",
                m,
            )
        runs = max(len(p.runs(n, 0)) for p in config.profiles) if config.rounds else 0
        rows = config.chunk_size * runs * config.rounds * n
        if rows * BYTES_PER_ROUND_ROW > limit:
            raise _fail(
                "study.rounds",
                f"makes work items of {rows} round rows, about "
                f"{rows * BYTES_PER_ROUND_ROW / 2**30:.1f} GB, more than {shown}; lower "
                "study.chunk_size or the rounds",
                config.rounds,
            )


def _check_jurisdictions(config: StudyConfig, points: list[dict[str, Any]]) -> None:
    """Jurisdictions (``docs/jurisdictions.md``) are modelled against one attack, and
    the pooled Stackelberg solvers pool every resource: refuse the combinations."""
    shares = sorted({float(p["jurisdiction"]) for p in points if p["jurisdiction"] < 1.0})
    if not shares:
        return
    field_name = "generator.jurisdiction"
    if any(int(p["attacker_resources"]) > 1 for p in points):
        raise _fail(field_name, "below 1 needs one attack (attacker_resources = 1)", shares)
    if config.audits.nash:
        raise _fail(field_name, "below 1 cannot be audited with audits.nash", shares)
    pooled = [m.name for m in config.mechanisms if pools_resources(MECHANISMS.get(m.name))]
    if pooled:
        raise _fail(
            field_name, f"below 1 cannot run {', '.join(pooled)} (it pools every resource)", shares
        )


def _check_schedules(config: StudyConfig, points: list[dict[str, Any]]) -> None:
    """Schedules (``docs/schedules.md``) are solved for the pooled defender against one
    attack: refuse what they do not support, naming the field."""
    sizes = sorted({int(p["schedule_size"]) for p in points if p["schedule_size"] > 1})
    if not sizes:
        return
    field_name = "generator.schedule_size"
    others = [m.name for m in config.mechanisms if not plans_schedules(MECHANISMS.get(m.name))]
    if others:
        raise _fail(
            field_name,
            f"above 1 needs mechanisms that plan with schedules (pooled_schedule_sse); "
            f"the others assume each resource guards one target ({others})",
            sizes,
        )
    if any(int(p["attacker_resources"]) > 1 for p in points):
        raise _fail(field_name, "above 1 needs one attack (attacker_resources = 1)", sizes)
    if any(float(p["jurisdiction"]) < 1.0 for p in points):
        raise _fail(field_name, "above 1 cannot be combined with jurisdictions", sizes)
    if config.audits.nash:
        raise _fail(field_name, "above 1 cannot be audited with audits.nash", sizes)
    deviating = [p.name for p in config.profiles if p.deviates]
    if config.rounds and deviating:
        raise _fail(
            field_name,
            f"above 1 cannot simulate deviations (the deviation oracle assumes one target "
            f"per resource); profiles {deviating} deviate",
            sizes,
        )


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate a study TOML file (a bare name looks in ``runs/configs/``)."""
    file = Path(path)
    if not file.exists() and not file.suffix and (CONFIG_DIR / f"{path}.toml").exists():
        file = CONFIG_DIR / f"{path}.toml"
    if not file.is_file():
        raise InvalidConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = tomllib.loads(file.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidConfigError(f"config file {str(path)!r} is not UTF-8 text") from None
    except RecursionError:
        raise InvalidConfigError(f"config file {str(path)!r} is nested too deeply") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    folder = str(file.resolve().parent)
    if folder not in sys.path:  # its plug-ins; the local executor's forked workers inherit it
        sys.path.insert(0, folder)
    return parse_config(data)
