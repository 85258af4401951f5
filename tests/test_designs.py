"""Experimental designs and sensitivity analysis (issue 32, items 1 and 2): Latin
hypercube, scrambled Sobol' and Saltelli designs over generator parameter ranges,
seeded from the study's root seed; Sobol' indices with bootstrap intervals, checked on
the Ishigami function."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from SALib.test_functions import Ishigami

from runs.cli import main
from runs.config import load_config, parse_config
from runs.design import Design, Range
from runs.export import read_dataset
from runs.runner import run_study
from runs.sensitivity import sobol_indices, study_sensitivity
from sim.errors import InvalidConfigError

from tests_support import TINY

#: Ishigami's function with a = 7, b = 0.1 on [-pi, pi]^3: its analytic first-order
#: and total indices (Ishigami and Homma 1990; Sobol' and Levitan 1999).
ISHIGAMI_S1 = (0.3139, 0.4424, 0.0)
ISHIGAMI_ST = (0.5576, 0.4424, 0.2437)


def test_sobol_indices_of_the_ishigami_function():
    design = Design("saltelli", 2**12, tuple(Range(f"x{i}", -np.pi, np.pi) for i in (1, 2, 3)))
    points = design.points(seed=11)
    x = np.array([[p["x1"], p["x2"], p["x3"]] for p in points])
    table = sobol_indices(design, Ishigami.evaluate(x))
    assert list(table["parameter"]) == ["x1", "x2", "x3"]
    assert np.allclose(table["S1"], ISHIGAMI_S1, atol=0.03)
    assert np.allclose(table["ST"], ISHIGAMI_ST, atol=0.03)
    # the bootstrap intervals cover the analytic values
    for index, analytic in (("S1", ISHIGAMI_S1), ("ST", ISHIGAMI_ST)):
        low, high = table[f"{index}_low"].to_numpy(), table[f"{index}_high"].to_numpy()
        assert np.all(low <= analytic) and np.all(np.asarray(analytic) <= high), index


def test_a_constant_metric_has_no_indices():
    design = Design("saltelli", 8, (Range("a", 0, 1), Range("b", 0, 1)))
    table = sobol_indices(design, np.ones(design.size()))
    assert table[["S1", "ST"]].isna().all().all()
    with pytest.raises(InvalidConfigError, match="need 32 outputs"):
        sobol_indices(design, np.ones(5))


@pytest.mark.parametrize("kind", ["lhs", "sobol", "saltelli"])
def test_a_design_is_determined_by_the_root_seed(kind):
    ranges = (Range("correlation", -0.9, 0.9), Range("n_targets", 3, 8, integer=True))
    design = Design(kind, 16, ranges)
    first, again, other = design.points(5), design.points(5), design.points(6)
    assert first == again and first != other
    assert len(first) == design.size()
    assert all(-0.9 <= p["correlation"] <= 0.9 for p in first)
    assert all(isinstance(p["n_targets"], int) and 3 <= p["n_targets"] <= 8 for p in first)


def test_a_latin_hypercube_puts_one_point_in_each_stratum():
    design = Design("lhs", 10, (Range("a", 0.0, 1.0), Range("b", -5.0, 5.0)))
    points = design.points(3)
    for name, low, high in (("a", 0.0, 1.0), ("b", -5.0, 5.0)):
        strata = sorted(int((p[name] - low) / (high - low) * 10) for p in points)
        assert strata == list(range(10))


def test_integer_ranges_reach_every_value_equally():
    design = Design("sobol", 1024, (Range("k", 1, 4, integer=True),))
    counts = np.bincount([p["k"] for p in design.points(0)], minlength=5)[1:]
    assert list(counts) == [256] * 4  # a Sobol' sequence is balanced at powers of two


def _config(design, **generator):
    data = copy.deepcopy(TINY)
    data["generator"] = {"name": "covariant", "params": {"n_targets": 3, **generator}}
    data["study"].update(replications=1, rounds=0, chunk_size=1)
    data["mechanisms"] = [{"name": "csw_max"}]
    data["profiles"] = [{"name": "truthful"}]
    data["audits"] = {"pareto": False, "utility_preservation": False, "misreport_budget": 0}
    data["design"] = design
    return data


SALTELLI = {
    "kind": "saltelli",
    "samples": 4,
    "ranges": {"correlation": [-0.9, 0.9], "n_defenders": {"low": 2, "high": 3, "integer": True}},
}


@pytest.mark.parametrize(
    ("design", "generator", "match"),
    [
        ({"kind": "grid"}, {}, r"'design.kind' must be one of"),
        ({"kind": "lhs", "samples": 4}, {}, r"'design.ranges' must be a non-empty table"),
        ({"kind": "sobol", "samples": 6, "ranges": {"correlation": [0, 1]}}, {}, "power of two"),
        ({"kind": "lhs", "samples": 4, "ranges": {"correlation": [1, 0]}}, {}, "low < high"),
        (
            {
                "kind": "lhs",
                "samples": 4,
                "ranges": {"n_targets": {"low": 2.5, "high": 4, "integer": True}},
            },
            {},
            "must be integers",
        ),
        ({"kind": "lhs", "samples": 4, "ranges": {"correlation": [0, 1]}, "x": 1}, {}, "unknown"),
        ({"kind": "full", "samples": 4}, {}, "drop samples and ranges"),
        (
            {"kind": "lhs", "samples": 4, "ranges": {"correlation": [0, 1]}},
            {"correlation": 0.1},
            "also set",
        ),
        ({"kind": "lhs", "samples": 4, "ranges": {"correlation": [0, 2]}}, {}, r"correlation"),
    ],
)
def test_a_bad_design_is_named(design, generator, match):
    with pytest.raises(InvalidConfigError, match=match):
        parse_config(_config(design, **generator))


def test_a_design_and_a_grid_are_exclusive():
    data = _config(SALTELLI)
    data["generator"]["grid"] = {"resources": [1, 2]}
    with pytest.raises(InvalidConfigError, match=r"sweep parameters in design\.ranges instead"):
        parse_config(data)


def test_the_design_is_part_of_the_study_and_grids_keep_their_hash():
    config = parse_config(_config(SALTELLI))
    assert config.resolved()["design"]["kind"] == "saltelli" and config.swept() == []
    other = copy.deepcopy(SALTELLI)
    other["samples"] = 8
    assert parse_config(_config(other)).design_sha256() != config.design_sha256()
    assert "design" not in load_config("quickstart").resolved()  # older studies unchanged


@pytest.fixture(scope="module")
def saltelli_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("designs") / "s"
    result = run_study(parse_config(_config(SALTELLI)), out, jobs=2, quiet=True)
    assert result.ok
    return out


def test_a_study_on_a_saltelli_design_runs_its_points(saltelli_study):
    audits = read_dataset(saltelli_study, "audits")
    config = parse_config(_config(SALTELLI))
    assert audits["grid_point"].nunique() == len(config.grid_points()) == 16
    for point, part in audits.groupby("grid_point"):
        expected = config.grid_points()[int(point)]
        assert part["correlation"].iloc[0] == pytest.approx(expected["correlation"])
        assert part["n_defenders"].iloc[0] == expected["n_defenders"]


def test_sensitivity_of_a_study(saltelli_study, capsys):
    table = study_sensitivity(saltelli_study, "welfare", resamples=200)
    assert list(table["parameter"]) == ["correlation", "n_defenders"]
    assert set(table["mechanism"]) == {"csw_max"} and (table["points"] == 16).all()
    assert main(["sensitivity", str(saltelli_study), "--metric", "welfare"]) == 0
    out, err = capsys.readouterr()
    assert "n_defenders" in out and "sensitivity_welfare.png" in err
    assert (saltelli_study / "figures" / "sensitivity_welfare.pdf").is_file()
    assert main(["sensitivity", str(saltelli_study), "--metric", "nothing"]) == 2
    assert "is not a metric of this study; choose from" in capsys.readouterr().err
    assert main(["sensitivity", str(saltelli_study), "--metric", "sp_failure"]) == 2
    assert "was not measured" in capsys.readouterr().err


def test_sensitivity_needs_a_saltelli_design(tmp_path, capsys):
    lhs = {**SALTELLI, "kind": "lhs"}
    run_study(parse_config(_config(lhs)), tmp_path / "lhs", jobs=1, quiet=True)
    assert main(["sensitivity", str(tmp_path / "lhs"), "--metric", "welfare"]) == 2
    assert "needs a study run on [design] kind = 'saltelli'" in capsys.readouterr().err


def test_the_dry_run_shows_the_design(capsys):
    assert main(["run", "csw_max_sensitivity", "--dry-run", "--pilot-seconds", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "saltelli design of 64 samples over correlation in [-0.9, 0.9]" in out
    assert "384 point(s): the first 5:" in out
