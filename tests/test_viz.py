"""The live view's model and components (issue 14): what ``defcoord viz`` serves,
exercised without a browser (``test_browser.py`` drives it in Chromium)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("solara", reason="the live view needs the viz extra")

from runs.cli import main
from runs.viz import (
    LiveModel,
    ViewModel,
    components,
    coverage_view,
    deviation_text,
    deviation_view,
    model_params,
    notice_view,
)
from sim.errors import InvalidGameError, InvalidParameterError
from sim.generators import make_generator
from sim.instances import example_5_2


def _render(model):
    """Every component's element."""
    return [component(model) for component in components()]


def test_it_opens_on_example_5_2_under_csw_max_with_an_optimal_deviator():
    model = LiveModel()
    assert model.game == example_5_2() and model.authority.mechanism.name == "csw_max"
    assert model.strategic == [1]
    for _ in range(3):
        model.step()
    frame = model.datacollector.get_agenttype_vars_dataframe(type(model.defenders[0]))
    deviator = frame[frame["defender"] == 1]
    # Theorem 5.5: under CSW-Max on Example 5.2 defender 1's deviation pays every round
    assert len(deviator) == 3 and bool(deviator["ir_gain"].gt(0).all())
    assert bool(frame[frame["defender"] != 1]["ir_gain"].eq(0).all())


def test_the_widgets_match_the_model_arguments_and_their_defaults():
    import inspect

    params = model_params()
    signature = inspect.signature(LiveModel.__init__).parameters
    assert set(params) == set(signature) - {"self"}
    for name, widget in params.items():
        assert widget["value"] == signature[name].default, name
        if widget["type"] == "Select":
            assert widget["value"] in widget["values"], name


@pytest.mark.parametrize("attacker", ["informed", "learning", "quantal"])
def test_every_component_renders_before_and_after_rounds(attacker):
    model = LiveModel(attacker=attacker, reporting="learning_misreport", strategic="all")
    before = _render(model)
    for _ in range(4):
        model.step()
    after = _render(model)
    assert len(before) == len(after) == 7

    # before the first round the panels wait for it; afterwards every plot is a figure
    # (only the learning attacker has a belief to draw); the last, the Reset notice,
    # is empty
    def kinds(elements):
        return [e.component.name for e in elements]

    figure = "FigureMatplotlib"
    belief = figure if attacker == "learning" else "Markdown"
    assert kinds(before) == ["Column"] + ["Markdown"] * 6
    assert kinds(after) == ["Column", figure, "Column", figure, figure, belief, figure]


def test_the_behavioural_attackers_take_their_sliders():
    """The quantal precision and the SUQR weights reach the attacker the rounds play
    (and a precision of 0 attacks uniformly: each target about a third of the time)."""
    quantal = LiveModel(attacker="quantal", precision=0.0)
    assert quantal.attacker.attacker_model.precision == 0.0
    suqr = LiveModel(attacker="suqr", w_coverage=-4.0, w_reward=2.0, w_penalty=0.5)
    model = suqr.attacker.attacker_model
    assert (model.w_coverage, model.w_reward, model.w_penalty) == (-4.0, 2.0, 0.5)
    assert LiveModel(attacker="informed", precision=3.0).attacker.attacker_model.name == "informed"
    with pytest.raises(InvalidParameterError, match="precision"):
        LiveModel(attacker="quantal", precision=-1.0)
    for _ in range(300):
        quantal.step()
    attacked = [r.attacked_target for r in quantal.records]
    counts = np.bincount(attacked, minlength=quantal.game.n_targets) / len(attacked)
    np.testing.assert_allclose(counts, 1 / quantal.game.n_targets, atol=0.1)


def test_a_stronger_attacker_hits_several_targets_a_round():
    model = LiveModel(game="uniform", n_targets=6, mechanism="pooled_sse", attacker_resources=3)
    for _ in range(3):
        model.step()
    assert all(len(record.attacked_targets) == 3 for record in model.records)
    assert _render(model)[1].component.name == "FigureMatplotlib"
    with pytest.raises(InvalidGameError, match="attacker_resources must be an int in"):
        LiveModel(game="uniform", n_targets=4, attacker_resources=5)


@pytest.mark.parametrize("executing", ["follow", "optimal_deviation", "shirk"])
def test_jurisdictions_in_the_live_view_keep_every_defender_on_her_own_targets(executing):
    model = LiveModel(
        game="uniform", n_defenders=3, n_targets=8, jurisdiction=40, executing=executing
    )
    assert model.game.restricted
    for _ in range(4):
        model.step()
    allowed = model.game.allowed
    for record in model.records:
        for row in record.defenders:
            assert all(allowed[row.defender, t] for t in (*row.recommended, *row.executed))


def test_generators_and_game_files(tmp_path):
    model = LiveModel(game="covariant", n_defenders=4, n_targets=7, strategic="3", seed=5)
    assert (model.game.n_defenders, model.game.n_targets) == (4, 7)
    game = make_generator("uniform", n_defenders=2, n_targets=4).sample(
        __import__("numpy").random.default_rng(0)
    )
    path = tmp_path / "game.json"
    path.write_text(json.dumps(game.to_dict()))
    assert LiveModel(game="file", game_file=str(path), strategic="0").game == game


def test_bad_choices_are_named():
    with pytest.raises(InvalidParameterError, match="defender 5 but the game has 3"):
        LiveModel(strategic="5")
    with pytest.raises(InvalidParameterError, match="strategic"):
        LiveModel(strategic="first")
    with pytest.raises(InvalidGameError, match="cannot read game file"):
        LiveModel(game="file", game_file="/nonexistent/game.json")


def test_viz_cli_rejects_a_bad_port_in_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["viz", "--port", "70000"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "port number in 1..65535" in err
    assert len(err.strip().splitlines()) == 1


def test_viz_cli_rejects_a_bad_game_file_before_serving(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"defender_reward": [[1]]}')
    for path in ("/nonexistent/game.json", str(bad)):
        assert main(["viz", "--game", path]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"defcoord: error: cannot read game file {path!r}") or (
            err.startswith(f"defcoord: error: game file {path!r}: SecurityGame.from_dict")
        )
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_viz_cli_refuses_a_taken_port_in_one_line(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        assert main(["viz", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"defcoord: error: cannot serve on 127.0.0.1:{port}")
    assert len(err.strip().splitlines()) == 1


def test_a_reset_the_page_cannot_build_keeps_the_last_model_and_says_why(tmp_path):
    """Issue 33 #17: Reset after the game file was deleted or made invalid replaced the
    page with a traceback; the page's model keeps the last game that loaded."""
    game = make_generator("uniform", n_defenders=2, n_targets=4).sample(
        __import__("numpy").random.default_rng(0)
    )
    path = tmp_path / "game.json"
    path.write_text(json.dumps(game.to_dict()))
    good = ViewModel(game="file", game_file=str(path), strategic="0")
    assert good.game == game and good.notice == ""
    path.write_text("{ not json")
    kept = ViewModel(game="file", game_file=str(path), strategic="0")
    assert kept.game == game and "Not applied" in kept.notice and "game.json" in kept.notice
    path.unlink()
    kept = ViewModel(game="file", game_file=str(path), strategic="0")
    assert kept.game == game and "cannot read game file" in kept.notice
    shown = notice_view(kept).kwargs["children"]
    assert [e.component.name for e in shown] == ["Style", "Warning"]
    kept = ViewModel(game="file", game_file=str(path.with_name("other.json")), strategic="7")
    assert kept.game == game


@pytest.mark.slow
def test_killing_defcoord_viz_leaves_no_server_behind(tmp_path):
    """Issue 33 #17: `defcoord viz` killed with SIGKILL left its server on the port."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    viz = subprocess.Popen(
        [sys.executable, "-m", "runs", "viz", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )

    def listening() -> bool:
        with socket.socket() as client:
            return client.connect_ex(("127.0.0.1", port)) == 0

    deadline = time.monotonic() + 120
    while not listening():
        assert time.monotonic() < deadline and viz.poll() is None, "the view never came up"
        time.sleep(0.5)
    viz.kill()
    viz.wait()
    deadline = time.monotonic() + 30
    while listening():
        assert time.monotonic() < deadline, "the server outlived defcoord viz"
        time.sleep(0.5)


def test_a_file_game_is_chosen_in_the_game_dropdown(tmp_path, monkeypatch):
    """Issue 30: the Game dropdown stayed on example_5_2 while a file was played; the
    file is now a choice of its own, and the view opened on one shows it."""
    with pytest.raises(InvalidParameterError, match="no game file is named"):
        LiveModel(game="file")
    path = tmp_path / "game.json"
    path.write_text(json.dumps(example_5_2().to_dict()))
    assert LiveModel(game_file=str(path)).game == example_5_2()  # Game decides, not the box
    monkeypatch.setenv("DEFCOORD_VIZ_GAME", str(path))
    params = model_params()
    assert params["game"]["value"] == "file" and params["game_file"]["value"] == str(path)
    assert "file" in params["game"]["values"]


def test_rounds_are_counted_from_one_like_the_step_counter():
    model = LiveModel()
    for _ in range(3):
        model.step()
    assert model.steps == 3
    title = coverage_view(model).args[0].axes[0].get_title()
    assert title.startswith("Round 3:")


def test_an_optimal_deviation_is_shown_and_said():
    """Issue 30: an optimal deviation moves a sliver of coverage to break the
    attacker's tie, so the bars of the recommended and the coverage in force look the
    same; the view draws the difference on its own scale and says what it did."""
    model = LiveModel()  # Example 5.2, CSW-Max, defender 1 deviating optimally
    model.step()
    record = model.records[-1]
    shift = np.subtract(record.effective_coverage, record.outcome_coverage)
    assert 0 < np.abs(shift).max() < 0.05  # a sliver
    figure = deviation_view(model).kwargs["children"][0].args[0]
    low, high = figure.axes[0].get_ylim()
    assert low == -high
    assert high == pytest.approx(1.2 * np.abs(shift).max())  # scaled to it
    text = deviation_text(model)
    assert "defender 1 gained" in text and "IR gain +" in text
    assert f"instead of the designated target {record.designated_targets[0]}" in text
    quiet = LiveModel(executing="follow")
    quiet.step()
    assert "every defender followed" in deviation_text(quiet)
