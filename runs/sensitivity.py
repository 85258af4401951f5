"""Global sensitivity analysis of a study run on Saltelli's design: which generator
parameters drive a per-instance metric, by first-order and total Sobol' indices with
bootstrap intervals (SALib; ``docs/designs.md``).

A metric is, per audited instance (one game and mechanism):

* ``<property>_failure`` for a property of :data:`runs.summary.PROPERTY_LABELS`: 1 when
  the instance fails it, 0 when it holds (:func:`runs.summary.unit_verdicts`; an
  undetermined or untested instance has no value);
* ``welfare``: the outcome's total defender utility;
* any other numeric column of the audits table: its mean over the instance's rows (its
  defenders), e.g. ``ir_gain``.

The model output of design point g is the metric's mean over the instances of g (its
replications). Sobol' indices need every point's output: a point without one (all of
its instances undetermined or failed) is an error that names it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runs.config import parse_config
from runs.design import Design
from runs.export import read_dataset, read_manifest, study_min_gain
from runs.summary import PROPERTY_LABELS, unit_verdicts
from sim.errors import InvalidConfigError

#: The columns of a table of indices, after its group keys.
INDEX_COLUMNS = ("parameter", "S1", "S1_low", "S1_high", "ST", "ST_low", "ST_high", "points")

#: Bootstrap resamples of the indices' intervals.
RESAMPLES = 1000


def sobol_indices(
    design: Design, outputs: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0
) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol' indices of ``outputs`` (one per point of
    Saltelli's ``design``, in its order) with 95% bootstrap intervals."""
    from SALib.analyze import sobol

    outputs = np.asarray(outputs, dtype=float)
    if design.kind != "saltelli":
        raise InvalidConfigError(
            f"Sobol' indices need a saltelli design; this study's design is {design.kind!r}"
        )
    if outputs.shape != (design.size(),):
        raise InvalidConfigError(
            f"Sobol' indices need {design.size()} outputs (one per design point); got "
            f"{outputs.shape[0]}"
        )
    if not np.all(np.isfinite(outputs)):
        raise InvalidConfigError("Sobol' indices need a finite output at every design point")
    if np.ptp(outputs) == 0:  # a constant metric: no parameter drives it, no index exists
        rows = [(r.name, *([np.nan] * 6), design.size()) for r in design.ranges]
        return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    result = sobol.analyze(
        design.problem(),
        outputs,
        calc_second_order=False,
        num_resamples=resamples,
        conf_level=0.95,
        seed=seed,
    )
    rows = []
    for j, r in enumerate(design.ranges):
        s1, s1c = float(result["S1"][j]), float(result["S1_conf"][j])
        st, stc = float(result["ST"][j]), float(result["ST_conf"][j])
        rows.append((r.name, s1, s1 - s1c, s1 + s1c, st, st - stc, st + stc, design.size()))
    return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))


def instance_metric(audits: pd.DataFrame, metric: str, min_gain: float) -> pd.DataFrame:
    """The metric per audited instance: columns mechanism, grid_point, replication,
    value (see the module docstring)."""
    keys = ["mechanism", "grid_point", "replication"]
    if metric.endswith("_failure") and metric.removesuffix("_failure") in PROPERTY_LABELS:
        prop = metric.removesuffix("_failure")
        verdicts = unit_verdicts(audits, min_gain=min_gain)
        if verdicts.empty:
            return pd.DataFrame(columns=[*keys, "value"])
        value = verdicts[prop].astype("Float64").astype(float)
        return verdicts[keys].assign(value=value.to_numpy()).dropna(subset=["value"])
    ok = audits[audits["status"] == "ok"]
    numeric = [c for c in ok.columns if pd.api.types.is_numeric_dtype(ok[c])]
    if metric not in ok.columns or metric not in numeric or metric in keys:
        choices = [f"{p}_failure" for p in PROPERTY_LABELS] + sorted(set(numeric) - set(keys))
        raise InvalidConfigError(
            f"sensitivity --metric {metric!r} is not a metric of this study; choose from "
            + ", ".join(choices)
        )
    values = ok.groupby(keys, sort=True)[metric].mean().rename("value").reset_index()
    return values.dropna(subset=["value"])


def study_design(out: Path) -> Design:
    """The design of the study in ``out`` (from its manifest's configuration)."""
    manifest = read_manifest(out)
    if not manifest:
        raise InvalidConfigError(f"{str(out)!r} holds no finished study (no manifest)")
    return parse_config(manifest["config"]).sampling


def study_sensitivity(
    out: str | Path,
    metric: str,
    *,
    by: Sequence[str] = ("mechanism",),
    min_gain: float | None = None,
    resamples: int = RESAMPLES,
) -> pd.DataFrame:
    """Sobol' indices of ``metric`` for the study in ``out`` (run on a saltelli design),
    per value of the ``by`` columns (``mechanism``, or none)."""
    root = Path(out)
    design = study_design(root)
    if design.kind != "saltelli":
        raise InvalidConfigError(
            f"sensitivity needs a study run on [design] kind = 'saltelli'; {str(out)!r} has "
            f"kind {design.kind!r}"
        )
    unknown = [b for b in by if b != "mechanism"]
    if unknown:
        raise InvalidConfigError(f"sensitivity --by {unknown}: only 'mechanism' is supported")
    threshold = study_min_gain(root) if min_gain is None else min_gain
    values = instance_metric(read_dataset(root, "audits"), metric, threshold)
    if values.empty:
        raise InvalidConfigError(f"{metric} was not measured in this study (not audited)")
    groups: list[tuple[dict[str, Any], pd.DataFrame]] = (
        [({"mechanism": m}, part) for m, part in values.groupby("mechanism", sort=True)]
        if by
        else [({}, values)]
    )
    tables = []
    for key, part in groups:
        means = part.groupby("grid_point")["value"].mean()
        missing = sorted(set(range(design.size())) - set(means.index))
        if missing:
            where = ", ".join(f"{k}={v}" for k, v in key.items()) or "the study"
            raise InvalidConfigError(
                f"sensitivity of {metric!r} for {where}: design points {missing[:5]}"
                f"{' ...' if len(missing) > 5 else ''} have no determined instance; the "
                "Sobol' estimator needs every point"
            )
        outputs = means.reindex(range(design.size())).to_numpy()
        indices = sobol_indices(design, outputs, resamples=resamples)
        tables.append(indices.assign(**key, metric=metric))
    table = pd.concat(tables, ignore_index=True)
    first = [*(["mechanism"] if by else []), "metric"]
    return table[[*first, *INDEX_COLUMNS]]
