"""Empirical strategyproofness and individual-rationality failures from round records.

A round is an *SP failure* for a defender when her report paid off in expectation
against reporting truthfully (same draws), and an *IR failure* when her execution
paid off against following. Rates come with exact Clopper–Pearson intervals, which
treat the rounds of the run as independent draws: they describe this one run of one
game. Rounds of a run are not independent samples of games; a study's summary
(``runs.summary``, ``docs/statistics.md``) counts runs instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agents.rounds import RoundRecord
from sim.errors import InvalidParameterError
from sim.numerics import GAIN_TOL, is_failure
from sim.stats import clopper_pearson


@dataclass(frozen=True)
class FailureRate:
    """How often (and how much) a kind of strategic behaviour paid off.

    Attributes
    ----------
    failures, trials : int
        Defender-rounds in which it paid off / were observed.
    rate, low, high : float
        The rate and its exact 95% confidence interval.
    mean_gain, max_gain : float
        Over all observed defender-rounds (gains can be negative).
    """

    failures: int
    trials: int
    rate: float
    low: float
    high: float
    mean_gain: float
    max_gain: float

    @classmethod
    def of(cls, gains: np.ndarray, ranges: np.ndarray, tol: float) -> FailureRate:
        """From expected gains, counting as failures those that :func:`is_failure` at
        ``tol`` of their payoff ``ranges``."""
        seen = np.isfinite(gains)
        gains, ranges = gains[seen], ranges[seen]
        trials, failures = int(gains.size), int(is_failure(gains, ranges, tol).sum())
        low, high = clopper_pearson(failures, trials)
        return cls(
            failures,
            trials,
            failures / trials if trials else float("nan"),
            low,
            high,
            float(gains.mean()) if trials else float("nan"),
            float(gains.max()) if trials else float("nan"),
        )


@dataclass(frozen=True)
class EmpiricalFailures:
    """SP and IR failures over a run, overall and by defender.

    Attributes
    ----------
    sp, ir : FailureRate
        Over every (round, defender) of the selected defenders.
    sp_by_defender, ir_by_defender : tuple of FailureRate
    sp_trend, ir_trend : ndarray, shape (k,)
        Failure rates over ``k`` consecutive blocks of rounds: whether learners
        converge to manipulation.
    """

    sp: FailureRate
    ir: FailureRate
    sp_by_defender: tuple[FailureRate, ...]
    ir_by_defender: tuple[FailureRate, ...]
    sp_trend: np.ndarray
    ir_trend: np.ndarray


def empirical_failures(
    records: Sequence[RoundRecord],
    *,
    defenders: Sequence[int] | None = None,
    blocks: int = 10,
    tol: float = GAIN_TOL,
) -> EmpiricalFailures:
    """Summarise a run's SP and IR failures (see the module docstring): a gain is a
    failure when it exceeds ``tol`` times the defender's payoff range."""
    if not records:
        raise InvalidParameterError("empirical_failures.records needs at least one round")
    n = len(records[0].defenders)
    chosen = list(range(n)) if defenders is None else list(defenders)
    sp = np.array([[r.defenders[i].sp_gain for i in chosen] for r in records])
    ir = np.array([[r.defenders[i].ir_gain for i in chosen] for r in records])
    ranges = np.array([[r.defenders[i].payoff_range for i in chosen] for r in records])

    def trend(gains: np.ndarray) -> np.ndarray:
        parts = np.array_split(is_failure(gains, ranges, tol), min(blocks, gains.shape[0]))
        return np.array([float(part.mean()) for part in parts])

    def rates(gains: np.ndarray) -> tuple[FailureRate, tuple[FailureRate, ...]]:
        each = tuple(FailureRate.of(gains[:, j], ranges[:, j], tol) for j in range(len(chosen)))
        return FailureRate.of(gains.ravel(), ranges.ravel(), tol), each

    (sp_all, sp_each), (ir_all, ir_each) = rates(sp), rates(ir)
    return EmpiricalFailures(sp_all, ir_all, sp_each, ir_each, trend(sp), trend(ir))
