"""Fitting logit attacker models to attack logs by maximum likelihood
(``docs/behavioural.md`` §2).

An attack log holds, per round, the features of every target (:func:`sim.response.features`
of the round's game and the coverage in force) and the target attacked. A logit model
(:class:`~sim.response.LogitResponse`) is a conditional logit in those features
(McFadden 1974), whose log-likelihood is concave: :func:`fit_logit` maximises it by
Newton's method and gives standard errors from the observed information.
:func:`fit_quantal` and :func:`fit_suqr` are its two models, :func:`lr_test` compares
nested ones, and :func:`fit_mixture` fits a mixture of logit types (the behavioural
types of a Bayesian attacker) by expectation-maximisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from sim.errors import InvalidParameterError, SimError
from sim.game import FloatArray, SecurityGame
from sim.response import FEATURES, SUQR_FEATURES, LogitResponse, features

#: Newton's method stops when the largest gradient entry falls below this (per round).
GRADIENT_TOL = 1e-10
#: Newton's method also stops when its step is this small relative to the weights, and
#: takes a step whose likelihood falls by less than this share (its rounding).
STEP_TOL = 1e-12
#: Newton iterations before a fit is declared not to converge.
MAX_ITERATIONS = 100
#: A weight beyond this means the likelihood keeps rising as the weights grow: the
#: attacked targets are separated by the features and the MLE does not exist.
DIVERGED = 1e6
#: A log-likelihood above -SEPARATED per round predicts every attack with probability
#: about 1 (the weights ran off towards infinity until the gradient vanished).
SEPARATED = 1e-6


class FitError(SimError):
    """A model that cannot be fitted to a log (the message says why)."""


@dataclass(frozen=True)
class AttackLog:
    """Rounds of attacks: each round's target features and the target attacked.

    Attributes
    ----------
    features : ndarray, shape (T, m, 4)
        Per round and target, the features of :data:`~sim.response.FEATURES`
        (rounds on games with fewer targets are padded; ``valid`` marks the real ones).
    valid : ndarray of bool, shape (T, m)
    attacked : ndarray of int, shape (T,)
    """

    features: FloatArray
    valid: NDArray[np.bool_]
    attacked: NDArray[np.int64]

    @classmethod
    def from_rounds(
        cls,
        games: SecurityGame | Sequence[SecurityGame],
        coverage: FloatArray | Sequence[ArrayLike],
        attacked: ArrayLike,
    ) -> AttackLog:
        """The log of rounds played on ``games`` (one game, or one per round) with the
        coverage in force and the attacked target of each round."""
        targets = np.asarray(attacked, dtype=np.int64)
        rounds = targets.size
        per_round = [games] * rounds if isinstance(games, SecurityGame) else list(games)
        covers = list(coverage)
        if len(per_round) != rounds or len(covers) != rounds or rounds == 0:
            raise InvalidParameterError(
                f"AttackLog.from_rounds needs one game (or a game per round), a coverage "
                f"and an attacked target per round; got {len(per_round)} games, "
                f"{len(covers)} coverages and {rounds} targets"
            )
        m = max(game.n_targets for game in per_round)
        x = np.zeros((rounds, m, len(FEATURES)))
        valid = np.zeros((rounds, m), dtype=bool)
        for r, (game, cover, target) in enumerate(zip(per_round, covers, targets, strict=True)):
            if not 0 <= target < game.n_targets:
                raise InvalidParameterError(
                    f"AttackLog.from_rounds: round {r} attacks target {target} of a game "
                    f"with {game.n_targets}"
                )
            if game.attacker_resources != 1:
                raise InvalidParameterError(
                    "AttackLog.from_rounds: the logit fits model one attack per round; "
                    f"round {r}'s game has attacker_resources={game.attacker_resources}"
                )
            x[r, : game.n_targets] = features(game, cover)
            valid[r, : game.n_targets] = True
        return cls(features=x, valid=valid, attacked=targets)

    @property
    def rounds(self) -> int:
        """The number of rounds."""
        return int(self.attacked.size)


@dataclass(frozen=True)
class LogitFit:
    """A fitted logit model.

    Attributes
    ----------
    features : tuple of str
        The features it weighs.
    weights, std_errors : ndarray, shape (k,)
        The maximum-likelihood weights and their standard errors (the square roots of
        the inverse observed information's diagonal).
    covariance : ndarray, shape (k, k)
    log_likelihood : float
    rounds : int
    iterations : int
        Newton iterations.
    """

    features: tuple[str, ...]
    weights: FloatArray
    std_errors: FloatArray
    covariance: FloatArray
    log_likelihood: float
    rounds: int
    iterations: int

    @property
    def response(self) -> LogitResponse:
        """The fitted attacker model."""
        return LogitResponse(dict(zip(self.features, self.weights.tolist(), strict=True)))

    def intervals(self, confidence: float = 0.95) -> FloatArray:
        """Wald intervals of the weights, shape (k, 2)."""
        z = stats.norm.ppf(0.5 + confidence / 2)
        return np.column_stack(
            [self.weights - z * self.std_errors, self.weights + z * self.std_errors]
        )


@dataclass(frozen=True)
class LRTest:
    """A likelihood-ratio test of a restricted model against a fuller one.

    Attributes
    ----------
    statistic : float
        :math:`2(\\ell_{full} - \\ell_{restricted})`.
    df : int
        The number of weights the restriction fixes at 0.
    p_value : float
        From the :math:`\\chi^2_{df}` distribution (Wilks 1938).
    """

    statistic: float
    df: int
    p_value: float


def _columns(names: Sequence[str]) -> list[int]:
    unknown = [name for name in names if name not in FEATURES]
    if unknown or not names or len(set(names)) != len(names):
        raise InvalidParameterError(
            f"fit_logit.features must be distinct names among {list(FEATURES)}; got {list(names)}"
        )
    return [FEATURES.index(name) for name in names]


def _probabilities(x: FloatArray, valid: NDArray[np.bool_], beta: FloatArray) -> FloatArray:
    scores = np.where(valid, x @ beta, -np.inf)
    scores -= scores.max(axis=1, keepdims=True)
    w = np.exp(scores)
    return np.asarray(w / w.sum(axis=1, keepdims=True))


def _log_likelihoods(x: FloatArray, log: AttackLog, beta: FloatArray) -> FloatArray:
    """Each round's log-probability of its attack, shape (T,)."""
    scores = np.where(log.valid, x @ beta, -np.inf)
    top = scores.max(axis=1)
    norm = top + np.log(np.exp(scores - top[:, None]).sum(axis=1))
    return np.asarray(scores[np.arange(log.rounds), log.attacked] - norm)


def _newton(
    x: FloatArray, log: AttackLog, round_weights: FloatArray, start: FloatArray
) -> tuple[FloatArray, FloatArray, int]:
    """The weighted conditional-logit MLE: weights and the observed information."""
    beta = start.copy()
    chosen = x[np.arange(log.rounds), log.attacked]
    total = float(round_weights.sum())

    def objective(b: FloatArray) -> float:
        return float(round_weights @ _log_likelihoods(x, log, b))

    value = objective(beta)
    for iteration in range(1, MAX_ITERATIONS + 1):
        p = _probabilities(x, log.valid, beta)
        mean = np.einsum("tm,tmk->tk", p, x)
        gradient = round_weights @ (chosen - mean)
        centred = x - mean[:, None, :]
        information = np.einsum("t,tm,tmk,tml->kl", round_weights, p, centred, centred)
        if np.abs(gradient).max() <= GRADIENT_TOL * max(total, 1.0):
            return beta, information, iteration
        try:
            step = np.linalg.solve(information, gradient)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(information, gradient, rcond=None)[0]
        if np.abs(step).max() <= STEP_TOL * (1.0 + np.abs(beta).max()):
            return beta, information, iteration
        scale = 1.0
        # halve the step until the likelihood does not fall (beyond its rounding)
        while scale > 1e-12:
            trial = beta + scale * step
            trial_value = objective(trial)
            if trial_value >= value - STEP_TOL * abs(value):
                break
            scale /= 2
        else:
            return beta, information, iteration
        beta, value = trial, trial_value
        if np.abs(beta).max() > DIVERGED:
            raise FitError(
                "the likelihood keeps rising as the weights grow: the attacked targets are "
                "separated by the features, so the maximum-likelihood weights do not exist"
            )
    raise FitError(f"Newton's method did not converge in {MAX_ITERATIONS} iterations")


def fit_logit(log: AttackLog, names: Sequence[str]) -> LogitFit:
    """The maximum-likelihood logit model weighing the features ``names``.

    Raises
    ------
    FitError
        When the features do not identify the weights (a feature that does not vary
        within rounds, or two that move together) or the MLE does not exist.
    """
    x = log.features[:, :, _columns(names)]
    # a direction of weights along which every round's scores shift by a constant has
    # no information at any weights (all probabilities are positive): test at zero
    uniform = np.where(log.valid, 1.0, 0.0)
    uniform /= uniform.sum(axis=1, keepdims=True)
    centred = x - np.einsum("tm,tmk->tk", uniform, x)[:, None, :]
    eigen = np.linalg.eigvalsh(np.einsum("tm,tmk,tml->kl", uniform, centred, centred))
    if eigen.min() <= 1e-10 * max(eigen.max(), 1e-300):
        raise FitError(
            f"the features {list(names)} do not identify the weights on this log: some "
            "combination of them is constant within every round"
        )
    beta, information, iterations = _newton(x, log, np.ones(log.rounds), np.zeros(len(names)))
    log_likelihood = float(_log_likelihoods(x, log, beta).sum())
    if log_likelihood >= -SEPARATED * log.rounds:
        raise FitError(
            "every attack is predicted with probability about 1: the attacked targets are "
            "separated by the features, so the maximum-likelihood weights do not exist"
        )
    covariance = np.asarray(np.linalg.inv(information), dtype=np.float64)
    return LogitFit(
        features=tuple(names),
        weights=beta,
        std_errors=np.sqrt(np.diag(covariance)),
        covariance=covariance,
        log_likelihood=log_likelihood,
        rounds=log.rounds,
        iterations=iterations,
    )


def fit_quantal(log: AttackLog) -> LogitFit:
    """Quantal response: the precision :math:`\\lambda` weighing the attacker's utility."""
    return fit_logit(log, ("utility",))


def fit_suqr(log: AttackLog) -> LogitFit:
    """SUQR: the weights :math:`(w_1, w_2, w_3)` of coverage, reward and penalty."""
    return fit_logit(log, SUQR_FEATURES)


def lr_test(restricted: LogitFit, full: LogitFit) -> LRTest:
    """The likelihood-ratio test of ``restricted`` (whose features are a subset of
    ``full``'s, fitted to the same log) against ``full``."""
    extra = set(full.features) - set(restricted.features)
    if not set(restricted.features) < set(full.features) or restricted.rounds != full.rounds:
        raise InvalidParameterError(
            f"lr_test needs nested models on one log: features {list(restricted.features)} "
            f"within {list(full.features)}, rounds {restricted.rounds} and {full.rounds}"
        )
    statistic = max(2 * (full.log_likelihood - restricted.log_likelihood), 0.0)
    return LRTest(statistic, len(extra), float(stats.chi2.sf(statistic, len(extra))))


@dataclass(frozen=True)
class MixtureFit:
    """A fitted mixture of logit types (per round, a type drawn with its share).

    Attributes
    ----------
    shares : ndarray, shape (K,)
    weights : ndarray, shape (K, k)
        Each type's weights of ``features``.
    features : tuple of str
    log_likelihood : float
    iterations : int
        EM iterations of the best start.
    """

    shares: FloatArray
    weights: FloatArray
    features: tuple[str, ...]
    log_likelihood: float
    iterations: int

    @property
    def responses(self) -> tuple[LogitResponse, ...]:
        """Each type's model."""
        return tuple(
            LogitResponse(dict(zip(self.features, row.tolist(), strict=True)))
            for row in self.weights
        )


def fit_mixture(
    log: AttackLog,
    names: Sequence[str],
    types: int,
    *,
    starts: int = 5,
    seed: int = 0,
    tol: float = 1e-8,
    max_iterations: int = 500,
) -> MixtureFit:
    """A mixture of ``types`` logit types weighing ``names``, by expectation-
    maximisation from ``starts`` random starts (the one of highest likelihood; EM
    finds a local maximum from each). Types are sorted by their first weight."""
    if not (isinstance(types, int) and types >= 1):
        raise InvalidParameterError(f"fit_mixture.types must be an integer >= 1; got {types!r}")
    x = log.features[:, :, _columns(names)]
    single = fit_logit(log, names)
    rng = np.random.default_rng(seed)
    best: MixtureFit | None = None

    def mixture_log_likelihoods(beta: FloatArray, shares: FloatArray) -> FloatArray:
        """Per type and round, log(share) + the round's log-probability, shape (K, T)."""
        rows = [_log_likelihoods(x, log, b) for b in beta]
        return np.stack(rows) + np.log(shares)[:, None]

    for _ in range(starts):
        beta = single.weights + rng.normal(size=(types, len(names))) * (1 + single.std_errors)
        shares = np.full(types, 1 / types)
        previous, iterations = -np.inf, 0
        try:
            while iterations < max_iterations:
                iterations += 1
                logs = mixture_log_likelihoods(beta, shares)
                total = float(_log_sum(logs).sum())
                if total - previous <= tol * abs(total):
                    break
                previous = total
                responsibility = np.exp(logs - _log_sum(logs))
                shares = responsibility.mean(axis=1)
                beta = np.stack(
                    [_newton(x, log, responsibility[k], beta[k])[0] for k in range(types)]
                )
        except FitError:  # a type ran off to infinite weights from this start
            continue
        order = np.argsort(beta[:, 0], kind="stable")
        found = MixtureFit(shares[order], beta[order], tuple(names), total, iterations)
        if best is None or found.log_likelihood > best.log_likelihood:
            best = found
    if best is None:
        raise FitError(f"every one of the {starts} EM starts diverged")
    return best


def _log_sum(logs: FloatArray) -> FloatArray:
    """``log(sum(exp(logs), axis=0))``, stably."""
    top = logs.max(axis=0)
    return np.asarray(top + np.log(np.exp(logs - top).sum(axis=0)))
