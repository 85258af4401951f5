"""Work items of a study and the function a worker runs on one.

A work item is a *chunk*: one condition and a range of replications. Audit conditions
are (grid point, mechanism); simulation conditions add a behaviour profile. A failing
instance (say, no verified NSE) becomes rows with ``status="failed"`` and the error
text; the chunk carries on. Rows are packed into Arrow tables as they are produced
(:class:`Rows`), round by round for a simulation, so a chunk's memory is its Arrow
table's, not its rows' as Python objects.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from agents.model import play
from agents.records import record_rows, targets_text
from mechanisms import make_mechanism
from mechanisms.behavioural import LogitDeviation, ir_violation_logit
from mechanisms.outcome import MechanismOutcome, designated_set, outcome_problem
from mechanisms.properties import (
    NSEPrices,
    UPAudit,
    Verdict,
    ir_violation,
    is_pareto_efficient,
    nse_prices,
    outcome_utility,
    search_misreports,
    utility_preservation,
)
from mechanisms.space import outcome_space
from runs.config import StudyConfig, generator_part, parse_config
from runs.export import encode_part
from runs.schema import arrow_table, parameter_values
from runs.seeding import (
    allocation_seed,
    dynamics_seed,
    instance_rng,
    search_rng,
    strategic_draw,
)
from sim.errors import SimError
from sim.game import FloatArray, SecurityGame
from sim.generators import make_generator
from sim.nse import NSEResult, compute_nse, nse_utility_range
from sim.numerics import UTILITY_TOL, failure_threshold
from sim.payoffs import attacked_targets, set_utility
from sim.solvers import is_nash_coverage, max_coverage, multi_attack_sse, schedule_sse
from sim.solvers.multi_attack import SSE_TARGET_LIMIT


@dataclass(frozen=True)
class Chunk:
    """One work item: ``kind`` is ``"audit"`` or ``"sim"``; ``profile`` is -1 for audits."""

    kind: str
    grid: int
    mechanism: int
    profile: int
    start: int
    stop: int

    @property
    def id(self) -> str:
        """A stable, sortable identifier (also the part file's name)."""
        return (
            f"{self.kind}-g{self.grid:03d}-m{self.mechanism:03d}"
            f"-p{self.profile + 1:03d}-r{self.start:07d}"
        )


def plan_chunks(config: StudyConfig) -> list[Chunk]:
    """Every chunk of the study, in a fixed order."""
    chunks = []
    ranges = [
        (start, min(start + config.chunk_size, config.replications))
        for start in range(0, config.replications, config.chunk_size)
    ]
    for g in range(len(config.grid_points())):
        for m in range(len(config.mechanisms)):
            for start, stop in ranges:
                chunks.append(Chunk("audit", g, m, -1, start, stop))
            if config.rounds > 0:
                for p in range(len(config.profiles)):
                    for start, stop in ranges:
                        chunks.append(Chunk("sim", g, m, p, start, stop))
    return chunks


def study_game(config: StudyConfig, point: dict[str, Any], replication: int) -> SecurityGame:
    """The game of replication ``replication`` at the design point ``point``: the same
    for every condition, drawn from the seed tree."""
    generator = make_generator(
        config.generator, **{**config.generator_params, **generator_part(point)}
    )
    return generator.sample(instance_rng(config.seed, replication))


def _base(config: StudyConfig, chunk: Chunk, replication: int) -> dict[str, Any]:
    spec = config.mechanisms[chunk.mechanism]
    point = config.point_parameters()[chunk.grid]
    return {
        **parameter_values(point, config.parameter_columns()),
        "chunk": chunk.id,
        "study": config.name,
        "generator": config.generator,
        "grid_point": chunk.grid,
        "grid_params": json.dumps(config.grid_points()[chunk.grid], sort_keys=True),
        "mechanism": spec.label,
        "mechanism_name": spec.name,
        "mechanism_params": json.dumps(dict(spec.params), sort_keys=True),
        "replication": replication,
        "spawn_key": f"{config.seed}/({replication},)",
        "status": "ok",
        "error": None,
    }


def _failed_rows(
    base: dict[str, Any], game: SecurityGame, drawn: int, error: str
) -> list[dict[str, Any]]:
    """One ``status="failed"`` row per defender of an instance that produced nothing."""
    return [
        {**base, **_defender(game, i, drawn), "status": "failed", "error": error}
        for i in range(game.n_defenders)
    ]


def payoff_range(game: SecurityGame, defender: int) -> float:
    """Her largest reward minus her smallest penalty: the scale ``min_gain`` is
    relative to."""
    return float(game.units.defender_scale[defender])


def threshold(config: StudyConfig, game: SecurityGame, defender: int) -> float:
    """The smallest gain that counts as a failure for ``defender``
    (:func:`~sim.numerics.failure_threshold` at the study's ``min_gain``)."""
    return float(failure_threshold(payoff_range(game, defender), config.audits.min_gain))


def role(defender: int, leader: int) -> str | None:
    """``"leader"`` for the defender the mechanism distinguished (the dictator),
    ``"other"`` for the rest, None when it distinguishes nobody."""
    if leader < 0:
        return None
    return "leader" if defender == leader else "other"


def _defender(game: SecurityGame, i: int, drawn: int) -> dict[str, Any]:
    """The per-defender columns every audit row has (``drawn``: the replication's
    random strategic defender)."""
    return {
        "defender": i,
        "resources": int(game.resources[i]),
        "payoff_range": payoff_range(game, i),
        "strategic": i == drawn,
    }


#: Rows packed into one Arrow table at a time as they are produced.
ROW_BATCH = 4096


class Rows:
    """The rows of one chunk, packed into Arrow tables of its table's columns
    ``ROW_BATCH`` at a time as they come; :meth:`mark` and :meth:`rollback` drop what
    an instance (or a run) produced before it failed."""

    def __init__(self, table: str, parameters: Mapping[str, str]) -> None:
        self.table, self.parameters = table, parameters
        self.packed: list[pa.Table] = []
        self.pending: list[dict[str, Any]] = []
        self.count = 0

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append ``rows``."""
        for row in rows:
            self.pending.append(row)
            self.count += 1
            if len(self.pending) >= ROW_BATCH:
                self._pack()

    def _pack(self) -> None:
        if self.pending:
            self.packed.append(arrow_table(self.pending, self.table, self.parameters))
            self.pending = []

    def mark(self) -> int:
        """The number of rows so far (a point to roll back to)."""
        return self.count

    def rollback(self, mark: int) -> None:
        """Drop every row after the first ``mark``."""
        self._pack()
        kept, total = [], 0
        for part in self.packed:
            if total + part.num_rows > mark:
                part = part.slice(0, mark - total)
            kept.append(part)
            total += part.num_rows
        self.packed = [part for part in kept if part.num_rows]
        self.count = mark

    def arrow(self) -> pa.Table:
        """Every row, as one table of contiguous columns."""
        self._pack()
        if not self.packed:
            return arrow_table([], self.table, self.parameters)
        return pa.concat_tables(self.packed).combine_chunks()


def audit_rows(config: StudyConfig, chunk: Chunk, replication: int) -> list[dict[str, Any]]:
    """One row per defender: the mechanism's outcome on the game and its audits.

    ``strategic`` marks the replication's random strategic defender (the one the
    ``"random"`` profiles make strategic), so audits and simulations can be paired.
    The audits that do not involve the study's attacker are memoised per worker
    (:func:`_paper_audits`): design points that differ only in ``[attacker] grid``
    share the game, so they share them.
    """
    point = config.grid_points()[chunk.grid]
    game = study_game(config, point, replication)
    base = {**_base(config, chunk, replication), **_dims(game)}
    drawn = strategic_draw(config.seed, replication, game.n_defenders)
    key = (chunk.mechanism, json.dumps(generator_part(point), sort_keys=True), replication)
    if _MEMO.get("config") is not config:
        _MEMO.clear()
        _MEMO["config"] = config
    if key not in _MEMO:
        _MEMO[key] = _paper_audits(config, chunk.mechanism, game, replication)
    error, outcome, audited = _MEMO[key]
    if error is not None or outcome is None:
        return _failed_rows(base, game, drawn, error or "no outcome")
    try:
        logit_utility, logit = _logit_audit(config, point, game, outcome)
    except SimError as exc:
        return _failed_rows(base, game, drawn, str(exc))
    return [
        {
            **base,
            **_defender(game, i, drawn),
            **row,
            "logit_utility": np.nan if logit_utility is None else float(logit_utility[i]),
            "logit_welfare": np.nan if logit_utility is None else float(logit_utility.sum()),
            "logit_ir_gain": np.nan if deviation is None else deviation.gain,
            "logit_ir_gain_upper": np.nan if deviation is None else deviation.gain_upper,
        }
        for i, (row, deviation) in enumerate(zip(audited, logit, strict=True))
    ]


#: The worker's memo of :func:`_paper_audits` for the config it runs (one at a time).
_MEMO: dict[Any, Any] = {}


def _paper_audits(
    config: StudyConfig, index: int, game: SecurityGame, replication: int
) -> tuple[str | None, MechanismOutcome | None, list[dict[str, Any]]]:
    """The outcome of mechanism ``index`` on ``game`` and, per defender, the audit
    columns that do not involve the study's attacker (the paper's, against the
    rational attacker): (error, outcome, rows); an error where the mechanism or an
    audit failed."""
    spec = config.mechanisms[index]
    try:
        mechanism = make_mechanism(spec.name, **spec.params)
        allocation = allocation_seed(config.seed, replication)
        outcome = mechanism.prepared(game).allocate(game, rng=np.random.default_rng(allocation))
    except SimError as exc:
        return str(exc), None, []
    if not outcome.ok:
        return f"{spec.name} failed: {outcome.message}", None, []
    problem = outcome_problem(game, outcome)
    if problem is not None:
        return f"{spec.name} gave an invalid outcome: {problem}", None, []
    # PE, UP, SP and IR model one attack; with schedules there is no NSE, and PE and
    # IR (over coverages one defender's resources reach) are not defined: SP is
    paper = game.attacker_resources == 1 and game.schedules is None
    try:
        nse = compute_nse(game.one_attack) if game.schedules is None else None
        utility = outcome_utility(game, outcome)
        nse_utility = _nse_utility(game, nse)
        pe = (
            is_pareto_efficient(game, outcome).efficient if config.audits.pareto and paper else None
        )
        up = (
            utility_preservation(
                game, outcome, bounds=nse_utility_range(game, nse, witnesses="one")
            )
            if config.audits.utility_preservation and paper and nse is not None
            else None
        )
        prices = nse_prices(game) if paper else None
        pooled_coverage = _pooled_coverage(game)
        pooled_welfare = _pooled_welfare(game)
        nash = is_nash_coverage(game.pooled(), outcome.coverage) if config.audits.nash else None
    except SimError as exc:
        return str(exc), None, []
    attacked = designated_set(game, outcome)
    nse_total = nse_spent = np.nan
    if nse is not None and nse.verified:
        nse_total, nse_spent = float(nse.total_coverage.sum()), float(nse.coverage.sum())
    rows = []
    budget = config.audits.misreport_budget if game.attacker_resources == 1 else 0
    for i in range(game.n_defenders):
        search = (
            search_misreports(
                mechanism,
                game,
                i,
                rng=search_rng(config.seed, replication, i),
                budget=budget,
                seed=allocation,
            )
            if budget > 0
            else None
        )
        ir = (
            ir_violation(game, outcome, i).gain
            if config.audits.ir and paper and outcome.recommendation is not None
            else np.nan
        )
        sp_gain = np.nan if search is None else search.gain
        rows.append(
            {
                "role": role(i, outcome.leader),
                "attacked_target": attacked[0],
                "attacked_targets": targets_text(attacked),
                "utility": float(utility[i]),
                "nse_utility": float(nse_utility[i]),
                "welfare": float(utility.sum()),
                "nse_welfare": float(nse_utility.sum()),
                "pooled_welfare": pooled_welfare,
                "pareto_efficient": pe,
                "weak_up": None if up is None else up.weak[i],
                "strong_up": None if up is None else up.strong[i],
                "up": _up(up, i, config.audits.up_reference, utility[i], nse_utility[i], game),
                "up_reference": None if up is None else config.audits.up_reference,
                **_prices(prices),
                "sp_gain": sp_gain,
                "sp_family": None
                if search is None or search.misreport is None
                else search.misreport.family,
                "sp_budget": None if search is None else search.budget,
                "sp_found_at": None if search is None else search.found_at,
                "sp_gain_half": np.nan if search is None else search.half_gain,
                "ir_gain": ir,
                "nse_total_coverage": nse_total,
                "nse_spent": nse_spent,
                "pooled_coverage": pooled_coverage,
                "nash_consistent": nash,
            }
        )
    return None, outcome, rows


def _logit_audit(
    config: StudyConfig, point: dict[str, Any], game: SecurityGame, outcome: MechanismOutcome
) -> tuple[FloatArray | None, list[LogitDeviation | None]]:
    """Against the study's attacker at ``point`` where it is a logit one (quantal
    response, SUQR) and the game has one attack on targets: the defenders' expected
    utilities and (``[audits] ir``) each one's best deviation, bracketed
    (``docs/behavioural.md`` §5); else None."""
    n = game.n_defenders
    response = config.attacker_for(point).logit()
    paper = game.attacker_resources == 1 and game.schedules is None
    if response is None or not paper or outcome.recommendation is None:
        return None, [None] * n
    utility = response.utilities(game, outcome.coverage)
    if not config.audits.ir:
        return utility, [None] * n
    return utility, [ir_violation_logit(game, outcome, i, response) for i in range(n)]


def _up(
    up: UPAudit | None, i: int, reference: str, utility: float, found: float, game: SecurityGame
) -> Verdict | None:
    """Defender i's UP verdict against the NSE ``reference`` names (``[audits]
    up_reference``): the worst (weak UP), the best (strong UP) or the one found."""
    if up is None:
        return None
    if reference == "worst":
        return up.weak[i]
    if reference == "best":
        return up.strong[i]
    if np.isnan(found):
        return "undetermined"
    slack = UTILITY_TOL * game.units.defender_scale[i]
    return "holds" if utility >= found - slack else "fails"


#: The audit row's columns of :func:`_prices` besides ``nse_extremes``.
PRICE_COLUMNS = (
    "best_nse_welfare",
    "worst_nse_welfare",
    "price_of_anarchy",
    "price_of_stability",
    "anarchy_gap",
    "stability_gap",
)


def _prices(prices: NSEPrices | None) -> dict[str, Any]:
    """The audit row's NSE welfare extremes and prices (``nse_extremes``: whether they
    were computed exactly; NaN where not)."""
    if prices is None:
        return {"nse_extremes": None, **dict.fromkeys(PRICE_COLUMNS, np.nan)}
    return {
        "nse_extremes": "exact" if prices.exact else "bounds",
        "best_nse_welfare": prices.best_welfare,
        "worst_nse_welfare": prices.worst_welfare,
        "price_of_anarchy": prices.anarchy,
        "price_of_stability": prices.stability,
        "anarchy_gap": prices.anarchy_gap,
        "stability_gap": prices.stability_gap,
    }


def _nse_utility(game: SecurityGame, nse: NSEResult | None) -> FloatArray:
    """The status-quo NSE's utilities (NaN when not verified, or not defined: None): the
    defenders play it as planned for one attack; against several, over the set the
    attacker hits with its target first (as :func:`~mechanisms.outcome.designated_set`)."""
    if nse is None or not nse.verified:
        return np.full(game.n_defenders, np.nan)
    if game.attacker_resources == 1:
        return nse.defender_utility
    hit = attacked_targets(game, nse.total_coverage, designated=(nse.attacked_target,))
    return set_utility(game, nse.total_coverage, hit)


def _pooled_coverage(game: SecurityGame) -> float:
    """The total coverage of the pooled resources at the pooled ORIGAMI level (with
    jurisdictions: of the welfare-maximising outcome's coverage, which the
    defenders' own resources implement; with schedules: of the pooled utilitarian
    strategy with schedules)."""
    if game.schedules is not None:
        return float(schedule_sse(game.pooled().one_attack).coverage.sum())
    if not game.restricted:
        return float(max_coverage(game).coverage.sum())
    space = outcome_space(game)
    return float(space.coverage[int(np.argmax(space.values.sum(axis=0)))].sum())


def _pooled_welfare(game: SecurityGame) -> float:
    """The pooled optimum: the largest total utility any coverage of the pooled
    resources gives (the outcome space's best column with one attack; the
    utilitarian Stackelberg MILP against several, NaN past its size limit; with
    schedules, the pooled utilitarian strategy with schedules)."""
    if game.schedules is not None:
        return schedule_sse(game.pooled().one_attack).defender_utility
    if game.attacker_resources == 1:
        return float(outcome_space(game).values.sum(axis=0).max())
    if game.n_targets > SSE_TARGET_LIMIT:
        return np.nan
    return multi_attack_sse(game.pooled()).defender_utility


def _dims(game: SecurityGame) -> dict[str, Any]:
    return {
        "n_defenders": game.n_defenders,
        "n_targets": game.n_targets,
        "total_resources": game.total_resources,
        "attacker_resources": game.attacker_resources,
    }


def sim_rows(config: StudyConfig, chunk: Chunk, replication: int, rows: Rows) -> None:
    """One row per round and defender of each simulated run of the condition (one run,
    or one per defender when the profile makes each defender strategic in turn), added
    to ``rows`` round by round; a run that fails becomes its failed rows."""
    point = config.grid_points()[chunk.grid]
    game = study_game(config, point, replication)
    spec = config.mechanisms[chunk.mechanism]
    profile = config.profiles[chunk.profile]
    base = {
        **_base(config, chunk, replication),
        "profile": profile.name,
        "reporting": profile.reporting,
        "executing": profile.executing,
        "attacker": config.attacker,
        "n_defenders": game.n_defenders,
        "n_targets": game.n_targets,
    }
    ranges = [payoff_range(game, i) for i in range(game.n_defenders)]
    drawn = strategic_draw(config.seed, replication, game.n_defenders)
    for strategic in profile.runs(game.n_defenders, drawn):
        focal = strategic[0] if len(strategic) == 1 else None
        run = {**base, "focal_defender": focal}
        mark = rows.mark()
        try:
            for record in play(
                game,
                make_mechanism(spec.name, **spec.params),
                profile.behaviours(game.n_defenders, strategic),
                attacker=config.attacker_for(point),
                rounds=config.rounds,
                rng=dynamics_seed(config.seed, replication),
            ):
                played = record_rows(record)
                for row in played:
                    i = row["defender"]
                    row.update(
                        run,
                        strategic=i in strategic,
                        role=role(i, row.pop("leader")),
                        payoff_range=ranges[i],
                    )
                rows.add(played)
        except SimError as exc:
            rows.rollback(mark)
            rows.add(
                {
                    **run,
                    "round": -1,
                    "defender": i,
                    "strategic": i in strategic,
                    "payoff_range": ranges[i],
                    "status": "failed",
                    "error": str(exc),
                }
                for i in range(game.n_defenders)
            )


def blocks(chunks: list[Chunk], config: StudyConfig | None = None) -> list[list[Chunk]]:
    """Group chunks by game block (the game's design point, ignoring the attacker's
    swept parameters, and replication range).

    A worker runs a whole block, so every condition of the same games shares that
    worker's NSE memo (the same true and reported games recur across mechanisms,
    audits and profiles): locality, not a change of results. Given the ``config``,
    the blocks of the largest games come first (longest-processing-time order, so
    parallel workers finish together); otherwise in plan order. The order never
    changes a result: every chunk is seeded by its own identity.
    """
    points = config.grid_points() if config is not None else None
    groups: dict[tuple[Any, int], list[Chunk]] = {}
    for chunk in chunks:
        # design points that differ only in the attacker's parameters share the game
        game = (
            chunk.grid
            if points is None
            else json.dumps(generator_part(points[chunk.grid]), sort_keys=True)
        )
        groups.setdefault((game, chunk.start), []).append(chunk)
    if config is None or points is None:
        return list(groups.values())

    def cost(key: tuple[Any, int]) -> float:
        first = groups[key][0]
        params = {**config.generator_params, **points[first.grid]}
        size = float(params.get("n_defenders", 1)) * float(params.get("n_targets", 1))
        return size * (first.stop - first.start) * len(groups[key])

    return [groups[key] for key in sorted(groups, key=cost, reverse=True)]


def run_block(
    resolved: dict[str, Any], chunks: list[Chunk]
) -> list[tuple[Chunk, bytes | None, str, float]]:
    """Run the chunks of one block (the worker's entry point; arguments are plain and
    picklable): the config is parsed once, and a chunk that raises is reported, not
    fatal.

    Returns (chunk, its rows encoded as Parquet or None, error text, seconds) per
    chunk: the worker does the encoding, so the runner only writes bytes.
    """
    try:
        config = parse_config(resolved)
    except isolated() as exc:  # a plug-in that fails on import in this worker
        return [(chunk, None, f"{type(exc).__name__}: {exc}", 0.0) for chunk in chunks]
    out: list[tuple[Chunk, bytes | None, str, float]] = []
    for chunk in chunks:
        start = time.perf_counter()
        try:
            table = run_chunk(config, chunk)
        except isolated() as exc:  # isolation: one chunk's failure is recorded, not fatal
            out.append((chunk, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - start))
        else:
            part = encode_part(table, study=config.design_sha256())
            out.append((chunk, part, "", time.perf_counter() - start))
    return out


def isolated() -> tuple[type[BaseException], ...]:
    """What a failing instance may raise and still be recorded as a failure: any
    error, a plug-in's ``sys.exit`` and, in a local worker (which leaves Ctrl-C to the
    parent, so only code can raise it there), ``KeyboardInterrupt``. In the parent
    process a ``KeyboardInterrupt`` is the user's Ctrl-C, which stops the run."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return (Exception, SystemExit, KeyboardInterrupt)
    return (Exception, SystemExit)


def failed_instance(
    config: StudyConfig, chunk: Chunk, replication: int, exc: BaseException
) -> list[dict[str, Any]]:
    """The rows of an instance whose evaluation raised: one ``failed`` row per defender
    with the error, whatever it was (the rest of the chunk carries on, so the dataset
    never depends on how replications are chunked)."""
    n = int(config.point_parameters()[chunk.grid]["n_defenders"])
    base = {**_base(config, chunk, replication), "status": "failed"}
    base["error"] = f"{type(exc).__name__}: {exc}"
    if chunk.kind == "sim":
        profile = config.profiles[chunk.profile]
        base.update(
            profile=profile.name,
            reporting=profile.reporting,
            executing=profile.executing,
            attacker=config.attacker,
            round=-1,
        )
    return [{**base, "defender": i} for i in range(n)]


def evaluate(config: StudyConfig, chunk: Chunk, replication: int, rows: Rows) -> None:
    """Add one instance's rows of ``chunk`` to ``rows``."""
    if chunk.kind == "audit":
        rows.add(audit_rows(config, chunk, replication))
    else:
        sim_rows(config, chunk, replication, rows)


def chunk_rows(config: StudyConfig, chunk: Chunk) -> Rows:
    """An empty :class:`Rows` of ``chunk``'s table."""
    table = "audits" if chunk.kind == "audit" else "rounds"
    return Rows(table, config.parameter_columns())


def run_chunk(config: StudyConfig, chunk: Chunk) -> pa.Table:
    """Every row of one chunk, as an Arrow table of its table's columns and types (no
    DataFrame); each instance is isolated."""
    rows = chunk_rows(config, chunk)
    for replication in range(chunk.start, chunk.stop):
        mark = rows.mark()
        try:
            evaluate(config, chunk, replication, rows)
        except isolated() as exc:  # isolation: one instance's failure is its own rows
            rows.rollback(mark)
            rows.add(failed_instance(config, chunk, replication, exc))
    return rows.arrow()
