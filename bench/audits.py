"""Run from the repository root: ``python -m bench.audits``.

The IR audit (``mechanisms.properties.ir_violation``) on CSW-Max outcomes, n = 5,
m = 20, in LP-t units: the time of one per-target LP of the pooled problem
(``sim.solvers.reference.lp_max_coverage_of``, HiGHS through scipy) measured in the same
run on the same games. Issue 12's goal is <= 2 LP-t per call. Printed for the search
(one HiGHS model re-solved per target, ``mechanisms.modification``) and the multiple-LP
reference it replaces (two generic LPs per target), on the payoff families of
``bench/nse_scale.py``, with the worst call of the search.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from bench.nse_scale import FAMILIES
from mechanisms import make_mechanism
from mechanisms.properties import ir_violation
from sim.generators import make_generator
from sim.solvers.reference import lp_max_coverage_of


def main() -> None:
    mechanism = make_mechanism("csw_max")
    print("bench/audits.py  ir_violation on CSW-Max outcomes, n=5, m=20 (LP-t units)")
    print(f"{'family':<19}{'LP-t ms':>9}{'search':>9}{'worst':>8}{'reference':>11}{'speed-up':>10}")
    for index, family in enumerate(FAMILIES):
        rng = np.random.default_rng([2020, index])
        generator = make_generator(family, n_defenders=5, n_targets=20, resources=1)
        games = [generator.sample(rng) for _ in range(4)]
        unit, search, reference = [], [], []
        for game in games:
            outcome = mechanism.prepared(game).allocate(game, rng=np.random.default_rng(0))
            if not outcome.ok:
                continue
            for t in range(0, game.n_targets, 5):
                start = time.perf_counter()
                lp_max_coverage_of(game, t, float(game.total_resources))
                unit.append(time.perf_counter() - start)
            for i in range(game.n_defenders):
                for sink, slow in ((search, False), (reference, True)):
                    start = time.perf_counter()
                    ir_violation(game, outcome, i, reference=slow)
                    sink.append(time.perf_counter() - start)
        lp = statistics.median(unit)
        fast, slow = statistics.median(search), statistics.median(reference)
        print(
            f"{family:<19}{lp * 1e3:>9.2f}{fast / lp:>8.1f}x{max(search) / lp:>7.1f}x"
            f"{slow / lp:>10.1f}x{slow / fast:>9.1f}x"
        )


if __name__ == "__main__":
    main()
