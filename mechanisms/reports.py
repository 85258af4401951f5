"""Outcomes of many reported games at once: the misreport search's inner loop.

A misreport search evaluates thousands of games that differ from the true one only in
one defender's reported row. The outcome space depends on the attacker alone, so only
her row of the value matrix changes (:func:`report_values`); a mechanism built on the
reported game's NSE needs one NSE per report, found in one batch by the quick
finder's stages (:func:`report_nses`). :func:`outcomes_by_allocation` is the
generic (slow) path: ``allocate`` on every reported game.
"""

from __future__ import annotations

import numpy as np

from mechanisms.base import Mechanism
from mechanisms.space import OutcomeSpace, outcome_space
from sim.game import FloatArray, SecurityGame
from sim.nse import compute_nse
from sim.nse.kernel import ReportNSEs, quick_nse_batch
from sim.payoffs import utility


def report_values(
    game: SecurityGame, defender: int, rewards: FloatArray, penalties: FloatArray
) -> tuple[OutcomeSpace, FloatArray]:
    """The outcome space and, per report, the value matrix (b, n, m) in which only
    ``defender``'s row changes (the space depends on the attacker alone)."""
    space = outcome_space(game)
    values = np.repeat(space.values[None], rewards.shape[0], axis=0)
    best = np.diagonal(space.coverage)  # x_t
    values[:, defender] = np.where(
        space.feasible, utility(penalties, rewards - penalties, best), -np.inf
    )
    return space, values


def report_nses(
    game: SecurityGame, defender: int, rewards: FloatArray, penalties: FloatArray
) -> ReportNSEs:
    """The quick verified NSE of every reported game (``find_nse(..., quick=True)``):
    in one batch (:func:`~sim.nse.kernel.quick_nse_batch`), or one by one where
    at most one defender has resources (the finder's closed forms). Rows with ``ok``
    False: the quick finder missed (the search skips them). Defenders plan for one
    attack (:attr:`~sim.game.SecurityGame.one_attack`)."""
    game = game.one_attack
    if np.count_nonzero(game.resources) >= 2:
        return quick_nse_batch(game, defender, rewards, penalties)
    batch = ReportNSEs.empty(rewards.shape[0], game.n_defenders, game.n_targets)
    for b in range(rewards.shape[0]):
        nse = compute_nse(game.with_reports(defender, rewards[b], penalties[b]), quick=True)
        if nse.verified:
            batch.ok[b] = True
            batch.attacked_target[b] = nse.attacked_target
            batch.coverage[b] = nse.total_coverage
            batch.defender_utility[b] = nse.defender_utility
        batch.attempts[b] = nse.attempts
    return batch


def outcomes_by_allocation(
    mechanism: Mechanism,
    game: SecurityGame,
    defender: int,
    rewards: FloatArray,
    penalties: FloatArray,
    seed: int,
) -> tuple[np.ndarray, FloatArray]:
    """The generic (slow) batch: ``allocate`` on every reported game (target -1 where
    the outcome failed)."""
    targets = np.full(rewards.shape[0], -1)
    coverage = np.zeros((rewards.shape[0], game.n_targets))
    for b, (r, p) in enumerate(zip(rewards, penalties, strict=True)):
        outcome = mechanism.allocate(
            game.with_reports(defender, r, p), rng=np.random.default_rng(seed)
        )
        if outcome.ok:
            targets[b], coverage[b] = outcome.attacked_target, outcome.coverage
    return targets, coverage
