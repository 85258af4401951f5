"""Figures and a Markdown report, drawn from a study's dataset only (seaborn).

``plot_study(out)`` writes PNG and PDF files of:

* SP and IR failure rates per mechanism with Clopper-Pearson bars (one-shot audits,
  and simulations faceted by behaviour profile);
* gain distributions (expected SP and IR gains of the strategic defenders);
* welfare relative to the status-quo NSE;
* learning curves (failure rates over rounds, per profile);
* efficiency of uncoordinated play (coverage the NSE achieves vs what it spends);

and ``report.md`` embedding them with the summary table.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from runs.export import read_dataset
from runs.summary import summarise
from sim.numerics import GAIN_TOL


def _save(fig: plt.Figure, folder: Path, name: str) -> list[Path]:
    paths = []
    for ext in ("png", "pdf"):
        path = folder / f"{name}.{ext}"
        fig.savefig(
            path,
            dpi=120,
            bbox_inches="tight",
            metadata={"CreationDate": None} if ext == "pdf" else None,
        )
        paths.append(path)
    plt.close(fig)
    return paths


def _rates_long(summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, row in summary.iterrows():
        for kind in ("sp_failure", "ir_failure"):
            rate = row.get(f"{kind}_rate")
            if pd.notna(rate):
                rows.append(
                    {
                        "mechanism": row["mechanism"],
                        "profile": row["profile"],
                        "property": "SP" if kind == "sp_failure" else "IR",
                        "rate": rate,
                        "low": row[f"{kind}_low"],
                        "high": row[f"{kind}_high"],
                    }
                )
    return pd.DataFrame(rows)


def _failure_rates(summary: pd.DataFrame, folder: Path) -> list[Path]:
    data = _rates_long(summary)
    if data.empty:
        return []
    profiles = list(dict.fromkeys(data["profile"]))
    grid = sns.FacetGrid(
        data,
        col="profile",
        col_order=profiles,
        col_wrap=min(3, len(profiles)),
        height=3.2,
        aspect=1.3,
        sharey=True,
        sharex=False,
    )

    def bars(data: pd.DataFrame, **_: object) -> None:
        ax = plt.gca()
        mechanisms = sorted(data["mechanism"].unique())
        width = 0.4
        for offset, prop in ((-width / 2, "SP"), (width / 2, "IR")):
            part = data[data["property"] == prop].set_index("mechanism").reindex(mechanisms)
            x = [i + offset for i in range(len(mechanisms))]
            ax.bar(
                x,
                part["rate"],
                width=width,
                label=prop,
                yerr=[part["rate"] - part["low"], part["high"] - part["rate"]],
                capsize=2,
            )
        ax.set_xticks(range(len(mechanisms)))
        ax.set_xticklabels(mechanisms, rotation=60, ha="right", fontsize=7)

    grid.map_dataframe(bars)
    grid.set_axis_labels("", "failure rate (95% CI)")
    grid.add_legend()
    grid.set(ylim=(0, 1.05))
    return _save(grid.figure, folder, "failure_rates")


def _gains(rounds: pd.DataFrame, audits: pd.DataFrame, folder: Path) -> list[Path]:
    parts = []
    strategic = rounds[(rounds["status"] == "ok") & rounds["strategic"].astype(bool)]
    for kind in ("sp_gain", "ir_gain"):
        part = strategic[["mechanism", "profile", kind]].rename(columns={kind: "gain"})
        part = part[part["gain"].abs() > GAIN_TOL]
        parts.append(part.assign(kind=kind.split("_")[0].upper()))
    data = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if data.empty:
        sp = audits[audits["sp_gain"] > GAIN_TOL][["mechanism", "sp_gain"]].rename(
            columns={"sp_gain": "gain"}
        )
        data = sp.assign(kind="SP", profile="(audit)")
    fig, ax = plt.subplots(figsize=(8, 3.5))
    if data.empty:
        ax.text(0.5, 0.5, "no profitable misreport or deviation observed", ha="center", va="center")
        ax.set_axis_off()
    else:
        sns.stripplot(
            data=data,
            x="mechanism",
            y="gain",
            hue="kind",
            dodge=True,
            alpha=0.4,
            size=2.5,
            jitter=0.25,
            ax=ax,
            order=sorted(data["mechanism"].unique()),
        )
        ax.tick_params(axis="x", rotation=60, labelsize=7)
        ax.set_ylabel("expected gain when it paid (true utility)")
    return _save(fig, folder, "gain_distributions")


def _welfare(audits: pd.DataFrame, folder: Path) -> list[Path]:
    ok = audits[audits["status"] == "ok"].drop_duplicates(
        ["mechanism", "grid_point", "replication"]
    )
    data = ok.assign(welfare_gain=ok["welfare"] - ok["nse_welfare"])
    fig, ax = plt.subplots(figsize=(8, 3.5))
    sns.barplot(
        data=data,
        x="mechanism",
        y="welfare_gain",
        errorbar=("ci", 95),
        ax=ax,
        order=sorted(data["mechanism"].unique()),
    )
    ax.axhline(0, color="black", lw=0.8)
    ax.tick_params(axis="x", rotation=60, labelsize=7)
    ax.set_ylabel("total utility - status-quo NSE")
    return _save(fig, folder, "welfare_vs_status_quo")


def _learning(rounds: pd.DataFrame, folder: Path) -> list[Path]:
    strategic = rounds[(rounds["status"] == "ok") & rounds["strategic"].astype(bool)]
    if strategic.empty:
        return []
    data = (
        strategic.assign(paid=(strategic["sp_gain"] > GAIN_TOL) | (strategic["ir_gain"] > GAIN_TOL))
        .groupby(["profile", "mechanism", "round"], as_index=False)["paid"]
        .mean()
    )
    grid = sns.relplot(
        data=data,
        x="round",
        y="paid",
        hue="mechanism",
        col="profile",
        kind="line",
        col_wrap=min(3, data["profile"].nunique()),
        height=3,
        aspect=1.2,
    )
    grid.set_axis_labels("round", "share of strategic defenders gaining")
    return _save(grid.figure, folder, "learning_curves")


def _efficiency(audits: pd.DataFrame, folder: Path) -> list[Path]:
    ok = audits[audits["status"] == "ok"].drop_duplicates(["grid_point", "replication"])
    ok = ok.dropna(subset=["nse_total_coverage", "nse_spent"])
    fig, ax = plt.subplots(figsize=(5, 4))
    if ok.empty:
        ax.set_axis_off()
    else:
        data = ok.assign(waste=ok["nse_spent"] - ok["nse_total_coverage"])
        sns.scatterplot(
            data=data, x="nse_total_coverage", y="waste", hue="n_defenders", ax=ax, s=14
        )
        ax.set_xlabel("coverage achieved by the NSE (sum over targets)")
        ax.set_ylabel("resources wasted on double coverage")
    return _save(fig, folder, "uncoordinated_efficiency")


def _markdown_table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_study(out: str | Path, folder: str | Path | None = None) -> list[Path]:
    """Write every figure and ``report.md`` for the study in ``out``; returns the paths."""
    root = Path(out)
    target = Path(folder) if folder is not None else root / "figures"
    target.mkdir(parents=True, exist_ok=True)
    audits, rounds = read_dataset(root, "audits"), read_dataset(root, "rounds")
    summary = summarise(audits, rounds)
    sns.set_theme(style="whitegrid", context="paper")
    paths: list[Path] = []
    paths += _failure_rates(summary, target)
    paths += _gains(rounds, audits, target)
    paths += _welfare(audits, target)
    paths += _learning(rounds, target)
    paths += _efficiency(audits, target)
    shown = [
        "mechanism",
        "profile",
        "sp_failure_rate",
        "sp_failure_low",
        "sp_failure_high",
        "ir_failure_rate",
        "ir_failure_low",
        "ir_failure_high",
        "mean_sp_gain",
        "mean_ir_gain",
    ]
    extra = [
        c
        for c in ("pe_failure_rate", "weak_up_failure_rate", "welfare_gain", "failed_instances")
        if c in summary
    ]
    table = summary[[c for c in shown + extra if c in summary]]
    figures = "\n\n".join(f"![{p.stem}]({p.name})" for p in paths if p.suffix == ".png")
    report = target / "report.md"
    report.write_text(
        f"# Study report\n\nDataset: `{root}`\n\n## Summary\n\nRates are over defender-instances "
        "(audits) or strategic defender-rounds (simulations), with exact 95% "
        "Clopper-Pearson intervals.\n\n"
        f"{_markdown_table(table)}\n\n## Figures\n\n{figures}\n"
    )
    return [*paths, report]
