"""The economics of one round, as pure functions (no Mesa): the Mesa model's ``step()``
gathers the reports, draws and executions and calls :func:`play_round`.

Counterfactuals use common random numbers (the same game, the same uniform draws):

* SP (Property 3): what defender i would have got had *she* reported truthfully (the
  others' reports unchanged), everyone following the recommendation, at the
  outcome's designated targets; the realised value uses the same strategy draw.
* IR (Property 4): what she would have got had she followed her recommendation (the
  others executing as they did); the attacker responds to the coverage in force in
  that world with the same draws.

Against an attacker with several resources (Korzhyk, Conitzer and Parr 2011) every
utility is additive over the attacked set. A mechanism that planned for fewer attacks
than the attacker makes has its designated targets completed to a full attacked set
by the attacker's own rule (:func:`~mechanisms.outcome.designated_set`), so the SP
comparison is always between two attacked sets of the same size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mechanisms.outcome import MechanismOutcome, designated_set
from sim.errors import InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.payoffs import combined_coverage, realised_set_utility, set_utility
from sim.sampling import IndependentRecommendation, Recommendation

Plan = Callable[[int, np.ndarray], FloatArray]
"""``plan(defender, signal) -> marginal coverage`` she provides for that signal."""


@dataclass(frozen=True)
class RoundDraws:
    """The round's uniform draws, shared by every counterfactual.

    Attributes
    ----------
    strategy : float
        Picks the joint pure strategy of a correlated recommendation.
    own : ndarray, shape (n,)
        Each defender's own offset under independent play.
    attacker : ndarray, shape (attacks,)
        The attacker's draws, one per attack (quantal response, random tie-breaking).
    """

    strategy: float
    own: FloatArray
    attacker: FloatArray

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int, attacks: int = 1) -> RoundDraws:
        """Draw ``n + 1 + attacks`` uniforms in a fixed order."""
        u = rng.random(n + 1 + attacks)
        return cls(float(u[0]), u[1 : n + 1], u[n + 1 :])


def recommended_strategy(
    rec: Recommendation | IndependentRecommendation, draws: RoundDraws
) -> np.ndarray:
    """The joint pure strategy (bool, shape (n, m)) the draws select."""
    if isinstance(rec, Recommendation):
        pick = int(np.searchsorted(np.cumsum(rec.probabilities), draws.strategy, side="right"))
        return rec.assignments[min(pick, rec.n_strategies - 1)]
    rows = []
    for support, u in zip(rec.supports, draws.own, strict=True):
        own = int(np.searchsorted(support.offsets, u, side="right")) - 1
        rows.append(support.covered[min(own, int(support.offsets.size) - 1)])
    return np.array(rows)


def effective_coverage(
    rec: Recommendation | IndependentRecommendation, plan: Plan
) -> tuple[FloatArray, FloatArray]:
    """The coverage in force under the defenders' plans, exactly.

    Returns
    -------
    coverage : ndarray, shape (m,)
        The combined coverage the defenders' plans put in force.
    if_follows : ndarray, shape (n, m)
        Row i: the coverage if defender i followed and the others kept their plans.
    """
    if isinstance(rec, Recommendation):
        s_count, n, _ = rec.assignments.shape
        planned = np.array(
            [[plan(i, rec.assignments[s, i]) for i in range(n)] for s in range(s_count)]
        )  # (s, n, m)
        miss = 1.0 - planned
        coverage = rec.probabilities @ (1.0 - miss.prod(axis=1))
        follows = np.empty((n, planned.shape[2]))
        for i in range(n):
            alt = miss.copy()
            alt[:, i] = 1.0 - rec.assignments[:, i]
            follows[i] = rec.probabilities @ (1.0 - alt.prod(axis=1))
        return coverage, follows
    own = []
    told = []
    for i, support in enumerate(rec.supports):
        own.append(support.probabilities @ np.array([plan(i, row) for row in support.covered]))
        told.append(support.marginals())
    own_a, told_a = np.array(own), np.array(told)
    coverage = combined_coverage(own_a)
    follows = np.empty_like(own_a)
    for i in range(own_a.shape[0]):
        alt = own_a.copy()
        alt[i] = told_a[i]
        follows[i] = combined_coverage(alt)
    return coverage, follows


@dataclass(frozen=True)
class DefenderRound:
    """One defender in one round (true types throughout).

    ``*_truthful`` is the SP counterfactual, ``*_follow`` the IR one; gains are the
    actual value minus the counterfactual. ``payoff_range`` is her true payoff range
    (:attr:`~sim.game.PayoffUnits.defender_scale`), the unit of her gains.
    """

    round: int
    defender: int
    reported_reward: tuple[float, ...]
    reported_penalty: tuple[float, ...]
    misreported: bool
    recommended: tuple[int, ...]
    executed: tuple[int, ...]
    deviated: bool
    expected_utility: float
    realised_utility: float
    expected_truthful: float
    realised_truthful: float
    expected_follow: float
    realised_follow: float
    expected_utility_at_designated: float
    realised_utility_at_designated: float
    payoff_range: float

    @property
    def sp_gain(self) -> float:
        """Expected gain from her report over reporting truthfully (at the designated
        targets, everyone following: the mechanism-level gain of Property 3)."""
        return self.expected_utility_at_designated - self.expected_truthful

    @property
    def ir_gain(self) -> float:
        """Expected gain from her execution over following (Property 4)."""
        return self.expected_utility - self.expected_follow

    @property
    def sp_gain_realised(self) -> float:
        """Realised counterpart of :attr:`sp_gain` (same strategy draw)."""
        return self.realised_utility_at_designated - self.realised_truthful

    @property
    def ir_gain_realised(self) -> float:
        """Realised counterpart of :attr:`ir_gain` (same draws)."""
        return self.realised_utility - self.realised_follow


@dataclass(frozen=True)
class RoundRecord:
    """One round: the outcome (designated targets, its coverage), the coverage actually
    in force (``effective_coverage``, after deviations), the attack, every defender's
    record, and the defender the mechanism distinguished this round (``leader``: the
    dictator; -1 for none).

    ``attacked_targets`` is the attacked set (sorted; one target against a
    single-resource attacker) and ``covered_attacks`` says, per attacked target, whether
    some resource stood on it; ``designated_targets`` is the set the SP comparison uses
    (:func:`~mechanisms.outcome.designated_set`).
    """

    round: int
    mechanism: str
    status: str
    designated_targets: tuple[int, ...]
    attacked_targets: tuple[int, ...]
    covered_attacks: tuple[bool, ...]
    outcome_coverage: tuple[float, ...]
    effective_coverage: tuple[float, ...]
    defenders: tuple[DefenderRound, ...]
    leader: int = -1

    @property
    def attacker_resources(self) -> int:
        """How many targets were attacked this round."""
        return len(self.attacked_targets)

    @property
    def attacked_target(self) -> int:
        """The attacked target when there was one attack, else -1."""
        return _single(self.attacked_targets)

    @property
    def designated_target(self) -> int:
        """The designated target when there was one attack, else -1."""
        return _single(self.designated_targets)

    @property
    def covered(self) -> bool | None:
        """Whether the attacked target was covered, when there was one attack (else None:
        see :attr:`covered_attacks`)."""
        return self.covered_attacks[0] if len(self.covered_attacks) == 1 else None


def _single(targets: tuple[int, ...]) -> int:
    return targets[0] if len(targets) == 1 else -1


def _utility(game: SecurityGame, i: int, coverage: FloatArray, targets: tuple[int, ...]) -> float:
    return float(set_utility(game, coverage, targets, i))


def _realised(game: SecurityGame, i: int, guarded: Any, targets: tuple[int, ...]) -> float:
    return float(realised_set_utility(game, guarded, targets, i))


def play_round(
    game: SecurityGame,
    round_index: int,
    outcome: MechanismOutcome,
    truthful_outcomes: Sequence[MechanismOutcome],
    reports: tuple[FloatArray, FloatArray],
    draws: RoundDraws,
    executed: np.ndarray,
    effective: tuple[FloatArray, FloatArray],
    respond: Callable[[FloatArray], tuple[int, ...]],
) -> RoundRecord:
    """Resolve one round and its counterfactuals (pure; no Mesa).

    Parameters
    ----------
    game : SecurityGame
        The true game (utilities are always under true types).
    outcome : MechanismOutcome
        The mechanism's outcome on the reported game.
    truthful_outcomes : sequence of MechanismOutcome, one per defender
        The outcome had that defender reported truthfully (the others as reported).
    reports : (rewards, penalties), each shape (n, m)
    draws : RoundDraws
    executed : ndarray of bool, shape (n, m)
        What each defender actually guarded.
    effective : tuple of ndarray
        :func:`effective_coverage` of the execution plans in force.
    respond : callable
        The attacker's attacked set against a coverage vector, with this round's draws
        bound.
    """
    n = game.n_defenders
    rec = outcome.recommendation
    if rec is None or not outcome.ok:
        raise InvalidParameterError("play_round.outcome needs a recommendation (an ok outcome)")
    recommended = recommended_strategy(rec, draws)
    coverage, if_follows = effective
    targets = respond(coverage)
    guarded = np.asarray(executed.any(axis=0))
    designated = designated_set(game, outcome, len(targets))
    # what every defender shares this round, once (n,)
    expected = set_utility(game, coverage, targets)
    realised = realised_set_utility(game, guarded, targets)
    at_designated = set_utility(game, outcome.coverage, designated)
    realised_at_designated = realised_set_utility(game, recommended.any(axis=0), designated)
    rewards, penalties = reports
    defenders = []
    for i in range(n):
        cf = truthful_outcomes[i]
        cf_rec = cf.recommendation
        cf_strategy = recommended_strategy(cf_rec, draws) if cf_rec is not None else None
        cf_targets = designated_set(game, cf, len(targets)) if cf.ok else ()
        follow_targets = respond(if_follows[i])
        follow_rows = executed.copy()
        follow_rows[i] = recommended[i]
        defenders.append(
            DefenderRound(
                round=round_index,
                defender=i,
                reported_reward=tuple(float(x) for x in rewards[i]),
                reported_penalty=tuple(float(x) for x in penalties[i]),
                misreported=not (
                    np.array_equal(rewards[i], game.defender_reward[i])
                    and np.array_equal(penalties[i], game.defender_penalty[i])
                ),
                recommended=tuple(np.flatnonzero(recommended[i]).tolist()),
                executed=tuple(np.flatnonzero(executed[i]).tolist()),
                deviated=not np.array_equal(executed[i], recommended[i]),
                expected_utility=float(expected[i]),
                realised_utility=float(realised[i]),
                expected_truthful=_utility(game, i, cf.coverage, cf_targets) if cf.ok else np.nan,
                realised_truthful=_realised(game, i, cf_strategy.any(axis=0), cf_targets)
                if cf_strategy is not None and cf.ok
                else np.nan,
                expected_follow=_utility(game, i, if_follows[i], follow_targets),
                realised_follow=_realised(game, i, follow_rows.any(axis=0), follow_targets),
                expected_utility_at_designated=float(at_designated[i]),
                realised_utility_at_designated=float(realised_at_designated[i]),
                payoff_range=float(game.units.defender_scale[i]),
            )
        )
    return RoundRecord(
        round=round_index,
        mechanism=outcome.mechanism,
        status=outcome.status,
        designated_targets=designated,
        attacked_targets=targets,
        covered_attacks=tuple(bool(guarded[t]) for t in targets),
        outcome_coverage=tuple(float(x) for x in outcome.coverage),
        effective_coverage=tuple(float(x) for x in coverage),
        defenders=tuple(defenders),
        leader=outcome.leader,
    )
