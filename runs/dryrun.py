"""What a study will cost before it runs (``defcoord run CONFIG --dry-run``): its
conditions, instances and rounds, counted from the config, a wall-time estimate from a
short pilot that evaluates a spread of the study's own instances in this process, and
whether its misreport search budget converged on a few of them (nothing is written).
Each pilot stops at its time budget, inside a game if need be (a real-time timer,
which waits for a numerical call in progress to return)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from mechanisms import make_mechanism
from mechanisms.properties import search_misreports
from runs.config import ATTACKER_PREFIX, StudyConfig
from runs.seeding import allocation_seed, search_rng
from runs.tasks import blocks, chunk_rows, evaluate, plan_chunks, study_game, threshold

#: The convergence pilot searches with this many times the study's budget, and at
#: least ``PILOT_BUDGET_FLOOR`` reports.
PILOT_BUDGET_FACTOR = 4
PILOT_BUDGET_FLOOR = 1000

#: Grids up to this many points are listed point by point; larger ones by parameter.
SHOWN_POINTS = 24

#: The points of a sampled design the dry run lists.
SHOWN_SAMPLES = 5

#: The pilot's default time budget, in seconds.
PILOT_SECONDS = 5.0


@dataclass(frozen=True)
class StudyPlan:
    """The study's size, counted from its config.

    Attributes
    ----------
    points : int
        Grid points.
    games : int
        Distinct games (grid points x replications).
    audits : int
        Audited instances (games x mechanisms).
    simulations : int
        Simulation runs (audits x profiles, x n_defenders for ``strategic = "each"``).
    rounds : int
        Simulated rounds (simulation runs x rounds per run).
    chunks, blocks : int
        Work items and the groups of them a worker runs together.
    """

    points: int
    games: int
    audits: int
    simulations: int
    rounds: int
    chunks: int
    blocks: int


def study_plan(config: StudyConfig) -> StudyPlan:
    """Count the study's conditions and instances."""
    points = config.point_parameters()
    mechanisms, replications = len(config.mechanisms), config.replications
    runs_per_game = (
        sum(
            len(profile.runs(int(point["n_defenders"]), 0))
            for point in points
            for profile in config.profiles
        )
        if config.rounds
        else 0
    )
    chunks = plan_chunks(config)
    return StudyPlan(
        points=len(points),
        games=len(points) * replications,
        audits=len(points) * mechanisms * replications,
        simulations=runs_per_game * mechanisms * replications,
        rounds=runs_per_game * mechanisms * replications * config.rounds,
        chunks=len(chunks),
        blocks=len(blocks(chunks)),
    )


@dataclass(frozen=True)
class Pilot:
    """What :func:`pilot` measured: ``games`` evaluated whole (every mechanism's
    audits and every profile's simulations of one game, as a worker runs them, sharing
    one NSE memo) in ``seconds``. With no whole game within the budget, ``seconds`` is
    how long the first one ran before the budget stopped it: a lower bound on a game's
    cost (0 when the budget was 0)."""

    games: int
    seconds: float

    @property
    def per_game(self) -> float:
        """The mean cost of a game (a lower bound when no game finished)."""
        return self.seconds / self.games if self.games else self.seconds


class _OutOfTime(BaseException):
    """A pilot's time budget ended (a BaseException, so that no handler of the code
    it interrupts takes it for that code's own failure)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_OutOfTime` in the block once ``seconds`` have passed (a real-time
    timer; in a thread other than the main one, which cannot take signals, the pilots
    stop only between their steps)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if seconds <= 0:
        raise _OutOfTime

    def expire(signum: int, frame: object) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


def pilot(config: StudyConfig, budget: float = PILOT_SECONDS) -> Pilot:
    """Evaluate whole games of the study (one replication of a grid point at a time,
    in a seeded order spread over the grid) until ``budget`` seconds have passed; a
    game still running then is stopped and not counted."""
    chunks = plan_chunks(config)
    done, started = 0, time.perf_counter()
    whole = 0.0  # when the last whole game ended
    try:
        with time_limit(budget):
            for grid, replication in _pilot_order(config):
                if time.perf_counter() - started > budget:
                    break
                for chunk in chunks:
                    if chunk.grid == grid and chunk.start <= replication < chunk.stop:
                        try:
                            evaluate(config, chunk, replication, chunk_rows(config, chunk))
                        except Exception:  # a failing instance still costs its time
                            pass
                done += 1
                whole = time.perf_counter() - started
    except _OutOfTime:
        pass
    return Pilot(done, whole if done else time.perf_counter() - started)


#: Up to this many games the pilots visit a permutation of all of them; beyond, distinct
#: random draws (a permutation of billions of games would not fit in memory).
PERMUTED_GAMES = 1_000_000


def _pilot_order(config: StudyConfig) -> Iterator[tuple[int, int]]:
    """The study's games as (grid point, replication), in the pilots' seeded order
    spread over the grid (each at most once)."""
    points = len(config.grid_points())
    total = points * config.replications
    rng = np.random.default_rng(config.seed)
    if total <= PERMUTED_GAMES:
        order: Iterator[int] = (int(i) for i in rng.permutation(total))
    else:
        order = _distinct(rng, total)
    for index in order:
        yield index % points, index // points


def _distinct(rng: np.random.Generator, total: int) -> Iterator[int]:
    seen: set[int] = set()
    while len(seen) < total:
        index = int(rng.integers(total))
        if index not in seen:
            seen.add(index)
            yield index


@dataclass(frozen=True)
class BudgetPilot:
    """What :func:`budget_pilot` found: ``searches`` misreport searches (one per
    game, mechanism and defender) of ``budget`` reports and, for each that found a
    failure (a gain over the study's threshold), the reports it had evaluated when it
    first found one (``found_at``: the smallest budget that gives the same verdict)."""

    games: int
    searches: int
    budget: int
    found_at: tuple[int, ...]

    @property
    def needed(self) -> int:
        """The budget that gives every pilot search its verdict (0: none failed)."""
        return max(self.found_at, default=0)


def budget_pilot(config: StudyConfig, seconds: float = PILOT_SECONDS) -> BudgetPilot | None:
    """Search every defender of whole games (every mechanism; the pilots' order) with
    ``PILOT_BUDGET_FACTOR`` times ``[audits] misreport_budget`` reports (at least
    ``PILOT_BUDGET_FLOOR``) until ``seconds`` have passed (the search running then is
    stopped and not counted); None
    when the study searches no misreports. The search is prefix-consistent
    (:class:`~mechanisms.properties.MisreportSearch`), so the study's own search is the
    first part of each of these."""
    if config.audits.misreport_budget == 0:
        return None
    budget = max(config.audits.misreport_budget * PILOT_BUDGET_FACTOR, PILOT_BUDGET_FLOOR)
    found: list[int] = []
    games = searches = 0
    started = time.perf_counter()
    try:
        with time_limit(seconds):
            for grid, replication in _pilot_order(config):
                if time.perf_counter() - started > seconds:
                    break
                game = study_game(config, config.grid_points()[grid], replication)
                games += 1
                if game.attacker_resources > 1:
                    continue  # the audits model one attack
                allocation = allocation_seed(config.seed, replication)
                for spec in config.mechanisms:
                    mechanism = make_mechanism(spec.name, **spec.params)
                    for i in range(game.n_defenders):
                        rng = search_rng(config.seed, replication, i)
                        try:
                            search = search_misreports(
                                mechanism, game, i, rng=rng, budget=budget, seed=allocation
                            )
                        except Exception:  # a failing instance is the study's to record
                            continue
                        searches += 1
                        limit = threshold(config, game, i)
                        if search.gain > limit:
                            found.append(search.reached(limit) or search.evaluated)
    except _OutOfTime:
        pass
    return BudgetPilot(games, searches, budget, tuple(found))


def estimate_seconds(plan: StudyPlan, measured: Pilot, jobs: int) -> float:
    """The study's estimated wall time on ``jobs`` local workers: the pilot's mean
    cost per game times the games, shared by the workers that can be busy (no more
    than the cores or the blocks)."""
    busy = max(1, min(jobs, os.cpu_count() or 1, plan.blocks))
    return measured.per_game * plan.games / busy


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:.0f} min"


def dry_run(config: StudyConfig, jobs: int, budget: float = PILOT_SECONDS) -> str:
    """The text ``defcoord run --dry-run`` prints."""
    plan = study_plan(config)
    measured = pilot(config, budget)
    design = config.sampling
    keys = [r.name for r in design.ranges] if design.sampled else sorted(config.grid)
    keys += [ATTACKER_PREFIX + k for k in sorted(config.attacker_grid)]

    def shown(point: dict[str, Any]) -> str:
        values = (f"{point[k]:.4g}" if isinstance(point[k], float) else str(point[k]) for k in keys)
        return ", ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)) or "(one point)"

    if design.sampled:
        head = config.grid_points()[:SHOWN_SAMPLES]
        points = f"the first {len(head)}: " + " | ".join(shown(p) for p in head)
    elif plan.points <= SHOWN_POINTS:
        points = " | ".join(shown(p) for p in config.grid_points())
    else:
        sizes = {**config.grid, **{ATTACKER_PREFIX + k: v for k, v in config.attacker_grid.items()}}
        points = "the product of " + ", ".join(f"{k} ({len(sizes[k])} values)" for k in keys)
    if design.sampled:
        box = ", ".join(
            f"{r.name} in [{r.low}, {r.high}]" + (" (integers)" if r.integer else "")
            for r in design.ranges
        )
        where = f"{design.kind} design of {design.samples} samples over {box}"
    else:
        where = "grid"
    mechanisms = ", ".join(m.name for m in config.mechanisms)
    profiles = ", ".join(p.name for p in config.profiles)
    lines = [
        f"study {config.name!r}: dry run (nothing written)",
        f"  generator {config.generator}; {where}: {plan.points} point(s): {points}",
        f"  mechanisms ({len(config.mechanisms)}): {mechanisms}",
        f"  profiles ({len(config.profiles)}): {profiles}; attacker {config.attacker}",
        f"  conditions: {plan.points * len(config.mechanisms)} audited"
        + (
            f", {plan.points * len(config.mechanisms) * len(config.profiles)} simulated"
            if config.rounds
            else ", no simulation (rounds = 0)"
        ),
        f"  instances: {plan.games} games ({config.replications} replications per point), "
        f"{plan.audits} audits, {plan.simulations} simulation runs, {plan.rounds} rounds",
        f"  work: {plan.chunks} chunks in {plan.blocks} blocks",
        *_estimate_lines(plan, measured, jobs, budget),
        *_budget_lines(config, budget),
    ]
    return "\n".join(lines)


def _estimate_lines(plan: StudyPlan, measured: Pilot, jobs: int, budget: float) -> list[str]:
    """The pilot's measurement and the wall-time estimate, marked when a lower bound."""
    if measured.games == 0 and budget <= 0:
        return ["  pilot: none (--pilot-seconds 0): no wall-time estimate"]
    estimate = _duration(estimate_seconds(plan, measured, jobs))
    tail = f"on {jobs} local worker(s) (from the pilot's mean; excludes start-up and figures)"
    if measured.games == 0:
        return [
            f"  pilot: no whole game within its {budget:g} s budget (every mechanism and "
            f"profile of one game takes longer; raise --pilot-seconds to measure one)",
            f"  estimated wall time: more than {estimate} {tail}",
        ]
    return [
        f"  pilot: {measured.games} whole game(s) (every mechanism and profile) in "
        f"{measured.seconds:.1f} s, {measured.per_game:.2f} s per game",
        f"  estimated wall time: {estimate} {tail}",
    ]


def _budget_lines(config: StudyConfig, seconds: float) -> list[str]:
    """The misreport search's budget and what the convergence pilot says of it."""
    budget = config.audits.misreport_budget
    if budget == 0:
        return ["  SP search: none ([audits] misreport_budget = 0): SP is not audited"]
    lines = [f"  SP search: {budget} reports per defender ([audits] misreport_budget)"]
    found = budget_pilot(config, seconds)
    if found is None or found.searches == 0:
        return lines
    late = [at for at in found.found_at if at > budget]
    head = (
        f"  SP budget pilot: {found.searches} searches of {found.budget} reports on "
        f"{found.games} game(s); {len(found.found_at)} found a failure"
    )
    if not late:
        lines.append(
            f"{head}, each within {found.needed} reports: the budget converged on the pilot"
        )
        return lines
    lines.append(
        f"{head}; {len(late)} found it only after {budget} reports (the last after {found.needed})"
    )
    lines.append(
        f"  warning: misreport_budget = {budget} is below what converged in the pilot; "
        f"SP rates will be lower bounds that move with the budget (raise it to at least "
        f"{found.needed})"
    )
    return lines
