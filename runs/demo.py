"""The printed comparison ``make demo`` shows on the paper's examples.

For each instance: the attacker level the defenders can enforce when their resources
are pooled (ORIGAMI with K = sum k_i), the largest coverage of every attackable target,
and the outcome each defender would pick as a dictator (single-defender SSE).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.game import SecurityGame
from sim.instances import example_5_2, theorem_3_2
from sim.solvers import max_coverage, single_defender_sse

INSTANCES: dict[str, Callable[[], SecurityGame]] = {
    "Theorem 3.2 (no strongly UP outcome)": theorem_3_2,
    "Example 5.2 (no PE + weakly UP + IR outcome)": example_5_2,
}


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


def demo_lines() -> list[str]:
    """The demo's report, one line per entry."""
    lines: list[str] = []
    for title, build in INSTANCES.items():
        game = build()
        space = max_coverage(game)
        lines.append(
            f"== {title}: n={game.n_defenders}, m={game.n_targets}, K={game.total_resources}"
        )
        lines.append(f"   pooled attacker level u* = {space.level:.4f}")
        lines.append(f"   largest coverage per target = {_fmt(space.coverage)}")
        for i in range(game.n_defenders):
            sse = single_defender_sse(game, i)
            lines.append(
                f"   defender {i} as dictator: attack target {sse.target}, "
                f"utilities {_fmt(sse.defender_utility)}"
            )
    return lines
