"""What a study will cost before it runs (``defcoord run CONFIG --dry-run``): its
conditions, instances and rounds, counted from the config, and a wall-time estimate
from a short pilot that evaluates a spread of the study's own instances in this
process (nothing is written)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from runs.config import StudyConfig
from runs.tasks import audit_rows, blocks, plan_chunks, sim_rows

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
    one NSE memo) in ``seconds``."""

    games: int
    seconds: float

    @property
    def per_game(self) -> float:
        return self.seconds / self.games


def pilot(config: StudyConfig, budget: float = PILOT_SECONDS) -> Pilot:
    """Evaluate whole games of the study (one replication of a grid point at a time,
    in a seeded order spread over the grid) until ``budget`` seconds have passed,
    at least one."""
    games = [(g, r) for r in range(config.replications) for g in range(len(config.grid_points()))]
    order = np.random.default_rng(config.seed).permutation(len(games))
    chunks = plan_chunks(config)
    done, started = 0, time.perf_counter()
    for index in order:
        if done and time.perf_counter() - started > budget:
            break
        grid, replication = games[int(index)]
        for chunk in chunks:
            if chunk.grid == grid and chunk.start <= replication < chunk.stop:
                evaluate = audit_rows if chunk.kind == "audit" else sim_rows
                try:
                    evaluate(config, chunk, replication)
                except Exception:  # a failing instance still costs its time; runs record it
                    pass
        done += 1
    return Pilot(done, time.perf_counter() - started)


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
    keys = sorted(config.grid)
    points = " | ".join(
        ", ".join(f"{k}={p[k]}" for k in keys) or "(one point)" for p in config.grid_points()
    )
    mechanisms = ", ".join(m.name for m in config.mechanisms)
    profiles = ", ".join(p.name for p in config.profiles)
    lines = [
        f"study {config.name!r}: dry run (nothing written)",
        f"  generator {config.generator}; grid: {plan.points} point(s): {points}",
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
        f"  pilot: {measured.games} whole game(s) (every mechanism and profile) in "
        f"{measured.seconds:.1f} s, {measured.per_game:.2f} s per game",
        f"  estimated wall time: {_duration(estimate_seconds(plan, measured, jobs))} "
        f"on {jobs} local worker(s) (from the pilot's mean; excludes start-up and figures)",
    ]
    return "\n".join(lines)
