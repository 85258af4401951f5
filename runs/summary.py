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


#: The prefix of a tally's counts and sums (:func:`tally`); its other columns are keys.
TALLY = "tally."

#: The rate columns of a property, after its ``<property>_failure_`` prefix.
RATE_COLUMNS = ("rate", "low", "high", "n", "undetermined")


def _tested(label: str, verdicts: pd.Series | None) -> dict[str, int]:
    """Tallies of a property's verdicts: True (fails), False (holds), NA
    (undetermined); None: not tested. ``_seen`` counts parts where it was tested, so
    :func:`finish` tells "not tested" from "tested, every verdict undetermined"."""
    if verdicts is None or verdicts.size == 0:
        return {f"{TALLY}{label}_{key}": 0 for key in ("k", "n", "units", "seen")}
    determined = verdicts.dropna().astype(bool)
    return {
        f"{TALLY}{label}_k": int(determined.sum()),
        f"{TALLY}{label}_n": int(determined.size),
        f"{TALLY}{label}_units": int(verdicts.size),
        f"{TALLY}{label}_seen": 1,
    }


def _rate(label: str, k: int, n: int, units: int) -> dict[str, float]:
    """The columns of ``label``: the failure rate over the ``n`` determined of the
    ``units`` tested (all NA when none was), its Clopper-Pearson interval and the
    undetermined share."""
    if units == 0:
        return {f"{label}_failure_{key}": np.nan for key in RATE_COLUMNS}
    low, high = clopper_pearson(k, n)
    return {
        f"{label}_failure_rate": k / n if n else np.nan,
        f"{label}_failure_low": low,
        f"{label}_failure_high": high,
        f"{label}_failure_n": n,
        f"{label}_failure_undetermined": 1.0 - n / units,
    }


def _mean(label: str, values: pd.Series) -> dict[str, float]:
    """Tallies of a mean (the sum and the count of the values present)."""
    present = values.dropna()
    return {f"{TALLY}{label}_sum": float(present.sum()), f"{TALLY}{label}_count": int(present.size)}


def _instance_verdicts(group: pd.DataFrame, column: str) -> pd.Series | None:
    """UP per instance from per-defender verdicts: fails if any fails, holds if all
    hold, else undetermined (NA); None when the audit was not run."""
    if group[column].isna().all():
        return None
    keys = [group[name] for name in INSTANCE]
    fails = (group[column] == "fails").groupby(keys, sort=False).any()
    holds = (group[column] == "holds").groupby(keys, sort=False).all()
    verdicts = pd.Series(pd.NA, index=fails.index, dtype="boolean")
    verdicts[fails.to_numpy()] = True
    verdicts[(holds & ~fails).to_numpy()] = False
    return verdicts


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


def _audit_tallies(audits: pd.DataFrame, by: list[str], min_gain: float) -> list[dict[str, Any]]:
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
                fails = None
                if whole and column in instances and instances[column].notna().any():
                    fails = ~instances[column].astype("boolean")
                entry.update(_tested(prop, fails))
            for prop in ("weak_up", "strong_up"):
                entry.update(_tested(prop, _instance_verdicts(part, prop) if whole else None))
            for prop in ("sp", "ir"):
                entry.update(_tested(prop, _gain_verdicts(part, f"{prop}_gain", min_gain)))
                entry.update(_mean(f"{prop}_gain", part[f"{prop}_gain"]))
            for versus in ("nse", "pooled"):
                difference = instances["welfare"] - instances[f"{versus}_welfare"]
                entry.update(_mean(f"welfare_vs_{versus}", difference if whole else difference[:0]))
            entry[f"{TALLY}instances"] = len(instances)
            entry[f"{TALLY}failed_instances"] = failed if whole else 0  # broadcast in finish
            rows.append(entry)
    return rows


def _simulation_tallies(
    rounds: pd.DataFrame, by: list[str], min_gain: float
) -> list[dict[str, Any]]:
    """The tallies of the strategic rounds in one grouping per row kind: per condition
    (mechanism, profile, ``by``) an ``all`` row, and one per role where the rounds have
    roles (the counts :func:`_tested` and :func:`_mean` give, summed by group)."""
    ok = strategic_rounds(rounds)
    keys = ["mechanism", "profile", *by]
    counts = pd.DataFrame({key: ok[key] for key in [*keys, "role"]})
    for prop in ("sp", "ir"):
        gain = ok[f"{prop}_gain"].astype("Float64")
        verdict = gain > min_gain * ok["payoff_range"]  # NA where the gain is missing
        counts[f"{prop}_k"] = verdict.fillna(False).astype(int)
        counts[f"{prop}_n"] = verdict.notna().astype(int)
        counts[f"{prop}_units"] = gain.notna().astype(int)
        counts[f"{prop}_gain_sum"] = gain.fillna(0.0).astype(float)
    utility = ok["expected_utility"].astype("Float64")
    counts["expected_utility_sum"] = utility.fillna(0.0).astype(float)
    counts["expected_utility_count"] = utility.notna().astype(int)
    sums = [c for c in counts.columns if c not in (*keys, "role")]

    def totals(group: list[str], rows: pd.DataFrame) -> pd.DataFrame:
        # an instance: a (grid point, replication, focal defender) of the group
        first = ~ok.loc[rows.index, [*group, *INSTANCE, "focal_defender"]].duplicated()
        grouped = rows.assign(instances=first.astype(int)).groupby(group, dropna=False)
        return grouped[[*sums, "instances"]].sum().reset_index()

    table = pd.concat(
        [
            totals(keys, counts).assign(role="all"),
            totals([*keys, "role"], counts[counts["role"].notna()]),
        ],
        ignore_index=True,
    )
    # SP is tested where the condition's profile misreports, IR where it deviates
    flags = (
        ok[keys]
        .assign(misreports=ok["reporting"] != "truthful", deviates=ok["executing"] != "follow")
        .groupby(keys, dropna=False)[["misreports", "deviates"]]
        .any()
        .astype(int)
        .reset_index()
    )
    table = table.merge(flags, on=keys, how="left")
    rows: list[dict[str, Any]] = []
    for record in table.to_dict("records"):
        entry = {key: record[key] for key in keys}
        entry.update(source="simulation", role=record["role"])
        for name in ("misreports", "deviates", "instances"):
            entry[f"{TALLY}{name}"] = int(record[name])
        for prop in ("sp", "ir"):
            units = int(record[f"{prop}_units"])
            for name in ("k", "n", "units"):
                entry[f"{TALLY}{prop}_{name}"] = int(record[f"{prop}_{name}"])
            entry[f"{TALLY}{prop}_seen"] = int(units > 0)
            entry[f"{TALLY}{prop}_gain_sum"] = float(record[f"{prop}_gain_sum"])
            entry[f"{TALLY}{prop}_gain_count"] = units
        entry[f"{TALLY}expected_utility_sum"] = float(record["expected_utility_sum"])
        entry[f"{TALLY}expected_utility_count"] = int(record["expected_utility_count"])
        rows.append(entry)
    return rows


def tally(
    audits: pd.DataFrame | None = None,
    rounds: pd.DataFrame | None = None,
    *,
    by: Sequence[str] = (),
    min_gain: float = DEFAULT_MIN_GAIN,
) -> pd.DataFrame:
    """The counts and sums :func:`summarise` is made of, for a part of a dataset that
    holds whole instances (a chunk): tallies of disjoint parts add up, so a study's
    summary is :func:`finish` of its chunks' tallies, never its whole table in memory.
    """
    if not (isinstance(min_gain, int | float) and 0 <= min_gain < 1):
        raise InvalidConfigError(f"summary --min-gain must be in [0, 1); got {min_gain!r}")
    rows = []
    if audits is not None and len(audits):
        rows += _audit_tallies(audits, _by_columns(audits, by), float(min_gain))
    if rounds is not None and len(rounds):
        rows += _simulation_tallies(rounds, _by_columns(rounds, by), float(min_gain))
    return pd.DataFrame(rows)


def merge(tallies: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Tallies of disjoint parts as one tally (in a fixed order, so the sums are
    reproducible)."""
    kept = [t for t in tallies if not t.empty]
    if not kept:
        return pd.DataFrame()
    df = pd.concat(kept, ignore_index=True)
    keys = [c for c in df.columns if not c.startswith(TALLY)]
    counts = [c for c in df.columns if c.startswith(TALLY)]
    return df.groupby(keys, sort=False, dropna=False)[counts].sum().reset_index()


def finish(tallies: Sequence[pd.DataFrame], min_gain: float = DEFAULT_MIN_GAIN) -> pd.DataFrame:
    """The summary (see the module docstring) from the tallies of disjoint parts of a
    dataset (:func:`tally`; ``min_gain`` as they were counted with)."""
    df = merge(tallies)
    if df.empty:
        return df
    keys = [c for c in df.columns if not c.startswith(TALLY)]
    by = [c for c in keys if c not in ("source", "mechanism", "profile", "role")]
    order = df.assign(
        _source=df["source"].map({"audit": 0, "simulation": 1}),
        _role=df["role"].ne("all"),
    ).sort_values(["_source", "mechanism", "profile", *by, "_role", "role"], kind="stable")
    df = df.loc[order.index].reset_index(drop=True)
    # every role's row shows the failed instances of its condition (the all row's)
    failed = f"{TALLY}failed_instances"
    if failed in df:
        condition = [df[c] for c in keys if c != "role"]
        whole = df[failed].where(df["role"] == "all", 0)
        df[failed] = whole.groupby(condition, dropna=False, sort=False).transform("sum")
    out = pd.DataFrame([_row(record, keys) for record in df.to_dict("records")])
    out["min_gain"] = float(min_gain)  # the threshold these rates were counted with
    first = ["source", "mechanism", "profile", *by, "role"]
    rest = [c for c in out.columns if c not in first and c != "min_gain"]
    return out[[*first, *rest, "min_gain"]]


def _row(t: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """One summary row from its merged tallies."""
    audit = t["source"] == "audit"
    entry = {c: t[c] for c in keys}
    # audits test SP and IR by search; a simulation only where its profile misreports
    # (SP) or deviates (IR)
    tested = {
        "sp": audit or t[f"{TALLY}misreports"] > 0,
        "ir": audit or t[f"{TALLY}deviates"] > 0,
    }
    for prop in PROPERTY_LABELS:
        seen = t.get(f"{TALLY}{prop}_seen", 0) > 0 and tested.get(prop, True)
        counts = (t[f"{TALLY}{prop}_{key}"] for key in ("k", "n", "units")) if seen else (0, 0, 0)
        entry.update(_rate(prop, *counts))
    for prop in ("sp", "ir"):
        entry[f"mean_{prop}_gain"] = _mean_of(t, f"{prop}_gain") if tested[prop] else np.nan
    if audit:
        entry["welfare_vs_nse"] = _mean_of(t, "welfare_vs_nse")
        entry["welfare_vs_pooled"] = _mean_of(t, "welfare_vs_pooled")
    else:
        entry["mean_expected_utility"] = _mean_of(t, "expected_utility")
    entry["instances"] = int(t[f"{TALLY}instances"])
    if audit:
        entry["failed_instances"] = int(t[f"{TALLY}failed_instances"])
    return entry


def _mean_of(t: dict[str, Any], label: str) -> float:
    count = t[f"{TALLY}{label}_count"]
    return float(t[f"{TALLY}{label}_sum"] / count) if count else np.nan


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
    return finish([tally(audits, rounds, by=by, min_gain=min_gain)], min_gain)
