"""Study results a researcher can publish (issue 11): parameters as columns, verdict
accounting, the gain threshold, strategic roles, figures, the report and the summary
formats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from scipy.stats import binomtest

from agents.profiles import BehaviourProfile
from runs.cli import main
from runs.config import parse_config
from runs.export import read_dataset
from runs.plots import (
    caption,
    failure_rates,
    gain_distributions,
    learning_curves,
    mechanism_colours,
    simulated_failure_rates,
    welfare,
)
from runs.report import format_summary, role_confounds
from runs.runner import run_study
from runs.seeding import strategic_draw
from runs.summary import summarise
from sim.errors import InvalidConfigError, InvalidParameterError
from sim.stats import clopper_pearson

from strategies import examples


def _config(**changes):
    data = {
        "study": {"name": "results", "seed": 5, "replications": 8, "rounds": 3, "chunk_size": 4},
        "generator": {
            "name": "covariant",
            "params": {"n_defenders": 2, "n_targets": 3, "resources": 1},
            "grid": {"correlation": [-0.5, 0.5]},
        },
        "mechanisms": [{"name": "csw_max"}, {"name": "dictatorship"}],
        "profiles": [
            {"name": "truthful"},
            {"name": "deviate", "executing": "optimal_deviation"},
        ],
        "audits": {"misreport_budget": 4},
    }
    for dotted, value in changes.items():
        if "." in dotted:
            table, key = dotted.split(".")
            data[table][key] = value
        else:
            data[dotted] = value
    return parse_config(data)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "s"
    run_study(_config(), out, jobs=1, quiet=True)
    return out


def test_parameters_are_typed_columns_of_both_tables(study):
    for table in ("audits", "rounds"):
        df = read_dataset(study, table)
        assert df["correlation"].dtype == "float64"
        assert sorted(df["correlation"].unique()) == [-0.5, 0.5]
        assert df["resources_spec"].dtype == "Int64" and (df["resources_spec"] == 1).all()
        assert (df["scale"] == 10.0).all() and "grid_params" in df


def test_summary_by_a_swept_parameter(study, capsys):
    audits, rounds = read_dataset(study, "audits"), read_dataset(study, "rounds")
    pooled = summarise(audits, rounds)
    split = summarise(audits, rounds, by=["correlation"])
    assert "correlation" not in pooled and sorted(split["correlation"].dropna().unique()) == [
        -0.5,
        0.5,
    ]
    audit_all = split[(split["source"] == "audit") & (split["role"] == "all")]
    assert len(audit_all) == 2 * 2  # mechanisms x correlations
    assert main(["summary", str(study), "--by", "correlation", "--format", "csv"]) == 0
    assert "correlation" in capsys.readouterr().out.splitlines()[0]
    with pytest.raises(InvalidConfigError, match="'colour' is not a parameter"):
        summarise(audits, rounds, by=["colour"])


def _audits(weak: list[str], pe: list[bool]) -> pd.DataFrame:
    """A tiny audits table: one defender per instance."""
    size = len(weak)
    return pd.DataFrame(
        {
            "mechanism": ["m"] * size,
            "grid_point": [0] * size,
            "replication": list(range(size)),
            "status": ["ok"] * size,
            "role": pd.array([pd.NA] * size, dtype="string"),
            "pareto_efficient": pd.array(pe, dtype="boolean"),
            "weak_up": weak,
            "strong_up": pd.array([pd.NA] * size, dtype="string"),
            "nash_consistent": pd.array([pd.NA] * size, dtype="boolean"),
            "sp_gain": [np.nan] * size,
            "sp_gain_half": [np.nan] * size,
            "sp_budget": pd.array([pd.NA] * size, dtype="Int64"),
            "ir_gain": [0.0] * size,
            "payoff_range": [1.0] * size,
            "welfare": [1.0] * size,
            "nse_welfare": [0.5] * size,
            "pooled_welfare": [1.5] * size,
        }
    )


def test_undetermined_verdicts_are_excluded_from_rates_and_reported():
    audits = _audits(["fails", "holds", "undetermined", "undetermined"], [True] * 4)
    row = summarise(audits, audits.iloc[0:0]).iloc[0]
    assert row["weak_up_failure_rate"] == 0.5  # 1 of the 2 determined instances
    assert row["weak_up_failure_n"] == 2 and row["weak_up_failure_undetermined"] == 0.5
    assert row["pe_failure_rate"] == 0.0 and row["pe_failure_undetermined"] == 0.0
    # never tested: missing, never a measured zero
    assert np.isnan(row["sp_failure_rate"]) and pd.isna(row["sp_failure_n"])
    assert np.isnan(row["strong_up_failure_rate"])


def test_a_property_tested_but_never_determined_is_not_reported_as_untested():
    audits = _audits(["undetermined", "undetermined"], [True, False])
    text = format_summary(summarise(audits, audits.iloc[0:0]), "markdown")
    assert "undetermined (n=0; u=100%)" in text  # weak UP: tested, nothing determined
    assert "| NA |" in text  # SP: never tested


def test_untested_simulated_properties_are_missing(study):
    summary = summarise(read_dataset(study, "audits"), read_dataset(study, "rounds"))
    sims = summary[summary["source"] == "simulation"]
    truthful = sims[sims["profile"] == "truthful"]
    assert truthful[["sp_failure_rate", "ir_failure_rate"]].isna().all().all()
    deviate = sims[sims["profile"] == "deviate"]
    assert deviate["sp_failure_rate"].isna().all() and deviate["ir_failure_rate"].notna().all()


def test_min_gain_changes_failures_and_summary_rethresholds_like_a_rerun(tmp_path):
    loose = tmp_path / "loose"
    strict = tmp_path / "strict"
    run_study(_config(**{"audits.min_gain": 0.0}), loose, jobs=1, quiet=True)
    run_study(_config(**{"audits.min_gain": 0.05}), strict, jobs=1, quiet=True)
    a_loose, a_strict = read_dataset(loose, "audits"), read_dataset(strict, "audits")
    pd.testing.assert_series_equal(a_loose["ir_gain"], a_strict["ir_gain"])  # raw gains stay
    loose_rates = summarise(a_loose, read_dataset(loose, "rounds"), min_gain=0.0)
    strict_rates = summarise(a_strict, read_dataset(strict, "rounds"), min_gain=0.05)
    audit = loose_rates["source"] == "audit"
    assert (  # the threshold bites
        loose_rates.loc[audit, "ir_failure_rate"].sum()
        > strict_rates.loc[audit, "ir_failure_rate"].sum()
    )
    by = _config().swept()  # the study's own summary.csv is grouped by its design
    rethresholded = summarise(a_loose, read_dataset(loose, "rounds"), by=by, min_gain=0.05)
    rerun = summarise(a_strict, read_dataset(strict, "rounds"), by=by, min_gain=0.05)
    pd.testing.assert_frame_equal(rethresholded, rerun)
    written = pd.read_csv(strict / "summary.csv")
    assert np.allclose(
        written["ir_failure_rate"].to_numpy(dtype=float),
        rerun["ir_failure_rate"].to_numpy(dtype=float),
        equal_nan=True,
    )


def test_default_random_role_measures_the_dictatorship_non_dictators(tmp_path):
    """Equal resources, the default profile: the strategic defender is drawn per
    replication, so simulated IR failures of non-dictators are measured (the old
    default made the dictator the only strategic defender, and the rate 0)."""
    config = _config(
        **{
            "study.replications": 16,
            "generator.grid": {"correlation": [0.0]},
            "mechanisms": [{"name": "dictatorship"}],
            "profiles": [{"name": "deviate", "executing": "optimal_deviation"}],
        }
    )
    assert config.profiles[0].strategic == "random"
    run_study(config, tmp_path / "s", jobs=1, quiet=True)
    rounds = read_dataset(tmp_path / "s", "rounds")
    summary = summarise(read_dataset(tmp_path / "s", "audits"), rounds)
    sims = summary[summary["source"] == "simulation"].set_index("role")
    assert sims.loc["other", "ir_failure_rate"] > 0
    assert set(sims.index) == {"all", "leader", "other"}
    strategic = rounds[rounds["strategic"]]
    assert 0.1 < (strategic["role"] == "leader").mean() < 0.9  # both roles are sampled


def test_strategic_modes():
    assert BehaviourProfile("p").strategic == "random"
    assert BehaviourProfile("p").runs(3, drawn=2) == [[2]]
    assert BehaviourProfile("p", strategic="each").runs(3, drawn=0) == [[0], [1], [2]]
    assert BehaviourProfile("p", strategic="first").runs(3, drawn=2) == [[0]]
    assert BehaviourProfile("p", strategic="all").runs(3, drawn=2) == [[0, 1, 2]]
    assert BehaviourProfile("p", strategic=[2, 0]).runs(3, drawn=1) == [[0, 2]]
    with pytest.raises(InvalidParameterError, match="strategic must be"):
        BehaviourProfile("p", strategic="most")
    draws = {strategic_draw(7, r, 3) for r in range(40)}
    assert draws == {0, 1, 2} and strategic_draw(7, 5, 3) == strategic_draw(7, 5, 3)


def test_each_runs_one_simulation_per_defender(tmp_path):
    config = _config(
        **{
            "study.replications": 2,
            "profiles": [{"name": "each", "executing": "shirk", "strategic": "each"}],
        }
    )
    run_study(config, tmp_path / "s", jobs=1, quiet=True)
    rounds = read_dataset(tmp_path / "s", "rounds")
    focal = rounds.groupby(["grid_point", "mechanism", "replication"])["focal_defender"].unique()
    assert all(sorted(v) == [0, 1] for v in focal)
    strategic = rounds[rounds["strategic"]]
    assert (strategic["defender"] == strategic["focal_defender"]).all()


def test_the_random_strategic_defender_is_paired_across_conditions(study):
    rounds = read_dataset(study, "rounds")
    strategic = rounds[rounds["strategic"] & (rounds["round"] == 0)]
    chosen = strategic.groupby(["grid_point", "replication"])["defender"].nunique()
    assert (chosen == 1).all()  # the same defender for every mechanism and profile
    audits = read_dataset(study, "audits")
    marked = audits[audits["strategic"]].set_index(["grid_point", "replication", "mechanism"])
    merged = strategic.drop_duplicates(["grid_point", "replication"]).set_index(
        ["grid_point", "replication"]
    )["defender"]
    for (g, r, _), row in marked.iterrows():
        assert row["defender"] == merged.loc[(g, r)]


def test_report_flags_a_role_confound(tmp_path):
    config = _config(
        **{
            "generator.params": {"n_defenders": 2, "n_targets": 3, "resources": [2, 1]},
            "generator.grid": {"correlation": [0.0]},
            "mechanisms": [{"name": "dictatorship"}, {"name": "utilitarian"}],
            "profiles": [{"name": "first", "executing": "optimal_deviation", "strategic": "first"}],
        }
    )
    run_study(config, tmp_path / "s", jobs=1, quiet=True)
    flags = role_confounds(read_dataset(tmp_path / "s", "rounds"))
    assert len(flags) == 1 and "dictatorship under first" in flags[0] and "100%" in flags[0]
    assert main(["plot", str(tmp_path / "s")]) == 0
    page = (tmp_path / "s" / "figures" / "report.html").read_text()
    assert "is the mechanism&#x27;s leader in 100% of rounds" in page


def test_summary_formats(study, capsys):
    audits, rounds = read_dataset(study, "audits"), read_dataset(study, "rounds")
    summary = summarise(audits, rounds)
    latex = format_summary(summary, "latex", study="results")
    assert latex.startswith(r"\begin{table}") and r"\toprule" in latex and r"csw\_max" in latex
    markdown = format_summary(summary, "markdown")
    assert markdown.splitlines()[1].startswith("|---") and "[" in markdown  # CIs shown
    assert format_summary(summary, "csv").startswith("source,mechanism")
    for fmt in ("table", "markdown", "latex", "csv"):
        assert main(["summary", str(study), "--format", fmt]) == 0
    with pytest.raises(SystemExit) as stop:
        main(["summary", str(study), "--min-gain", "2"])
    assert stop.value.code == 2
    assert "expected a number in [0, 1); got '2'" in capsys.readouterr().err


def test_figures_are_public_captioned_and_put_parameters_on_the_x_axis(study):
    audits, rounds = read_dataset(study, "audits"), read_dataset(study, "rounds")
    figures = [
        failure_rates(audits, by=["correlation"]),
        simulated_failure_rates(rounds, by=["correlation"]),
        gain_distributions(audits, rounds, by=["correlation"]),
        welfare(audits, by=["correlation"]),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        assert fig._suptitle is None and not fig.texts  # the caption is not drawn on it
        assert "interval" in caption(fig) or "One point per instance" in caption(fig)
        for axis in fig.axes:
            ticks = [t.get_text() for t in axis.get_xticklabels()]
            assert any("-0.5" in t for t in ticks) and any("0.5" in t for t in ticks)
    assert [a.get_title() for a in figures[0].axes] == [
        "PE",
        "weak UP",
        "strong UP",
        "SP (at least)",
        "IR",
    ]
    assert learning_curves(rounds, by=["correlation"]) is None  # nothing in it learns
    assert mechanism_colours(["b", "a"]) == mechanism_colours(["a", "b", "a"])
    with pytest.raises(InvalidConfigError, match="ax draws one panel"):
        failure_rates(audits, by=["correlation"], ax=figures[0].axes[0])
    with pytest.raises(InvalidConfigError, match=r"panels \['xx'\] not drawn here"):
        failure_rates(audits, panels=["xx"])


def test_long_profile_names_wrap_after_underscores():
    from runs.plots import _wrapped

    assert _wrapped("best_response_misreport") == "best_response_\nmisreport"
    assert _wrapped("truthful") == "truthful"
    for name in ("optimal_deviation", "a_b_c_d_e_f_g_h_i_j_k", "unbreakablelongprofilename"):
        lines = _wrapped(name).split("\n")
        assert "".join(lines) == name
        assert all(len(line) <= 14 or "_" not in line[:-1] for line in lines)


# -- the confidence intervals ---------------------------------------------------------
@settings(max_examples=examples(200), deadline=None)
@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_clopper_pearson_is_binomtests_exact_interval(counts):
    """The beta quantiles equal scipy's root-found exact interval (its tolerance)."""
    k, n = counts
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert clopper_pearson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_clopper_pearson_closed_forms():
    """At k = 0 the upper end solves (1 - p)^n = alpha / 2, and symmetrically at k = n."""
    assert clopper_pearson(0, 10) == pytest.approx((0.0, 1 - 0.025**0.1), abs=1e-12)
    assert clopper_pearson(10, 10) == pytest.approx((0.025**0.1, 1.0), abs=1e-12)
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    with pytest.raises(InvalidParameterError, match="successes <= trials"):
        clopper_pearson(3, 2)


@pytest.mark.parametrize("by", [[], ["correlation"]])
def test_simulation_rows_count_each_condition_directly(study, by):
    """The grouped simulation tallies against counting each condition's strategic
    rounds (and each role's) one by one."""
    audits, rounds = read_dataset(study, "audits"), read_dataset(study, "rounds")
    summary = summarise(audits.iloc[0:0], rounds, by=by, min_gain=1e-6)
    ok = rounds[(rounds["status"] == "ok") & rounds["strategic"].fillna(False)]
    keys = ["mechanism", "profile", *by]
    checked = 0
    for values, group in ok.groupby(keys):
        parts = [("all", group), *((str(r), p) for r, p in group.groupby("role"))]
        for role, part in parts:
            mask = summary["role"] == role
            for key, value in zip(keys, values, strict=True):
                mask &= summary[key] == value
            (row,) = summary[mask].to_dict("records")
            deviates = (group["executing"] != "follow").any()
            tested = part[part["ir_gain"].notna()] if deviates else part.iloc[0:0]
            fails = tested["ir_gain"] > 1e-6 * tested["payoff_range"]
            run = ["grid_point", "replication", "focal_defender"]
            runs = fails.groupby([tested[c] for c in run], dropna=False).any()
            assert row["unit"] == "run"
            if len(tested):
                assert row["ir_failure_n"] == len(runs)  # runs, never rounds
                assert row["ir_failure_rate"] == pytest.approx(runs.mean())
                assert row["ir_round_share"] == pytest.approx(fails.mean())
            else:
                assert np.isnan(row["ir_failure_rate"])  # untested, never 0
            assert np.isnan(row["sp_failure_rate"])  # no profile misreports
            assert row["units"] == len(part.drop_duplicates(run))
            assert row["mean_expected_utility"] == pytest.approx(part["expected_utility"].mean())
            checked += 1
    assert checked >= 6  # two mechanisms x two profiles, and the dictator's roles
