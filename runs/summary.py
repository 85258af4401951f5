"""Study statistics: failure rates over independent units with Clopper-Pearson
intervals, the finer per-defender and per-round shares, gains and welfare.

One row per condition: mechanism (x behaviour profile for simulations) x the
parameters named in ``by`` x role. ``unit`` names what every rate counts, and the
units are independent of each other (``docs/statistics.md``):

* one-shot audits count *instances* (games): a property fails on an instance when it
  fails for some defender (the paper's per-game notion), holds when it holds for
  every defender, and is undetermined otherwise;
* simulations count *runs* (one replication x mechanism x profile x focal
  defender): a run fails a property when a strategic defender's gain exceeded the
  threshold in some round.

For each property, ``<property>_failure_rate`` is the failure rate over the
*determined* units, ``_n`` their count, ``_low``/``_high`` its exact 95%
Clopper-Pearson interval, and ``_undetermined`` the share of tested units whose
verdict is undetermined (utility preservation has such verdicts, see ``docs/nse.md``
§3, and IR against a logit attacker, below). A property that was not tested in a
condition (SP with no misreport search, SP in a simulation whose profile never
misreports, IR whose profile never deviates) is missing (NA), never 0.

The finer views are shares, not rates over independent units: for audits
``<property>_defender_share`` (of the determined defender verdicts), for
simulations ``<property>_round_share`` (of the strategic defender-rounds), each
with a 95% interval clustered by unit (``_low``/``_high``: Korn-Graubard, see
:func:`sim.stats.clustered_share`).

The misreport search is a lower bound on SP failures: ``sp_budget`` is the smallest
budget searched, ``sp_failure_rate_half_budget`` the rate had every search stopped
at half its budget, and ``sp_converged`` is False when the two rates differ by more
than the interval's half-width.

A gain is a failure when it exceeds ``min_gain`` times the defender's payoff range
(her largest reward minus her smallest penalty), so ``summarise(..., min_gain=x)``
re-thresholds a dataset without rerunning it. The misreport search reports gains
above the solvers' ``GAIN_TOL`` of her payoff range only.

Audits also summarise what uncoordinated play costs on the instances
(``docs/nse.md`` §3.4): ``mean_price_of_anarchy`` and ``mean_price_of_stability``, the
geometric means of the pooled optimum over the worst and the best NSE welfare (where
both are positive; a welfare near 0 makes a ratio huge, which an arithmetic mean would
follow), ``mean_anarchy_gap`` and ``mean_stability_gap``, the means of the
differences, each over the
``mean_<price>_n`` instances where it is defined, and ``nse_extremes_exact_share``, the
share of instances whose NSE extremes were computed exactly (elsewhere the prices are
NA).

Where the study's attacker is a logit one (``docs/behavioural.md`` §4), audits also
report ``logit_ir`` ("IR vs logit"): an instance fails where some defender's best
deviation against that attacker gains more than the threshold (the gain found), holds
where no defender's can (the certified bound), and is undetermined otherwise; with
``mean_logit_ir_gain`` and ``mean_logit_welfare``, the defenders' total expected utility
against it.

For mechanisms that distinguish a defender (a dictator), rows with role ``leader`` and
``other`` give SP and IR over the defenders (audits) or rounds (simulations) of that
role beside the ``all`` row: a unit fails there when one of those fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from runs.schema import parameter_column
from sim.errors import InvalidConfigError
from sim.numerics import is_failure
from sim.stats import clopper_pearson, clustered_share

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
    "logit_ir": "IR vs logit",
    "nash": "not Nash",
}

#: The unit each source's rates count, and what makes one.
UNITS = {"audit": "instance", "simulation": "run"}
INSTANCE = ["grid_point", "replication"]
RUN = [*INSTANCE, "focal_defender"]

#: The profile column of one-shot audits' rows (they have no behaviour profile).
AUDIT_PROFILE = "(one-shot audit)"

#: The keys every summary row has besides the ``by`` columns.
KEYS = ("source", "mechanism", "profile", "role")

#: The prefix of a tally's counts and sums (:func:`tally`); its other columns are keys.
#: Counts are summed when tallies merge, except ``<TALLY>min.`` ones (the smallest).
TALLY = "tally."
SMALLEST = f"{TALLY}min."

#: The rate columns of a property, after its ``<property>_failure_`` prefix.
RATE_COLUMNS = ("rate", "low", "high", "n", "undetermined")

#: The sums a clustered share is made of (:func:`sim.stats.clustered_share`).
SHARE_SUMS = ("k", "n", "kk", "nn", "kn", "clusters")

#: The per-unit shares each source reports, by property.
SHARES = {
    "audit": ("defender_share", ("weak_up", "strong_up", "sp", "ir", "logit_ir")),
    "simulation": ("round_share", ("sp", "ir")),
}


def _per_unit(
    frame: pd.DataFrame, group: list[str], unit: list[str], props: Sequence[str]
) -> pd.DataFrame:
    """Per ``group`` and unit, how many rows fail (``p.k``), are determined (``p.n``)
    and were tested (``p.t``), for each property ``p`` of ``props``; ``frame`` has
    those columns per row as 0/1 (:func:`_verdict_columns`). A unit has a row for each
    group it has rows in (a run whose leader changes from round to round is in both
    role groups)."""
    counts = [f"{p}.{c}" for p in props for c in "knt"]
    return frame.groupby([*group, *unit], dropna=False, sort=False)[counts].sum()


def _unit_verdict(per_unit: pd.DataFrame, p: str) -> tuple[pd.Series, pd.Series]:
    """(fails, determined) per unit: a unit fails when some row fails, holds when
    every tested row holds, and is undetermined otherwise (untested: no tested row,
    never determined)."""
    k, n, t = (per_unit[f"{p}.{c}"] for c in "knt")
    fails = k > 0
    return fails, fails | ((n == t) & (t > 0))


def _unit_tallies(
    frame: pd.DataFrame, group: list[str], unit: list[str], props: Sequence[str]
) -> pd.DataFrame:
    """Per ``group``, the tallies of each property in ``props``: its unit verdicts
    (:func:`_unit_verdict`) and the sums of its clustered row share."""
    per_unit = _per_unit(frame, group, unit, props)
    columns: dict[str, pd.Series] = {}
    for p in props:
        fails, determined = _unit_verdict(per_unit, p)
        k, n, t = (per_unit[f"{p}.{c}"] for c in "knt")
        columns[f"{TALLY}{p}_k"] = fails.astype(int)
        columns[f"{TALLY}{p}_n"] = determined.astype(int)
        columns[f"{TALLY}{p}_units"] = (t > 0).astype(int)
        share = {"k": k, "n": n, "kk": k * k, "nn": n * n, "kn": k * n, "clusters": n > 0}
        for name, values in share.items():
            columns[f"{TALLY}{p}_share_{name}"] = values.astype(
                float if name != "clusters" else int
            )
    out = pd.DataFrame(columns, index=per_unit.index).assign(**{f"{TALLY}units": 1})
    return out.groupby(level=list(range(len(group))), dropna=False, sort=False).sum()


def _verdict_columns(verdicts: pd.Series, tested: pd.Series, p: str) -> dict[str, pd.Series]:
    """The ``p.k``/``p.n``/``p.t`` columns of rows' verdicts (True fails, False holds,
    NA undetermined) where ``tested``."""
    tested = tested.fillna(False).astype(bool)
    return {
        f"{p}.k": (verdicts.fillna(False).astype(bool) & tested).astype(int),
        f"{p}.n": (verdicts.notna() & tested).astype(int),
        f"{p}.t": tested.astype(int),
    }


def _gain_columns(gains: pd.Series, ranges: pd.Series, min_gain: float, p: str) -> dict:
    gain = gains.astype("Float64")
    return _verdict_columns(is_failure(gain, ranges.astype(float), min_gain), gain.notna(), p)


def strategic_rounds(rounds: pd.DataFrame) -> pd.DataFrame:
    """The rounds of the strategic defenders in runs that completed."""
    return rounds[(rounds["status"] == "ok") & rounds["strategic"].fillna(False).astype(bool)]


def by_columns(tables: Sequence[pd.DataFrame], by: Sequence[str]) -> list[str]:
    """The columns ``by`` names (a generator parameter by its name, any other column
    of the tables by its own), without the keys every summary row has already
    (mechanism, profile, role, source); an unknown or repeated name is an
    :class:`~sim.errors.InvalidConfigError`."""
    present = {c for table in tables for c in table.columns} | set(KEYS)
    seen: list[str] = []
    for name in by:
        column = name if name in present else parameter_column(name)
        if column not in present:
            known = sorted(present - {"chunk", "spawn_key", "error"})
            raise InvalidConfigError(
                f"summary --by: {name!r} is not a parameter or column of this dataset "
                f"(choose from {', '.join(known)})"
            )
        if column in seen:
            raise InvalidConfigError(f"summary --by: {name!r} is named twice")
        seen.append(column)
    return [c for c in seen if c not in KEYS]


def _grouped(frame: pd.DataFrame, group: list[str], columns: list[str]) -> pd.DataFrame:
    return frame.groupby(group, dropna=False, sort=False)[columns].sum()


def _rows(table: pd.DataFrame, role: str | None, **fixed: Any) -> list[dict[str, Any]]:
    """Tally rows (dicts) from a table indexed by the group keys."""
    flat = table.reset_index()
    if role is not None:
        flat["role"] = role
    return [{**fixed, **record} for record in flat.to_dict("records")]


#: The per-instance prices of uncoordinated play the audits summarise by their mean over
#: the instances where they are defined (``docs/nse.md`` §3.4).
PRICES = ("price_of_anarchy", "price_of_stability", "anarchy_gap", "stability_gap")

#: The prices that are ratios: their mean is geometric (a mean of their logarithms).
RATIOS = ("price_of_anarchy", "price_of_stability")


def _price_term(name: str, values: pd.Series) -> pd.Series:
    """What price ``name`` adds to its tally: the logarithm of a ratio, a gap as it is."""
    return np.log(values) if name in RATIOS else values


#: The columns bracketing the best deviation's gain against a logit attacker.
LOGIT_IR = ("logit_ir_gain", "logit_ir_gain_upper")
#: The means audits report against a logit attacker (over the defenders; the welfare
#: over the instances).
LOGIT_MEANS = ("logit_ir_gain", "logit_welfare")

#: The one-shot audits' properties, and the per-defender ones (which role rows show).
AUDITED = ("pe", "nash", "weak_up", "strong_up", "sp", "sp_half", "ir", "logit_ir")
PER_DEFENDER = ("sp", "sp_half", "ir", "logit_ir")


def _audit_frame(ok: pd.DataFrame, columns: list[str], min_gain: float) -> pd.DataFrame:
    """The completed audit rows' ``columns`` and the verdict columns of every audited
    property (:func:`_verdict_columns`)."""
    frame = pd.DataFrame({c: ok[c] for c in dict.fromkeys(columns)})
    for p, column in (("pe", "pareto_efficient"), ("nash", "nash_consistent")):
        holds = ok[column].astype("boolean")
        frame = frame.assign(**_verdict_columns(~holds, ok[column].notna(), p))
    for p in ("weak_up", "strong_up"):
        verdict = ok[p].map({"fails": True, "holds": False}).astype("boolean")
        frame = frame.assign(**_verdict_columns(verdict, ok[p].notna(), p))
    for p, column in (("sp", "sp_gain"), ("sp_half", "sp_gain_half"), ("ir", "ir_gain")):
        frame = frame.assign(**_gain_columns(ok[column], ok["payoff_range"], min_gain, p))
    # against a logit attacker the best deviation's gain is bracketed: it fails where
    # the gain found is one, holds where the bound is none, and is undetermined between
    ranges = ok["payoff_range"].astype(float)
    found, bound = (_column(ok, c, "Float64").astype("Float64") for c in LOGIT_IR)
    verdict = is_failure(found, ranges, min_gain).mask(
        ~is_failure(found, ranges, min_gain) & is_failure(bound, ranges, min_gain), pd.NA
    )
    return frame.assign(**_verdict_columns(verdict, found.notna(), "logit_ir"))


def _simulation_frame(ok: pd.DataFrame, columns: list[str], min_gain: float) -> pd.DataFrame:
    """The strategic rounds' ``columns`` and the SP and IR verdict columns: SP is
    tested where the round's profile misreports, IR where it deviates."""
    frame = pd.DataFrame({c: ok[c] for c in dict.fromkeys(columns)})
    acting = {"sp": ok["reporting"] != "truthful", "ir": ok["executing"] != "follow"}
    for p, acts in acting.items():
        gain = ok[f"{p}_gain"].astype("Float64").where(acts.to_numpy(), pd.NA)
        frame = frame.assign(**_gain_columns(gain, ok["payoff_range"], min_gain, p))
    return frame


def _column(table: pd.DataFrame, name: str, dtype: str) -> pd.Series:
    """``table[name]``, or NA throughout where the table has no such column (a dataset
    written before it existed)."""
    return table[name] if name in table else pd.Series(pd.NA, index=table.index, dtype=dtype)


def _audit_tallies(audits: pd.DataFrame, by: list[str], min_gain: float) -> list[dict[str, Any]]:
    keys = ["mechanism", *[c for c in by if c in audits.columns]]
    unit = [c for c in INSTANCE if c not in keys]
    ok = audits[audits["status"] == "ok"]
    frame = _audit_frame(ok, [*keys, *unit, "role"], min_gain)
    first = ~ok.duplicated([*keys, *unit])
    extra = pd.DataFrame(
        {
            f"{TALLY}welfare_vs_nse_sum": (ok["welfare"] - ok["nse_welfare"]).where(first),
            f"{TALLY}welfare_vs_pooled_sum": (ok["welfare"] - ok["pooled_welfare"]).where(first),
            f"{TALLY}sp_gain_sum": ok["sp_gain"],
            f"{TALLY}ir_gain_sum": ok["ir_gain"],
            f"{TALLY}logit_ir_gain_sum": _column(ok, "logit_ir_gain", "Float64"),
            f"{TALLY}logit_welfare_sum": _column(ok, "logit_welfare", "Float64").where(first),
            **{
                f"{TALLY}{name}_sum": _price_term(name, _column(ok, name, "Float64")).where(first)
                for name in PRICES
            },
        }
    )
    averaged = ("welfare_vs_nse", "welfare_vs_pooled", "sp_gain", "ir_gain", *LOGIT_MEANS)
    for name in (*averaged, *PRICES):
        column = f"{TALLY}{name}_sum"
        extra[f"{TALLY}{name}_count"] = extra[column].notna().astype(int)
        extra[column] = extra[column].astype(float).fillna(0.0)
    exact = _column(ok, "nse_extremes", "string").where(first)
    extra[f"{TALLY}extremes_exact"] = exact.eq("exact").fillna(False).astype(int)
    extra[f"{TALLY}extremes_units"] = exact.notna().astype(int)
    frame = frame.join(extra)
    counted = list(extra.columns)
    per_instance = ("welfare", "extremes", *PRICES)  # all rows, not by role (logit_welfare too)
    gains = [c for c in counted if not any(name in c for name in per_instance)]
    whole = _unit_tallies(frame, keys, unit, AUDITED).join(_grouped(frame, keys, counted))
    # the conditions of failed instances too (a condition may have failed everywhere)
    failed = audits.assign(
        **{
            f"{TALLY}failed_units": (audits["status"] == "failed")
            & ~audits.duplicated([*keys, *unit])
        }
    )
    failures = _grouped(failed, keys, [f"{TALLY}failed_units"]).astype(int)
    whole = failures.join(whole, how="left")
    roles = frame[frame["role"].notna()]
    by_role = _unit_tallies(roles, [*keys, "role"], unit, PER_DEFENDER).join(
        _grouped(roles, [*keys, "role"], gains)
    )
    budget = ok["sp_budget"].astype("Float64")
    for table, group in ((whole, keys), (by_role, [*keys, "role"])):
        smallest = budget.groupby([ok[k] for k in group], dropna=False, sort=False).min()
        table[f"{SMALLEST}sp_budget"] = smallest.reindex(table.index)
    fixed = {"source": "audit", "profile": AUDIT_PROFILE}
    return _rows(whole, "all", **fixed) + _rows(by_role, None, **fixed)


def _simulation_tallies(
    rounds: pd.DataFrame, by: list[str], min_gain: float
) -> list[dict[str, Any]]:
    """The tallies of the strategic rounds: per condition (mechanism, profile, ``by``)
    an ``all`` row, and one per role where the rounds have roles."""
    ok = strategic_rounds(rounds)
    keys = ["mechanism", "profile", *[c for c in by if c in rounds.columns]]
    unit = [c for c in RUN if c not in keys]
    frame = _simulation_frame(ok, [*keys, *unit, "role"], min_gain)
    extra = pd.DataFrame(
        {
            # SP is tested where the condition's profile misreports, IR where it deviates
            f"{TALLY}misreports": (ok["reporting"] != "truthful").astype(int),
            f"{TALLY}deviates": (ok["executing"] != "follow").astype(int),
        }
    )
    for name, column in (
        ("sp_gain", "sp_gain"),
        ("ir_gain", "ir_gain"),
        ("expected_utility", "expected_utility"),
    ):
        values = ok[column].astype("Float64")
        extra[f"{TALLY}{name}_sum"] = values.fillna(0.0).astype(float)
        extra[f"{TALLY}{name}_count"] = values.notna().astype(int)
    frame = frame.join(extra)
    counted = list(extra.columns)
    whole = _unit_tallies(frame, keys, unit, ["sp", "ir"]).join(_grouped(frame, keys, counted))
    roles = frame[frame["role"].notna()]
    by_role = _unit_tallies(roles, [*keys, "role"], unit, ["sp", "ir"]).join(
        _grouped(roles, [*keys, "role"], counted)
    )
    return _rows(whole, "all", source="simulation") + _rows(by_role, None, source="simulation")


def unit_verdicts(
    audits: pd.DataFrame | None = None,
    rounds: pd.DataFrame | None = None,
    *,
    by: Sequence[str] = (),
    min_gain: float = DEFAULT_MIN_GAIN,
) -> pd.DataFrame:
    """One row per unit (an audited instance, a simulated run) and condition, with
    each property's verdict (True fails, False holds, NA undetermined or untested),
    whether it was tested (``<property>_tested``) and the unit's ``welfare`` (audits:
    the outcome's total utility; simulations: the run's mean total expected utility
    per round): what paired comparisons of two mechanisms on the same units are made
    of (:mod:`runs.compare`)."""
    tables = [t for t in (audits, rounds) if t is not None]
    columns = by_columns(tables, by)
    parts = []
    if audits is not None and len(audits):
        keys = ["mechanism", *[c for c in columns if c in audits.columns]]
        unit = [c for c in INSTANCE if c not in keys]
        ok = audits[audits["status"] == "ok"]
        per_unit = _per_unit(_audit_frame(ok, [*keys, *unit], min_gain), keys, unit, AUDITED)
        welfare = ok.groupby([*keys, *unit], dropna=False, sort=False)["welfare"].first()
        shown = [p for p in AUDITED if p != "sp_half"]
        parts.append(_verdicts(per_unit, shown, welfare, source="audit"))
    if rounds is not None and len(rounds):
        keys = ["mechanism", "profile", *[c for c in columns if c in rounds.columns]]
        unit = [c for c in RUN if c not in keys]
        frame = _simulation_frame(strategic_rounds(rounds), [*keys, *unit], min_gain)
        per_unit = _per_unit(frame, keys, unit, ("sp", "ir"))
        done = rounds[rounds["status"] == "ok"]
        totals = done.groupby([*keys, *unit, "round"], dropna=False, sort=False)
        welfare = (
            totals["expected_utility"].sum().groupby(level=list(range(len(keys) + len(unit))))
        ).mean()
        parts.append(_verdicts(per_unit, ("sp", "ir"), welfare, source="simulation"))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _verdicts(
    per_unit: pd.DataFrame, props: Sequence[str], welfare: pd.Series, source: str
) -> pd.DataFrame:
    out = pd.DataFrame(index=per_unit.index)
    for p in props:
        fails, determined = _unit_verdict(per_unit, p)
        out[p] = fails.astype("boolean").where(determined, pd.NA)
        out[f"{p}_tested"] = per_unit[f"{p}.t"] > 0
    out["welfare"] = welfare.reindex(per_unit.index).astype(float)
    out = out.reset_index().assign(source=source, unit=UNITS[source])
    return out if "profile" in out else out.assign(profile=AUDIT_PROFILE)


def tally(
    audits: pd.DataFrame | None = None,
    rounds: pd.DataFrame | None = None,
    *,
    by: Sequence[str] = (),
    min_gain: float = DEFAULT_MIN_GAIN,
) -> pd.DataFrame:
    """The counts and sums :func:`summarise` is made of, for a part of a dataset that
    holds whole units (a chunk): tallies of disjoint parts add up, so a study's
    summary is :func:`finish` of its chunks' tallies, never its whole table in memory.
    """
    if not (isinstance(min_gain, int | float) and 0 <= min_gain < 1):
        raise InvalidConfigError(f"summary --min-gain must be in [0, 1); got {min_gain!r}")
    tables = [t for t in (audits, rounds) if t is not None]
    columns = by_columns(tables, by)
    rows = []
    if audits is not None and len(audits):
        rows += _audit_tallies(audits, columns, float(min_gain))
    if rounds is not None and len(rounds):
        rows += _simulation_tallies(rounds, columns, float(min_gain))
    return pd.DataFrame(rows)


def merge(tallies: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Tallies of disjoint parts as one tally (in a fixed order, so the sums are
    reproducible): counts add up, ``<SMALLEST>`` ones take the smallest."""
    kept = [t for t in tallies if not t.empty]
    if not kept:
        return pd.DataFrame()
    df = pd.concat(kept, ignore_index=True)
    keys = [c for c in df.columns if not c.startswith(TALLY)]
    counts = [c for c in df.columns if c.startswith(TALLY)]
    smallest = [c for c in counts if c.startswith(SMALLEST)]
    grouped = df.groupby(keys, sort=False, dropna=False)
    summed = grouped[[c for c in counts if c not in smallest]].sum()
    merged = pd.concat([summed, grouped[smallest].min()], axis=1) if smallest else summed
    return merged[counts].reset_index()


def finish(tallies: Sequence[pd.DataFrame], min_gain: float = DEFAULT_MIN_GAIN) -> pd.DataFrame:
    """The summary (see the module docstring) from the tallies of disjoint parts of a
    dataset (:func:`tally`; ``min_gain`` as they were counted with)."""
    df = merge(tallies)
    if df.empty:
        return df
    keys = [c for c in df.columns if not c.startswith(TALLY)]
    by = [c for c in keys if c not in KEYS]
    order = df.assign(
        _source=df["source"].map({"audit": 0, "simulation": 1}),
        _role=df["role"].ne("all"),
    ).sort_values(["_source", "mechanism", "profile", *by, "_role", "role"], kind="stable")
    df = df.loc[order.index].reset_index(drop=True)
    # every role's row shows the failed instances of its condition (the all row's)
    failed = f"{TALLY}failed_units"
    if failed in df:
        condition = [df[c] for c in keys if c != "role"]
        whole = df[failed].where(df["role"] == "all", 0).fillna(0)
        df[failed] = whole.groupby(condition, dropna=False, sort=False).transform("sum")
    out = pd.DataFrame([_row(record, keys) for record in df.to_dict("records")])
    counts = {f"{prop}_failure_n": "Int64" for prop in PROPERTY_LABELS}
    out = out.astype({**counts, "sp_budget": "Int64", "sp_converged": "boolean"})
    out["min_gain"] = float(min_gain)  # the threshold these rates were counted with
    first = ["source", "mechanism", "profile", *by, "role", "unit"]
    rest = [c for c in out.columns if c not in first and c != "min_gain"]
    return out[[*first, *rest, "min_gain"]]


def _count(t: dict[str, Any], name: str) -> float:
    value = t.get(f"{TALLY}{name}", 0)
    return 0 if value is None or pd.isna(value) else value


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


def _row(t: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """One summary row from its merged tallies."""
    audit = t["source"] == "audit"
    entry: dict[str, Any] = {c: t[c] for c in keys}
    entry["unit"] = UNITS[t["source"]]
    # audits test SP and IR by search; a simulation only where its profile misreports
    # (SP) or deviates (IR): its mean gains are of those conditions only
    tested = {
        "sp": audit or _count(t, "misreports") > 0,
        "ir": audit or _count(t, "deviates") > 0,
    }
    share, shared = SHARES[t["source"]]
    for prop in PROPERTY_LABELS:
        seen = _count(t, f"{prop}_units") > 0
        counts = [int(_count(t, f"{prop}_{key}")) if seen else 0 for key in ("k", "n", "units")]
        entry.update(_rate(prop, *counts))
    for kind, props in SHARES.values():
        for prop in props:
            names = [f"{prop}_{kind}{end}" for end in ("", "_low", "_high")]
            k, n, kk, nn, kn, clusters = (
                float(_count(t, f"{prop}_share_{name}")) for name in SHARE_SUMS
            )
            mine = kind == share and prop in shared and not pd.isna(entry[f"{prop}_failure_n"])
            values = clustered_share(k, n, kk, nn, kn, int(clusters))[:3] if mine else (np.nan,) * 3
            entry.update(zip(names, values, strict=True))
    entry.update(_convergence(t, entry) if audit else _convergence(None, entry))
    for prop in ("sp", "ir"):
        entry[f"mean_{prop}_gain"] = _mean_of(t, f"{prop}_gain") if tested[prop] else np.nan
    if audit:
        entry["welfare_vs_nse"] = _mean_of(t, "welfare_vs_nse")
        entry["welfare_vs_pooled"] = _mean_of(t, "welfare_vs_pooled")
        entry["mean_logit_ir_gain"] = _mean_of(t, "logit_ir_gain")
        entry["mean_logit_welfare"] = _mean_of(t, "logit_welfare")
        for name in PRICES:
            mean = _mean_of(t, name)
            entry[f"mean_{name}"] = float(np.exp(mean)) if name in RATIOS else mean
            entry[f"mean_{name}_n"] = int(_count(t, f"{name}_count"))
        units = _count(t, "extremes_units")
        entry["nse_extremes_exact_share"] = _count(t, "extremes_exact") / units if units else np.nan
    else:
        entry["mean_expected_utility"] = _mean_of(t, "expected_utility")
    entry["units"] = int(_count(t, "units"))
    if audit:
        entry["failed_units"] = int(_count(t, "failed_units"))
    return entry


def _convergence(t: dict[str, Any] | None, entry: dict[str, Any]) -> dict[str, Any]:
    """``sp_budget``, the SP rate at half the budget and whether the two agree within
    the interval's half-width (NA where no search ran)."""
    rate = entry["sp_failure_rate"]
    budget = np.nan if t is None else t.get(f"{SMALLEST}sp_budget", np.nan)
    if t is None or pd.isna(rate) or pd.isna(budget):
        return {"sp_budget": pd.NA, "sp_failure_rate_half_budget": np.nan, "sp_converged": pd.NA}
    k, n = _count(t, "sp_half_k"), _count(t, "sp_half_n")
    half = k / n if n else np.nan
    width = (entry["sp_failure_high"] - entry["sp_failure_low"]) / 2
    return {
        "sp_budget": int(budget),
        "sp_failure_rate_half_budget": half,
        "sp_converged": bool(abs(rate - half) <= width),
    }


def _mean_of(t: dict[str, Any], label: str) -> float:
    count = _count(t, f"{label}_count")
    return float(_count(t, f"{label}_sum") / count) if count else np.nan


def summarise(
    audits: pd.DataFrame,
    rounds: pd.DataFrame,
    *,
    by: Sequence[str] = (),
    min_gain: float = DEFAULT_MIN_GAIN,
) -> pd.DataFrame:
    """Failure rates over independent units with Clopper-Pearson intervals, the
    clustered per-defender and per-round shares, mean gains and welfare per mechanism
    (x profile) x the ``by`` columns x role (see the module docstring).

    Parameters
    ----------
    audits, rounds : DataFrame
        The dataset's tables (:func:`runs.export.read_dataset`).
    by : sequence of str
        Generator parameters or other columns to group by as well (the swept
        parameters, for a study's own summary: :func:`runs.config.StudyConfig.swept`).
    min_gain : float
        A gain above ``min_gain`` x the defender's payoff range is a failure.
    """
    return finish([tally(audits, rounds, by=by, min_gain=min_gain)], min_gain)
