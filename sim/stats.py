"""Small statistics used by the study summaries: exact binomial intervals, an
interval for a share of correlated trials, and the exact McNemar test.

The methods and why they were chosen are in ``docs/statistics.md``.
"""

from __future__ import annotations

import math

from scipy.special import bdtr, betaincinv, stdtrit

from sim.errors import InvalidParameterError


def _beta_interval(k: float, n: float, confidence: float) -> tuple[float, float]:
    """Clopper-Pearson ends for ``k`` of ``n`` (real-valued counts allowed)."""
    alpha = 1.0 - confidence
    low = 0.0 if k <= 0 else float(betaincinv(k, n - k + 1, alpha / 2))
    high = 1.0 if k >= n else float(betaincinv(k + 1, n - k, 1.0 - alpha / 2))
    return low, high


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) binomial confidence interval for a rate.

    Its ends are quantiles of beta distributions (Clopper and Pearson 1934): with
    :math:`\\alpha = 1 -` ``confidence``, :math:`B(\\alpha/2; k, n - k + 1)` and
    :math:`B(1 - \\alpha/2; k + 1, n - k)`, 0 at k = 0 and 1 at k = n; computed by
    :func:`scipy.special.betaincinv` (``scipy.stats.binomtest`` finds the same ends by
    root-finding, some 300 times slower; ``tests/test_results.py`` checks the two agree).
    Returns (0, 1) when there are no trials.
    """
    if not (0 <= successes <= trials):
        raise InvalidParameterError(
            f"clopper_pearson needs 0 <= successes <= trials; got {successes}, {trials}"
        )
    k, n = int(successes), int(trials)
    if n == 0:
        return 0.0, 1.0
    return _beta_interval(k, n, confidence)


def clustered_share(
    k: float,
    n: float,
    kk: float,
    nn: float,
    kn: float,
    clusters: int,
    confidence: float = 0.95,
) -> tuple[float, float, float, float]:
    """A share of trials that come in correlated clusters (rounds of one run,
    defenders of one game), with the Korn–Graubard interval.

    The share is the ratio estimator :math:`\\hat p = \\sum_c k_c / \\sum_c n_c` over
    the ``clusters`` clusters with trials. Its variance is estimated by linearisation,
    :math:`\\hat V = \\frac{G}{G - 1} \\sum_c (k_c - \\hat p n_c)^2 / (\\sum_c n_c)^2`,
    which needs only the sums ``k`` :math:`= \\sum k_c`, ``n``, ``kk``
    :math:`= \\sum k_c^2`, ``nn`` :math:`= \\sum n_c^2` and ``kn``
    :math:`= \\sum k_c n_c` (so disjoint parts of a dataset add up). The interval is
    Clopper–Pearson at the effective sample size
    :math:`n^* = \\hat p (1 - \\hat p) / \\hat V`, kept between the number of clusters
    (every trial of a cluster alike) and the number of trials, and set to the number
    of clusters when :math:`\\hat p` is 0 or 1 (nothing then measures the
    correlation); :math:`n^*` is then shrunk by the degrees-of-freedom factor
    :math:`(t_{n-1} / t_{G-1})^2` of the two-sided quantiles (Korn and Graubard 1998,
    *Survey Methodology* 24(2)).

    Returns
    -------
    (share, low, high, effective_n)
        NaN share and (0, 1) with no trials.
    """
    if n <= 0 or clusters < 1:
        return math.nan, 0.0, 1.0, 0.0
    share = k / n
    effective = float(clusters)
    if clusters > 1 and 0.0 < share < 1.0:
        spread = max(kk - 2.0 * share * kn + share * share * nn, 0.0)
        variance = clusters / (clusters - 1) * spread / (n * n)
        if variance > 0.0:
            effective = min(max(share * (1.0 - share) / variance, clusters), n)
        else:
            effective = n
    if clusters > 1 and n > 1:
        tail = (1.0 + confidence) / 2
        effective *= (stdtrit(n - 1, tail) / stdtrit(clusters - 1, tail)) ** 2
    low, high = _beta_interval(share * effective, effective, confidence)
    return share, low, high, effective


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """The exact two-sided McNemar p-value for paired binary outcomes: the binomial
    test of ``a_only`` successes in ``a_only + b_only`` discordant pairs at p = 1/2
    (twice the smaller tail, at most 1). 1.0 when no pair is discordant."""
    if a_only < 0 or b_only < 0:
        raise InvalidParameterError(
            f"mcnemar_exact needs non-negative counts; got {a_only}, {b_only}"
        )
    n = a_only + b_only
    if n == 0:
        return 1.0
    return float(min(1.0, 2.0 * bdtr(min(a_only, b_only), n, 0.5)))
