r"""A study's report, ``report.md`` and a self-contained ``report.html`` (figures
embedded), laid out as a results section: the study's question, its findings (the
headline rates with intervals and units, and a sentence per property), the figures
with their captions, the flags a reader must see before trusting a comparison, the
detailed tables, then the provenance and the configuration.

Flags:

* mechanisms whose outcomes coincide on at least 99% of the instances (their bars and
  lines lie on top of each other);
* role confounds: a mechanism that distinguishes a defender (a dictator) whose
  distinguished defender is the strategic one in more than 90% of a condition's
  strategic defender-rounds, so its simulated SP and IR rates describe that role only.

:func:`format_summary` also renders the summary for ``defcoord summary --format``;
:func:`latex_tables` writes its LaTeX: booktabs tables a paper can ``\input``.
"""

from __future__ import annotations

import base64
import html
import json
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from runs.studydir import atomic_write
from runs.style import DPI
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


def _escape(text: str) -> str:
    """LaTeX text: special characters escaped, a leading minus as a math minus."""
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("%", r"\%"),
        ("&", r"\&"),
        ("#", r"\#"),
        ("$", r"\$"),
    ):
        text = text.replace(a, b)
    return re.sub(r"(?<![\w.])-(?=\d)", "$-$", text)


def latex(df: pd.DataFrame) -> str:
    """A booktabs LaTeX tabular of any table (numbers with math minus signs)."""
    lines = [
        r"\begin{tabular}{" + "l" * len(df.columns) + "}",
        r"\toprule",
        " & ".join(_escape(str(c)) for c in df.columns) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(_escape(_text(v)) for v in row) + r" \\" for _, row in df.iterrows()]
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def latex_tables(
    summary: pd.DataFrame,
    *,
    study: str,
    by: Sequence[str] = (),
    columns: Sequence[str] | None = None,
) -> str:
    """The summary as LaTeX ``table`` environments a paper can ``\\input`` (packages:
    booktabs): per source, one table per property tested (or one with the properties
    in ``columns``), a row per mechanism (x profile) and value of ``by``, cells
    ``0.14 [0.09, 0.21]`` (rate [exact 95% CI]), a caption naming the units and their
    number, and a label ``tab:<study>-<source>-<property>``; rows with nothing tested
    are left out."""
    chosen = None if columns is None else list(columns)
    if chosen is not None:
        unknown = [c for c in chosen if c not in PROPERTY_LABELS]
        if unknown:
            raise ValueError(
                f"columns {unknown} are not properties; choose from {list(PROPERTY_LABELS)}"
            )
    keys = [c for c in by if c in summary.columns]
    out = []
    for source, title in (("audit", "one-shot audits"), ("simulation", "simulations")):
        rows = summary[(summary["source"] == source) & (summary["role"] == "all")]
        props = tested_properties(rows)
        groups = [[p] for p in props] if chosen is None else [[p for p in chosen if p in props]]
        for group in groups:
            if not group:
                continue
            tested = rows[[f"{p}_failure_undetermined" for p in group]].notna().any(axis=1)
            part = rows[tested]
            if part.empty:
                continue
            ids = ["mechanism", *(["profile"] if source == "simulation" else []), *keys]
            header = [c.removeprefix("param_") for c in ids] + [_label(p) for p in group]
            body = []
            for _, row in part.iterrows():
                cells = [_escape(str(row[c])) for c in ids]
                cells += [interval_text(row, p, latex=True) for p in group]
                body.append(" & ".join(cells) + r" \\")
            counts = sorted(set(part["units"].astype(int)))
            span = str(counts[0]) if len(counts) == 1 else f"{counts[0]}--{counts[-1]}"
            names = ", ".join(_label(p) for p in group)
            lower = " SP is found by a search: its rates are lower bounds." if "sp" in group else ""
            undetermined = (
                " (u: the share of undetermined verdicts, left out of the rate)"
                if any((part[f"{p}_failure_undetermined"].fillna(0) > 0).any() for p in group)
                else ""
            )
            caption = (
                f"{_escape(study)}, {title}: {_escape(names)} rate with its exact 95\\% "
                f"Clopper--Pearson interval over the determined "
                f"{UNIT_NAMES[source]}{undetermined}; {span} {UNIT_NAMES[source]} per row." + lower
            )
            label = f"tab:{_slug(study)}-{source}-{_slug('-'.join(group))}"
            out += [
                r"\begin{table}[t]",
                r"\centering",
                r"\small",
                rf"\caption{{{caption}}}",
                rf"\label{{{label}}}",
                r"\begin{tabular}{" + "l" * len(ids) + "r" * len(group) + "}",
                r"\toprule",
                " & ".join(_escape(h) for h in header) + r" \\",
                r"\midrule",
                *body,
                r"\bottomrule",
                r"\end{tabular}",
                r"\end{table}",
                "",
            ]
    return "\n".join(out)


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


def format_summary(
    summary: pd.DataFrame,
    fmt: str,
    *,
    study: str = "study",
    by: Sequence[str] = (),
    columns: Sequence[str] | None = None,
) -> str:
    """The summary as ``table`` (readable text), ``csv`` (every column), ``markdown``
    (readable cells) or ``latex`` (:func:`latex_tables`)."""
    if fmt == "latex":
        return latex_tables(summary, study=study, by=by, columns=columns)
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


@dataclass(frozen=True)
class Figured:
    """A figure of the report: its name, its PNG (None when not written as PNG) and
    its caption."""

    name: str
    png: Path | None
    caption: str


def _number(value: float, latex: bool = False) -> str:
    text = f"{value:.2f}"
    return text.replace("-", "$-$") if latex else text


def interval_text(row: pd.Series, prop: str, *, latex: bool = False) -> str:
    """A rate as ``0.14 [0.09, 0.21]``: SP with ">=" (a search's lower bound), the
    undetermined share after it, "undetermined" where no unit was determined, "NA"
    where the property was not tested."""
    undetermined = row.get(f"{prop}_failure_undetermined")
    if undetermined is None or pd.isna(undetermined):
        return "NA"
    percent = r"\%" if latex else "%"
    rate = row.get(f"{prop}_failure_rate")
    if rate is None or pd.isna(rate):
        return f"undetermined (all {row.get('unit', 'unit')}s)"
    low, high = row[f"{prop}_failure_low"], row[f"{prop}_failure_high"]
    text = f"{_number(rate, latex)} [{_number(low, latex)}, {_number(high, latex)}]"
    if prop == "sp" and not pd.isna(row.get("sp_budget", pd.NA)):
        text = (r"$\geq$ " if latex else ">= ") + text
    if undetermined > 0:
        text += f" (u {undetermined * 100:.0f}{percent})"
    return text


def tested_properties(
    summary: pd.DataFrame, props: Sequence[str] = tuple(PROPERTY_LABELS)
) -> list[str]:
    """The properties of ``props`` that some row of ``summary`` tested, in order."""
    return [
        p
        for p in props
        if f"{p}_failure_undetermined" in summary
        and summary[f"{p}_failure_undetermined"].notna().any()
    ]


def _label(prop: str) -> str:
    return "not Nash" if prop == "nash" else f"{PROPERTY_LABELS[prop]} failure"


def findings(summary: pd.DataFrame, by: Sequence[str]) -> tuple[pd.DataFrame, str]:
    """The headline table: a row per mechanism and value of ``by``; a column per
    property an audit tested (rate [95% CI] over instances) and per property a
    simulated profile tested (over runs), the welfare against the NSE; and a line
    naming the units and their number per row."""
    if summary.empty:
        return summary, ""
    keys = ["mechanism", *(c for c in by if c in summary.columns)]
    rows = summary[summary["role"] == "all"]
    audits = rows[rows["source"] == "audit"]
    sims = rows[rows["source"] == "simulation"]
    table = rows[keys].drop_duplicates().sort_values(keys, kind="stable")
    units = []
    for prop in tested_properties(audits):
        column = audits[keys].assign(
            **{_label(prop): [interval_text(r, prop) for _, r in audits.iterrows()]}
        )
        table = table.merge(column, on=keys, how="left")
    if len(audits):
        welfare = audits[keys].assign(
            **{
                "welfare vs NSE": audits["welfare_vs_nse"].map(
                    lambda v: "NA" if pd.isna(v) else f"{v:+.3f}"
                )
            }
        )
        table = table.merge(welfare, on=keys, how="left")
        units.append(f"audit columns: {_span(audits['units'])} instances per row")
    for profile, part in sims.groupby("profile", sort=True):
        for prop in tested_properties(part):
            name = f"{_label(prop)}, simulated ({profile})"
            column = part[keys].assign(
                **{name: [interval_text(r, prop) for _, r in part.iterrows()]}
            )
            table = table.merge(column, on=keys, how="left")
    if tested_properties(sims):
        units.append(f"simulation columns: {_span(sims['units'])} runs per row")
    table = table.fillna("NA")
    measured = [c for c in table.columns if c not in keys]
    table = table[~table[measured].eq("NA").all(axis=1)] if measured else table.iloc[0:0]
    return table, "; ".join(units)


#: The plural names of the units of each source's rates.
UNIT_NAMES = {"audit": "instances", "simulation": "runs"}


def finding_sentences(pooled: pd.DataFrame) -> list[str]:
    """A sentence per property tested: the mechanisms that fail it most and least
    often, over every condition pooled (``pooled``: a summary without ``by``)."""
    out: list[str] = []
    if pooled.empty:
        return out
    for source in ("audit", "simulation"):
        rows = pooled[(pooled["source"] == source) & (pooled["role"] == "all")]
        for prop in tested_properties(rows):
            part = rows[rows[f"{prop}_failure_rate"].notna()]
            if part.empty:
                out.append(f"{_label(prop)}: every verdict is undetermined.")
                continue
            part = part.sort_values(f"{prop}_failure_rate", kind="stable")
            name = (
                (lambda r: r["mechanism"])
                if source == "audit"
                else (lambda r: f"{r['mechanism']} ({r['profile']})")
            )
            worst, best = part.iloc[-1], part.iloc[0]
            unit = UNIT_NAMES[source]
            where = "of instances" if source == "audit" else "of simulated runs"
            if worst[f"{prop}_failure_rate"] == 0:
                most = part[f"{prop}_failure_undetermined"].max()
                out.append(
                    f"{_label(prop)} ({where}): no determined {unit[:-1]} failed under any "
                    f"mechanism ({_span(part[f'{prop}_failure_n'])} determined {unit} each"
                    + (f"; up to {most:.0%} undetermined" if most > 0 else "")
                    + ")."
                )
                continue

            def rate(row: pd.Series, prop: str = prop) -> str:
                return f"{interval_text(row, prop)}, n = {int(row[f'{prop}_failure_n'])}"

            text = f"{_label(prop)} ({where}): highest under {name(worst)}, {rate(worst)}"
            if len(part) > 1:
                text += f"; lowest under {name(best)}, {rate(best)}"
            text += f" (n: determined {unit})."
            out.append(text)
    return out


def _span(counts: pd.Series) -> str:
    low, high = int(counts.min()), int(counts.max())
    return str(low) if low == high else f"{low}-{high}"


def _png_width(path: Path) -> int:
    """A PNG's width in pixels (its IHDR chunk)."""
    with path.open("rb") as handle:
        head = handle.read(24)
    return int(struct.unpack(">I", head[16:20])[0])


#: Report images are shown at this many CSS pixels per inch of the figure: 7-pt text
#: is then about 13 px high.
CSS_PER_INCH = 130


def write_report(
    folder: Path,
    manifest: dict[str, Any],
    summary: pd.DataFrame,
    audits: pd.DataFrame,
    rounds: pd.DataFrame,
    figures: Sequence[Figured],
    *,
    by: Sequence[str],
    notes: Sequence[str],
    skipped: Sequence[str] = (),
    pooled: pd.DataFrame | None = None,
    extra_tables: Sequence[tuple[str, pd.DataFrame]] = (),
) -> list[Path]:
    """Write ``report.md`` and ``report.html`` into ``folder``; returns both paths.
    ``pooled`` (a summary without ``by``) gives the findings' sentences;
    ``extra_tables`` (title, table) follow the detailed tables."""
    study = str(manifest.get("study", "study"))
    config_data = manifest.get("config", {})
    question = str(config_data.get("study", {}).get("question", "")) or (
        "(The configuration states no question: add one as [study] question.)"
    )
    flags = [*notes, *convergence_warnings(summary), *role_confounds(rounds)]
    tables, idle = _tables(summary)
    tables += list(extra_tables)
    headline, units = findings(summary, by)
    sentences = finding_sentences(pooled if pooled is not None else summary)
    grouping = ", ".join(by) if by else "none (every grid point pooled)"
    nash = "nash_failure_n" in summary and summary["nash_failure_n"].notna().any()
    method = (
        "Every failure rate is over independent units: one-shot audits count instances "
        f"(PE, UP, SP, IR{', not Nash' if nash else ''}: a property fails on a game when it "
        "fails for some defender), simulations count runs (a run fails when its strategic "
        "defender gained in some round). Intervals are exact 95% Clopper-Pearson over the "
        "determined units; u is the share of tested units whose verdict is undetermined. "
        "SP is found by a search, so its rate is a lower bound (>=); 'not converged' marks "
        "a rate that moved by more than its interval's half-width between half the search "
        "budget and the whole. NA: not tested in that condition. summary.csv also has the "
        "per-defender and per-round shares with intervals clustered by unit. Grouped by: "
        f"{grouping}."
    )
    config = json.dumps(config_data, indent=2)
    shown = [f for f in figures if f.png is not None]

    pooled_over = (
        f"Per mechanism, over every value of {', '.join(by)} pooled:"
        if by
        else "Per mechanism, over the whole study:"
    )
    md = [f"# {study}", "", "## Question", "", question, "", "## Findings", "", pooled_over, ""]
    md += [f"- {s}" for s in sentences] or ["- nothing was tested"]
    if len(headline):
        md += ["", f"Per mechanism and condition ({units}):", "", markdown(headline)]
    md += ["", "## Figures", ""]
    for figure in shown:
        assert figure.png is not None
        md += [f"![{figure.name}]({figure.png.name})", "", figure.caption, ""]
    md += [f"- {s}" for s in skipped]
    md += ["", "## Flags", ""]
    md += [f"- {flag}" for flag in flags] or ["- none"]
    md += ["", "## Detailed tables", "", method, ""]
    for title, view in tables:
        md += [f"### {title}", "", markdown(view), ""]
    if idle:
        md += [f"Not shown: {idle} (nothing to measure: truthful and obedient).", ""]
    md += ["## Provenance", ""]
    md += [f"- {k}: {v}" for k, v in _provenance(manifest)]
    md += ["", "## Configuration", "", "```json", config, "```", ""]
    report_md = folder / "report.md"
    atomic_write(folder, report_md, "\n".join(md).encode())

    def image(figure: Figured) -> str:
        assert figure.png is not None
        data = base64.b64encode(figure.png.read_bytes()).decode("ascii")
        width = round(_png_width(figure.png) / DPI * CSS_PER_INCH)
        return (
            f'<figure><img alt="{figure.name}" width="{width}" '
            f'src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(figure.caption)}</figcaption></figure>"
        )

    def html_table(table: pd.DataFrame) -> str:
        inner = table.to_html(index=False, na_rep="NA", float_format=lambda v: f"{v:.3f}", border=0)
        return f'<div class="scroll">{inner}</div>'  # wide tables scroll, cells never wrap

    items = "".join(f"<li>{html.escape(s)}</li>" for s in sentences) or "<li>nothing tested</li>"
    headline_html = (
        f"<p>Per mechanism and condition ({html.escape(units)}):</p>{html_table(headline)}"
        if len(headline)
        else ""
    )
    flag_items = "".join(f"<li>{html.escape(f)}</li>" for f in flags) or "<li>none</li>"
    detail = "".join(f"<h3>{html.escape(t)}</h3>{html_table(v)}" for t, v in tables)
    if idle:
        detail += (
            f"<p>Not shown: {html.escape(idle)} (nothing to measure: truthful and obedient).</p>"
        )
    skipped_html = "".join(f"<li>{html.escape(s)}</li>" for s in skipped)
    provenance = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in _provenance(manifest)
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(study)}: study report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222;
  padding: 0 1em; }}
table {{ border-collapse: collapse; font-size: 13px; margin: 1em 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: left; }}
td {{ white-space: nowrap; }} .scroll {{ overflow-x: auto; }}
figure {{ margin: 2em 0; }} img {{ max-width: 100%; height: auto; }}
figcaption {{ font-size: 13px; color: #444; max-width: 910px; }}
.question {{ font-size: 17px; }}
.flags li {{ color: #a40; }} pre {{ background: #f6f6f6; padding: 1em; font-size: 12px; }}
</style></head><body>
<h1>{html.escape(study)}</h1>
<h2>Question</h2><p class="question">{html.escape(question)}</p>
<h2>Findings</h2><p>{html.escape(pooled_over)}</p><ul>{items}</ul>{headline_html}
<h2>Figures</h2>{"".join(image(f) for f in shown)}<ul>{skipped_html}</ul>
<h2>Flags</h2><ul class="flags">{flag_items}</ul>
<h2>Detailed tables</h2><p>{html.escape(method)}</p>{detail}
<h2>Provenance</h2><table>{provenance}</table>
<h2>Configuration</h2><pre>{html.escape(config)}</pre>
</body></html>
"""
    report_html = folder / "report.html"
    atomic_write(folder, report_html, page.encode())
    return [report_md, report_html]
