"""Paper-ready figures of a study, drawn from its dataset only (matplotlib + seaborn).

Each figure function takes a table of :func:`runs.export.read_dataset` and returns a
``matplotlib.figure.Figure`` with a title naming the study, the sample size of every
bar and a caption line naming the interval method:

* :func:`failure_rates` -- one-shot audits: PE, weak and strong UP, SP and IR failure
  rates over the determined instances (exact 95% Clopper-Pearson intervals), with the
  undetermined share of each;
* :func:`simulated_failure_rates` -- SP and IR failure rates of the strategic
  defenders in simulation, per behaviour profile;
* :func:`gain_distributions` -- the gains, one point per instance (simulated rounds
  averaged);
* :func:`welfare` -- each mechanism's welfare relative to the status-quo NSE and to the
  pooled optimum;
* :func:`prices` -- the prices of anarchy and stability per instance, where the NSE
  extremes are exact (not drawn when no instance has them);
* :func:`learning_curves` -- the share of strategic defenders gaining, round by
  round, with 95% bands;
* :func:`attack_strength` -- against attackers with several resources: the share of
  coverages that are not Nash strategies, welfare against the NSE and simulated
  welfare, by ``attacker_resources`` (drawn when a study sweeps it or audits Nash).

``by`` facets a figure by generator parameters (one panel per value; a row of panels
per value where a figure has several per facet: the gains by source and property, the
learning curves by profile); ``ax`` draws a single panel into an existing axes (only
without ``by``). Every figure gives a mechanism the same colour
(:func:`mechanism_colours`). :func:`plot_study` draws them all for a study directory
(faceted by the swept parameter when the grid varies exactly one) and writes
``report.md`` and a self-contained ``report.html``.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from runs.export import read_dataset, read_manifest, swept
from runs.report import convergence_warnings, write_report
from runs.schema import parameter_column
from runs.studydir import atomic_write, check_path
from runs.summary import (
    DEFAULT_MIN_GAIN,
    PROPERTY_LABELS,
    strategic_rounds,
    summarise,
)
from sim.errors import InvalidConfigError, StudyIOError
from sim.numerics import is_failure

#: How every interval in the figures is computed.
CI_CAPTION = "Bars: exact 95% Clopper-Pearson intervals over the determined units."

#: Legends sit outside the last panel, on the right, so they never hide a bar.
LEGEND: dict[str, Any] = {
    "fontsize": 7,
    "frameon": False,
    "loc": "upper left",
    "bbox_to_anchor": (1.01, 1.0),
    "title": "mechanism",
    "title_fontsize": 7,
}


def _wrapped(label: str, width: int = 14) -> str:
    """A long name over several lines, broken after its underscores (a profile such as
    ``best_response_misreport`` would run into its neighbours' tick labels)."""
    lines, line = [], ""
    for piece in re.findall(r"[^_]+_?|_", str(label)):
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = ""
        line += piece
    return "\n".join([*lines, line])


def mechanism_colours(mechanisms: Sequence[str]) -> dict[str, Any]:
    """One colour per mechanism, the same in every figure of a study (sorted names)."""
    names = sorted(set(mechanisms))
    palette = sns.color_palette("tab10" if len(names) <= 10 else "husl", len(names))
    return dict(zip(names, palette, strict=True))


def _facets(table: pd.DataFrame, by: Sequence[str] | None) -> list[tuple[str, pd.DataFrame]]:
    """One (label, rows) per value of the ``by`` parameters (one facet without)."""
    if not by:
        return [("", table)]
    columns = [name if name in table.columns else parameter_column(name) for name in by]
    missing = [name for name, c in zip(by, columns, strict=True) if c not in table.columns]
    if missing:
        raise InvalidConfigError(f"plots: by={missing} are not parameters of this dataset")
    out = []
    for values, part in table.groupby(columns, sort=True, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        label = ", ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))
        out.append((label, part))
    return out


def _axes(
    count: int, ax: Axes | None, width: float, height: float, columns: int | None = None
) -> tuple[Figure, list[Axes]]:
    """``count`` panels of ``width`` x ``height`` inches sharing their y axis, row by row
    in rows of ``columns`` (default: one row), or ``ax`` alone."""
    if ax is not None:
        if count != 1:
            raise InvalidConfigError("plots: ax draws one panel; drop by= or ax=")
        return ax.figure, [ax]  # type: ignore[return-value]
    columns = min(columns or count, count)
    rows = -(-count // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(width * columns, height * rows), squeeze=False, sharey=True
    )
    for spare in axes.ravel()[count:]:  # a last row that is not full
        spare.remove()
    return fig, list(axes.ravel()[:count])


def _finish(fig: Figure, title: str, caption: str) -> Figure:
    fig.suptitle(title, fontsize=11)
    fig.text(0.01, -0.02, caption, fontsize=7.5, ha="left", va="top", wrap=True)
    fig.tight_layout()
    return fig


def _study(table: pd.DataFrame, study: str | None) -> str:
    if study:
        return study
    names = table["study"].dropna().unique() if "study" in table else []
    return str(names[0]) if len(names) else "study"


def _rate_bars(
    ax: Axes,
    summary: pd.DataFrame,
    groups: Sequence[str],
    group_labels: Sequence[str],
    colours: dict[str, Any],
    properties: Sequence[str],
) -> None:
    """Bars of ``<prop>_failure_rate`` per (group, mechanism), n under each bar, the
    undetermined share as a black tick where there is one."""
    mechanisms = sorted(summary["mechanism"].unique())
    width = 0.8 / max(len(mechanisms), 1)
    labelled: set[str] = set()
    for j, mechanism in enumerate(mechanisms):
        rows = summary[summary["mechanism"] == mechanism]
        for x, (group, prop) in enumerate(itertools.product(groups, properties)):
            row = rows[rows["_group"] == group]
            if row.empty:
                continue
            rate = row[f"{prop}_failure_rate"].iloc[0]
            if pd.isna(rate):
                continue  # not tested: no bar
            position = x - 0.4 + width * (j + 0.5)
            low, high = row[f"{prop}_failure_low"].iloc[0], row[f"{prop}_failure_high"].iloc[0]
            ax.bar(
                position,
                rate,
                width=width,
                color=colours[mechanism],
                yerr=[[rate - low], [high - rate]],
                capsize=1.5,
                error_kw={"lw": 0.7},
                label=None if mechanism in labelled else mechanism,
            )
            labelled.add(mechanism)
            n = int(row[f"{prop}_failure_n"].iloc[0])
            ax.text(position, -0.02, f"{n}", ha="center", va="top", fontsize=5, rotation=90)
            undetermined = row[f"{prop}_failure_undetermined"].iloc[0]
            if undetermined > 0:
                ax.plot(position, undetermined, marker="_", color="black", ms=6, mew=1.5)
    for x, (group, prop) in enumerate(itertools.product(groups, properties)):
        rates = summary.loc[summary["_group"] == group, f"{prop}_failure_rate"]
        if rates.isna().all():
            ax.text(x, 0.5, "not tested", ha="center", va="center", fontsize=7, color="grey")
    labels = [
        f"{PROPERTY_LABELS[p]}\n{_wrapped(g)}" if g else PROPERTY_LABELS[p]
        for g, p in itertools.product(group_labels, properties)
    ]
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylim(-0.12, 1.05)
    ax.axhline(0, color="black", lw=0.6)


def _notes(notes: Sequence[str]) -> str:
    return "" if not notes else " Note: " + "; ".join(notes) + " (drawn on top of each other)."


def coinciding(audits: pd.DataFrame, share: float = 0.99) -> list[str]:
    """Pairs of mechanisms whose outcomes (attacked target, every utility) agree on at
    least ``share`` of the instances both solved."""
    ok = audits[audits["status"] == "ok"]
    if ok.empty:
        return []
    keyed = ok.assign(
        key=ok["attacked_target"].astype(str) + ":" + ok["utility"].round(9).astype(str)
    )
    outcome = keyed.groupby(["mechanism", "grid_point", "replication"])["key"].agg("|".join)
    table = outcome.unstack("mechanism")
    notes = []
    for a, b in itertools.combinations(sorted(table.columns), 2):
        both = table[[a, b]].dropna()
        if len(both) and (both[a] == both[b]).mean() >= share:
            notes.append(f"{a} and {b} coincide on {(both[a] == both[b]).mean():.1%} of instances")
    return notes


def failure_rates(
    audits: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    ax: Axes | None = None,
    min_gain: float = DEFAULT_MIN_GAIN,
    study: str | None = None,
    notes: Sequence[str] = (),
) -> Figure:
    """One-shot audits: PE, weak and strong UP, SP and IR failure rates per mechanism.

    Each bar is a failure rate over the determined instances (a property fails on a
    game when it fails for some defender) with its Clopper-Pearson interval; the
    number under it is that count; a black tick marks the undetermined share where
    there is one. A missing bar is a property that was not tested. SP is found by a
    search: its bars are lower bounds, and the caption names the conditions whose
    search had not converged (:func:`runs.report.convergence_warnings`).
    """
    colours = mechanism_colours(audits["mechanism"].unique())
    facets = _facets(audits, by)
    fig, axes = _axes(len(facets), ax, 6.5, 3.6)
    unconverged: list[str] = []
    for axis, (label, part) in zip(axes, facets, strict=True):
        summary = summarise(part, part.iloc[0:0], min_gain=min_gain)
        unconverged += [f"{label}: {w}" if label else w for w in convergence_warnings(summary)]
        summary = summary[summary["role"] == "all"].assign(_group="")
        _rate_bars(axis, summary, [""], [""], colours, _tested(audits))
        axis.set_title(label, fontsize=9)
    axes[0].set_ylabel("failure rate")
    axes[-1].legend(**LEGEND)
    budget = audits["sp_budget"].dropna()
    search = (
        f"at least: a search of {int(budget.min())} reports per defender" if len(budget) else ""
    )
    caption = (
        f"{CI_CAPTION} Unit: the instance (a game fails a property when some defender "
        "fails it); number under a bar: determined instances. Black tick: undetermined "
        f"share (UP bounds, docs/nse.md §3). Failure: gain > {min_gain:g} x payoff range. "
        + (f"SP is {search}." if search else "")
        + (" Not converged: " + "; ".join(unconverged) + "." if unconverged else "")
        + _notes(notes)
    )
    return _finish(fig, f"{_study(audits, study)}: one-shot audits", caption)


def _tested(audits: pd.DataFrame) -> list[str]:
    """The properties a one-shot audit figure shows: all, but the Nash audit only when
    the study ran it (``audits.nash``)."""
    nash = "nash_consistent" in audits and audits["nash_consistent"].notna().any()
    return [p for p in PROPERTY_LABELS if p != "nash" or nash]


def attack_strength(
    audits: pd.DataFrame,
    rounds: pd.DataFrame,
    *,
    study: str | None = None,
    notes: Sequence[str] = (),
) -> Figure:
    """How the mechanisms fare as the attacker's resources grow (Korzhyk, Conitzer,
    Parr 2011), one panel each: the share of instances whose coverage is not a Nash
    strategy of the pooled game (when audited), the total defender utility minus the
    status-quo NSE's, and, per behaviour profile, the simulated total realised utility
    per round; x is ``attacker_resources``."""
    colours = mechanism_colours([*audits["mechanism"].unique(), *rounds["mechanism"].unique()])
    ok = audits[audits["status"] == "ok"]
    instances = ok.drop_duplicates(["mechanism", "grid_point", "replication"])
    sims = rounds[rounds["status"] == "ok"]
    profiles = sorted(sims["profile"].unique()) if len(sims) else []
    nash = "nash" in _tested(audits)
    count = int(nash) + int(len(instances) > 0) + len(profiles)
    fig, grid = plt.subplots(1, max(count, 1), figsize=(4.2 * max(count, 1), 3.6), squeeze=False)
    axes = list(grid[0])  # each panel its own scale: a share, then utilities
    panels = iter(axes)
    levels = sorted(
        set(audits["attacker_resources"].dropna()) | set(sims["attacker_resources"].dropna())
    )
    if nash:
        axis = next(panels)
        summary = summarise(ok, ok.iloc[0:0], by=["attacker_resources"])
        summary = summary[summary["role"] == "all"].assign(_group=summary["attacker_resources"])
        _rate_bars(axis, summary, levels, [str(v) for v in levels], colours, ["nash"])
        axis.set_title("coverage not a Nash strategy\nof the pooled game", fontsize=8)
        axis.set_ylabel("share of instances")
    if len(instances):
        axis = next(panels)
        _bars(
            axis,
            instances.assign(difference=instances["welfare"] - instances["nse_welfare"]),
            "attacker_resources",
            "difference",
            colours,
        )
        axis.set_title("total utility minus the status-quo NSE's", fontsize=8)
        axis.axhline(0, color="black", lw=0.6)
    for profile in profiles:
        axis = next(panels)
        part = sims[sims["profile"] == profile]
        per_round = (
            part.groupby(
                [
                    "mechanism",
                    "attacker_resources",
                    "grid_point",
                    "replication",
                    "focal_defender",
                    "round",
                ],
                dropna=False,
            )["realised_utility"]
            .sum()
            .reset_index()
        )
        _bars(axis, per_round, "attacker_resources", "realised_utility", colours)
        axis.set_title(f"simulated total realised utility\nper round ({profile})", fontsize=8)
        axis.axhline(0, color="black", lw=0.6)
    for axis in axes:
        axis.set_xlabel("attacker resources n_a")
    _legend(axes[-1], colours, bars=True)
    caption = (
        "Not Nash: share of instances whose coverage is not the defender's part of any "
        "Nash equilibrium of the pooled game (one defender with the defenders' summed "
        "payoffs and all resources), exact 95% Clopper-Pearson intervals, n under each "
        "bar. Utilities are additive over the attacked targets; mechanisms that plan for "
        "one attack meet the others through the attacker's best response. Other bars: "
        "means with 95% bootstrap confidence intervals." + _notes(notes)
    )
    table = audits if len(audits) else rounds
    return _finish(fig, f"{_study(table, study)}: attacker resources", caption)


def attack_levels(audits: pd.DataFrame, rounds: pd.DataFrame) -> list[int]:
    """The attacker resources a dataset's games and simulated attackers have."""
    levels = set()
    for table in (audits, rounds):
        if "attacker_resources" in table:
            levels |= {int(v) for v in table["attacker_resources"].dropna()}
    return sorted(levels)


def _legend(axis: Axes, colours: dict[str, Any], *, bars: bool) -> None:
    """One legend entry per mechanism, outside the panel: a patch for bar figures, a
    line for line figures."""
    names = sorted(colours)
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=colours[m])
        if bars
        else plt.Line2D([], [], color=colours[m])
        for m in names
    ]
    axis.legend(handles, names, **LEGEND)


def _bars(axis: Axes, data: pd.DataFrame, x: str, y: str, colours: dict[str, Any]) -> None:
    """Mean of ``y`` per ``x`` and mechanism (hue), 95% bootstrap CIs, no legend."""
    sns.barplot(
        data=data,
        x=x,
        y=y,
        hue="mechanism",
        hue_order=sorted(data["mechanism"].unique()),
        palette=colours,
        errorbar=("ci", 95),
        n_boot=400,
        seed=0,
        ax=axis,
        err_kws={"linewidth": 0.8},
        saturation=1.0,
        legend=False,
    )
    axis.set_ylabel("")


def simulated_failure_rates(
    rounds: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    ax: Axes | None = None,
    min_gain: float = DEFAULT_MIN_GAIN,
    study: str | None = None,
    notes: Sequence[str] = (),
) -> Figure:
    """Simulations: the share of runs in which a strategic defender's misreport (SP)
    or deviation (IR) paid in some round, per behaviour profile; NA (no bar) where the
    profile never misreports or never deviates."""
    colours = mechanism_colours(rounds["mechanism"].unique())
    facets = _facets(rounds, by)
    fig, axes = _axes(len(facets), ax, 7.5, 3.6)
    for axis, (label, part) in zip(axes, facets, strict=True):
        summary = summarise(part.iloc[0:0], part, min_gain=min_gain) if len(part) else part
        if summary.empty:
            axis.set_axis_off()
            continue
        summary = summary[summary["role"] == "all"].assign(_group=lambda d: d["profile"])
        profiles = sorted(summary["profile"].unique())
        _rate_bars(axis, summary, profiles, profiles, colours, ["sp", "ir"])
        axis.set_title(label, fontsize=9)
    axes[0].set_ylabel("share of runs with a gain")
    axes[-1].legend(**LEGEND)
    caption = (
        f"{CI_CAPTION} Unit: the run (a replication of a condition; it fails when its "
        "strategic defender's expected gain exceeded "
        f"{min_gain:g} x her payoff range in some round); number under a bar: runs. No "
        "bar: the profile never misreports (SP) or never deviates (IR)." + _notes(notes)
    )
    return _finish(fig, f"{_study(rounds, study)}: simulations", caption)


def _instance_gains(audits: pd.DataFrame, rounds: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One gain per instance: the largest defender gain of an audited instance; a
    simulated strategic defender's mean gain over the rounds of a run (``keys``: more
    columns to keep, the facets)."""
    parts = []
    ok = audits[audits["status"] == "ok"]
    for kind in ("sp", "ir"):
        gains = ok.dropna(subset=[f"{kind}_gain"])
        if len(gains):
            group = ["mechanism", *keys, "grid_point", "replication"]
            best = gains.groupby(group, dropna=False)[f"{kind}_gain"].max()
            parts.append(
                best.rename("gain").reset_index().assign(kind=kind.upper(), source="audit")
            )
    sims = strategic_rounds(rounds)
    for kind, flag, inert in (("sp", "reporting", "truthful"), ("ir", "executing", "follow")):
        tested = sims[sims[flag] != inert]
        if len(tested):
            group = ["mechanism", *keys, "profile", "grid_point", "replication"]
            group += ["focal_defender", "defender"]
            mean = tested.groupby(group, dropna=False)[f"{kind}_gain"].mean()
            parts.append(
                mean.rename("gain").reset_index().assign(kind=kind.upper(), source="simulation")
            )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def gain_distributions(
    audits: pd.DataFrame,
    rounds: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    ax: Axes | None = None,
    study: str | None = None,
) -> Figure:
    """The SP and IR gains, one point per instance: the largest defender gain of an
    audited game, a strategic defender's mean gain over a simulated run (simulations
    of profiles that cannot gain are left out)."""
    table = audits if len(audits) else rounds
    keys = [name if name in table.columns else parameter_column(name) for name in by or []]
    data = _instance_gains(audits, rounds, keys)
    mechanisms = sorted({*audits["mechanism"].unique(), *rounds["mechanism"].unique()})
    colours = mechanism_colours(mechanisms)
    # a row per facet, a column per (source, kind) that the study tested
    combos = sorted(set(zip(data["source"], data["kind"], strict=True))) if len(data) else []
    panels = [
        (
            f"{kind} gain, {source}" + (f"\n{label}" if label else ""),
            part[(part["source"] == source) & (part["kind"] == kind)],
        )
        for label, part in (_facets(data, by) if len(data) else [])
        for source, kind in combos
    ]
    columns = max(len(combos), 1)
    fig, axes = _axes(max(len(panels), 1), ax, 3.4, 3.4, columns)
    if not panels:
        axes[0].text(0.5, 0.5, "no SP or IR gains tested", ha="center", va="center")
        axes[0].set_axis_off()
    for axis, (title, part) in zip(axes[: len(panels)], panels, strict=True):
        axis.set_title(title, fontsize=8)
        if part.empty:  # tested elsewhere in the study, not in this facet
            axis.text(0.5, 0.5, "not tested", ha="center", va="center", transform=axis.transAxes)
            axis.set_xticks([])
            continue
        order = [m for m in mechanisms if m in set(part["mechanism"])]
        sns.stripplot(
            data=part,
            x="mechanism",
            y="gain",
            hue="mechanism",
            palette=colours,
            order=order,
            size=2.2,
            alpha=0.5,
            jitter=0.3,
            legend=False,
            ax=axis,
        )
        counts = part.groupby("mechanism").size()
        axis.set_xticks(range(len(order)))
        axis.set_xticklabels(
            [f"{m}\n(n={counts[m]})" for m in order], rotation=60, ha="right", fontsize=6
        )
        axis.set_xlabel("")
        axis.axhline(0, color="black", lw=0.6)
    for axis in axes[::columns]:
        axis.set_ylabel("gain (true utility)")
    caption = (
        "One point per instance: the largest defender gain of an audited game; a strategic "
        "defender's expected gain averaged over the rounds of a simulated run. n: points."
    )
    return _finish(fig, f"{_study(table, study)}: gains", caption)


def welfare(
    audits: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    ax: Axes | None = None,
    study: str | None = None,
    notes: Sequence[str] = (),
) -> Figure:
    """Each mechanism's total defender utility minus the status-quo NSE's (left of the
    zero line: coordination lost welfare) and minus the pooled optimum's (at most 0),
    mean over instances with 95% t-intervals."""
    ok = audits[audits["status"] == "ok"].drop_duplicates(
        ["mechanism", "grid_point", "replication"]
    )
    colours = mechanism_colours(audits["mechanism"].unique())
    facets = _facets(ok, by)
    fig, axes = _axes(len(facets), ax, 5.5, 3.6)
    for axis, (label, part) in zip(axes, facets, strict=True):
        long = pd.concat(
            [
                part.assign(
                    reference="vs status-quo NSE", difference=part["welfare"] - part["nse_welfare"]
                ),
                part.assign(
                    reference="vs pooled optimum",
                    difference=part["welfare"] - part["pooled_welfare"],
                ),
            ]
        ).dropna(subset=["difference"])
        _bars(axis, long, "reference", "difference", colours)
        n = part.groupby("mechanism").size()
        axis.set_title(
            f"{label}  (n = {int(n.min()) if len(n) else 0} instances per bar)".strip(), fontsize=9
        )
        axis.axhline(0, color="black", lw=0.6)
        axis.set_xlabel("")
    axes[0].set_ylabel("total defender utility difference")
    _legend(axes[-1], colours, bars=True)
    caption = (
        "Mean over instances of the mechanism's total defender utility minus that of the "
        "status-quo NSE and of the pooled optimum (the best total over the outcome space, "
        "with jurisdictions over the coverages the defenders' own resources implement; "
        "against several attacks, the utilitarian Stackelberg value); "
        "bars: 95% bootstrap confidence intervals." + _notes(notes)
    )
    return _finish(fig, f"{_study(audits, study)}: welfare", caption)


def prices(
    audits: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    ax: Axes | None = None,
    study: str | None = None,
    notes: Sequence[str] = (),
) -> Figure | None:
    """The prices of anarchy and stability of the instances (``docs/nse.md`` §3.4): the
    pooled optimum over the worst and the best NSE welfare, per instance, where the
    NSE extremes were computed exactly and both welfares are positive. None when no
    instance has them."""
    ok = audits[audits["status"] == "ok"]
    if "nse_extremes" not in ok or not ok["nse_extremes"].eq("exact").any():
        return None
    instances = ok.drop_duplicates(["grid_point", "replication"])
    facets = _facets(instances, by)
    fig, axes = _axes(len(facets), ax, 4.0, 3.2)
    for axis, (label, part) in zip(axes, facets, strict=True):
        exact = part[part["nse_extremes"] == "exact"]
        long = pd.concat(
            [
                exact.assign(price="anarchy", value=exact["price_of_anarchy"]),
                exact.assign(price="stability", value=exact["price_of_stability"]),
            ]
        ).dropna(subset=["value"])
        long["value"] = long["value"].astype(float)
        if len(long):
            groups = [
                long.loc[long["price"] == p, "value"].to_numpy() for p in ("anarchy", "stability")
            ]
            axis.boxplot(groups, positions=[0, 1], widths=0.5, showfliers=False)
            sns.stripplot(
                data=long,
                x="price",
                y="value",
                order=["anarchy", "stability"],
                ax=axis,
                size=2.5,
                color="0.25",
            )
        defined = exact["price_of_anarchy"].notna().sum()
        axis.set_title(f"{label}  ({defined} of {len(part)} instances)".strip(), fontsize=9)
        axis.set_xticks([0, 1], ["price of anarchy", "price of stability"])
        axis.axhline(1, color="black", lw=0.6)
        axis.set_yscale("log")
        axis.set_xlabel("")
    axes[0].set_ylabel("pooled optimum / NSE welfare (log scale)")
    caption = (
        "Per instance, the pooled optimum welfare over the worst NSE welfare (price of "
        "anarchy) and over the best (price of stability), where the NSE extremes are "
        "computed exactly (at most two defenders with resources, no jurisdictions, at most "
        "12 attackable targets) and both welfares are positive (boxes: quartiles and median; "
        "points: instances); the titles count those instances. The differences are the "
        "audits table's anarchy_gap and stability_gap." + _notes(notes)
    )
    return _finish(fig, f"{_study(audits, study)}: prices of anarchy and stability", caption)


def learning_curves(
    rounds: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    ax: Axes | None = None,
    min_gain: float = DEFAULT_MIN_GAIN,
    study: str | None = None,
    notes: Sequence[str] = (),
) -> Figure:
    """The share of strategic defenders whose misreport or deviation paid, by round,
    per mechanism and profile, with 95% bands over runs."""
    sims = strategic_rounds(rounds)
    colours = mechanism_colours(rounds["mechanism"].unique())
    facets = _facets(sims, by)
    strategic = (sims["reporting"] != "truthful") | (sims["executing"] != "follow")
    profiles = sorted(sims.loc[strategic, "profile"].unique())  # the others cannot gain
    panels = [
        (label, profile, part[part["profile"] == profile])
        for label, part in facets
        for profile in profiles
    ]
    columns = max(len(profiles), 1)  # a row per facet, a column per profile
    fig, axes = _axes(max(len(panels), 1), ax, 3.6, 3.2, columns)
    ranges = sims["payoff_range"]
    paid = is_failure(sims["sp_gain"], ranges, min_gain) | is_failure(
        sims["ir_gain"], ranges, min_gain
    )
    sims = sims.assign(paid=paid.astype(float))
    for axis, (label, profile, part) in zip(axes, panels, strict=True):
        part = sims.loc[part.index]
        if part.empty:
            axis.set_axis_off()
            continue
        runs = (
            part.groupby(
                ["mechanism", "grid_point", "replication", "focal_defender", "round"], dropna=False
            )["paid"]
            .mean()
            .reset_index()
        )
        sns.lineplot(
            data=runs,
            x="round",
            y="paid",
            hue="mechanism",
            palette=colours,
            errorbar=("ci", 95),
            n_boot=400,
            seed=0,
            ax=axis,
            legend=False,
        )
        n = (
            runs.drop_duplicates(["mechanism", "grid_point", "replication", "focal_defender"])
            .groupby("mechanism")
            .size()
        )
        axis.set_title(
            f"{profile} {label}\n(n = {int(n.min()) if len(n) else 0} runs per line)", fontsize=8
        )
        axis.set_ylim(-0.02, 1.02)
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    if not panels:
        axes[0].set_axis_off()
    for axis in axes[::columns]:
        axis.set_ylabel("share of strategic defenders gaining")
    _legend(axes[-1], colours, bars=False)
    caption = (
        f"Mean over runs of the share of strategic defenders whose expected SP or IR gain "
        f"exceeds {min_gain:g} x her payoff range; bands: 95% bootstrap confidence intervals. "
        "Profiles whose defenders neither misreport nor deviate are not drawn." + _notes(notes)
    )
    return _finish(fig, f"{_study(rounds, study)}: learning", caption)


def _save(fig: Figure, folder: Path, name: str) -> list[Path]:
    """Write ``fig`` as PNG and PDF into ``folder``, each file atomically (a kill leaves
    the old file or the new one, never a part)."""
    paths = []
    for ext in ("png", "pdf"):
        path = folder / f"{name}.{ext}"
        buffer = io.BytesIO()
        fig.savefig(
            buffer,
            format=ext,
            dpi=130,
            bbox_inches="tight",
            metadata={"CreationDate": None} if ext == "pdf" else None,
        )
        atomic_write(folder, path, buffer.getvalue())
        paths.append(path)
    plt.close(fig)
    return paths


def figure_folder(target: Path) -> Path:
    """Create the folder figures are written into; refuse a symbolic link (the files
    would land outside the study), a file, or a folder that cannot be made."""
    check_path(target, "plot --out")
    if target.is_symlink():
        raise StudyIOError(
            f"plot --out {str(target)!r} is a symbolic link; refusing to write through it"
        )
    if target.exists() and not target.is_dir():
        raise StudyIOError(f"plot --out {str(target)!r} is a file, not a directory")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudyIOError(f"cannot create plot --out {str(target)!r}: {exc.strerror}") from None
    return target


def plot_study(
    out: str | Path,
    folder: str | Path | None = None,
    *,
    by: Sequence[str] | None = None,
    min_gain: float | None = None,
) -> list[Path]:
    """Every figure (PNG and PDF), ``report.md`` and ``report.html`` for the study in
    ``out``; returns the paths. ``by`` defaults to the swept parameter when the grid
    varies exactly one; ``min_gain`` to the study's."""
    root = Path(out)
    target = Path(folder) if folder is not None else root / "figures"
    figure_folder(target)
    manifest = read_manifest(root) or {}
    audits, rounds = read_dataset(root, "audits"), read_dataset(root, "rounds")
    sweep = swept(manifest)
    grouping = list(sweep if by is None else by)  # the report's tables: by the design
    if by is None:
        by = sweep if len(sweep) == 1 else []
    threshold = float(manifest.get("min_gain", DEFAULT_MIN_GAIN)) if min_gain is None else min_gain
    sns.set_theme(style="whitegrid", context="paper")
    notes = coinciding(audits)
    common: dict[str, Any] = {"by": by, "notes": notes}
    figures: list[tuple[str, Figure]] = []
    if len(audits):
        figures.append(("failure_rates", failure_rates(audits, min_gain=threshold, **common)))
        figures.append(("welfare", welfare(audits, **common)))
        price_figure = prices(audits, **common)
        if price_figure is not None:
            figures.append(("prices", price_figure))
    if len(rounds):
        figures.append(
            (
                "simulated_failure_rates",
                simulated_failure_rates(rounds, min_gain=threshold, **common),
            )
        )
        figures.append(("learning_curves", learning_curves(rounds, min_gain=threshold, **common)))
    figures.append(("gain_distributions", gain_distributions(audits, rounds, by=by)))
    if len(attack_levels(audits, rounds)) > 1 or "nash" in _tested(audits):
        figures.append(("attack_strength", attack_strength(audits, rounds, notes=notes)))
    paths: list[Path] = []
    for name, fig in figures:
        paths += _save(fig, target, name)
    summary = summarise(audits, rounds, by=grouping, min_gain=threshold)
    paths += write_report(
        target,
        manifest,
        summary,
        audits,
        rounds,
        [p for p in paths if p.suffix == ".png"],
        by=grouping,
        notes=notes,
    )
    return paths
