"""Small statistics used by the empirical SP/IR summaries."""

from __future__ import annotations

from scipy.stats import binomtest

from sim.errors import InvalidParameterError


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) binomial confidence interval for a rate.

    Returns (0, 1) when there are no trials.
    """
    if not (0 <= successes <= trials):
        raise InvalidParameterError(
            f"clopper_pearson needs 0 <= successes <= trials; got {successes}, {trials}"
        )
    if trials == 0:
        return 0.0, 1.0
    ci = binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=confidence, method="exact"
    )
    return float(ci.low), float(ci.high)
