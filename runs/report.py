"""A study's report: ``report.md`` and a self-contained ``report.html`` (figures
embedded), with the summary tables, the flags a reader must see before trusting a
comparison, the configuration and the provenance of the dataset.

Flags:

* mechanisms whose outcomes coincide on at least 99% of the instances (their bars and
  lines lie on top of each other);
* role confounds: a mechanism that distinguishes a defender (a dictator) whose
  distinguished defender is the strategic one in more than 90% of a condition's
  strategic defender-rounds, so its simulated SP and IR rates describe that role only.

:func:`format_summary` also renders the summary for ``defcoord summary --format``.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runs.studydir import atomic_write
from runs.summary import PROPERTY_LABELS, strategic_rounds

#: A condition is confounded when its strategic defender is the distinguished one in
#: more than this share of its strategic defender-rounds.
CONFOUND_SHARE = 0.9

FORMATS = ("table", "csv", "markdown", "latex")


def role_confounds(rounds: pd.DataFrame, share: float = CONFOUND_SHARE) -> list[str]:
    """The conditions whose strategic defender is mostly the mechanism's leader."""
    sims = strategic_rounds(rounds)
    sims = sims[sims["role"].notna()]
    notes = []
    for (mechanism, profile, point), part in sims.groupby(
        ["mechanism", "profile", "grid_point"], sort=True
    ):
        leader = float((part["role"] == "leader").mean())
        if leader > share:
            notes.append(
                f"{mechanism} under {profile} (grid point {point}): the strategic defender "
                f"is the mechanism's leader in {leader:.0%} of rounds"
            )
    return notes


def _cell(row: pd.Series, prop: str) -> str:
    rate = row.get(f"{prop}_failure_rate")
    if rate is None or pd.isna(rate):
        # tested with no determined unit is not "not tested"
        undetermined = row.get(f"{prop}_failure_undetermined")
        tested = undetermined is not None and not pd.isna(undetermined)
        return f"undetermined (n=0; u={undetermined:.0%})" if tested else "NA"
    low, high = row[f"{prop}_failure_low"], row[f"{prop}_failure_high"]
    n = int(row[f"{prop}_failure_n"])
    undetermined = row[f"{prop}_failure_undetermined"]
    extra = f"; u={undetermined:.0%}" if undetermined > 0 else ""
    text = f"{rate:.3f} [{low:.3f}, {high:.3f}] (n={n}{extra})"
    if prop == "sp" and not pd.isna(row.get("sp_budget", pd.NA)):
        converged = row.get("sp_converged")
        text = f">= {text}" + ("" if converged is True else " not converged")
    return text


#: Columns of the summary that the readable view leaves out (the cells hold them).
_DETAIL = (
    "mean_",
    "welfare_",
    "units",
    "failed_",
    "min_gain",
    "sp_budget",
    "sp_converged",
    "nse_extremes_",
)


def readable(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with one text cell per property: rate [CI] (n; undetermined), SP
    as "at least" (a search), flagged where its budget did not converge; then the
    welfare and the number of units."""
    if summary.empty:
        return summary
    keys = [
        c
        for c in summary.columns
        if not c.startswith(tuple(f"{p}_" for p in PROPERTY_LABELS)) and not c.startswith(_DETAIL)
    ]
    out = summary[keys].copy()
    for prop, label in PROPERTY_LABELS.items():
        if prop == "nash" and summary.get("nash_failure_n", pd.Series()).isna().all():
            continue  # audited only on request: no column of NAs in every study
        name = "not Nash" if prop == "nash" else f"{label} failure"
        out[name] = [_cell(row, prop) for _, row in summary.iterrows()]
    for column in ("welfare_vs_nse", "welfare_vs_pooled"):
        if column in summary:
            values = summary[column].round(3).astype(object)
            out[column] = values.where(values.notna(), "NA")
    for price in ("anarchy", "stability"):
        column = f"mean_price_of_{price}"
        if column in summary and summary[column].notna().any():
            out[f"price of {price} (geometric mean)"] = [
                "NA" if pd.isna(row[column]) else f"{row[column]:.3f} (n={row[column + '_n']})"
                for _, row in summary.iterrows()
            ]
    if "units" in summary:
        out["units"] = summary["units"]
    return out


def convergence_warnings(summary: pd.DataFrame) -> list[str]:
    """One line per condition whose SP rate moved by more than its interval's
    half-width between half the search budget and the whole (a lower bound that has
    not converged)."""
    if "sp_converged" not in summary:
        return []
    rows = summary[summary["role"].eq("all") & summary["sp_converged"].eq(False)]
    by = [c for c in summary.columns if c not in _KNOWN and not c.startswith(_PREFIXES)]
    out = []
    for _, row in rows.iterrows():
        where = ", ".join(f"{c}={row[c]}" for c in by if not pd.isna(row[c]))
        out.append(
            f"SP of {row['mechanism']}{f' ({where})' if where else ''}: "
            f"{row['sp_failure_rate_half_budget']:.3f} at half the budget, "
            f"{row['sp_failure_rate']:.3f} at {int(row['sp_budget'])} reports: the search "
            "has not converged (raise [audits] misreport_budget)"
        )
    return out


_KNOWN = ("source", "mechanism", "profile", "role", "unit", "min_gain", "units", "failed_units")
_PREFIXES = (*(f"{p}_" for p in PROPERTY_LABELS), "mean_", "welfare_", "nse_extremes_")


def _text(value: Any) -> str:
    if isinstance(value, float):
        if np.isnan(value):
            return "NA"
        return f"{value:.2g}" if 0 < abs(value) < 0.001 else f"{value:.3f}"
    return "NA" if value is None or value is pd.NA else str(value)


def markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table."""
    columns = list(df.columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(_text(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def latex(df: pd.DataFrame) -> str:
    """A booktabs LaTeX tabular."""

    def escape(text: str) -> str:
        for a, b in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&")):
            text = text.replace(a, b)
        return text

    lines = [
        r"\begin{tabular}{" + "l" * len(df.columns) + "}",
        r"\toprule",
        " & ".join(escape(str(c)) for c in df.columns) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(escape(_text(v)) for v in row) + r" \\" for _, row in df.iterrows()]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def format_table(table: pd.DataFrame, fmt: str) -> str:
    """Any table as ``table`` (aligned text), ``csv``, ``markdown`` or ``latex``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}; got {fmt!r}")
    if fmt == "csv":
        return str(table.to_csv(index=False))
    if fmt == "markdown":
        return markdown(table)
    if fmt == "latex":
        return latex(table)
    if table.empty:
        return "(no rows)"
    with pd.option_context("display.width", 250, "display.max_columns", 40):
        return str(table.to_string(index=False, na_rep="NA", float_format=_text))


def format_summary(summary: pd.DataFrame, fmt: str) -> str:
    """The summary as ``table`` (readable text), ``csv`` (every column), ``markdown``
    or ``latex`` (readable cells)."""
    return format_table(summary if fmt == "csv" else readable(summary), fmt)


def _tables(summary: pd.DataFrame) -> tuple[list[tuple[str, pd.DataFrame]], str]:
    """The readable summary split into one-shot audits and simulations, without the
    simulated conditions that test nothing; and a line naming those."""
    if summary.empty:
        return [], ""
    audits = summary[summary["source"] == "audit"]
    sims = summary[summary["source"] == "simulation"]
    tested = sims["sp_failure_n"].notna() | sims["ir_failure_n"].notna()
    idle = sorted({f"{m} / {p}" for m, p in sims.loc[~tested, ["mechanism", "profile"]].values})
    out = []
    if len(audits):
        out.append(("One-shot audits", readable(audits).drop(columns=["source", "profile"])))
    if tested.any():
        view = readable(sims[tested]).drop(columns=["source"])
        out.append(("Simulations (strategic defenders)", view.drop(columns=_empty(view))))
    return out, ", ".join(idle)


def _empty(view: pd.DataFrame) -> list[str]:
    """Columns with nothing but NA (instance-level properties of simulations)."""
    return [c for c in view.columns if (view[c].isna() | view[c].astype(str).eq("NA")).all()]


def _provenance(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    chunks = manifest.get("chunks", {})
    git = manifest.get("git", {})
    versions = manifest.get("versions", {})
    return [
        ("study", str(manifest.get("study", "?"))),
        ("config SHA-256", str(manifest.get("config_sha256", "?"))),
        ("root seed", str(manifest.get("root_seed", "?"))),
        ("failure threshold", f"gain > {manifest.get('min_gain', '?')} x payoff range"),
        ("started / finished", f"{manifest.get('started')} / {manifest.get('finished')}"),
        (
            "chunks",
            f"{chunks.get('ok', '?')} of {chunks.get('total', '?')} ok; failed: "
            f"{chunks.get('failed', [])}",
        ),
        ("code", f"commit {git.get('commit')} (dirty: {git.get('dirty')})"),
        ("versions", ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))),
    ]


def write_report(
    folder: Path,
    manifest: dict[str, Any],
    summary: pd.DataFrame,
    audits: pd.DataFrame,
    rounds: pd.DataFrame,
    figures: Sequence[Path],
    *,
    by: Sequence[str],
    notes: Sequence[str],
) -> list[Path]:
    """Write ``report.md`` and ``report.html`` into ``folder``; returns both paths."""
    study = str(manifest.get("study", "study"))
    flags = [*notes, *convergence_warnings(summary), *role_confounds(rounds)]
    tables, idle = _tables(summary)
    grouping = ", ".join(by) if by else "none (every grid point pooled)"
    nash = "nash_failure_n" in summary and summary["nash_failure_n"].notna().any()
    intro = (
        "Every failure rate is over independent units: one-shot audits count instances "
        f"(PE, UP, SP, IR{', not Nash' if nash else ''}: a property fails on a game when it "
        "fails for some defender), simulations count runs (a run fails when its strategic "
        "defender gained in some round). Intervals are exact 95% Clopper-Pearson; n is "
        "the number of determined units and u the share of tested units whose verdict is "
        "undetermined. SP is found by a search, so its rate is a lower bound (>=); 'not "
        "converged' marks a rate that moved by more than its interval's half-width "
        "between half the search budget and the whole. NA: not tested in that condition. "
        "summary.csv also has the per-defender and per-round shares with intervals "
        f"clustered by unit. Grouped by: {grouping}."
    )
    config = json.dumps(manifest.get("config", {}), indent=2)
    md = [f"# {study}: study report", "", intro, "", "## Flags", ""]
    md += [f"- {flag}" for flag in flags] or ["- none"]
    md += ["", "## Summary", ""]
    for title, view in tables:
        md += [f"### {title}", "", markdown(view), ""]
    if idle:
        md += [f"Not shown: {idle} (nothing to measure: truthful and obedient).", ""]
    md += ["## Figures", ""]
    md += [f"![{p.stem}]({p.name})" for p in figures]
    md += ["", "## Provenance", ""]
    md += [f"- {k}: {v}" for k, v in _provenance(manifest)]
    md += ["", "## Configuration", "", "```json", config, "```", ""]
    report_md = folder / "report.md"
    atomic_write(folder, report_md, "\n".join(md).encode())

    def image(path: Path) -> str:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<figure><img alt="{path.stem}" src="data:image/png;base64,{data}"></figure>'

    flag_items = "".join(f"<li>{html.escape(f)}</li>" for f in flags) or "<li>none</li>"
    table = "".join(
        f"<h3>{html.escape(title)}</h3>"
        + view.to_html(index=False, na_rep="NA", float_format=lambda v: f"{v:.3f}", border=0)
        for title, view in tables
    )
    if idle:
        table += (
            f"<p>Not shown: {html.escape(idle)} (nothing to measure: truthful and obedient).</p>"
        )
    provenance = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in _provenance(manifest)
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(study)}: study report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; font-size: 12px; margin: 1em 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; }}
figure {{ margin: 1.5em 0; }} img {{ max-width: 100%; }}
.flags li {{ color: #a40; }} pre {{ background: #f6f6f6; padding: 1em; font-size: 12px; }}
</style></head><body>
<h1>{html.escape(study)}: study report</h1>
<p>{html.escape(intro)}</p>
<h2>Flags</h2><ul class="flags">{flag_items}</ul>
<h2>Summary</h2>{table}
<h2>Figures</h2>{"".join(image(p) for p in figures)}
<h2>Provenance</h2><table>{provenance}</table>
<h2>Configuration</h2><pre>{html.escape(config)}</pre>
</body></html>
"""
    report_html = folder / "report.html"
    atomic_write(folder, report_html, page.encode())
    return [report_md, report_html]
