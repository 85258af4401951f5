"""Run from the repository root: ``python -m bench.audits``.

The IR audit (``mechanisms.properties.ir_violation``) on CSW-Max outcomes, n = 5,
m = 20, in LP-t units: the time of one per-target LP of the pooled problem
(``sim.solvers.reference.lp_max_coverage_of``, HiGHS through scipy) measured in the same
run on the same games. Issue 12's goal is <= 2 LP-t per call. Printed for the pruned
search (the default) and the exhaustive one it replaces (two LPs per target), on the
payoff families of ``bench/nse_scale.py``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from mechanisms import make_mechanism
from mechanisms.properties import ir_violation
from sim.generators import make_generator
from sim.solvers.reference import lp_max_coverage_of

FAMILIES = ("uniform", "covariant", "zero_sum_like", "negative_rewards", "integer")


def main() -> None:
    mechanism = make_mechanism("csw_max")
    print("bench/audits.py  ir_violation on CSW-Max outcomes, n=5, m=20 (LP-t units)")
    print(f"{'family':<18}{'LP-t ms':>9}{'pruned':>10}{'exhaustive':>12}{'speed-up':>10}")
    for index, family in enumerate(FAMILIES):
        rng = np.random.default_rng([2020, index])
        generator = make_generator(family, n_defenders=5, n_targets=20, resources=1)
        games = [generator.sample(rng) for _ in range(4)]
        unit, pruned, exhaustive = [], [], []
        for game in games:
            outcome = mechanism.prepared(game).allocate(game, rng=np.random.default_rng(0))
            for t in range(0, game.n_targets, 5):
                start = time.perf_counter()
                lp_max_coverage_of(game, t, float(game.total_resources))
                unit.append(time.perf_counter() - start)
            for i in range(game.n_defenders):
                for sink, full in ((pruned, False), (exhaustive, True)):
                    start = time.perf_counter()
                    ir_violation(game, outcome, i, exhaustive=full)
                    sink.append(time.perf_counter() - start)
        lp = statistics.median(unit)
        fast, slow = statistics.median(pruned), statistics.median(exhaustive)
        print(
            f"{family:<18}{lp * 1e3:>9.2f}{fast / lp:>9.1f}x{slow / lp:>11.1f}x{slow / fast:>9.1f}x"
        )


if __name__ == "__main__":
    main()
