"""Paper-ready presentation (issue 30): figures that fit a column with TrueType fonts,
a colour per mechanism that no study changes, undetermined shares drawn as such,
nothing drawn for what was not tested, a report that reads like a results section,
LaTeX tables a paper can input, outputs others can read, plug-ins beside a config."""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from runs.cli import main
from runs.config import load_config, parse_config
from runs.export import read_dataset
from runs.plots import (
    HATCH,
    _rate_panel,
    caption,
    failure_rates,
    gain_distributions,
    learning_curves,
    plot_study,
    welfare,
)
from runs.report import latex_tables
from runs.runner import run_study
from runs.style import DPI, figure_style, mechanism_style
from runs.summary import summarise
from sim.errors import InvalidConfigError

from tests_support import TINY, tiny, write_config


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("presentation") / "s"
    run_study(tiny(**{"study.question": "Does it hold up?"}), out, jobs=1, quiet=True)
    return out


def png_size(path):
    header = path.read_bytes()[:24]
    return struct.unpack(">II", header[16:24])


def pdf_font_subtypes(data: bytes) -> list[str]:
    """The ``/Subtype`` of every font dictionary of a PDF (matplotlib writes them
    uncompressed)."""
    fonts = re.findall(rb"/Type\s*/Font\b(.*?)>>", data, re.S)
    return [m.decode() for f in fonts for m in re.findall(rb"/Subtype\s*/(\w+)", f)]


@pytest.mark.parametrize("size", ["single", "double"])
def test_figures_fit_a_column_and_embed_truetype_fonts(study, tmp_path, size):
    paths = plot_study(study, tmp_path / size, size=size, formats=("png", "pdf", "svg"))
    pngs = [p for p in paths if p.suffix == ".png"]
    assert len(pngs) == 5  # failure rates, welfare, prices, simulations, gains
    low, high = {"single": (3.3, 3.5), "double": (6.8, 7.0)}[size]
    for png in pngs:
        width, height = png_size(png)
        assert low * DPI <= width <= high * DPI, (png.name, width)
        assert height <= 9 * DPI, (png.name, height)  # a page's text height
    pdfs = [p for p in paths if p.suffix == ".pdf"]
    assert len(pdfs) == 5 and len([p for p in paths if p.suffix == ".svg"]) == 5
    for pdf in pdfs:
        subtypes = pdf_font_subtypes(pdf.read_bytes())
        assert subtypes and "Type3" not in subtypes, (pdf.name, subtypes)


def test_the_font_check_finds_type3_fonts(tmp_path):
    """The check above can fail: matplotlib's default PDF fonts are Type 3."""
    fig, ax = plt.subplots()
    ax.set_title("text")
    fig.savefig(tmp_path / "default.pdf")
    plt.close(fig)
    assert "Type3" in pdf_font_subtypes((tmp_path / "default.pdf").read_bytes())


def _bar_colours(fig):
    return {
        tuple(np.round(p.get_facecolor()[:3], 4))
        for ax in fig.axes
        for p in ax.patches
        if p.get_height() > 0 and not p.get_hatch()
    }


def test_a_mechanism_has_the_same_colour_in_every_study(study, tmp_path):
    audits = read_dataset(study, "audits")
    other = tmp_path / "other"
    run_study(
        tiny(mechanisms=[{"name": "nse"}, {"name": "dictatorship"}, {"name": "utilitarian"}]),
        other,
        jobs=1,
        quiet=True,
    )
    for table in (audits, read_dataset(other, "audits")):
        fig = failure_rates(table, panels=["ir"])
        legend = fig.legends[0]
        colours = {
            t.get_text(): tuple(np.round(h.get_facecolor()[:3], 4))
            for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)
        }
        expected = mechanism_style("dictatorship").colour.lstrip("#")
        rgb = tuple(np.round([int(expected[i : i + 2], 16) / 255 for i in (0, 2, 4)], 4))
        assert colours["dictatorship"] == rgb
        assert rgb in _bar_colours(fig)  # the bars too
        plt.close(fig)
    # a plug-in mechanism keeps its colour as well (from its name)
    assert mechanism_style("my_plugin") == mechanism_style("my_plugin")


def test_an_undetermined_cell_is_drawn_as_undetermined_never_as_zero():
    def row(mechanism, rate, n, undetermined):
        return {
            "mechanism": mechanism,
            "_group": "",
            "strong_up_failure_rate": rate,
            "strong_up_failure_low": 0.0,
            "strong_up_failure_high": 0.3,
            "strong_up_failure_n": n,
            "strong_up_failure_undetermined": undetermined,
        }

    summary = pd.DataFrame(
        [
            row("a", np.nan, 0, 1.0),  # tested, nothing determined
            row("b", 0.0, 20, 0.0),  # tested, none failed
            row("c", 0.5, 10, 0.5),  # half failed of the determined half
            row("d", np.nan, np.nan, np.nan),  # not tested
        ]
    )
    with figure_style():
        fig, ax = plt.subplots()
        _rate_panel(ax, summary, [""], "strong_up")
    hatched = [p for p in ax.patches if p.get_hatch() == HATCH]
    solid = [p for p in ax.patches if not p.get_hatch()]
    heights = sorted(round(p.get_height(), 6) for p in hatched)
    assert heights == [0.5, 1.0]  # a's whole bar, c's undetermined half
    a_bar = max(hatched, key=lambda p: p.get_height())
    assert a_bar.get_y() == 0.0  # from the axis: nothing solid under it
    assert sorted(round(p.get_height(), 6) for p in solid) == [0.0, 0.25]  # b, c
    assert [t.get_text() for t in ax.texts] == ["NA"]  # d
    plt.close(fig)


def test_ax_draws_only_into_the_users_axes(study):
    audits = read_dataset(study, "audits")
    fig, ax = plt.subplots(figsize=(3, 2))
    assert failure_rates(audits, panels=["ir"], ax=ax) is fig
    assert fig._suptitle is None and not fig.texts and not fig.legends
    assert ax.get_title() == "" and ax.patches and "Clopper-Pearson" in caption(fig)
    welfare(audits, panels=["pooled"], ax=ax)
    assert len(fig.axes) == 1
    plt.close(fig)


def test_figures_with_nothing_to_show_are_not_written(study, tmp_path):
    rounds = read_dataset(study, "rounds")
    assert learning_curves(rounds) is None  # nothing learns
    assert gain_distributions(rounds.iloc[0:0], rounds.iloc[0:0]) is None
    learning = tiny(
        profiles=[
            {"name": "learner", "executing": "learning_deviation"},
            {"name": "truthful"},
        ]
    )
    out = tmp_path / "learning"
    run_study(learning, out, jobs=1, quiet=True)
    fig = learning_curves(read_dataset(out, "rounds"))
    assert [a.get_title() for a in fig.axes] == ["learner"]  # the profile that learns
    plt.close(fig)
    names = {p.name for p in plot_study(study, tmp_path / "figures")}
    assert "learning_curves.png" not in names
    report = (tmp_path / "figures" / "report.md").read_text()
    assert "learning_curves: not drawn, no behaviour profile learns" in report


def test_the_report_reads_like_a_results_section(study):
    plot_study(study)
    report = (study / "figures" / "report.md").read_text()
    sections = re.findall(r"^## (.+)$", report, re.M)
    assert sections == [
        "Question",
        "Findings",
        "Figures",
        "Flags",
        "Detailed tables",
        "Provenance",
        "Configuration",
    ]
    assert report.split("## Findings")[0].strip().endswith("Does it hold up?")
    findings = report.split("## Findings")[1].split("## Figures")[0]
    assert re.search(
        r"IR failure \(of instances\): highest under \w+, [\d.]+ \[[\d.]+, [\d.]+\]", findings
    )
    assert "instances per row" in findings and "runs per row" in findings
    table = [line for line in findings.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 2 * 2  # header, rule, mechanism x n_defenders
    figures = report.split("## Figures")[1].split("## Flags")[0]
    assert figures.count("![") == 5 and "Clopper-Pearson" in figures  # with captions
    page = (study / "figures" / "report.html").read_text()
    widths = [int(w) for w in re.findall(r'<img alt="\w+" width="(\d+)"', page)]
    assert len(widths) == 5 and all(900 <= w <= 920 for w in widths)  # 7 in at 130 px/in


def test_a_study_without_a_question_says_how_to_state_one(tmp_path):
    run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
    plot_study(tmp_path / "s")
    assert "add one as [study] question" in (tmp_path / "s" / "figures" / "report.md").read_text()


def test_the_question_is_validated_and_not_part_of_the_design():
    with pytest.raises(InvalidConfigError, match=r"'study.question' must be a string"):
        tiny(**{"study.question": 3})
    assert tiny(**{"study.question": "Why?"}).design_sha256() == tiny().design_sha256()
    for config in ("quickstart", "jurisdictions", "scale", "which_equilibrium"):
        assert load_config(config).question.endswith("?")


def test_latex_tables_compile_into_a_paper(study, tmp_path, capsys):
    summary = summarise(
        read_dataset(study, "audits"), read_dataset(study, "rounds"), by=["n_defenders"]
    )
    text = latex_tables(summary, study="tiny", by=["n_defenders"])
    tables = text.split(r"\end{table}")[:-1]
    # one table per property the audits tested (PE, weak and strong UP, SP, IR) and
    # per property the simulations tested (IR: the profile deviates)
    assert len(tables) == 6
    for table in tables:
        assert table.count(r"\caption{") == 1 and re.search(
            r"\\label\{tab:tiny-\w+-[\w-]+\}", table
        )
        assert all(rule in table for rule in (r"\toprule", r"\midrule", r"\bottomrule"))
        body = table.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
        assert body and all(not re.fullmatch(r"[^&]*(& NA\s*)+\\\\", line) for line in body)
        assert all(re.search(r"\d\.\d\d \[\d\.\d\d, \d\.\d\d\]", line) for line in body)
    assert "n\\_defenders" in text and "csw\\_max" in text
    assert r"$\geq$ " in text  # SP: a lower bound
    one = latex_tables(summary, study="tiny", by=["n_defenders"], columns=["pe", "ir"])
    assert one.count(r"\begin{table}") == 2  # audits; simulations (IR only)
    assert "PE failure & IR failure" in one
    assert main(["summary", str(study), "--format", "latex", "--columns", "pe,ir"]) == 0
    assert capsys.readouterr().out.count(r"\begin{table}") == 2
    with pytest.raises(SystemExit):
        main(["summary", str(study), "--format", "latex", "--columns", "pe,welfare"])
    assert main(["summary", str(study), "--columns", "pe"]) == 2
    assert "--columns applies to --format latex" in capsys.readouterr().err
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed: the structure was checked, not compiled")
    document = tmp_path / "paper.tex"
    document.write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        + text
        + "\n\\end{document}\n"
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", document.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]


def test_negative_values_are_set_with_a_math_minus():
    from runs.report import _escape

    assert _escape("-0.6") == "$-$0.6" and _escape("a-b") == "a-b"
    assert _escape("x_1 & 50%") == r"x\_1 \& 50\%"


def test_outputs_are_written_with_the_users_umask(tmp_path):
    before = os.umask(0o022)
    try:
        run_study(tiny(), tmp_path / "s", jobs=1, quiet=True)
        plot_study(tmp_path / "s")
        for name in ("manifest.json", "summary.csv", "study.json", "figures/report.html"):
            mode = stat.S_IMODE((tmp_path / "s" / name).stat().st_mode)
            assert mode == 0o644, (name, oct(mode))
        os.umask(0o077)
        plot_study(tmp_path / "s")
        mode = stat.S_IMODE((tmp_path / "s" / "figures" / "report.html").stat().st_mode)
        assert mode == 0o600
    finally:
        os.umask(before)


def test_a_plugin_beside_its_config_is_found(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "beside_config_plugin.py").write_text("LOADED = True\n")
    config = write_config(folder / "study.toml", plugins=["beside_config_plugin"])
    try:
        assert load_config(config).plugins == ("beside_config_plugin",)
        assert sys.modules["beside_config_plugin"].LOADED
    finally:
        sys.modules.pop("beside_config_plugin", None)
        sys.path.remove(str(folder))
    with pytest.raises(InvalidConfigError, match="put it beside the config file"):
        parse_config({**TINY, "study": {**TINY["study"], "plugins": ["nowhere_near"]}})


def test_a_legend_of_long_names_takes_more_rows_not_more_width():
    """Parametrised mechanism names are long: the legend under a figure takes as many
    columns as fit its width, down to one."""
    import matplotlib.pyplot as plt

    from runs.plots import _legend_columns

    fig = plt.figure(figsize=(7.0, 3.0))
    assert _legend_columns(fig, ["nse", "csw_max", "utilitarian"], 5) == 3
    assert _legend_columns(fig, ["pooled_logit[max_gap=0.005,precision=10.0]"] * 4, 5) == 1
    names = ["csw_max", "nse", "pooled_logit[max_gap=0.005,precision=10.0]", "utilitarian"]
    assert 1 < _legend_columns(fig, names, 5) < 4
    plt.close(fig)
