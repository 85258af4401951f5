r"""Individual rationality against a logit attacker (``docs/behavioural.md`` §5).

Property 4 of Gan et al. (2020) asks whether a defender gains by not following her
recommendation. Against a logit attacker (:class:`~sim.response.LogitResponse`, e.g.
quantal response or SUQR) every target is attacked with a positive probability that
moves smoothly with the coverage, so her expected utility is
:math:`F_i(c) = \sum_t \pi_t(c)\, U_i(c_t, t)` and her best modification (told her
signal :math:`\sigma`, she plays :math:`y^\sigma \in C_{k_i}`) maximises
:math:`F_i(O + \sum_\sigma w_\sigma \odot y^\sigma)`: no longer a choice of target
with one LP each, but a non-concave problem over all her per-signal coverages.
:func:`~sim.solvers.behavioural.best_against_logit_by_signal` solves it with a
certified gap, so the audit returns a bracket on her gain: ``gain`` (a deviation she
can play achieves it) and ``gain_upper`` (none achieves more).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mechanisms.modification import signals
from mechanisms.outcome import IndependentRecommendation, MechanismOutcome
from sim.errors import InvalidGameError, InvalidParameterError
from sim.game import FloatArray, SecurityGame
from sim.response import LogitResponse
from sim.solvers import others_coverage
from sim.solvers.behavioural import best_against_logit_by_signal, logit_value

#: The certified gap of the audit's optimiser, as a share of the defender's range.
MAX_GAP = 1e-3


@dataclass(frozen=True, eq=False)
class LogitDeviation:
    """A defender's best strategy modification against a logit attacker, bracketed.

    Attributes
    ----------
    defender : int
    utility : float
        Her expected utility when she follows (everyone following).
    value, upper : float
        Her expected utility under the best modification found, and a proven upper
        bound on it over every modification.
    gain, gain_upper : float
        ``value - utility`` and ``upper - utility``, floored at 0: the gain of her best
        deviation lies in ``[gain, gain_upper]``.
    coverage : ndarray, shape (m,)
        The overall coverage under the modification found.
    modification : tuple of (signal, probability, coverage)
        Per recommended pure strategy, the coverage she plays instead (one entry with
        the empty signal for independent play).
    """

    defender: int
    utility: float
    value: float
    upper: float
    gain: float
    gain_upper: float
    coverage: FloatArray
    modification: tuple[tuple[tuple[int, ...], float, FloatArray], ...]


def ir_violation_logit(
    game: SecurityGame,
    outcome: MechanismOutcome,
    defender: int,
    response: LogitResponse,
    *,
    max_gap: float = MAX_GAP,
) -> LogitDeviation:
    """The best strategy modification of ``defender`` against ``response`` (Property 4
    of Gan et al. 2020 with a logit attacker in place of the rational one).

    Her signals and their weights are those of the rational audit
    (:func:`mechanisms.modification.signals`): :math:`c'_t = O_t + \\sum_\\sigma
    (P_\\sigma - O_{\\sigma t}) y^\\sigma_t`. For independent play (``nse``) she has one
    signal and adds :math:`(1 - q_t) y_t` to the others' combined coverage
    :math:`q`. With jurisdictions her :math:`y^\\sigma` lies in her own.

    Parameters
    ----------
    max_gap : float
        The certified gap asked of the optimiser, as a share of her payoff range; the
        result's bracket states what was reached.
    """
    if game.attacker_resources != 1 or game.schedules is not None:
        raise InvalidGameError(
            "ir_violation_logit models one attack on targets; the game has "
            f"attacker_resources={game.attacker_resources}"
            + (" and schedules" if game.schedules is not None else "")
        )
    if not (0 <= defender < game.n_defenders):
        raise InvalidParameterError(
            f"ir_violation_logit.defender must be in [0, {game.n_defenders}); got {defender!r}"
        )
    if not (np.isfinite(max_gap) and 0 < max_gap < 1):
        raise InvalidParameterError(
            f"ir_violation_logit.max_gap must be in (0, 1); got {max_gap!r}"
        )
    rec = outcome.recommendation
    if rec is None:
        raise InvalidParameterError("ir_violation_logit.outcome has no recommendation")
    if isinstance(rec, IndependentRecommendation):
        base = others_coverage(rec.defender_coverage(), defender)
        told: list[tuple[int, ...]] = [()]
        prob = np.ones(1)
        weight = (1.0 - base)[None, :]
    else:
        told, prob, covered = signals(rec, defender)
        base = covered.sum(axis=0)
        weight = prob[:, None] - covered
    weight = np.clip(weight, 0.0, None) * game.allowed[defender][None, :]
    standard = game.standard
    a, b = response.affine(game)
    p, g = standard.defender_penalty[defender], standard.defender_gap[defender]
    own = logit_value(a, b, p, g, np.asarray(outcome.coverage, dtype=np.float64))
    found, y = best_against_logit_by_signal(
        a + b * base,
        b,
        p + g * base,
        g,
        weight=weight,
        budget=float(game.resources[defender]),
        max_gap=max_gap,
    )
    value, upper = max(found.value, own), max(found.upper, own)
    to_units = game.units.defender_utility
    utility, value_units, upper_units = (float(to_units(v, defender)) for v in (own, value, upper))
    return LogitDeviation(
        defender=defender,
        utility=utility,
        value=value_units,
        upper=upper_units,
        gain=max(0.0, value_units - utility),
        gain_upper=max(0.0, upper_units - utility),
        coverage=base + found.coverage,
        modification=tuple((signal, float(prob[s]), y[s]) for s, signal in enumerate(told)),
    )
