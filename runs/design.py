"""Experimental designs over the generator's parameters: the full grid, or a sample of
a box of parameter ranges.

A study's ``[design]`` table (``docs/designs.md``)::

    [design]
    kind = "saltelli"        # full (default: the grid), lhs, sobol or saltelli
    samples = 64             # lhs: points; sobol and saltelli: a power of two
    ranges = { correlation = [-0.9, 0.9], n_targets = { low = 3, high = 8, integer = true } }

* ``lhs``: a Latin hypercube of ``samples`` points (``scipy.stats.qmc.LatinHypercube``);
* ``sobol``: ``samples`` points of a scrambled Sobol' sequence (``scipy.stats.qmc.Sobol``);
* ``saltelli``: Saltelli's design for first-order and total Sobol' indices
  (``SALib.sample.sobol``: ``samples`` x (d + 2) points for d ranges), which
  :mod:`runs.sensitivity` analyses.

A point of the unit cube maps to ``low + u (high - low)``; an integer range takes the
``floor`` of ``low + u (high - low + 1)``, each integer of [low, high] an equal share.
The sampler's seed is a child of the study's root seed (:func:`design_seed`), so one
root seed determines the design byte for byte; each point is a grid point of the study
(``config.grid_points()``), with the study's replications each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import qmc

from sim.errors import InvalidConfigError

#: The design kinds, ``full`` first (the default: the generator's grid).
KINDS = ("full", "lhs", "sobol", "saltelli")

#: The spawn key of the design's sampler under the root seed (replications use (r,)).
DESIGN_KEY = (2**32 - 1, 0)


@dataclass(frozen=True)
class Range:
    """A generator parameter's range in a design: [low, high], integers if asked."""

    name: str
    low: float
    high: float
    integer: bool = False

    def scale(self, unit: np.ndarray) -> list[Any]:
        """The values of points ``unit`` of [0, 1)."""
        if self.integer:
            width = int(self.high) - int(self.low) + 1
            values = np.minimum(np.floor(self.low + unit * width), self.high)
            return [int(v) for v in values]
        return [float(v) for v in self.low + unit * (self.high - self.low)]


@dataclass(frozen=True)
class Design:
    """How a study picks its grid points: ``kind`` (:data:`KINDS`), ``samples`` and the
    parameter ``ranges`` (none for ``full``)."""

    kind: str = "full"
    samples: int = 0
    ranges: tuple[Range, ...] = ()

    @property
    def sampled(self) -> bool:
        """Whether the points are a sample of the ranges (not the full grid)."""
        return self.kind != "full"

    def problem(self) -> dict[str, Any]:
        """SALib's description of the box (names and bounds)."""
        return {
            "num_vars": len(self.ranges),
            "names": [r.name for r in self.ranges],
            "bounds": [[0.0, 1.0]] * len(self.ranges),
        }

    def unit_points(self, seed: int) -> np.ndarray:
        """The design's points in the unit cube, one row each."""
        rng = np.random.default_rng(design_seed(seed))
        d = len(self.ranges)
        if self.kind == "lhs":
            return np.asarray(qmc.LatinHypercube(d, rng=rng).random(self.samples))
        if self.kind == "sobol":
            return np.asarray(qmc.Sobol(d, scramble=True, rng=rng).random(self.samples))
        if self.kind == "saltelli":
            from SALib.sample import sobol as saltelli

            draw = int(rng.integers(2**31))
            unit = saltelli.sample(self.problem(), self.samples, calc_second_order=False, seed=draw)
            return np.clip(np.asarray(unit, dtype=float), 0.0, np.nextafter(1.0, 0.0))
        raise InvalidConfigError(f"design kind {self.kind!r} has no sample")

    def points(self, seed: int) -> list[dict[str, Any]]:
        """The grid points: each range's value at each design point."""
        unit = self.unit_points(seed)
        columns = [r.scale(unit[:, j]) for j, r in enumerate(self.ranges)]
        return [
            {r.name: column[i] for r, column in zip(self.ranges, columns, strict=True)}
            for i in range(len(unit))
        ]

    def size(self) -> int:
        """The number of points a sampled design has."""
        if self.kind == "saltelli":
            return self.samples * (len(self.ranges) + 2)
        return self.samples

    def resolved(self) -> dict[str, Any]:
        """The design as the resolved config records it."""
        return {
            "kind": self.kind,
            "samples": self.samples,
            "ranges": {
                r.name: {"low": r.low, "high": r.high, "integer": r.integer} for r in self.ranges
            },
        }


def design_seed(seed: int) -> np.random.SeedSequence:
    """The seed of a study's design sampler: a child of the root seed that no
    replication uses."""
    return np.random.SeedSequence(seed, spawn_key=DESIGN_KEY)


def _fail(name: str, message: str, value: Any) -> InvalidConfigError:
    return InvalidConfigError(f"config field {name!r} {message}; got {value!r}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_range(name: str, value: Any) -> Range:
    """A range from ``[low, high]`` or ``{low, high, integer}``."""
    field = f"design.ranges.{name}"
    integer = False
    if isinstance(value, Mapping):
        extra = sorted(set(value) - {"low", "high", "integer"})
        if extra:
            raise _fail(field, f"has unknown key(s) {extra}; allowed: high, integer, low", value)
        integer = value.get("integer", False)
        if not isinstance(integer, bool):
            raise _fail(f"{field}.integer", "must be true or false", integer)
        bounds: Sequence[Any] = [value.get("low"), value.get("high")]
    elif isinstance(value, list):
        bounds = value
    else:
        raise _fail(field, "must be [low, high] or { low, high, integer }", value)
    if len(bounds) != 2 or not all(_number(b) for b in bounds) or not bounds[0] < bounds[1]:
        raise _fail(field, "must have finite numbers low < high", value)
    if integer and not all(float(b).is_integer() for b in bounds):
        raise _fail(field, "is an integer range: its low and high must be integers", value)
    low, high = bounds
    return Range(
        name, int(low) if integer else float(low), int(high) if integer else float(high), integer
    )


def parse_design(table: Mapping[str, Any], limit: int) -> Design:
    """The ``[design]`` table, validated (``limit``: the most points a study may have)."""
    extra = sorted(set(table) - {"kind", "samples", "ranges"})
    if extra:
        raise InvalidConfigError(
            f"config table [design] has unknown field(s) {extra}; allowed: kind, ranges, samples"
        )
    kind = table.get("kind", "full")
    if kind not in KINDS:
        raise _fail("design.kind", f"must be one of {list(KINDS)}", kind)
    samples, ranges = table.get("samples"), table.get("ranges")
    if kind == "full":
        if samples is not None or ranges is not None:
            raise _fail(
                "design.kind",
                "is 'full' (the generator's grid): drop samples and ranges, or choose lhs, "
                "sobol or saltelli",
                kind,
            )
        return Design()
    if not (isinstance(samples, int) and not isinstance(samples, bool) and samples >= 1):
        raise _fail("design.samples", "must be an integer >= 1", samples)
    if kind in ("sobol", "saltelli") and samples & (samples - 1):
        raise _fail(
            "design.samples", f"must be a power of two for {kind} (its balance properties)", samples
        )
    if not isinstance(ranges, Mapping) or not ranges:
        raise _fail("design.ranges", "must be a non-empty table of parameter ranges", ranges)
    design = Design(kind, samples, tuple(parse_range(k, v) for k, v in sorted(ranges.items())))
    if design.size() > limit:
        raise _fail(
            "design.samples",
            f"makes {design.size()} points, more than the {limit} a study may have",
            samples,
        )
    return design
