"""The live view: a SolaraViz app (Mesa 3.3's ``mesa.visualization``) that plays a
:class:`~agents.model.CoordinationModel` round by round in the browser.

``defcoord viz`` serves it (``solara run runs.viz``; the ``viz`` extra installs
solara). It opens on the paper's Example 5.2 under CSW-Max with defender 1 deviating
optimally, the game of Theorem 5.5, so the first presses of *Step* already show a
profitable deviation: IR fails. The sidebar changes the game (an instance of the
paper, a generator with n and m, or ``file``: the JSON game file named below it), the
mechanism, the strategic defender's behaviours, the attacker model and the seed;
*Reset* applies them. Choices that cannot be applied (a missing or malformed file, a
defender the game lacks) leave the last model in place and say why on the page.
Rounds are numbered from 1, as Mesa's step counter counts them.

The components, each redrawn after every step:

* coverage per target: recommended and in force, the attacked target marked;
* the deviations: the coverage in force minus the recommended one per target (an
  optimal deviation may move a thousandth of a resource to change the attacker's
  choice), and in words whose deviation moved the attack where, and what it gained;
* each defender's cumulative realised utility beside her counterfactuals (had she
  followed, had she reported truthfully), drawn where they differ;
* the SP and IR gains of every defender per round (Properties 3 and 4);
* the learning attacker's belief beside the coverage in force;
* total welfare per round, from the model's DataCollector.
"""

from __future__ import annotations

import inspect
import os
import warnings
from typing import Any, ClassVar

import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

with warnings.catch_warnings():
    # Mesa 3.3's ComponentsView calls a hook after an early return, which solara's hook
    # check reports on import; it is Mesa's (harmless here: the list is never empty)
    warnings.filterwarnings("ignore", ".*ComponentsView", UserWarning)
    from mesa.visualization import SolaraViz

from agents.attackers import ATTACKERS, make_attacker
from agents.behaviours import EXECUTION, REPORTING
from agents.model import CoordinationModel
from agents.profiles import BehaviourProfile
from mechanisms import MECHANISMS, make_mechanism
from runs.gamefile import VIZ_GAME_ENV, read_game
from runs.style import mechanism_style
from sim.errors import InvalidParameterError, SimError
from sim.game import SecurityGame
from sim.generators import GENERATORS, make_generator
from sim.instances import example_5_2, theorem_3_2
from sim.registry import params_of

#: The paper's instances the view offers beside the generators.
INSTANCES = {"example_5_2": example_5_2, "theorem_3_2": theorem_3_2}

#: A coverage shift below this is rounding, not a deviation, in the view's words.
SHIFT_SHOWN = 1e-9

#: The Game choice that plays the game file named in the sidebar.
FILE = "file"

#: The sliders' values are drawn on their thumbs at all times (Mesa's sidebar shows
#: them only while one is dragged).
SLIDER_VALUES_CSS = """
.v-slider__thumb-label-container { display: block !important; }
.v-input__slider { padding-top: 28px; }
.v-slider__thumb-label { transform: translateY(-20%) translateY(-12px) translateX(-50%)
  rotate(45deg) !important; }
"""

#: The choices of the strategic-defenders widget.
STRATEGIC = ("none", "all", *(str(i) for i in range(8)))


def live_game(
    game: str, game_file: str, n_defenders: int, n_targets: int, seed: int, jurisdiction: int = 100
) -> SecurityGame:
    """The view's game: the file ``game_file`` when ``game`` is :data:`FILE`, else the
    instance or a draw of the generator ``game`` (with ``n_defenders``, ``n_targets``,
    ``seed`` and each defender guarding ``jurisdiction`` percent of the targets)."""
    if game == FILE:
        if not game_file.strip():
            raise InvalidParameterError("Game is 'file' but no game file is named below it")
        return read_game(game_file.strip())
    if game in INSTANCES:
        return INSTANCES[game]()
    generator = make_generator(
        game, n_defenders=n_defenders, n_targets=n_targets, jurisdiction=jurisdiction / 100
    )
    return generator.sample(np.random.default_rng(seed))


class LiveModel(CoordinationModel):
    """A :class:`~agents.model.CoordinationModel` built from the plain values the
    view's widgets hold (SolaraViz re-creates it with them on *Reset*).

    Parameters
    ----------
    game : str
        ``example_5_2``, ``theorem_3_2``, a generator name, or ``file``.
    game_file : str
        A JSON game file, played when ``game`` is ``file``.
    n_defenders, n_targets : int
        The generator's sizes (ignored by the instances and files).
    mechanism, reporting, executing, attacker : str
        Registry names (``defcoord list``).
    strategic : str
        Who plays ``reporting``/``executing``: ``none``, ``all`` or a defender index.
    attacker_resources : int
        How many targets the attacker hits each round (the game's
        ``attacker_resources``; at most its number of targets).
    precision : float
        The ``quantal`` attacker's precision (in the attacker's standard units).
    w_coverage, w_reward, w_penalty : float
        The ``suqr`` attacker's weights (``docs/behavioural.md`` §1).
    jurisdiction : int
        The percentage of the targets each defender may guard (generators only; 100:
        no jurisdictions, ``docs/jurisdictions.md``).
    seed : int
        Seeds the generator's draw and the model's ``rng``.
    """

    def __init__(
        self,
        game: str = "example_5_2",
        game_file: str = "",
        n_defenders: int = 3,
        n_targets: int = 6,
        mechanism: str = "csw_max",
        reporting: str = "truthful",
        executing: str = "optimal_deviation",
        strategic: str = "1",
        attacker: str = "informed",
        attacker_resources: int = 1,
        precision: float = 10.0,
        w_coverage: float = -9.0,
        w_reward: float = 3.0,
        w_penalty: float = 1.0,
        jurisdiction: int = 100,
        seed: int = 1,
    ) -> None:
        the_game = live_game(game, game_file, n_defenders, n_targets, seed, jurisdiction)
        weights = {"w_coverage": w_coverage, "w_reward": w_reward, "w_penalty": w_penalty}
        self._build(
            the_game,
            mechanism=mechanism,
            reporting=reporting,
            executing=executing,
            strategic=strategic,
            attacker=attacker,
            attacker_params={"quantal": {"precision": precision}, "suqr": weights}.get(
                attacker, {}
            ),
            attacker_resources=attacker_resources,
            seed=seed,
        )

    def _build(
        self,
        source: SecurityGame,
        *,
        mechanism: str,
        reporting: str,
        executing: str,
        strategic: str,
        attacker: str,
        attacker_params: dict[str, float],
        attacker_resources: int,
        seed: int,
    ) -> None:
        """The model of ``source`` (the game before ``attacker_resources``) and the
        other choices."""
        self.source = source
        the_game = source.with_attacker_resources(attacker_resources)
        n = the_game.n_defenders
        if strategic not in STRATEGIC:
            raise InvalidParameterError(
                f"LiveModel.strategic must be one of {list(STRATEGIC)}; got {strategic!r}"
            )
        if strategic not in ("none", "all") and int(strategic) >= n:
            raise InvalidParameterError(
                f"LiveModel.strategic names defender {strategic} but the game has {n} defenders"
            )
        chosen = {"none": [], "all": list(range(n))}.get(strategic) or [int(strategic)]
        profile = BehaviourProfile("live", reporting=reporting, executing=executing)
        super().__init__(
            the_game,
            make_mechanism(mechanism),
            profile.behaviours(n, chosen),
            attacker=make_attacker(attacker, **attacker_params),
            rounds=0,
            rng=seed,
        )
        self.strategic = chosen


def model_params() -> dict[str, Any]:
    """SolaraViz's parameter widgets, one per :class:`LiveModel` argument."""

    def select(value: str, values: list[str], label: str) -> dict[str, Any]:
        return {"type": "Select", "value": value, "values": values, "label": label}

    def slider(value: int, low: int, high: int, label: str, step: int = 1) -> dict[str, Any]:
        return {
            "type": "SliderInt",
            "value": value,
            "min": low,
            "max": high,
            "step": step,
            "label": label,
        }

    def number(value: float, low: float, high: float, step: float, label: str) -> dict[str, Any]:
        return {
            "type": "SliderFloat",
            "value": value,
            "min": low,
            "max": high,
            "step": step,
            "label": label,
        }

    opened = os.environ.get(VIZ_GAME_ENV, "")
    return {
        "game": select(
            FILE if opened else "example_5_2", [*INSTANCES, *GENERATORS.names(), FILE], "Game"
        ),
        "game_file": {
            "type": "InputText",
            "value": opened,
            "label": "Game file (JSON; played when Game is 'file')",
        },
        "n_defenders": slider(3, 2, 8, "Defenders (generators)"),
        "n_targets": slider(6, 2, 30, "Targets (generators)"),
        "mechanism": select("csw_max", MECHANISMS.names(), "Mechanism"),
        "reporting": select("truthful", REPORTING.names(), "Strategic reporting"),
        "executing": select("optimal_deviation", EXECUTION.names(), "Strategic execution"),
        "strategic": select("1", list(STRATEGIC), "Strategic defender(s)"),
        "attacker": select("informed", ATTACKERS.names(), "Attacker model"),
        "attacker_resources": slider(1, 1, 5, "Attacks per round"),
        "precision": number(10.0, 0.0, 200.0, 0.5, "Quantal precision (quantal)"),
        "w_coverage": number(-9.0, -20.0, 0.0, 0.5, "Weight on coverage (suqr)"),
        "w_reward": number(3.0, 0.0, 10.0, 0.5, "Weight on reward (suqr)"),
        "w_penalty": number(1.0, -5.0, 5.0, 0.5, "Weight on penalty (suqr)"),
        "jurisdiction": slider(100, 10, 100, "Jurisdiction %", step=10),
        "seed": slider(1, 0, 999, "Seed"),
    }


def _figure(rows: int = 1) -> tuple[Figure, Any]:
    figure = Figure(figsize=(6.4, 2.6 * rows), layout="constrained")
    return figure, figure.subplots(rows, 1, squeeze=False)[:, 0]


def _waiting(what: str) -> Any:
    return solara.Markdown(f"**{what}**: press *Step* to play the first round.")


def coverage_view(model: LiveModel) -> Any:
    """Coverage per target this round: recommended and in force; each attacked target
    is marked (a filled star if it was covered, an open one if not)."""
    if not model.records:
        return _waiting("Coverage per target")
    record = model.records[-1]
    figure, (axes,) = _figure()
    targets = np.arange(len(record.effective_coverage))
    axes.bar(targets - 0.2, record.outcome_coverage, 0.4, label="recommended", color="#9ecae1")
    axes.bar(targets + 0.2, record.effective_coverage, 0.4, label="in force", color="#08519c")
    for covered in (True, False):
        pairs = zip(record.attacked_targets, record.covered_attacks, strict=True)
        hits = [t for t, c in pairs if c is covered]
        if hits:
            tops = np.maximum(record.outcome_coverage, record.effective_coverage)[hits]
            axes.plot(
                hits,
                tops + 0.1,
                marker="*",
                markersize=16,
                color="#d62728",
                fillstyle="full" if covered else "none",
                linestyle="none",
                label="attacked, " + ("covered" if covered else "not covered"),
            )
    axes.set(
        xticks=targets,
        ylim=(0, 1.2),
        xlabel="target",
        ylabel="coverage",
        title=f"Round {record.round + 1}: {record.mechanism} (status {record.status})",
    )
    axes.legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize="small")
    return solara.FigureMatplotlib(figure, format="png")


def deviation_text(model: LiveModel) -> str:
    """In words, this round's deviations: who departed from her recommendation (a
    nonzero IR gain), how far the coverage in force moved from the recommended, which
    target the attacker then hit instead of the designated one, and what she gained."""
    record = model.records[-1]
    shift = np.subtract(record.effective_coverage, record.outcome_coverage)
    deviators = [d for d in record.defenders if d.ir_gain != 0.0 or d.deviated]
    if not deviators:
        return f"Round {record.round + 1}: every defender followed her recommendation."
    moved = np.flatnonzero(np.abs(shift) > SHIFT_SHOWN)
    if len(moved):
        largest = moved[np.argsort(-np.abs(shift[moved]), kind="stable")][:3]
        where = ", ".join(f"{shift[t]:+.3g} on target {t}" for t in largest)
        how = f"the coverage in force differs from the recommended by {where}"
    else:
        how = "the coverage in force equals the recommended (her pure strategy alone changed)"
    designated = ", ".join(map(str, record.designated_targets)) or "none"
    attacked = ", ".join(map(str, record.attacked_targets)) or "none"
    moved_attack = (
        f"the attacker hit target {attacked} instead of the designated target {designated}"
        if record.designated_targets != record.attacked_targets
        else f"the attacker still hit the designated target {designated}"
    )
    gains = "; ".join(
        f"defender {d.defender} {'gained' if d.ir_gain > 0 else 'lost'} "
        f"{abs(d.ir_gain):.3g} in expectation over following (IR gain {d.ir_gain:+.3g})"
        for d in deviators
    )
    return f"Round {record.round + 1}: {how}; {moved_attack}. {gains}."


def deviation_view(model: LiveModel) -> Any:
    """The coverage in force minus the recommended one per target (a diverging bar,
    its scale fitted to the largest shift, so a thousandth shows) and
    :func:`deviation_text`."""
    if not model.records:
        return _waiting("Deviations")
    record = model.records[-1]
    shift = np.subtract(record.effective_coverage, record.outcome_coverage)
    figure, (axes,) = _figure()
    targets = np.arange(len(shift))
    axes.bar(targets, shift, 0.6, color=np.where(shift < 0, "#b2182b", "#2166ac"))
    axes.axhline(0.0, color="black", linewidth=0.8)
    reach = float(np.max(np.abs(shift)))
    axes.set(
        xticks=targets,
        ylim=(-1.2 * reach, 1.2 * reach) if reach > 0 else (-1, 1),
        xlabel="target",
        ylabel="in force - recommended",
        title=f"Round {record.round + 1}: coverage moved by deviations",
    )
    return solara.Column(
        children=[
            solara.FigureMatplotlib(figure, format="png"),
            solara.Markdown(deviation_text(model)),
        ]
    )


def utilities_view(model: LiveModel) -> Any:
    """Each defender's cumulative realised utility; for a defender whose execution
    plan departs from following (a nonzero IR gain), the same had she followed
    (dashed), and for one who misreported, the same had she reported truthfully
    (dotted): the counterfactuals of Properties 4 and 3 on the same draws."""
    if not model.records:
        return _waiting("Cumulative utility")
    figure, (axes,) = _figure()
    rounds = [r.round + 1 for r in model.records]
    for i in range(model.game.n_defenders):
        rows = [r.defenders[i] for r in model.records]
        colour = f"C{i}"
        axes.plot(
            rounds,
            np.cumsum([d.realised_utility for d in rows]),
            color=colour,
            label=f"defender {i}",
        )
        counterfactuals = (
            (any(d.ir_gain != 0.0 for d in rows), "realised_follow", "--", "followed"),
            (any(d.misreported for d in rows), "realised_truthful", ":", "been truthful"),
        )
        for shown, field, style, what in counterfactuals:
            if shown:
                axes.plot(
                    rounds,
                    np.cumsum([getattr(d, field) for d in rows]),
                    color=colour,
                    linestyle=style,
                    label=f"defender {i} had she {what}",
                )
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set(xlabel="round", ylabel="cumulative realised utility")
    axes.legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize="small")
    return solara.FigureMatplotlib(figure, format="png")


def gains_view(model: LiveModel) -> Any:
    """The SP gain (Property 3) and IR gain (Property 4) of every defender per round,
    from the model's DataCollector; a positive gain is a failure of the property."""
    if not model.records:
        return _waiting("SP and IR gains")
    frame = model.datacollector.get_agenttype_vars_dataframe(type(model.defenders[0]))
    rounds = model.datacollector.get_model_vars_dataframe()["round"]
    figure, axes = _figure(2)
    for column, ax, title in (
        ("sp_gain", axes[0], "SP gain: her report over the truth"),
        ("ir_gain", axes[1], "IR gain: her execution over following"),
    ):
        for i, rows in frame.groupby("defender"):
            steps = rows.index.get_level_values("Step") - 1
            ax.plot(
                rounds.iloc[steps] + 1,
                rows[column],
                marker=".",
                color=f"C{i}",
                label=f"defender {i}",
            )
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(ylabel="gain", title=title)
    axes[1].set_xlabel("round")
    axes[0].legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize="small")
    return solara.FigureMatplotlib(figure, format="png")


def belief_view(model: LiveModel) -> Any:
    """The learning attacker's estimate of the coverage beside the coverage in force."""
    belief = model.attacker.belief
    if belief is None and not model.records:
        return _waiting("Attacker belief")
    if belief is None:
        return solara.Markdown(
            f"**Attacker belief**: the `{model.attacker.attacker_model.name}` attacker "
            "keeps no belief (choose the `learning` attacker and press *Reset*)."
        )
    figure, (axes,) = _figure()
    targets = np.arange(len(belief))
    axes.bar(targets - 0.2, belief, 0.4, label="attacker's estimate", color="#fd8d3c")
    if model.records:
        axes.bar(
            targets + 0.2,
            model.records[-1].effective_coverage,
            0.4,
            label="in force",
            color="#08519c",
        )
    axes.set(
        xticks=targets,
        ylim=(0, 1.05),
        xlabel="target",
        ylabel="coverage",
        title="Learning attacker's belief",
    )
    axes.legend(loc="upper left", fontsize="small")
    return solara.FigureMatplotlib(figure, format="png")


def welfare_view(model: LiveModel) -> Any:
    """Total realised defender utility per round (the DataCollector's ``welfare``)."""
    if not model.records:
        return _waiting("Welfare")
    frame = model.datacollector.get_model_vars_dataframe()
    figure, (axes,) = _figure()
    colour = mechanism_style(model.authority.mechanism.name).colour
    axes.plot(frame["round"] + 1, frame["welfare"], marker=".", color=colour)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set(xlabel="round", ylabel="total realised utility", title="Welfare per round")
    return solara.FigureMatplotlib(figure, format="png")


class ViewModel(LiveModel):
    """:class:`LiveModel` as the page builds it on *Reset*: choices it cannot build (a
    game file deleted or made invalid, a defender the game lacks) keep the last model
    that could be built and say why in :attr:`notice`, instead of replacing the page
    with a traceback."""

    #: The last model that could be built: its game and its other choices.
    _last: ClassVar[tuple[SecurityGame, dict[str, Any]] | None] = None

    def __init__(self, **kwargs: Any) -> None:  # named so: SolaraViz checks the name
        try:
            super().__init__(**kwargs)
        except SimError as exc:
            if ViewModel._last is None:
                raise
            source, choices = ViewModel._last
            self._build(source, **choices)
            self.notice = f"Not applied: {exc}. The last game that loaded is shown."
        else:
            bound = inspect.signature(LiveModel.__init__).bind(self, **kwargs)
            bound.apply_defaults()
            kept = ("mechanism", "reporting", "executing", "strategic", "attacker")
            choices = {k: bound.arguments[k] for k in (*kept, "attacker_resources", "seed")}
            choices["attacker_params"] = params_of(self.attacker.attacker_model)
            ViewModel._last = (self.source, choices)
            self.notice = ""


def notice_view(model: LiveModel) -> Any:
    """Why the last *Reset* was not applied (nothing when it was); the page's style
    (:data:`SLIDER_VALUES_CSS`)."""
    notice = getattr(model, "notice", "")
    style = solara.Style(SLIDER_VALUES_CSS)
    return solara.Column(children=[style, solara.Warning(notice)] if notice else [style])


def components() -> list[Any]:
    """The view's components, in page order."""
    return [
        notice_view,
        coverage_view,
        deviation_view,
        utilities_view,
        gains_view,
        belief_view,
        welfare_view,
    ]


page = SolaraViz(
    ViewModel(**{k: model_params()[k]["value"] for k in ("game", "game_file")}),
    components=components(),
    model_params=model_params(),
    name="Defense coordination: live rounds",
)
