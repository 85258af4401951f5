"""Run from the repository root: ``python -m bench.audits``.

The IR audit (``mechanisms.properties.ir_violation``) on CSW-Max outcomes, n = 5,
m = 20, in LP-t units: the time of one per-target LP of the pooled problem
(``sim.solvers.reference.lp_max_coverage_of``, HiGHS through scipy) measured in the same
run on the same games. Issue 12's goal is <= 2 LP-t per call. Printed for the search
(one HiGHS model re-solved per target, ``mechanisms.modification``) and the multiple-LP
reference it replaces (two generic LPs per target), on the payoff families of
``bench/nse_scale.py``, with the worst call of the search.

Then the misreport search (``find_profitable_misreport(csw_max)``, default budget, NSE
cache cleared per defender) on random games with n in {2, 3}, m in 3..6 and one
resource each (many floor games, K >= m), per defender in LP-t units (median and
worst; issue 12's goal: worst <= 150) and candidate reports per second; and the share
of random reports whose NSE the quick finder resolves (the search skips the others).

Every time, LP-t's included, is the best of ``bench.timing.REPEATS`` calls, as in the
other benches: the worst of 76 single timings reads a hiccup of the machine more often
than a slow search.
"""

from __future__ import annotations

import statistics
from functools import partial

import numpy as np

from bench.nse_scale import FAMILIES
from bench.timing import best_time
from mechanisms import Mechanism, make_mechanism
from mechanisms.properties import find_profitable_misreport, ir_violation
from mechanisms.reports import report_nses
from sim.game import SecurityGame
from sim.generators import make_generator
from sim.nse import clear_nse_cache
from sim.solvers.reference import lp_max_coverage_of

#: The misreport search's default budget: candidate reports per defender.
BUDGET = 2000


def main() -> None:
    mechanism = make_mechanism("csw_max")
    print("bench/audits.py  ir_violation on CSW-Max outcomes, n=5, m=20 (LP-t units)")
    print(f"{'family':<19}{'LP-t ms':>9}{'search':>9}{'worst':>8}{'reference':>11}{'speed-up':>10}")
    for index, family in enumerate(FAMILIES):
        rng = np.random.default_rng([2020, index])
        generator = make_generator(family, n_defenders=5, n_targets=20, resources=1)
        games = [generator.sample(rng) for _ in range(4)]
        unit: list[float] = []
        search: list[float] = []
        reference: list[float] = []
        for game in games:
            outcome = mechanism.prepared(game).allocate(game, rng=np.random.default_rng(0))
            if not outcome.ok:
                continue
            for t in range(0, game.n_targets, 5):
                unit.append(best_time(partial(lp_max_coverage_of, game, t, game.total_resources)))
            for i in range(game.n_defenders):
                for sink, use_reference in ((search, False), (reference, True)):
                    sink.append(
                        best_time(partial(ir_violation, game, outcome, i, reference=use_reference))
                    )
        lp = statistics.median(unit)
        fast, slow = statistics.median(search), statistics.median(reference)
        print(
            f"{family:<19}{lp * 1e3:>9.2f}{fast / lp:>8.1f}x{max(search) / lp:>7.1f}x"
            f"{slow / lp:>10.1f}x{slow / fast:>9.1f}x"
        )

    misreport_search(mechanism)


def misreport_search(mechanism: Mechanism, games: int = 30) -> None:
    """The misreport search on small random games, per defender in LP-t units."""
    rng = np.random.default_rng(12)
    unit: list[float] = []
    per_defender: dict[str, list[float]] = {"floor games": [], "other games": []}
    floor = 0
    for _ in range(games):
        n, m = int(rng.integers(2, 4)), int(rng.integers(3, 7))
        game = make_generator("uniform", n_defenders=n, n_targets=m, resources=1).sample(rng)
        floor += int(game.total_resources >= m)
        kind = "floor games" if game.total_resources >= m else "other games"
        for t in range(m):
            unit.append(best_time(partial(lp_max_coverage_of, game, t, game.total_resources)))
        for i in range(n):
            per_defender[kind].append(
                best_time(partial(_search, mechanism, game, i), clear_nse_cache)
            )
    lp = statistics.median(unit)
    every = [t for times in per_defender.values() for t in times]
    middle, worst = statistics.median(every), max(every)
    print(
        f"misreport search (csw_max, budget {BUDGET}), {games} games ({floor} with K >= m), "
        f"{len(every)} defenders: median {middle / lp:.0f} LP-t, worst "
        f"{worst / lp:.0f} LP-t ({worst:.1f} s); {BUDGET / middle:.0f} reports/s at the "
        f"median, {BUDGET / worst:.0f} at the worst"
    )
    for kind, times in per_defender.items():
        middle, worst = statistics.median(times), max(times)
        print(
            f"  {kind} ({len(times)} defenders): median {middle / lp:.0f} LP-t, worst "
            f"{worst / lp:.0f} LP-t; {BUDGET / middle:.0f} reports/s at the median"
        )
    for kind, share in resolved_shares(games).items():
        print(f"  quick NSE of {BUDGET} random reports per defender, {kind}: {share}")


def _search(mechanism: Mechanism, game: SecurityGame, defender: int) -> None:
    """One misreport search for ``defender``, its random numbers drawn afresh."""
    find_profitable_misreport(mechanism, game, defender, rng=np.random.default_rng(0))


def resolved_shares(games: int) -> dict[str, str]:
    """The share of random reports whose NSE the quick finder resolves (the search
    skips the others), over the defenders of the same games, floor games apart."""
    rng = np.random.default_rng(12)
    found: dict[str, list[int]] = {"floor games": [0, 0], "other games": [0, 0]}
    for _ in range(games):
        n, m = int(rng.integers(2, 4)), int(rng.integers(3, 7))
        game = make_generator("uniform", n_defenders=n, n_targets=m, resources=1).sample(rng)
        tally = found["floor games" if game.total_resources >= m else "other games"]
        draws = np.random.default_rng([12, n, m])
        for i in range(n):
            a, b = draws.uniform(-10.0, 10.0, (2, BUDGET, m))
            nses = report_nses(game, i, np.maximum(a, b) + 1e-6, np.minimum(a, b))
            tally[0] += int(nses.ok.sum())
            tally[1] += BUDGET
    return {
        kind: f"{resolved / total:.2%} resolved ({total - resolved} of {total} skipped)"
        for kind, (resolved, total) in found.items()
        if total
    }


if __name__ == "__main__":
    main()
