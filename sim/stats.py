"""Small statistics used by the empirical SP/IR summaries."""

from __future__ import annotations

from scipy.special import betaincinv

from sim.errors import InvalidParameterError


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
    alpha = 1.0 - confidence
    low = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, alpha / 2))
    high = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1.0 - alpha / 2))
    return low, high
