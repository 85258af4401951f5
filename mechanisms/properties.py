"""Property audits with certificates (Gan et al. 2020, Properties 1-4).

* :func:`is_pareto_efficient` -- exact, over the finite outcome set of
  ``docs/solvers.md`` §2; returns a dominating outcome when there is one.
* :func:`utility_preservation` -- strong / weak UP per defender against
  :func:`~sim.nse.nse_utility_range`, each verdict ``holds``, ``fails`` or
  ``undetermined`` and backed by a verified NSE or a sound bound.
* :func:`search_misreports` -- a search over reports (SP is a universal statement, so
  a found misreport is a proof of manipulability and none found is evidence only);
  the certificate replays with ``mechanism.allocate``, and the search records when it
  found its best and what half its budget found (``docs/statistics.md`` §3);
  :func:`find_profitable_misreport` returns just the certificate.
* :func:`nse_prices` -- the prices of anarchy and stability: the pooled optimum
  against the best and the worst NSE welfare, where those are computed exactly.
* :func:`ir_violation` -- the best strategy modification against a recommendation
  (Definition 5.1, Property 4) by one LP per target over signal-conditioned coverage.

All audits evaluate outcomes under the game they are given: pass the *true* game.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import linprog

from mechanisms.base import Mechanism
from mechanisms.modification import PLAYABLE_MIX, Modification, best_modification, signals
from mechanisms.outcome import MechanismOutcome, designated_set
from mechanisms.space import outcome_space
from sim.errors import InvalidParameterError
from sim.game import GAP_FLOOR, PAYOFF_LIMIT, FloatArray, SecurityGame
from sim.nse import NSEUtilityRange, exact_extremes, nse_utility_range
from sim.numerics import LP_TOL, REPORT_GAP, UTILITY_TOL, failure_threshold
from sim.payoffs import set_utility, target_utility, utility
from sim.sampling import IndependentRecommendation
from sim.solvers import deviation_value, others_coverage

Verdict = Literal["holds", "fails", "undetermined"]


def outcome_utility(game: SecurityGame, outcome: MechanismOutcome) -> FloatArray:
    """:math:`U_i^d(\\mathrm{cov}, t)` of ``outcome`` under ``game``'s types, shape (n,);
    against several attacks, additive over its designated set
    (:func:`~mechanisms.outcome.designated_set`)."""
    return set_utility(game, outcome.coverage, designated_set(game, outcome))


def one_attack(game: SecurityGame, audit: str) -> None:
    """The audits of Properties 1-4 model one attack (Gan et al. 2020); a game
    against several is refused rather than audited under the wrong model."""
    if game.attacker_resources != 1:
        raise InvalidParameterError(
            f"{audit} audits games with one attack (Gan et al. 2020); got "
            f"attacker_resources={game.attacker_resources}"
        )


# -- Pareto efficiency ---------------------------------------------------------------
@dataclass(frozen=True)
class ParetoAudit:
    """Property 1. ``dominating_target`` / ``dominating_utility`` certify a failure."""

    efficient: bool
    utility: FloatArray
    dominating_target: int = -1
    dominating_utility: FloatArray | None = None
    dominating_coverage: FloatArray | None = None


def is_pareto_efficient(
    game: SecurityGame, outcome: MechanismOutcome, *, tol: float = UTILITY_TOL
) -> ParetoAudit:
    """Whether any feasible outcome Pareto dominates ``outcome`` (exact).

    Any outcome attacking t gives every defender at most :math:`U_i^d(x_t, t)`, so it
    suffices to compare with the columns of the outcome space: dominated iff some
    attackable t has :math:`U_i^d(x_t, t) \\ge u_i` for all i and :math:`>` for one,
    each to within ``tol`` of the defender's payoff range.
    """
    one_attack(game, "is_pareto_efficient")
    u = outcome_utility(game, outcome)
    space = outcome_space(game)
    slack = (tol * game.units.defender_scale)[:, None]
    weakly = np.all(space.values >= u[:, None] - slack, axis=0)
    strictly = np.any(space.values > u[:, None] + slack, axis=0)
    dominating = np.flatnonzero(space.feasible & weakly & strictly)
    if dominating.size == 0:
        return ParetoAudit(True, u)
    t = int(dominating[np.argmax(space.values[:, dominating].sum(axis=0))])
    return ParetoAudit(False, u, t, space.values[:, t].copy(), space.coverage[t].copy())


# -- utility preservation ------------------------------------------------------------
@dataclass(frozen=True)
class UPAudit:
    """Property 2 per defender.

    Attributes
    ----------
    utility : ndarray, shape (n,)
    weak, strong : tuple of {"holds", "fails", "undetermined"}
    bounds : NSEUtilityRange
        Where the verdicts come from: a verdict is exact when its side of the range
        is (``bounds.worst_exact`` / ``bounds.best_exact``).
    """

    utility: FloatArray
    weak: tuple[Verdict, ...]
    strong: tuple[Verdict, ...]
    bounds: NSEUtilityRange

    @property
    def weakly_up(self) -> bool | None:
        """True if weak UP holds for everyone, False if it fails for someone, else None."""
        return _overall(self.weak)

    @property
    def strongly_up(self) -> bool | None:
        """Likewise for strong UP."""
        return _overall(self.strong)


def _overall(verdicts: tuple[Verdict, ...]) -> bool | None:
    if "fails" in verdicts:
        return False
    return True if all(v == "holds" for v in verdicts) else None


def _verdicts(
    u: FloatArray, low: FloatArray, high: FloatArray, slack: FloatArray
) -> tuple[Verdict, ...]:
    out: list[Verdict] = []
    for value, lo, hi, tol in zip(u, low, high, slack, strict=True):
        out.append(
            "holds" if value >= hi - tol else "fails" if value < lo - tol else "undetermined"
        )
    return tuple(out)


def utility_preservation(
    game: SecurityGame,
    outcome: MechanismOutcome,
    *,
    bounds: NSEUtilityRange | None = None,
    tol: float = UTILITY_TOL,
) -> UPAudit:
    """Strong and weak UP of ``outcome`` for each defender (Property 2).

    Weak UP holds for i when :math:`u_i` is at least a verified NSE's utility (the
    worst NSE is no better); it fails when :math:`u_i` is below a sound lower bound on
    every NSE. Strong UP fails when some verified NSE gives i more; it holds when
    :math:`u_i` reaches a sound upper bound on every NSE. Utilities within ``tol`` of
    the defender's payoff range are equal.
    """
    one_attack(game, "utility_preservation")
    u = outcome_utility(game, outcome)
    b = nse_utility_range(game) if bounds is None else bounds
    slack = tol * game.units.defender_scale
    weak = _verdicts(u, b.worst_low, b.worst_high, slack)
    strong = _verdicts(u, b.best_low, b.best_high, slack)
    return UPAudit(u, weak, strong, b)


# -- prices of anarchy and stability --------------------------------------------------
@dataclass(frozen=True)
class NSEPrices:
    """What uncoordinated play costs on one game: the pooled optimum welfare against the
    best and the worst NSE welfare (``docs/nse.md`` §3.4).

    Attributes
    ----------
    optimum : float
        The largest total utility an outcome of the pooled resources gives.
    best_welfare, worst_welfare : float
        The NSE set's largest and smallest total utility (NaN where they are not
        computed exactly: ``exact`` False).
    exact : bool
        Whether the NSE extremes were computed (:func:`~sim.nse.exact_extremes`).
    """

    optimum: float
    best_welfare: float
    worst_welfare: float
    exact: bool

    @property
    def anarchy(self) -> float:
        """The price of anarchy, optimum / worst NSE welfare (NaN unless both are
        positive: a ratio of welfares means nothing otherwise; see ``anarchy_gap``)."""
        return _ratio(self.optimum, self.worst_welfare)

    @property
    def stability(self) -> float:
        """The price of stability, optimum / best NSE welfare (NaN unless both are
        positive; see ``stability_gap``)."""
        return _ratio(self.optimum, self.best_welfare)

    @property
    def anarchy_gap(self) -> float:
        """Optimum minus the worst NSE welfare."""
        return self.optimum - self.worst_welfare

    @property
    def stability_gap(self) -> float:
        """Optimum minus the best NSE welfare."""
        return self.optimum - self.best_welfare


def _ratio(optimum: float, welfare: float) -> float:
    return optimum / welfare if optimum > 0.0 and welfare > 0.0 else float("nan")


def nse_prices(game: SecurityGame) -> NSEPrices:
    """The prices of anarchy and stability of ``game`` (Koutsoupias and Papadimitriou's
    ratio of the optimum to the worst equilibrium, and Anshelevich et al.'s to the
    best), over the NSEs of uncoordinated play (Gan et al. 2020, Definition 2.1)."""
    one_attack(game, "nse_prices")
    optimum = float(outcome_space(game).values.sum(axis=0).max())
    ext = exact_extremes(game)
    if ext is None:
        return NSEPrices(optimum, float("nan"), float("nan"), False)
    return NSEPrices(optimum, ext.best_welfare, ext.worst_welfare, True)


# -- strategyproofness ---------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Misreport:
    """A profitable misreport: replay ``mechanism.prepared(game).allocate(
    game.with_reports(defender, reward, penalty), rng=np.random.default_rng(seed))``.

    Attributes
    ----------
    gain : float
        True utility under the misreport minus under truthful reporting.
    """

    defender: int
    reward: FloatArray
    penalty: FloatArray
    gain: float
    truthful: MechanismOutcome
    manipulated: MechanismOutcome
    seed: int
    family: str
    candidates: int


@dataclass(frozen=True, eq=False)
class MisreportSearch:
    """What one misreport search did and found.

    The search is *prefix-consistent*: its first ``j`` reports are the same whatever
    its budget (for ``j`` up to the budget), so ``half_gain`` is exactly what a search
    with half the budget would have found, and a study can tell whether its budget
    converged (``docs/statistics.md`` §3).

    Attributes
    ----------
    budget : int
        Reports the search could evaluate.
    evaluated : int
        Reports it evaluated (the budget, unless the mechanism failed on the truth).
    found_at : int or None
        Reports evaluated when the best misreport was first found (1-based); None when
        it found none.
    misreport : Misreport or None
        The best profitable misreport, verified by replay; None if none was found.
    half_gain : float
        The verified gain of the best report among the first ``budget // 2`` (0.0 when
        that prefix found none): the search's answer had it stopped at half the budget.
    improvements : tuple of (int, float)
        Each time the best screened gain rose: the reports evaluated then and the gain.
    truthful : MechanismOutcome or None
        The truthful outcome the gains are measured against (the audited outcome when
        the search was given its seed).
    """

    budget: int
    evaluated: int
    found_at: int | None
    misreport: Misreport | None
    half_gain: float
    improvements: tuple[tuple[int, float], ...] = ()
    truthful: MechanismOutcome | None = None

    @property
    def gain(self) -> float:
        """The best verified gain (0.0 when no profitable misreport was found)."""
        return 0.0 if self.misreport is None else self.misreport.gain

    def reached(self, gain: float) -> int | None:
        """The reports evaluated when a screened gain first exceeded ``gain`` (None:
        never): the smallest budget at which this search finds such a report."""
        return next((at for at, best in self.improvements if best > gain), None)


@dataclass
class _Search:
    """One misreport search's state: how many reports it has evaluated, the best one
    so far (with its gain over the truthful report, its family and when it was found)
    and the best among the first ``half`` reports."""

    mechanism: Mechanism
    game: SecurityGame
    defender: int
    seed: int
    baseline: float
    budget: int
    evaluated: int = 0
    best_gain: float = 0.0
    best: tuple[FloatArray, FloatArray, str] | None = None
    found_at: int | None = None
    improvements: list[tuple[int, float]] = field(default_factory=list)
    half_gain: float = 0.0
    half_best: tuple[FloatArray, FloatArray, str] | None = None

    def run(self, rewards: FloatArray, penalties: FloatArray, families: np.ndarray) -> None:
        """Evaluate one batch of reports (``families[b]`` names how report b was made);
        past the budget the batch is cut, never redrawn, so the reports before the cut
        do not depend on the budget."""
        room = self.budget - self.evaluated
        if room <= 0 or rewards.shape[0] == 0:
            return
        rewards, penalties = rewards[:room], penalties[:room]
        targets, coverage = self.mechanism.outcomes_for_reports(
            self.game, self.defender, rewards, penalties, self.seed
        )
        first = self.evaluated
        self.evaluated += rewards.shape[0]
        i = self.defender
        ok = targets >= 0
        safe = np.where(ok, targets, 0)
        rows = np.arange(targets.size)
        true = utility(
            self.game.defender_penalty[i, safe],
            self.game.defender_gap[i, safe],
            coverage[rows, safe],
        )
        gains = np.where(ok, true - self.baseline, -np.inf)
        tie = UTILITY_TOL * _span(self.game, i)
        b = _first_best(gains, tie)
        if gains[b] > self.best_gain + (tie if self.best is not None else 0.0):
            self.best_gain = float(gains[b])
            self.best = (rewards[b].copy(), penalties[b].copy(), str(families[b]))
            self.found_at = first + b + 1
            self.improvements.append((self.found_at, self.best_gain))
        early = max(0, min(self.budget // 2 - first, gains.size))
        if early:
            h = _first_best(gains[:early], tie)
            if gains[h] > self.half_gain + (tie if self.half_best is not None else 0.0):
                self.half_gain = float(gains[h])
                self.half_best = (rewards[h].copy(), penalties[h].copy(), str(families[h]))


def _first_best(gains: FloatArray, tie: float) -> int:
    """The first index whose gain is within ``tie`` of the largest: reports whose
    gains differ by rounding count as equal, so the one found first is kept."""
    return int(np.argmax(gains >= gains.max() - tie))


def _span(game: SecurityGame, i: int) -> float:
    """Defender ``i``'s payoff range (largest reward minus smallest penalty): the
    search's reports are built in its units, so the search does not depend on them."""
    return float(game.units.defender_scale[i])


def _valid(
    rewards: FloatArray, penalties: FloatArray, span: float
) -> tuple[FloatArray, FloatArray]:
    """Reports made valid types inside the game's dynamic range: each payoff within
    +-``PAYOFF_LIMIT`` and each reward above its penalty by at least ``REPORT_GAP`` of
    the defender's ``span`` (and by the gap :class:`~sim.game.SecurityGame` requires, with
    room for rounding)."""
    penalties = np.clip(penalties, -PAYOFF_LIMIT, PAYOFF_LIMIT)
    extent = np.clip(rewards, -PAYOFF_LIMIT, PAYOFF_LIMIT).max(axis=-1) - penalties.min(axis=-1)
    scale = np.maximum(np.abs(penalties), extent[..., None])
    gap = np.maximum(REPORT_GAP * span, 4.0 * GAP_FLOOR * scale)
    penalties = np.minimum(penalties, PAYOFF_LIMIT - gap)
    rewards = np.clip(np.maximum(rewards, penalties + gap), -PAYOFF_LIMIT, PAYOFF_LIMIT)
    return rewards, penalties


def _targeted(game: SecurityGame, i: int, current: int) -> tuple[FloatArray, FloatArray]:
    """Reports that swing the mechanism towards each target i prefers to ``current``."""
    r, p = game.defender_reward[i], game.defender_penalty[i]
    span = _span(game, i)
    space = outcome_space(game)
    values = np.where(space.feasible, space.values[i], -np.inf)
    # by preference, values within rounding of each other tied (lowest index first)
    better = (values[None, :] > values[:, None] + UTILITY_TOL * span).sum(axis=1)
    liked = np.argsort(better, kind="stable")
    out_r, out_p = [], []
    for t in liked:
        if not space.feasible[t] or t == current:
            continue
        others = np.arange(r.size) != t
        for boost in (1.0, 10.0, 100.0):  # inflate t far above everything
            rr, pp = r.copy(), p.copy()
            pp[t] = r.max() + boost * span
            rr[t] = pp[t] + (r[t] - p[t])
            out_r.append(rr)
            out_p.append(pp)
        for shrink in (0.1, 0.01):  # deflate every other target
            rr, pp = r.copy(), p.copy()
            rr[others] = p.min() - span + shrink * (r[others] - p.min())
            pp[others] = rr[others] - shrink * (r[others] - p[others])
            out_r.append(rr)
            out_p.append(pp)
        # an ordinal report: t on top, the rest in the true order of preference
        order = [s for s in liked[::-1] if s != t] + [int(t)]
        ranks = np.empty(r.size)
        ranks[np.asarray(order)] = np.arange(r.size)
        out_r.append(p.min() + span * (ranks + 0.5) / r.size)
        out_p.append(p.min() + span * ranks / r.size)
    return np.array(out_r).reshape(-1, r.size), np.array(out_p).reshape(-1, r.size)


def _rescalings(game: SecurityGame, i: int) -> tuple[FloatArray, FloatArray]:
    """Order-preserving affine rescalings of the true type about its least penalty
    ``base``: ``base + a * (type - base) + b``, with shifts ``b`` in units of her range
    (so the reports map with her payoffs' units)."""
    r, p = game.defender_reward[i], game.defender_penalty[i]
    span = _span(game, i)
    base = p.min()
    scales = np.array([0.01, 0.1, 0.5, 2.0, 10.0, 100.0])
    shifts = np.array([-10.0, -1.0, 0.0, 1.0, 10.0]) * span
    a, b = np.meshgrid(scales, shifts, indexing="ij")
    a, b = a.ravel()[:, None], b.ravel()[:, None]
    return base + a * (r - base) + b, base + a * (p - base) + b


def search_misreports(
    mechanism: Mechanism,
    game: SecurityGame,
    defender: int,
    *,
    rng: np.random.Generator,
    budget: int = 2000,
    batch: int = 512,
    seed: int | None = None,
) -> MisreportSearch:
    """Search for a report that raises ``defender``'s true utility (Property 3).

    Steps: (1) targeted manipulations towards every target she prefers to the
    truthful outcome's (inflate it, deflate the others, an ordinal report with it on
    top); (2) order-preserving rescalings of her type; (3) random reports; (4) local
    refinement around the best report so far. Candidates are evaluated in batches
    of ``batch`` (one numpy call for the closed-form mechanisms; one batched NSE
    solve for the NSE-based ones, whose cost per batch is mostly fixed), steps (1)
    and (2) together. Every random batch is drawn whole and cut at the budget, so the
    search is prefix-consistent (:class:`MisreportSearch`). Common random numbers:
    every allocation in the search uses the same seed: ``seed``, the one the audited
    outcome was allocated with (so a randomised mechanism's truthful outcome is that
    outcome: the same sampled dictator), else one drawn from ``rng`` (drawn either
    way, so the reports searched do not depend on it).

    Returns
    -------
    MisreportSearch
        The budget, the reports evaluated, when the best was found, the best
        certificate (gain > ``GAIN_TOL`` of her payoff range, verified by replay) and
        the verified gain at half the budget.
    """
    one_attack(game, "find_profitable_misreport")
    if not (isinstance(budget, int) and budget >= 1):
        raise InvalidParameterError(
            f"find_profitable_misreport.budget must be an int >= 1; got {budget!r}"
        )
    if not 0 <= defender < game.n_defenders:
        raise InvalidParameterError(
            f"find_profitable_misreport.defender must be in [0, {game.n_defenders}); "
            f"got {defender!r}"
        )
    own = int(rng.integers(2**63))
    seed = own if seed is None else seed
    mech = mechanism.prepared(game)
    truthful = mech.allocate(game, rng=np.random.default_rng(seed))
    if not truthful.ok:
        return MisreportSearch(budget, 0, None, None, 0.0, truthful=truthful)
    baseline = float(outcome_utility(game, truthful)[defender])
    search = _Search(mech, game, defender, seed, baseline, budget)
    r, p = game.defender_reward[defender], game.defender_penalty[defender]
    span = _span(game, defender)
    least = failure_threshold(span)  # the least gain that counts, in her units
    # steps (1) and (2) do not depend on what the search finds: batched together
    openings = {
        "targeted": _targeted(game, defender, truthful.attacked_target),
        "rescaled": _rescalings(game, defender),
    }
    rr, pp = (np.concatenate([reports[j] for reports in openings.values()]) for j in (0, 1))
    families = np.repeat(list(openings), [len(reports[0]) for reports in openings.values()])
    for start in range(0, rr.shape[0], batch):
        block = slice(start, start + batch)
        search.run(*_valid(rr[block], pp[block], span), families[block])
    low, high = float(p.min()), float(r.max())
    while search.evaluated < budget:
        if search.best is not None and rng.random() < 0.5:
            br, bp, _ = search.best
            sigma = span * 10.0 ** rng.uniform(-3, 0)
            rr = br + sigma * rng.standard_normal((batch, r.size))
            pp = bp + sigma * rng.standard_normal((batch, r.size))
            refined = _valid(np.maximum(rr, pp), np.minimum(rr, pp), span)
            search.run(*refined, np.full(batch, "refined"))
        else:
            a = rng.uniform(low - span, high + span, (batch, r.size))
            b = rng.uniform(low - span, high + span, (batch, r.size))
            drawn = _valid(np.maximum(a, b), np.minimum(a, b), span)
            search.run(*drawn, np.full(batch, "random"))

    def replay(best: tuple[FloatArray, FloatArray, str] | None) -> Misreport | None:
        """The certificate of a screened report: its replayed gain, if it is one."""
        if best is None:
            return None
        reward, penalty, family = best
        manipulated = mech.allocate(
            game.with_reports(defender, reward, penalty), rng=np.random.default_rng(seed)
        )
        gain = float(outcome_utility(game, manipulated)[defender] - baseline)
        if gain <= least:  # the replay is the certificate: a screening artefact is no gain
            return None
        return Misreport(
            defender, reward, penalty, gain, truthful, manipulated, seed, family, search.evaluated
        )

    found = replay(search.best if search.best_gain > least else None)
    at = search.found_at if found is not None else None
    if at is not None and at <= budget // 2:
        half = found
    else:
        half = replay(search.half_best if search.half_gain > least else None)
    return MisreportSearch(
        budget,
        search.evaluated,
        at,
        found,
        0.0 if half is None else half.gain,
        tuple(search.improvements),
        truthful,
    )


def find_profitable_misreport(
    mechanism: Mechanism,
    game: SecurityGame,
    defender: int,
    *,
    rng: np.random.Generator,
    budget: int = 2000,
    batch: int = 512,
) -> Misreport | None:
    """The best profitable misreport :func:`search_misreports` finds (a certificate
    with gain > ``GAIN_TOL``), or None if the budget found none."""
    return search_misreports(
        mechanism, game, defender, rng=rng, budget=budget, batch=batch
    ).misreport


# -- individual rationality ----------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Deviation:
    """A defender's best strategy modification against a recommendation (Def. 5.1).

    Attributes
    ----------
    gain : float
        Her pessimistic deviation value minus her utility at the outcome, floored at 0
        (0: IR holds for her).
    value : float
        :math:`\\sup_\\phi \\min_{t' \\in BR(\\phi(x))} U_i^d(\\phi(x), t')`.
    target : int
        The attacker response her best modification induces.
    coverage : ndarray, shape (m,)
        The overall coverage under the playable modification (``target`` its unique
        best response).
    modification : tuple of (signal, probability, coverage)
        Per recommended pure strategy (the targets she was told to guard), the
        coverage she plays instead: a playable point within ``PLAYABLE_MIX`` of the
        supremum; empty for independent play (then the NSE oracle applies, whose
        deviation does not condition on a signal).
    """

    defender: int
    gain: float
    value: float
    target: int
    coverage: FloatArray | None
    modification: tuple[tuple[tuple[int, ...], float, FloatArray], ...] = ()


def ir_violation(
    game: SecurityGame,
    outcome: MechanismOutcome,
    defender: int,
    *,
    eps_tol: float = LP_TOL,
    reference: bool = False,
) -> Deviation:
    """The exact best strategy modification of ``defender`` (Property 4).

    Conditioning on her signal :math:`\\sigma` (her recommended pure strategy), she
    plays marginal coverage :math:`y^\\sigma \\in C_{k_i}`; the overall coverage is
    linear in these: :math:`c'_t = O_t + \\sum_\\sigma (P_\\sigma - O_{\\sigma t})
    y^\\sigma_t`, with :math:`O_{\\sigma t}` the probability of signal :math:`\\sigma` and
    some other defender covering t. Her value is the best :math:`U_i^d(c'_t, t)` over
    the targets t she can make the unique best response (pessimistic tie-breaking, as
    in ``docs/nse.md`` §4.2), at the supremum coverage. With jurisdictions her
    :math:`y^\\sigma` lies in her own (``docs/jurisdictions.md`` §5). For independent
    play (the ``nse`` mechanism) the NSE oracle gives the value exactly.

    The search is :func:`mechanisms.modification.best_modification`: one HiGHS model
    re-solved per target, targets visited by a bound on their value. ``reference=True``
    solves instead, for every target, one generic LP maximising :math:`c'_t` with t a
    best response and one asking whether t can be the *unique* best response
    (``scipy.optimize.linprog``): the reference the tests compare it with.

    Degenerate ties that no deviation can break (two targets pinned at the top level
    with coverage 1 by the others in every signal) are not credited, so in that
    measure-zero case the gain is a lower bound.
    """
    one_attack(game, "ir_violation")
    rec = outcome.recommendation
    own = float(outcome_utility(game, outcome)[defender])
    if isinstance(rec, IndependentRecommendation):
        x = rec.defender_coverage()
        q = others_coverage(x, defender)
        dev = deviation_value(game, q, defender)
        return Deviation(defender, max(0.0, dev.value - own), dev.value, dev.target, None)
    if rec is None:
        raise InvalidParameterError("ir_violation.outcome has no recommendation (failed outcome)")
    told, prob, covered = signals(rec, defender)
    standard = game.standard  # the LPs' tolerances are in the players' units
    if reference:
        found = _reference_modification(
            standard, defender, prob, covered, outcome.attacked_target, eps_tol
        )
    else:
        found = best_modification(
            standard, defender, prob, covered, first=outcome.attacked_target, eps_tol=eps_tol
        )
    modification: tuple[tuple[tuple[int, ...], float, FloatArray], ...] = ()
    if found.y is not None:
        modification = tuple((signal, float(prob[s]), found.y[s]) for s, signal in enumerate(told))
    value = float(game.units.defender_utility(found.value, defender))
    gain = max(0.0, value - own)
    return Deviation(defender, gain, value, found.target, found.coverage, modification)


def _reference_modification(
    game: SecurityGame,
    defender: int,
    prob: FloatArray,
    covered: FloatArray,
    first: int,
    eps_tol: float,
) -> Modification:
    """The multiple-LP reference of :func:`ir_violation`: two generic LPs per target."""
    m, s_count = game.n_targets, prob.size
    base = covered.sum(axis=0)
    weight = prob[:, None] - covered  # (s, m): how much y^sigma_t adds to c'_t
    k = float(game.resources[defender])
    gap, reward = game.attacker_gap, game.attacker_reward
    reach = game.allowed[defender]  # her jurisdiction: y^sigma_t = 0 elsewhere
    n_y = s_count * m

    def coverage_rows(t: int) -> FloatArray:
        row = np.zeros(n_y + 1)
        row[t:n_y:m] = weight[:, t]
        return row

    budget_rows = np.zeros((s_count, n_y + 1))
    for s in range(s_count):
        budget_rows[s, s * m : (s + 1) * m] = 1.0
    best = Modification(-np.inf, first, None, None)
    for t in range(m):
        rows, rhs = [], []
        for s in range(m):
            if s == t:
                continue
            # R_s - gap_s c'_s + eps <= R_t - gap_t c'_t
            row = -gap[s] * coverage_rows(s) + gap[t] * coverage_rows(t)
            row[-1] = 1.0
            rows.append(row)
            rhs.append(reward[t] - reward[s] - gap[t] * base[t] + gap[s] * base[s])
        a_ub = np.vstack([*rows, budget_rows]) if rows else budget_rows
        b_ub = np.concatenate([rhs, np.full(s_count, k)]) if rows else np.full(s_count, k)
        bounds = [(0.0, 1.0 if reach[j % m] else 0.0) for j in range(n_y)]
        weak = linprog(-coverage_rows(t), A_ub=a_ub, b_ub=b_ub, bounds=[*bounds, (0.0, 0.0)])
        if weak.status != 0:
            continue
        y = weak.x[:n_y].reshape(s_count, m)
        if m > 1:
            strict_obj = np.zeros(n_y + 1)
            strict_obj[-1] = -1.0
            strict = linprog(strict_obj, A_ub=a_ub, b_ub=b_ub, bounds=[*bounds, (0.0, 1.0)])
            if strict.status != 0 or strict.x[-1] <= eps_tol:
                continue
            # the sup is approached, not attained: play a point a hair towards the
            # strictly inducing solution so that t is the unique best response
            y = (1.0 - PLAYABLE_MIX) * y + PLAYABLE_MIX * strict.x[:n_y].reshape(s_count, m)
        c_sup = base + (weight * weak.x[:n_y].reshape(s_count, m)).sum(axis=0)
        value = float(target_utility(game, t, c_sup[t], defender))
        if value > best.value:
            best = Modification(value, t, y, base + (weight * y).sum(axis=0))
    return best
