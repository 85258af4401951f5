"""``python bench/time_tree.py TREE GAMES.npz``: the fastest of five uncached calls of
``find_nse`` on each game of ``GAMES.npz`` with the code of the source tree ``TREE``,
as a JSON list of seconds (``bench/against.py`` runs it once per tree). It imports
nothing of the checkout it lives in, so that an older tree times its own code."""

from __future__ import annotations

import importlib
import json
import sys
import time

import numpy as np

REPEATS = 5


def main() -> None:
    tree, path = sys.argv[1], sys.argv[2]
    sys.path.insert(0, tree)
    from sim.game import SecurityGame

    try:
        nse = importlib.import_module("sim.nse")
    except ImportError:  # before the NSE engine was one package (issue 28)
        nse = importlib.import_module("sim.solvers.nse")
    find_nse, clear_nse_cache = nse.find_nse, nse.clear_nse_cache
    data = np.load(path)
    count = len({key.split("_", 1)[0] for key in data.files})
    fields = {key.split("_", 1)[1] for key in data.files}
    games = [SecurityGame(**{f: data[f"{j}_{f}"] for f in fields}) for j in range(count)]
    times = []
    for game in games:
        find_nse(game)  # warm: the standard form and imports
        best = float("inf")
        for _ in range(REPEATS):
            clear_nse_cache()
            start = time.perf_counter()
            find_nse(game)
            best = min(best, time.perf_counter() - start)
        times.append(best)
    print(json.dumps(times))


if __name__ == "__main__":
    main()
