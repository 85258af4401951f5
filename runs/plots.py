"""Paper-ready figures of a study, drawn from its dataset only (matplotlib + seaborn).

Every function takes tables of :func:`runs.export.read_dataset` and returns a
``matplotlib.figure.Figure`` sized for a paper (``size="single"``: one column, 3.4 in;
``"double"``: two columns, 7 in; :mod:`runs.style`), with its panels in a grid of rows
and columns and the legend under them, or None when the study tested nothing it
would show:

* :func:`failure_rates` -- one-shot audits, a panel per property tested (PE, weak and
  strong UP, SP, IR, not Nash): the share of instances that fail (solid, with exact
  95% Clopper-Pearson intervals) and that are undetermined (hatched);
* :func:`simulated_failure_rates` -- the share of simulated runs in which a strategic
  defender's misreport (SP) or deviation (IR) paid, per profile that tests it;
* :func:`gain_distributions` -- the gains, one point per instance (simulated rounds
  averaged);
* :func:`welfare` -- each mechanism's welfare relative to the status-quo NSE and to the
  pooled optimum;
* :func:`prices` -- the prices of anarchy and stability per instance, where the NSE
  extremes are exact;
* :func:`learning_curves` -- for the profiles that learn, the share of strategic
  defenders gaining, round by round, with 95% bands;
* :func:`attack_strength` -- against attackers with several resources: the share of
  coverages that are not Nash strategies, welfare against the NSE and simulated
  welfare, by ``attacker_resources``;
* :func:`logit_attacker` -- against a logit attacker (quantal response, SUQR): the
  welfare when everyone follows and the largest gain of a best deviation.

``by`` names the generator parameters along the x axis of each panel (the swept
parameter, for a study's own figures). ``panels`` keeps only some panels; ``ax``
draws a figure of one panel into an existing axes and draws nothing else there (no
title, no caption). A figure's caption is not drawn on it: :func:`caption` returns it
(the report prints it under the figure, a paper's ``\\caption`` can quote it). Every
mechanism has the same colour and marker in every study (:mod:`runs.style`).
:func:`plot_study` writes them all for a study directory with ``report.md`` and a
self-contained ``report.html`` (:mod:`runs.report`).
"""

from __future__ import annotations

import functools
import io
import itertools
import re
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch

from runs.export import read_dataset, read_manifest, swept
from runs.report import Figured, convergence_warnings, tested_properties, write_report
from runs.schema import parameter_column
from runs.sensitivity import study_sensitivity
from runs.studydir import atomic_write, check_path
from runs.style import COLUMNS, DPI, FORMATS, check_size, figure_style, mechanism_style
from runs.summary import (
    DEFAULT_MIN_GAIN,
    PROPERTY_LABELS,
    strategic_rounds,
    summarise,
)
from sim.errors import InvalidConfigError, StudyIOError
from sim.numerics import is_failure
from sim.stats import clopper_pearson

#: The captions of the figures drawn here (:func:`caption`).
_CAPTIONS: weakref.WeakKeyDictionary[Figure, str] = weakref.WeakKeyDictionary()

#: The behaviours whose choices change with what they have seen.
LEARNERS = {"reporting": "learning_misreport", "executing": "learning_deviation"}

#: The tallest row of panels, in inches (a figure of one or two panels stays short).
MAX_ROW_HEIGHT = 2.6

#: A hatched segment: the undetermined share of a bar.
HATCH = "//////"


def caption(fig: Figure) -> str:
    """The caption of a figure drawn by this module ("" for any other figure)."""
    return _CAPTIONS.get(fig, "")


def mechanism_colours(mechanisms: Sequence[str]) -> dict[str, Any]:
    """Mechanism -> its colour (:func:`runs.style.mechanism_style`)."""
    return {name: mechanism_style(name).colour for name in sorted(set(mechanisms))}


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


def _columns(table: pd.DataFrame, by: Sequence[str] | None) -> list[str]:
    """The columns of the ``by`` parameters; an InvalidConfigError names any missing."""
    columns = [name if name in table.columns else parameter_column(name) for name in by or []]
    missing = [n for n, c in zip(by or [], columns, strict=True) if c not in table.columns]
    if missing:
        raise InvalidConfigError(f"plots: by={missing} are not parameters of this dataset")
    return columns


def _grouped(table: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """``table`` with a ``_group`` label per row (its ``columns``' values, comma-
    separated) and the labels in sorted order of the values."""
    if not columns:
        return table.assign(_group=""), [""]
    keys = table[list(columns)].astype(object).where(table[list(columns)].notna(), "NA")
    # the values alone: the axis label names the parameters in the same order
    labels = keys.astype(str).agg(", ".join, axis=1)
    ordered = table.assign(_group=labels).sort_values(list(columns), kind="stable")
    return ordered, list(dict.fromkeys(ordered["_group"]))


def _x_label(columns: Sequence[str]) -> str:
    return ", ".join(c.removeprefix("param_") for c in columns)


def _select(keys: Sequence[str], panels: Sequence[str] | None, ax: Axes | None) -> list[str]:
    """The panels to draw: ``panels`` (each one of ``keys``) or all; one with ``ax``."""
    if panels is not None:
        unknown = [p for p in panels if p not in keys]
        if unknown:
            raise InvalidConfigError(
                f"plots: panels {unknown} not drawn here; choose from {list(keys)}"
            )
        keys = [k for k in keys if k in panels]
    if ax is not None and len(keys) != 1:
        raise InvalidConfigError(
            f"plots: ax draws one panel; this figure has {list(keys)}: pass panels=[one of them]"
        )
    return list(keys)


def _grid(
    count: int, ax: Axes | None, size: str, aspect: float = 0.8, sharey: bool = True
) -> tuple[Figure, list[Axes]]:
    """``count`` panels in rows of :data:`runs.style.COLUMNS` at the width of ``size``
    (each ``aspect`` times as high as wide), or ``ax`` alone."""
    if ax is not None:
        return ax.figure, [ax]  # type: ignore[return-value]
    width = check_size(size)
    rows = -(-count // COLUMNS[size])
    columns = -(-count // rows)  # balanced: four panels are two rows of two
    row_height = min(width / columns * aspect, MAX_ROW_HEIGHT)
    height = rows * row_height + 0.45  # the legend's row
    fig = plt.figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False, sharey=sharey)
    for spare in axes.ravel()[count:]:  # a last row that is not full
        spare.remove()
    return fig, list(axes.ravel()[:count])


def _finish(
    fig: Figure, ax: Axes | None, handles: Sequence[Any], labels: Sequence[str], text: str
) -> Figure:
    """The legend under the grid (in ``ax``, inside, for a user's axes); the caption
    kept for :func:`caption`."""
    if handles:
        if ax is None:
            fig.legend(
                handles,
                labels,
                loc="outside lower center",
                ncol=_legend_columns(fig, labels, 3 if fig.get_figwidth() < 5 else 5),
                frameon=False,
                handlelength=1.2,
                columnspacing=1.0,
            )
        else:
            ax.legend(handles, labels, frameon=False, fontsize="x-small")
    _CAPTIONS[fig] = text
    return fig


def _legend_columns(fig: Figure, labels: Sequence[str], most: int) -> int:
    """The most legend columns (at most ``most``) whose labels fit the figure's width,
    estimated from their lengths in characters (a long parametrised mechanism name
    takes a row of its own rather than run off the page)."""
    size = FontProperties(size=plt.rcParams["legend.fontsize"]).get_size_in_points()
    for columns in range(min(len(labels), most), 1, -1):
        # matplotlib fills the columns in order, the first len % columns one longer
        sizes = [len(labels) // columns + (j < len(labels) % columns) for j in range(columns)]
        ends = np.cumsum(sizes)
        widths = [
            max(map(len, labels[end - size : end])) for size, end in zip(sizes, ends, strict=True)
        ]
        # a character is about 0.6 em; the handle, its pad and the spacing about 3 em
        if sum(0.6 * w + 3.0 for w in widths) * size / 72 <= 0.95 * fig.get_figwidth():
            return columns
    return 1


def _mechanism_handles(names: Sequence[str], *, bars: bool) -> tuple[list[Any], list[str]]:
    names = sorted(set(names))
    handles: list[Any] = []
    for name in names:
        style = mechanism_style(name)
        if bars:
            handles.append(Patch(facecolor=style.colour, edgecolor="0.15", linewidth=0.3))
        else:
            handles.append(plt.Line2D([], [], color=style.colour, marker=style.marker))
    return handles, names


def _notes(notes: Sequence[str]) -> str:
    return "" if not notes else " Note: " + "; ".join(notes) + " (drawn on top of each other)."


def _count_range(counts: Sequence[int]) -> str:
    counts = sorted(set(int(c) for c in counts))
    if not counts:
        return "0"
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


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


# -- failure rates --------------------------------------------------------------------
def _composition(row: pd.Series, prop: str) -> tuple[float, float, float, float, int] | None:
    """(failed share, its interval's ends, undetermined share, tested units) of a
    summary cell; None when the property was not tested there."""
    undetermined = row.get(f"{prop}_failure_undetermined")
    if undetermined is None or pd.isna(undetermined):
        return None
    n = int(row[f"{prop}_failure_n"])
    if n == 0:
        return 0.0, 0.0, 0.0, 1.0, 0
    tested = round(n / (1.0 - undetermined))
    failed = round(float(row[f"{prop}_failure_rate"]) * n)
    low, high = clopper_pearson(failed, tested)
    return failed / tested, low, high, float(undetermined), tested


def _rate_panel(
    axis: Axes, summary: pd.DataFrame, groups: Sequence[str], prop: str
) -> tuple[list[int], bool]:
    """Per group and mechanism, a bar of the failed share (whiskers: its interval) with
    the undetermined share stacked on it, hatched; "NA" where the cell was not tested.
    Returns the tested units of the bars and whether any was undetermined."""
    mechanisms = sorted(summary["mechanism"].unique())
    width = 0.8 / max(len(mechanisms), 1)
    counts: list[int] = []
    hatched = False
    for j, mechanism in enumerate(mechanisms):
        colour = mechanism_style(mechanism).colour
        rows = summary[summary["mechanism"] == mechanism]
        for x, group in enumerate(groups):
            row = rows[rows["_group"] == group]
            position = x - 0.4 + width * (j + 0.5)
            cell = None if row.empty else _composition(row.iloc[0], prop)
            if cell is None:
                axis.text(
                    position,
                    0.02,
                    "NA",
                    rotation=90,
                    ha="center",
                    va="bottom",
                    fontsize=4.5,
                    color="0.45",
                )
                continue
            failed, low, high, undetermined, tested = cell
            if tested:
                counts.append(tested)
                axis.bar(
                    position,
                    failed,
                    width,
                    color=colour,
                    edgecolor="0.15",
                    linewidth=0.3,
                    yerr=[[failed - low], [high - failed]],
                    capsize=1.2,
                    error_kw={"lw": 0.6, "capthick": 0.6},
                )
            if undetermined > 0:
                hatched = True
                axis.bar(
                    position,
                    undetermined,
                    width,
                    bottom=failed,
                    color="white",
                    edgecolor=colour,
                    hatch=HATCH,
                    linewidth=0.4,
                )
    axis.set_xlim(-0.5, len(groups) - 0.5)
    axis.set_xticks(range(len(groups)), [_wrapped(g) for g in groups])
    axis.set_ylim(0, 1.02)
    axis.grid(False, axis="x")
    return counts, hatched


def _rate_figure(
    summary: pd.DataFrame,
    keys: Sequence[str],
    titles: dict[str, str],
    groups_of: Callable[[str], tuple[pd.DataFrame, list[str]]],
    *,
    ax: Axes | None,
    size: str,
    x_label: str,
    y_label: str,
) -> tuple[Figure, list[int], bool]:
    fig, axes = _grid(len(keys), ax, size)
    counts: list[int] = []
    hatched = False
    for axis, key in zip(axes, keys, strict=True):
        part, groups = groups_of(key)
        drawn, undetermined = _rate_panel(axis, part, groups, key)
        counts += drawn
        hatched |= undetermined
        if ax is None:
            axis.set_title(titles[key])
        axis.set_xlabel(x_label)
    for axis in axes:
        spec = axis.get_subplotspec()
        if spec is None or spec.is_first_col():
            axis.set_ylabel(y_label)
    return fig, counts, hatched


def _rate_legend(mechanisms: Sequence[str], hatched: bool) -> tuple[list[Any], list[str]]:
    handles, labels = _mechanism_handles(mechanisms, bars=True)
    if hatched:
        handles.append(Patch(facecolor="white", edgecolor="0.3", hatch=HATCH, linewidth=0.4))
        labels.append("undetermined")
    return handles, labels


def failure_rates(
    audits: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    panels: Sequence[str] | None = None,
    ax: Axes | None = None,
    size: str = "double",
    min_gain: float = DEFAULT_MIN_GAIN,
    notes: Sequence[str] = (),
) -> Figure | None:
    """One-shot audits, a panel per property the study tested (``panels``: some of
    ``pe``, ``weak_up``, ``strong_up``, ``sp``, ``ir``, ``nash``).

    Per value of the ``by`` parameters (those where the property was tested) and
    mechanism, the solid bar is the share of
    the tested instances that fail (a game fails a property when some defender
    fails it) with its exact 95% Clopper-Pearson interval, the hatched segment on it
    the share whose verdict is undetermined (UP against NSE bounds, ``docs/nse.md``
    §3): the failure rate lies between the solid top and the hatched top. SP is
    found by a search: its bars are lower bounds. None when no audit ran.
    """
    ok = audits[audits["status"] == "ok"] if len(audits) else audits
    if ok.empty:
        return None
    columns = _columns(ok, by)
    summary = summarise(ok, ok.iloc[0:0], by=columns, min_gain=min_gain)
    summary, groups = _grouped(summary[summary["role"] == "all"], columns)
    keys = _select(tested_properties(summary), panels, ax)
    if not keys:
        return None

    def groups_of(prop: str) -> tuple[pd.DataFrame, list[str]]:
        tested = set(summary.loc[summary[f"{prop}_failure_undetermined"].notna(), "_group"])
        return summary, [g for g in groups if g in tested]

    fig, counts, hatched = _rate_figure(
        summary,
        keys,
        {p: f"{PROPERTY_LABELS[p]}" + (" (at least)" if p == "sp" else "") for p in keys},
        groups_of,
        ax=ax,
        size=size,
        x_label=_x_label(columns),
        y_label="share of instances",
    )
    unconverged = convergence_warnings(summary.drop(columns="_group"))
    budget = ok["sp_budget"].dropna() if "sp_budget" in ok else pd.Series(dtype=float)
    text = (
        "Share of the tested instances failing each property (solid; a game fails when "
        "some defender fails) with exact 95% Clopper-Pearson intervals, and the share "
        "whose verdict is undetermined (hatched; UP against the NSE bounds, docs/nse.md "
        f"§3). n = {_count_range(counts)} instances per bar. Failure: gain > {min_gain:g} "
        "x the defender's payoff range."
        + (
            f" SP is at least: a search of {int(budget.min())} reports per defender."
            if "sp" in keys and len(budget)
            else ""
        )
        + (
            " Not converged: " + "; ".join(unconverged) + "."
            if unconverged and "sp" in keys
            else ""
        )
        + _notes(notes)
    )
    return _finish(fig, ax, *_rate_legend(summary["mechanism"].unique(), hatched), text)


def simulated_failure_rates(
    rounds: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    panels: Sequence[str] | None = None,
    ax: Axes | None = None,
    size: str = "double",
    min_gain: float = DEFAULT_MIN_GAIN,
    notes: Sequence[str] = (),
) -> Figure | None:
    """Simulations, a panel for SP and one for IR (``panels``: ``sp``, ``ir``): the
    share of runs in which a strategic defender's misreport or deviation paid in some
    round, per behaviour profile that misreports (SP) or deviates (IR) and value of
    the ``by`` parameters. None when no profile does either."""
    ok = rounds[rounds["status"] == "ok"] if len(rounds) else rounds
    if ok.empty:
        return None
    columns = _columns(ok, by)
    summary = summarise(ok.iloc[0:0], ok, by=columns, min_gain=min_gain)
    summary = summary[summary["role"] == "all"]
    keys = _select(tested_properties(summary, ["sp", "ir"]), panels, ax)
    if not keys:
        return None

    def groups_of(prop: str) -> tuple[pd.DataFrame, list[str]]:
        part = summary[summary[f"{prop}_failure_undetermined"].notna()]
        part, facets = _grouped(part, columns)
        profiles = sorted(part["profile"].unique())
        label = part["profile"] + np.where(part["_group"] == "", "", "\n" + part["_group"])
        order = [p + (f"\n{f}" if f else "") for p, f in itertools.product(profiles, facets)]
        return part.assign(_group=label), [g for g in order if g in set(label)]

    fig, counts, _ = _rate_figure(
        summary,
        keys,
        {"sp": "SP: a misreport paid", "ir": "IR: a deviation paid"},
        groups_of,
        ax=ax,
        size=size,
        x_label="profile" + (f", {_x_label(columns)}" if columns else ""),
        y_label="share of runs",
    )
    text = (
        "Share of simulated runs (a replication of a condition) in which the strategic "
        f"defender's expected gain exceeded {min_gain:g} x her payoff range in some round, "
        "with exact 95% Clopper-Pearson intervals; only the profiles that misreport (SP) "
        f"or deviate (IR) are drawn. n = {_count_range(counts)} runs per bar." + _notes(notes)
    )
    return _finish(fig, ax, *_rate_legend(summary["mechanism"].unique(), False), text)


# -- distributions and means ----------------------------------------------------------
def _instance_gains(audits: pd.DataFrame, rounds: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One gain per instance: the largest defender gain of an audited instance; a
    simulated strategic defender's mean gain over the rounds of a run (``keys``: more
    columns to keep)."""
    parts = []
    ok = audits[audits["status"] == "ok"] if len(audits) else audits
    for kind in ("sp", "ir"):
        gains = ok.dropna(subset=[f"{kind}_gain"]) if len(ok) else ok
        if len(gains):
            group = ["mechanism", *keys, "grid_point", "replication"]
            best = gains.groupby(group, dropna=False)[f"{kind}_gain"].max()
            parts.append(best.rename("gain").reset_index().assign(kind=kind, source="audit"))
    sims = strategic_rounds(rounds) if len(rounds) else rounds
    for kind, flag, inert in (("sp", "reporting", "truthful"), ("ir", "executing", "follow")):
        tested = sims[sims[flag] != inert] if len(sims) else sims
        if len(tested):
            group = ["mechanism", *keys, "profile", "grid_point", "replication"]
            group += ["focal_defender", "defender"]
            mean = tested.groupby(group, dropna=False)[f"{kind}_gain"].mean()
            parts.append(mean.rename("gain").reset_index().assign(kind=kind, source="simulation"))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _by_mechanism(data: pd.DataFrame, y: str, groups: Sequence[str]) -> dict[str, Any]:
    """Seaborn's arguments for ``y`` per group (x) and mechanism (hue, in its colour)."""
    mechanisms = sorted(data["mechanism"].unique())
    return {
        "data": data,
        "x": "_group",
        "y": y,
        "hue": "mechanism",
        "order": list(groups),
        "hue_order": mechanisms,
        "palette": mechanism_colours(mechanisms),
    }


def _dodged_strips(axis: Axes, data: pd.DataFrame, y: str, groups: Sequence[str]) -> None:
    """One point per row at its group, dodged by mechanism, in its mechanism's colour."""
    sns.stripplot(
        **_by_mechanism(data, y, groups),
        dodge=True,
        size=1.8,
        alpha=0.55,
        jitter=0.25,
        legend=False,
        ax=axis,
    )
    axis.set_xticks(range(len(groups)), [_wrapped(g) for g in groups])


def gain_distributions(
    audits: pd.DataFrame,
    rounds: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    panels: Sequence[str] | None = None,
    ax: Axes | None = None,
    size: str = "double",
) -> Figure | None:
    """The SP and IR gains, one point per instance, a panel per source and property
    tested (``panels``: ``sp_audit``, ``ir_audit``, ``sp_simulation``,
    ``ir_simulation``): the largest defender gain of an audited game, a strategic
    defender's mean gain over a simulated run. None when nothing was tested."""
    table = audits if len(audits) else rounds
    columns = _columns(table, by)
    data = _instance_gains(audits, rounds, columns)
    if data.empty:
        return None
    data, groups = _grouped(data, columns)
    present = set(zip(data["kind"], data["source"], strict=True))
    order = [(k, s) for s in ("audit", "simulation") for k in ("sp", "ir") if (k, s) in present]
    keys = _select([f"{k}_{s}" for k, s in order], panels, ax)
    fig, axes = _grid(len(keys), ax, size, sharey=False)
    for axis, key in zip(axes, keys, strict=True):
        kind, source = key.split("_")
        part = data[(data["kind"] == kind) & (data["source"] == source)]
        _dodged_strips(axis, part, "gain", groups)
        axis.axhline(0, color="black", lw=0.5)
        if ax is None:
            axis.set_title(f"{kind.upper()} gain, {source} (n = {len(part)})")
        axis.set_xlabel(_x_label(columns))
        axis.set_ylabel("gain (true utility)")
    text = (
        "One point per instance: the largest defender gain of an audited game; a strategic "
        "defender's expected gain averaged over the rounds of a simulated run. n: points."
    )
    return _finish(fig, ax, *_mechanism_handles(data["mechanism"].unique(), bars=True), text)


def _mean_bars(axis: Axes, data: pd.DataFrame, y: str, groups: Sequence[str]) -> None:
    """Mean of ``y`` per group and mechanism with 95% bootstrap intervals."""
    sns.barplot(
        **_by_mechanism(data, y, groups),
        errorbar=("ci", 95),
        n_boot=400,
        seed=0,
        ax=axis,
        err_kws={"linewidth": 0.6},
        saturation=1.0,
        edgecolor="0.15",
        linewidth=0.3,
        legend=False,
    )
    axis.set_xticks(range(len(groups)), [_wrapped(g) for g in groups])
    axis.axhline(0, color="black", lw=0.5)
    axis.grid(False, axis="x")


def welfare(
    audits: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    panels: Sequence[str] | None = None,
    ax: Axes | None = None,
    size: str = "double",
    notes: Sequence[str] = (),
) -> Figure | None:
    """Each mechanism's total defender utility minus the status-quo NSE's (below zero:
    coordination lost welfare) and minus the pooled optimum's (at most 0), a panel
    each (``panels``: ``nse``, ``pooled``), mean over instances with 95% bootstrap
    intervals. None when no audit ran."""
    if audits.empty:
        return None
    ok = audits[audits["status"] == "ok"].drop_duplicates(
        ["mechanism", "grid_point", "replication"]
    )
    if ok.empty:
        return None
    columns = _columns(ok, by)
    ok, groups = _grouped(ok, columns)
    references = {"nse": "nse_welfare", "pooled": "pooled_welfare"}
    titles = {"nse": "vs the status-quo NSE", "pooled": "vs the pooled optimum"}
    keys = _select([k for k, c in references.items() if ok[c].notna().any()], panels, ax)
    if not keys:
        return None
    fig, axes = _grid(len(keys), ax, size, sharey=False)
    for axis, key in zip(axes, keys, strict=True):
        part = ok.assign(difference=ok["welfare"] - ok[references[key]]).dropna(
            subset=["difference"]
        )
        _mean_bars(axis, part, "difference", groups)
        if ax is None:
            axis.set_title(f"welfare {titles[key]}")
        axis.set_xlabel(_x_label(columns))
        axis.set_ylabel("total utility difference")
    n = ok.groupby(["mechanism", "_group"]).size()
    text = (
        "Mean over instances of the mechanism's total defender utility minus that of the "
        "status-quo NSE and of the pooled optimum (the best total over the outcome space; "
        "with jurisdictions, over the coverages the defenders' own resources implement; "
        "against several attacks, the utilitarian Stackelberg value); 95% bootstrap "
        f"confidence intervals; n = {_count_range(n.tolist())} instances per bar." + _notes(notes)
    )
    return _finish(fig, ax, *_mechanism_handles(ok["mechanism"].unique(), bars=True), text)


def logit_attacker(
    audits: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    panels: Sequence[str] | None = None,
    ax: Axes | None = None,
    size: str = "double",
    notes: Sequence[str] = (),
) -> Figure | None:
    """Against the study's logit attacker (``docs/behavioural.md`` §4-§5), a panel each
    (``panels``): ``welfare``, the defenders' total expected utility when everyone
    follows, and ``ir_gain``, the largest gain of a defender's best deviation (the
    gain found: a lower bound within the optimiser's certified gap), mean over
    instances with 95% bootstrap intervals. None when no audit was against a logit
    attacker."""
    ok = audits[audits["status"] == "ok"] if len(audits) else audits
    if "logit_welfare" not in ok or not ok["logit_welfare"].notna().any():
        return None
    instance = ["mechanism", "grid_point", "replication"]
    columns = _columns(ok, by)
    largest = ok.groupby(instance, sort=False)["logit_ir_gain"].max().rename("largest_gain")
    data = ok.drop_duplicates(instance).join(largest, on=instance)
    data, groups = _grouped(data, columns)
    values = {"welfare": "logit_welfare", "ir_gain": "largest_gain"}
    titles = {"welfare": "welfare vs the logit attacker", "ir_gain": "best deviation's gain"}
    labels = {"welfare": "total expected utility", "ir_gain": "largest defender gain"}
    keys = _select([k for k, c in values.items() if data[c].notna().any()], panels, ax)
    fig, axes = _grid(len(keys), ax, size, sharey=False)
    for axis, key in zip(axes, keys, strict=True):
        _mean_bars(axis, data.dropna(subset=[values[key]]), values[key], groups)
        if ax is None:
            axis.set_title(titles[key])
        axis.set_xlabel(_x_label(columns))
        axis.set_ylabel(labels[key])
    n = data.dropna(subset=["logit_welfare"]).groupby(["mechanism", "_group"]).size()
    text = (
        "Against the study's logit attacker: the defenders' total expected utility when "
        "every defender follows the recommendation, and per instance the largest gain a "
        "defender's best deviation achieves (certified within 1e-3 of her payoff range, "
        "docs/behavioural.md §5); means with 95% bootstrap confidence intervals; "
        f"n = {_count_range(n.tolist())} instances per bar." + _notes(notes)
    )
    return _finish(fig, ax, *_mechanism_handles(data["mechanism"].unique(), bars=True), text)


def prices(
    audits: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    panels: Sequence[str] | None = None,
    ax: Axes | None = None,
    size: str = "double",
    notes: Sequence[str] = (),
) -> Figure | None:
    """The prices of anarchy and stability of the instances (``docs/nse.md`` §3.4), a
    panel each (``panels``: ``anarchy``, ``stability``): the pooled optimum over the
    worst and the best NSE welfare, per instance, where the NSE extremes were computed
    exactly and both welfares are positive. None when no instance has them."""
    ok = audits[audits["status"] == "ok"] if len(audits) else audits
    if "nse_extremes" not in ok or not ok["nse_extremes"].eq("exact").any():
        return None
    instances = ok.drop_duplicates(["grid_point", "replication"])
    columns = _columns(instances, by)
    instances, groups = _grouped(instances, columns)
    exact = instances[instances["nse_extremes"] == "exact"]
    keys = _select(
        [p for p in ("anarchy", "stability") if exact[f"price_of_{p}"].notna().any()], panels, ax
    )
    if not keys:
        return None
    priced = exact.dropna(subset=[f"price_of_{p}" for p in keys], how="all")
    groups = [g for g in groups if g in set(priced["_group"])]
    every = priced[[f"price_of_{p}" for p in keys]].astype(float)
    low, high = float(np.nanmin(every.to_numpy())), float(np.nanmax(every.to_numpy()))
    fig, axes = _grid(len(keys), ax, size, sharey=True)
    for axis, key in zip(axes, keys, strict=True):
        part = exact.dropna(subset=[f"price_of_{key}"]).astype({f"price_of_{key}": float})
        values = [part.loc[part["_group"] == g, f"price_of_{key}"].to_numpy() for g in groups]
        axis.boxplot(
            values,
            positions=range(len(groups)),
            widths=0.5,
            showfliers=False,
            medianprops={"color": "0.2", "linewidth": 0.8},
            boxprops={"linewidth": 0.6},
            whiskerprops={"linewidth": 0.6},
            capprops={"linewidth": 0.6},
        )
        sns.stripplot(
            data=part,
            x="_group",
            y=f"price_of_{key}",
            order=groups,
            color="0.25",
            size=1.8,
            alpha=0.6,
            jitter=0.2,
            ax=axis,
        )
        axis.set_xticks(range(len(groups)), [_wrapped(g) for g in groups])
        axis.axhline(1, color="black", lw=0.5)
        axis.set_yscale("log")
        axis.set_ylim(min(low, 1.0) / 1.15, max(high, 1.0) * 1.15)  # shared by the panels
        axis.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axis.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        if ax is None:
            axis.set_title(f"price of {key} ({len(part)} of {len(instances)})")
        axis.set_xlabel(_x_label(columns))
        axis.set_ylabel("pooled optimum / NSE welfare")
    text = (
        "Per instance, the pooled optimum welfare over the worst NSE welfare (price of "
        "anarchy) and over the best (price of stability), log scale, where the NSE extremes "
        "are computed exactly (at most two defenders with resources, no jurisdictions, at "
        "most 12 attackable targets) and both welfares are positive (boxes: quartiles and "
        "median; points: instances); panel titles: instances with a price, of all. "
        "The differences are the audits table's anarchy_gap "
        "and stability_gap." + _notes(notes)
    )
    return _finish(fig, ax, [], [], text)


def learning_profiles(rounds: pd.DataFrame) -> list[str]:
    """The behaviour profiles of ``rounds`` whose strategic defenders learn."""
    if rounds.empty:
        return []
    learns = np.zeros(len(rounds), dtype=bool)
    for column, name in LEARNERS.items():
        learns |= (rounds[column] == name).to_numpy()
    return sorted(rounds.loc[learns, "profile"].unique())


def learning_curves(
    rounds: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    panels: Sequence[str] | None = None,
    ax: Axes | None = None,
    size: str = "double",
    min_gain: float = DEFAULT_MIN_GAIN,
    notes: Sequence[str] = (),
) -> Figure | None:
    """For each profile that learns (``panels``: their names) and value of the ``by``
    parameters, a panel of the share of strategic defenders whose misreport or
    deviation paid, round by round (from 1), a line per mechanism in its colour and
    marker, with 95% bands over runs. None when no profile learns."""
    sims = strategic_rounds(rounds) if len(rounds) else rounds
    keys = _select(learning_profiles(sims), panels, ax)
    if not keys:
        return None
    columns = _columns(sims, by)
    sims, groups = _grouped(sims, columns)
    paid = is_failure(sims["sp_gain"], sims["payoff_range"], min_gain) | is_failure(
        sims["ir_gain"], sims["payoff_range"], min_gain
    )
    sims = sims.assign(paid=paid.astype(float), shown_round=sims["round"] + 1)
    cells = [
        (p, g)
        for p in keys
        for g in groups
        if len(sims[(sims["profile"] == p) & (sims["_group"] == g)])
    ]
    if ax is not None and len(cells) != 1:
        raise InvalidConfigError(
            f"plots: ax draws one panel; this figure has {len(cells)} (profile x {columns}): "
            "pass panels=[one profile] and no by="
        )
    fig, axes = _grid(len(cells), ax, size)
    mechanisms = sorted(sims["mechanism"].unique())
    unit = ["mechanism", "grid_point", "replication", "focal_defender"]
    counts = []
    for axis, (profile, group) in zip(axes, cells, strict=True):
        part = sims[(sims["profile"] == profile) & (sims["_group"] == group)]
        runs = part.groupby([*unit, "shown_round"], dropna=False)["paid"].mean().reset_index()
        counts += runs.drop_duplicates(unit).groupby("mechanism").size().tolist()
        shown = [m for m in mechanisms if m in set(runs["mechanism"])]
        sns.lineplot(
            data=runs,
            x="shown_round",
            y="paid",
            hue="mechanism",
            hue_order=shown,
            palette=mechanism_colours(shown),
            style="mechanism",
            style_order=shown,
            markers={m: mechanism_style(m).marker for m in shown},
            dashes=False,
            errorbar=("ci", 95),
            n_boot=400,
            seed=0,
            ax=axis,
            legend=False,
        )
        if ax is None:
            axis.set_title(profile + (f", {_x_label(columns)} = {group}" if group else ""))
        axis.set_ylim(-0.02, 1.02)
        axis.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        axis.set_xlabel("round")
        axis.set_ylabel("share gaining")
    text = (
        "Mean over runs of the share of strategic defenders whose expected SP or IR gain "
        f"exceeds {min_gain:g} x her payoff range, by round, for the profiles that learn; "
        f"bands: 95% bootstrap confidence intervals; n = {_count_range(counts)} runs per line."
        + _notes(notes)
    )
    return _finish(fig, ax, *_mechanism_handles(mechanisms, bars=False), text)


def attack_levels(audits: pd.DataFrame, rounds: pd.DataFrame) -> list[int]:
    """The attacker resources a dataset's games and simulated attackers have."""
    levels = set()
    for table in (audits, rounds):
        if "attacker_resources" in table:
            levels |= {int(v) for v in table["attacker_resources"].dropna()}
    return sorted(levels)


def attack_strength(
    audits: pd.DataFrame,
    rounds: pd.DataFrame,
    *,
    panels: Sequence[str] | None = None,
    ax: Axes | None = None,
    size: str = "double",
    notes: Sequence[str] = (),
) -> Figure | None:
    """How the mechanisms fare as the attacker's resources grow (Korzhyk, Conitzer,
    Parr 2011), x = ``attacker_resources``, a panel each (``panels``): ``nash``, the
    share of instances whose coverage is not a Nash strategy of the pooled game (when
    audited); ``welfare``, the total defender utility minus the status-quo NSE's; and
    per behaviour profile its name, the simulated total realised utility per round.
    None when the dataset has one attacker strength and no Nash audit."""
    ok = audits[audits["status"] == "ok"] if len(audits) else audits
    sims = rounds[rounds["status"] == "ok"] if len(rounds) else rounds
    nash = bool("nash_consistent" in ok and ok["nash_consistent"].notna().any())
    if len(attack_levels(audits, rounds)) < 2 and not nash:
        return None
    instances = ok.drop_duplicates(["mechanism", "grid_point", "replication"]) if len(ok) else ok
    profiles = sorted(sims["profile"].unique()) if len(sims) else []
    available = ["nash"] * nash + ["welfare"] * (len(instances) > 0) + profiles
    keys = _select(available, panels, ax)
    fig, axes = _grid(len(keys), ax, size, sharey=False)
    for axis, key in zip(axes, keys, strict=True):
        if key == "nash":
            summary = summarise(ok, ok.iloc[0:0], by=["attacker_resources"])
            summary, groups = _grouped(summary[summary["role"] == "all"], ["attacker_resources"])
            _rate_panel(axis, summary, groups, "nash")
            title, label = "not a Nash strategy", "share of instances"
        elif key == "welfare":
            part, groups = _grouped(
                instances.assign(difference=instances["welfare"] - instances["nse_welfare"]),
                ["attacker_resources"],
            )
            _mean_bars(axis, part, "difference", groups)
            title, label = "welfare vs the NSE", "total utility difference"
        else:
            part = sims[sims["profile"] == key]
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
            per_round, groups = _grouped(per_round, ["attacker_resources"])
            _mean_bars(axis, per_round, "realised_utility", groups)
            title, label = f"simulated, {key}", "total utility per round"
        if ax is None:
            axis.set_title(title)
        axis.set_xlabel("attacker resources")
        axis.set_ylabel(label)
    mechanisms = (
        [*ok["mechanism"].unique(), *sims["mechanism"].unique()] if len(ok) or len(sims) else []
    )
    text = (
        "Not Nash: share of instances whose coverage is not the defender's part of any "
        "Nash equilibrium of the pooled game (one defender with the defenders' summed "
        "payoffs and all resources), exact 95% Clopper-Pearson intervals. Utilities are "
        "additive over the attacked targets; mechanisms that plan for one attack meet the "
        "others through the attacker's best response. Other bars: means with 95% bootstrap "
        "confidence intervals." + _notes(notes)
    )
    return _finish(fig, ax, *_mechanism_handles(mechanisms, bars=True), text)


def sensitivity(
    indices: pd.DataFrame,
    *,
    panels: Sequence[str] | None = None,
    ax: Axes | None = None,
    size: str = "double",
) -> Figure | None:
    """Sobol' indices of a metric (:func:`runs.sensitivity.study_sensitivity`), a panel
    per mechanism (``panels``: their names): per parameter, the first-order index
    (solid) and the total index (hatched) with their 95% bootstrap intervals. None
    when no index is defined (the metric never varied)."""
    defined = indices.dropna(subset=["S1", "ST"])
    if defined.empty:
        return None
    by_mechanism = "mechanism" in defined
    names = sorted(defined["mechanism"].unique()) if by_mechanism else ["all"]
    keys = _select(names, panels, ax)
    fig, axes = _grid(len(keys), ax, size)
    parameters = list(dict.fromkeys(indices["parameter"]))
    y = np.arange(len(parameters))
    for axis, key in zip(axes, keys, strict=True):
        part = defined[defined["mechanism"] == key] if by_mechanism else defined
        part = part.set_index("parameter").reindex(parameters)
        colour = mechanism_style(key).colour if by_mechanism else "0.3"
        for offset, index, hatch in ((-0.2, "S1", None), (0.2, "ST", HATCH)):
            values = part[index].to_numpy(dtype=float)
            errors = [values - part[f"{index}_low"], part[f"{index}_high"] - values]
            axis.barh(
                y + offset,
                values,
                0.38,
                color="white" if hatch else colour,
                edgecolor=colour,
                hatch=hatch,
                linewidth=0.5,
                xerr=np.asarray(errors, dtype=float),
                error_kw={"lw": 0.6, "capsize": 1.2},
            )
        axis.set_yticks(y, [_wrapped(p) for p in parameters])
        axis.axvline(0, color="black", lw=0.5)
        axis.set_xlim(
            min(-0.05, float(np.nanmin(part[["S1_low", "ST_low"]]))) - 0.02,
            max(1.05, float(np.nanmax(part[["S1_high", "ST_high"]]))) + 0.02,
        )
        axis.set_xlabel("Sobol' index")
        if ax is None:
            axis.set_title(key)
    metric = str(indices["metric"].iloc[0]) if "metric" in indices else "the metric"
    points = int(indices["points"].iloc[0])
    text = (
        f"Sobol' indices of {metric} (per design point, its mean over the point's "
        "instances) for the generator parameters of the design: first-order (solid; the "
        "share of the variance the parameter explains alone) and total (hatched; with "
        "its interactions), 95% bootstrap intervals; Saltelli's design of "
        f"{points} points (SALib)."
    )
    handles = [
        Patch(facecolor="0.3", edgecolor="0.3"),
        Patch(facecolor="white", edgecolor="0.3", hatch=HATCH),
    ]
    return _finish(fig, ax, handles, ["first-order S1", "total ST"], text)


# -- a study's figures ----------------------------------------------------------------
def save_figure(
    fig: Figure, folder: Path, name: str, formats: Sequence[str] = ("png", "pdf")
) -> list[Path]:
    """Write ``fig`` into ``folder`` as ``name`` in each of ``formats`` (png, pdf, svg)
    at :data:`runs.style.DPI`, with TrueType fonts, each file atomically (a kill
    leaves the old file or the new one, never a part); closes the figure."""
    paths = []
    with figure_style():
        for ext in formats:
            if ext not in FORMATS:
                raise ValueError(f"format must be one of {list(FORMATS)}; got {ext!r}")
            path = folder / f"{name}.{ext}"
            buffer = io.BytesIO()
            metadata = (
                {"CreationDate": None} if ext == "pdf" else {"Date": None} if ext == "svg" else None
            )
            fig.savefig(buffer, format=ext, dpi=DPI, metadata=metadata)
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


#: The metrics whose Sobol' indices :func:`plot_study` draws for a study run on
#: Saltelli's design (:mod:`runs.sensitivity`).
SENSITIVITY_METRICS = ("ir_failure", "sp_failure", "pe_failure", "welfare")

#: Why :func:`plot_study` writes no file for a figure that has nothing to show.
NOT_DRAWN = {
    "failure_rates": "no one-shot audit ran",
    "welfare": "no one-shot audit ran",
    "prices": "no instance has exact NSE extremes (docs/nse.md §3.2: at most two defenders "
    "with resources, no jurisdictions)",
    "simulated_failure_rates": "no behaviour profile misreports or deviates",
    "learning_curves": "no behaviour profile learns (learning_misreport, learning_deviation)",
    "gain_distributions": "no SP or IR gain was measured",
    "attack_strength": "one attacker strength and no Nash audit",
    "logit_attacker": "no audit was against a logit attacker (quantal, suqr)",
}


def plot_study(
    out: str | Path,
    folder: str | Path | None = None,
    *,
    by: Sequence[str] | None = None,
    min_gain: float | None = None,
    size: str = "double",
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path]:
    """Every figure with something to show (in each of ``formats``), ``report.md`` and
    ``report.html`` for the study in ``out``; returns the paths. ``by`` defaults to
    the parameters the study's grid sweeps; ``min_gain`` to the study's."""
    check_size(size)
    root = Path(out)
    target = Path(folder) if folder is not None else root / "figures"
    figure_folder(target)
    manifest = read_manifest(root) or {}
    audits, rounds = read_dataset(root, "audits"), read_dataset(root, "rounds")
    sweep = swept(manifest)
    grouping = list(sweep if by is None else by)
    threshold = float(manifest.get("min_gain", DEFAULT_MIN_GAIN)) if min_gain is None else min_gain
    notes = coinciding(audits) if len(audits) else []
    common: dict[str, Any] = {"by": grouping, "size": size}
    draw: dict[str, Callable[[], Figure | None]] = {
        "failure_rates": lambda: failure_rates(audits, min_gain=threshold, notes=notes, **common),
        "welfare": lambda: welfare(audits, notes=notes, **common),
        "prices": lambda: prices(audits, notes=notes, **common),
        "simulated_failure_rates": lambda: simulated_failure_rates(
            rounds, min_gain=threshold, notes=notes, **common
        ),
        "learning_curves": lambda: learning_curves(
            rounds, min_gain=threshold, notes=notes, **common
        ),
        "gain_distributions": lambda: gain_distributions(audits, rounds, **common),
        "attack_strength": lambda: attack_strength(audits, rounds, size=size, notes=notes),
        "logit_attacker": lambda: logit_attacker(audits, notes=notes, **common),
    }
    tables: list[tuple[str, pd.DataFrame]] = []
    reasons = dict(NOT_DRAWN)
    if len(audits) and (manifest.get("config") or {}).get("design", {}).get("kind") == "saltelli":
        for metric in SENSITIVITY_METRICS:
            name = f"sensitivity_{metric}"
            try:
                indices = study_sensitivity(root, metric, min_gain=threshold)
            except InvalidConfigError as exc:
                reasons[name] = str(exc)
                draw[name] = lambda: None
                continue
            tables.append((f"Sobol' indices of {metric}", indices))
            reasons[name] = f"{metric} does not vary over the design"
            draw[name] = functools.partial(sensitivity, indices, size=size)
    paths: list[Path] = []
    figures: list[Figured] = []
    skipped: list[str] = []
    for name, make in draw.items():
        with figure_style():
            fig = make()
        if fig is None:
            skipped.append(f"{name}: not drawn, {reasons[name]}")
            for ext in FORMATS:  # an earlier plot's file would describe other data
                (target / f"{name}.{ext}").unlink(missing_ok=True)
            continue
        text = caption(fig)
        written = save_figure(fig, target, name, formats)
        paths += written
        png = next((p for p in written if p.suffix == ".png"), None)
        figures.append(Figured(name, png, text))
    summary = summarise(audits, rounds, by=grouping, min_gain=threshold)
    pooled = summarise(audits, rounds, min_gain=threshold) if grouping else summary
    paths += write_report(
        target,
        manifest,
        summary,
        audits,
        rounds,
        figures,
        by=grouping,
        notes=notes,
        skipped=skipped,
        pooled=pooled,
        extra_tables=tables,
    )
    return paths
