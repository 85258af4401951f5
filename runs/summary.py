"""Study statistics: failure rates with Clopper-Pearson intervals, gains and welfare.

One row per condition: mechanism (x behaviour profile for simulations) x the
parameters named in ``by`` x role. Every rate says what it is over:

* ``<property>_rate`` is the failure rate over the *determined* units, ``_n`` their
  count, ``_low``/``_high`` its exact 95% Clopper-Pearson interval, and
  ``_undetermined`` the share of tested units whose verdict is undetermined (only
  utility preservation has such verdicts; see ``docs/nse.md`` §3);
* a property that was not tested in a condition (SP with no misreport search, SP in a
  simulation whose profile never misreports, IR whose profile never deviates) is
  missing (NA), never 0.

Units: PE, weak and strong UP and Nash consistency per *instance* (a game: UP fails
when some defender's verdict fails, holds when every defender's holds); SP and IR per
*defender-instance* (audits) or *strategic defender-round* (simulations). A gain is
a failure when it exceeds ``min_gain`` times the defender's payoff range (her largest
reward minus her smallest penalty), so ``summarise(..., min_gain=x)`` re-thresholds a
dataset without rerunning it. The misreport search reports gains above the solvers'
``GAIN_TOL`` only.

For mechanisms that distinguish a defender (a dictator), rows with role ``leader`` and
``other`` split the per-defender rates beside the ``all`` row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from runs.schema import parameter_column
from sim.errors import InvalidConfigError
from sim.stats import clopper_pearson

#: The default failure threshold, relative to the defender's payoff range.
DEFAULT_MIN_GAIN = 1e-6

#: The properties with a failure rate, in display order, with their labels. ``nash``
#: "fails" where the outcome's coverage is not the defender's part of any Nash
#: equilibrium of the pooled game (``audits.nash``; Korzhyk, Conitzer, Parr 2011).
PROPERTY_LABELS = {
    "pe": "PE",
    "weak_up": "weak UP",
    "strong_up": "strong UP",
    "sp": "SP",
    "ir": "IR",
    "nash": "not Nash",
}

INSTANCE = ["grid_point", "replication"]


def _rate(label: str, verdicts: pd.Series | None) -> dict[str, float]:
    """The columns of ``label`` from verdicts: True (fails), False (holds), NA
    (undetermined); None: not tested (every column NA)."""
    if verdicts is None or verdicts.size == 0:
        return {
            f"{label}_failure_{key}": np.nan for key in ("rate", "low", "high", "n", "undetermined")
        }
    determined = verdicts.dropna().astype(bool)
    k, n = int(determined.sum()), int(determined.size)
    low, high = clopper_pearson(k, n)
    return {
        f"{label}_failure_rate": k / n if n else np.nan,
        f"{label}_failure_low": low,
        f"{label}_failure_high": high,
        f"{label}_failure_n": n,
        f"{label}_failure_undetermined": 1.0 - n / verdicts.size,
    }


def _instance_verdicts(group: pd.DataFrame, column: str) -> pd.Series | None:
    """UP per instance from per-defender verdicts: fails if any fails, holds if all
    hold, else undetermined (NA); None when the audit was not run."""
    if group[column].isna().all():
        return None
    verdicts = group.groupby(INSTANCE, sort=False)[column].agg(
        lambda v: True if (v == "fails").any() else (False if (v == "holds").all() else pd.NA)
    )
    return verdicts.astype("boolean")


def _gain_verdicts(group: pd.DataFrame, gain: str, min_gain: float) -> pd.Series | None:
    tested = group[group[gain].notna()]
    if tested.empty:
        return None
    return (tested[gain] > min_gain * tested["payoff_range"]).astype("boolean")


def strategic_rounds(rounds: pd.DataFrame) -> pd.DataFrame:
    """The rounds of the strategic defenders in runs that completed."""
    return rounds[(rounds["status"] == "ok") & rounds["strategic"].fillna(False).astype(bool)]


def _by_columns(table: pd.DataFrame, by: Sequence[str]) -> list[str]:
    out = []
    for name in by:
        column = name if name in table.columns else parameter_column(name)
        if column not in table.columns:
            raise InvalidConfigError(
                f"summary --by: {name!r} is not a parameter or column of this dataset"
            )
        out.append(column)
    return out


def _roles(group: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The ``all`` row, then one per role for mechanisms that distinguish a defender."""
    out = [("all", group)]
    if group["role"].notna().any():
        out += [(str(r), part) for r, part in group.groupby("role", sort=True)]
    return out


def _audit_rows(audits: pd.DataFrame, by: list[str], min_gain: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    keys = ["mechanism", *by]
    for values, everything in audits.groupby(keys, sort=True, dropna=False):
        group = everything[everything["status"] == "ok"]
        head = dict(zip(keys, values if isinstance(values, tuple) else (values,), strict=True))
        failed = int(everything.drop_duplicates(INSTANCE)["status"].eq("failed").sum())
        for role, part in _roles(group):
            entry: dict[str, Any] = {
                **head,
                "profile": "(one-shot audit)",
                "source": "audit",
                "role": role,
            }
            whole = role == "all"
            instances = part.drop_duplicates(INSTANCE)
            for prop, column in (("pe", "pareto_efficient"), ("nash", "nash_consistent")):
                holds = None
                if whole and column in instances and instances[column].notna().any():
                    holds = ~instances[column].astype("boolean")
                entry.update(_rate(prop, holds))
            for prop in ("weak_up", "strong_up"):
                entry.update(_rate(prop, _instance_verdicts(part, prop) if whole else None))
            for prop in ("sp", "ir"):
                entry.update(_rate(prop, _gain_verdicts(part, f"{prop}_gain", min_gain)))
            entry["mean_sp_gain"] = float(part["sp_gain"].mean())
            entry["mean_ir_gain"] = float(part["ir_gain"].mean())
            welfare = instances["welfare"]
            entry["welfare_vs_nse"] = (
                float((welfare - instances["nse_welfare"]).mean()) if whole else np.nan
            )
            entry["welfare_vs_pooled"] = (
                float((welfare - instances["pooled_welfare"]).mean()) if whole else np.nan
            )
            entry["instances"] = len(instances)
            entry["failed_instances"] = failed
            rows.append(entry)
    return rows


def _simulation_rows(rounds: pd.DataFrame, by: list[str], min_gain: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    ok = strategic_rounds(rounds)
    keys = ["mechanism", "profile", *by]
    for values, group in ok.groupby(keys, sort=True, dropna=False):
        head = dict(zip(keys, values, strict=True))
        misreports = bool((group["reporting"] != "truthful").any())
        deviates = bool((group["executing"] != "follow").any())
        for role, part in _roles(group):
            entry: dict[str, Any] = {**head, "source": "simulation", "role": role}
            for prop in ("pe", "weak_up", "strong_up", "nash"):
                entry.update(_rate(prop, None))
            sp = _gain_verdicts(part, "sp_gain", min_gain) if misreports else None
            ir = _gain_verdicts(part, "ir_gain", min_gain) if deviates else None
            entry.update(_rate("sp", sp))
            entry.update(_rate("ir", ir))
            entry["mean_sp_gain"] = float(part["sp_gain"].mean()) if misreports else np.nan
            entry["mean_ir_gain"] = float(part["ir_gain"].mean()) if deviates else np.nan
            entry["mean_expected_utility"] = float(part["expected_utility"].mean())
            entry["instances"] = int(part.drop_duplicates([*INSTANCE, "focal_defender"]).shape[0])
            rows.append(entry)
    return rows


def summarise(
    audits: pd.DataFrame,
    rounds: pd.DataFrame,
    *,
    by: Sequence[str] = (),
    min_gain: float = DEFAULT_MIN_GAIN,
) -> pd.DataFrame:
    """Failure rates with Clopper-Pearson intervals, mean gains and welfare per
    mechanism (x profile) x the ``by`` parameters x role (see the module docstring).

    Parameters
    ----------
    audits, rounds : DataFrame
        The dataset's tables (:func:`runs.export.read_dataset`).
    by : sequence of str
        Generator parameters or columns to group by as well.
    min_gain : float
        A gain above ``min_gain`` x the defender's payoff range is a failure.
    """
    if not (isinstance(min_gain, int | float) and 0 <= min_gain < 1):
        raise InvalidConfigError(f"summary --min-gain must be in [0, 1); got {min_gain!r}")
    by_audits = _by_columns(audits, by) if len(audits) else list(by)
    by_rounds = _by_columns(rounds, by) if len(rounds) else list(by)
    rows = _audit_rows(audits, by_audits, float(min_gain)) if len(audits) else []
    rows += _simulation_rows(rounds, by_rounds, float(min_gain)) if len(rounds) else []
    first = ["source", "mechanism", "profile", *by_audits, "role"]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["min_gain"] = float(min_gain)  # the threshold these rates were counted with
    return df[[*first, *(c for c in df.columns if c not in first)]]


def join_summaries(pieces: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Summaries of disjoint parts of a dataset (each mechanism's audits, then each
    mechanism's simulations) as the one :func:`summarise` gives for the whole: the
    rows in order, ``min_gain`` last."""
    kept = [piece for piece in pieces if not piece.empty]
    if not kept:
        return pd.DataFrame()
    df = pd.concat(kept, ignore_index=True)
    rank = df["source"].map({"audit": 0, "simulation": 1})
    order = pd.DataFrame({"rank": rank, "mechanism": df["mechanism"]})
    df = df.loc[order.sort_values(["rank", "mechanism"], kind="stable").index]
    df = df.reset_index(drop=True)
    return df[[c for c in df.columns if c != "min_gain"] + ["min_gain"]]
