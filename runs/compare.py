"""Paired comparisons: two mechanisms on the same units of one study, or one mechanism
in two studies of the same design.

Every mechanism of a study runs on the same games with the same draws (common random
numbers, :mod:`runs.seeding`), so two mechanisms are compared unit by unit: per
property, the units where only A fails (``a_only``) and only B fails (``b_only``),
with the exact McNemar test of their difference (:func:`sim.stats.mcnemar_exact`);
and the mean paired welfare difference A - B with a 95% t interval. Units are those of
the summary (:func:`runs.summary.unit_verdicts`): instances for one-shot audits, runs
for simulations. ``docs/statistics.md`` §4 says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from scipy.special import stdtrit

from runs.export import read_dataset, read_manifest
from runs.summary import DEFAULT_MIN_GAIN, PROPERTY_LABELS, by_columns, unit_verdicts
from sim.errors import InvalidConfigError
from sim.stats import mcnemar_exact

#: The columns of a comparison, after its keys.
COLUMNS = (
    "a",
    "b",
    "property",
    "unit",
    "units",
    "undetermined",
    "a_failures",
    "b_failures",
    "a_only",
    "b_only",
    "p_value",
    "difference",
    "low",
    "high",
)

#: The configuration fields two studies must share for their units to be the same games.
DESIGN_FIELDS = (
    ("study", "seed"),
    ("generator", "name"),
    ("generator", "params"),
    ("generator", "grid"),
)


def _difference(values: pd.Series, confidence: float = 0.95) -> tuple[float, float, float]:
    """The mean of paired differences and its t interval (NaN ends below two pairs)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stdtrit(n - 1, (1 + confidence) / 2)) * float(values.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def paired(
    first: pd.DataFrame,
    second: pd.DataFrame,
    keys: Sequence[str],
    labels: tuple[str, str],
    by: Sequence[str] = (),
) -> pd.DataFrame:
    """Compare two tables of unit verdicts (:func:`runs.summary.unit_verdicts`, one
    mechanism each) on the units both have, matched on ``keys`` (the condition without
    the mechanism, then the unit). One row per condition (``by`` may name a unit's own
    columns, such as ``replication``, to split by them too) and property tested in
    both, then one ``welfare`` row (see the module docstring)."""
    keys = list(keys)
    joined = first.merge(second, on=keys, suffixes=("_a", "_b"), how="inner")
    condition = [k for k in keys if k not in _UNIT_KEYS or k in by]
    rows: list[dict[str, Any]] = []
    for values, part in joined.groupby(condition, dropna=False, sort=True):
        head = dict(zip(condition, values if isinstance(values, tuple) else (values,), strict=True))
        base = {**head, "a": labels[0], "b": labels[1], "unit": part["unit_a"].iloc[0]}
        for prop in PROPERTY_LABELS:
            if f"{prop}_a" not in part:
                continue
            a, b = part[f"{prop}_a"], part[f"{prop}_b"]
            both = a.notna() & b.notna()
            tested = _tested(part, prop)
            if not tested.any():
                continue  # not tested: no row, never a 0
            a, b = a[both].astype(bool), b[both].astype(bool)
            a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
            rows.append(
                {
                    **base,
                    "property": prop,
                    "units": int(both.sum()),
                    "undetermined": int((tested & ~both).sum()),
                    "a_failures": int(a.sum()),
                    "b_failures": int(b.sum()),
                    "a_only": a_only,
                    "b_only": b_only,
                    "p_value": mcnemar_exact(a_only, b_only),
                }
            )
        welfare = (part["welfare_a"] - part["welfare_b"]).dropna()
        difference, low, high = _difference(welfare)
        rows.append(
            {
                **base,
                "property": "welfare",
                "units": len(welfare),
                "difference": difference,
                "low": low,
                "high": high,
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out = out.reindex(columns=[*condition, *COLUMNS])
    counts = ["units", "undetermined", "a_failures", "b_failures", "a_only", "b_only"]
    return out.astype({c: "Int64" for c in counts})


#: Columns that identify a unit within its condition.
_UNIT_KEYS = ("grid_point", "replication", "focal_defender")


def _tested(part: pd.DataFrame, prop: str) -> pd.Series:
    """Units where both sides tested ``prop`` (a verdict or an undetermined one): the
    per-unit ``tested`` flags are in the ``<prop>_tested`` columns."""
    return part[f"{prop}_tested_a"] & part[f"{prop}_tested_b"]


def _keys(verdicts: pd.DataFrame) -> list[str]:
    skip = {"mechanism", "unit", "welfare"} | {
        c for p in PROPERTY_LABELS for c in (p, f"{p}_tested")
    }
    return [c for c in verdicts.columns if c not in skip]


def compare_mechanisms(
    audits: pd.DataFrame,
    rounds: pd.DataFrame,
    a: str,
    b: str,
    *,
    by: Sequence[str] = (),
    min_gain: float = DEFAULT_MIN_GAIN,
) -> pd.DataFrame:
    """Mechanisms ``a`` and ``b`` of one study on the same units (see the module
    docstring); ``by`` groups by parameters or columns as :func:`runs.summary.summarise`
    does."""
    grouped = by_columns([audits, rounds], by)  # an unknown or repeated column fails here
    labels = set(audits["mechanism"].dropna()) | set(rounds["mechanism"].dropna())
    for name, value in (("A", a), ("B", b)):
        if value not in labels:
            raise InvalidConfigError(
                f"compare: mechanism {name} {value!r} is not in this study "
                f"(its mechanisms: {', '.join(sorted(labels))})"
            )
    if a == b:
        raise InvalidConfigError(f"compare: mechanisms A and B are both {a!r}")
    verdicts = unit_verdicts(audits, rounds, by=by, min_gain=min_gain)
    first = verdicts[verdicts["mechanism"] == a]
    second = verdicts[verdicts["mechanism"] == b]
    return paired(first, second, _keys(verdicts), (a, b), grouped)


def design_difference(first: dict[str, Any], second: dict[str, Any]) -> str | None:
    """The first configuration field (``section.key``) that differs between two
    studies' manifests and so makes their units different games; None if none does."""
    for section, key in DESIGN_FIELDS:
        one = (first.get("config", {}).get(section) or {}).get(key)
        two = (second.get("config", {}).get(section) or {}).get(key)
        if one != two:
            return f"{section}.{key} ({one!r} vs {two!r})"
    return None


def compare_studies(
    first: str | Path,
    second: str | Path,
    mechanism: str,
    *,
    by: Sequence[str] = (),
    min_gain: float = DEFAULT_MIN_GAIN,
) -> pd.DataFrame:
    """Mechanism ``mechanism`` in two studies of the same design (the same games: same
    seed, generator and grid), paired on the units both have; ``a`` is the first
    study, ``b`` the second. Studies of different designs are refused, naming the
    field."""
    roots = [Path(first), Path(second)]
    manifests = []
    for root in roots:
        manifest = read_manifest(root)
        if manifest is None:
            raise InvalidConfigError(f"compare: {str(root)!r} is not a study (no manifest.json)")
        manifests.append(manifest)
    differs = design_difference(*manifests)
    if differs is not None:
        raise InvalidConfigError(
            f"compare: the two studies have different designs, so their units are not the "
            f"same games: {differs}"
        )
    tables = []
    for root in roots:
        audits, rounds = read_dataset(root, "audits"), read_dataset(root, "rounds")
        present = set(audits["mechanism"].dropna()) | set(rounds["mechanism"].dropna())
        if mechanism not in present:
            raise InvalidConfigError(
                f"compare --mechanism: {mechanism!r} is not in {str(root)!r} "
                f"(its mechanisms: {', '.join(sorted(present))})"
            )
        tables.append(
            unit_verdicts(
                audits[audits["mechanism"] == mechanism],
                rounds[rounds["mechanism"] == mechanism],
                by=by,
                min_gain=min_gain,
            )
        )
    labels = (str(roots[0]), str(roots[1]))
    return paired(tables[0], tables[1], _keys(tables[0]), labels, by_columns(tables, by))
