"""The Mesa model: defenders, an attacker and a coordination authority over repeated
rounds on one game (Mesa's idiom: ``model.py`` beside ``agents.py``).

One :meth:`CoordinationModel.step` is one round of :class:`~agents.roles.RoundLoop`
(the same loop :func:`~agents.roles.play_rounds` runs without Mesa). All randomness
comes from ``model.rng``, seeded from the ``rng`` argument (a ``SeedSequence``, an int
or a ``Generator``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mesa
import numpy as np

from agents.agents import AttackerAgent, CoordinationAuthority, DefenderAgent
from agents.attackers import AttackerModel, make_attacker
from agents.roles import Behaviours, RoundLoop, check_behaviours
from agents.rounds import RoundRecord
from mechanisms.base import Mechanism
from sim.errors import InvalidParameterError
from sim.game import SecurityGame


class CoordinationModel(mesa.Model):
    """Repeated coordination rounds on one game.

    Parameters
    ----------
    game : SecurityGame
        The true game; mechanisms only ever see reported games.
    mechanism : Mechanism
    behaviours : sequence of (ReportingBehaviour, ExecutionBehaviour), one per defender
        Copied (fresh learning state) for this model.
    attacker : AttackerModel, optional
        Default: ``informed``.
    rounds : int
        Rounds :meth:`run` plays.
    rng : SeedSequence, int or Generator, optional
        Seeds ``model.rng``.
    collect : bool
        Whether :attr:`datacollector` collects every round (studies, which keep the
        records, switch it off).
    keep : bool
        Whether :attr:`records` keeps every round (else only the latest: a stream of
        rounds, :func:`play`, whose memory does not grow with them).

    Attributes
    ----------
    authority : CoordinationAuthority
    defenders : list of DefenderAgent
        Each exposes ``cumulative_utility``, ``last`` (her latest record) and
        ``learning`` (her learners' estimates).
    attacker : AttackerAgent
    records : list of RoundRecord
        One per round played, or the latest with ``keep=False``
        (:func:`agents.records.records_frame` makes a DataFrame).
    datacollector : mesa.DataCollector
        Model reporters per round: ``round``, ``attacked_target`` and ``covered``
        (one attack; -1 and None against several), ``attacked_targets`` (a tuple,
        one target per attacker resource), ``covered_attacks`` (how many of them were
        covered), ``welfare`` (total realised defender utility), ``coverage`` (the coverage in
        force, a tuple) and ``attacker_belief`` (a learning attacker's estimate, else
        None). Defender reporters: ``defender`` (her index), ``misreported``,
        ``distortion`` (L1 distance of her report from her true type), ``deviated``,
        ``realised_utility``, ``cumulative_utility``, ``sp_gain``, ``ir_gain`` and
        ``learning``.

    Examples
    --------
    >>> import numpy as np
    >>> from agents.profiles import BehaviourProfile
    >>> from mechanisms import make_mechanism
    >>> from sim.instances import example_5_2
    >>> profile = BehaviourProfile("deviate", executing="optimal_deviation", strategic=[1])
    >>> with CoordinationModel(example_5_2(), make_mechanism("csw_max"),
    ...                        profile.behaviours(3), rounds=20, rng=1) as model:
    ...     _ = model.run()
    ...     per_round = model.datacollector.get_model_vars_dataframe()
    ...     per_defender = model.datacollector.get_agenttype_vars_dataframe(DefenderAgent)
    >>> len(per_round), len(per_defender)
    (20, 60)
    >>> deviator = per_defender[per_defender["defender"] == 1]
    >>> bool(deviator["ir_gain"].gt(0).all())  # her deviation pays (Theorem 5.5)
    True

    Notes
    -----
    Mesa 3.3 keeps every model alive through ``Agent._ids`` (fixed in Mesa 3.5);
    call :meth:`release` (or use the model as a context manager, or
    :func:`simulate`) after a run so long studies do not leak memory.
    """

    def __init__(
        self,
        game: SecurityGame,
        mechanism: Mechanism,
        behaviours: Behaviours,
        *,
        attacker: AttackerModel | None = None,
        rounds: int = 100,
        rng: Any = None,
        collect: bool = True,
        keep: bool = True,
    ) -> None:
        check_behaviours(game, behaviours, "CoordinationModel")
        if not (isinstance(rounds, int) and not isinstance(rounds, bool) and rounds >= 0):
            raise InvalidParameterError(
                f"CoordinationModel.rounds must be an int >= 0; got {rounds!r}"
            )
        super().__init__(rng=rng)
        if not isinstance(rng, np.random.Generator):
            # Mesa 3.3 seeds model.random with a draw from model.rng when given a
            # SeedSequence; restart the stream so model.rng is exactly default_rng(rng)
            self.reset_rng(rng)
        self.game = game
        self.rounds = rounds
        self.round_index = 0
        self.records: list[RoundRecord] = []
        self.authority = CoordinationAuthority(self, mechanism)
        self.defenders = [
            DefenderAgent(self, i, reporting, executing)
            for i, (reporting, executing) in enumerate(behaviours)
        ]
        self.attacker = AttackerAgent(
            self, attacker if attacker is not None else make_attacker("informed")
        )
        self.loop = RoundLoop(game, self.authority, self.defenders, self.attacker)
        self.collect = collect
        self.keep = keep
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "round": lambda m: m.records[-1].round,
                "attacked_target": lambda m: m.records[-1].attacked_target,
                "covered": lambda m: m.records[-1].covered,
                "attacked_targets": lambda m: m.records[-1].attacked_targets,
                "covered_attacks": lambda m: sum(m.records[-1].covered_attacks),
                "welfare": lambda m: sum(d.realised_utility for d in m.records[-1].defenders),
                "coverage": lambda m: m.records[-1].effective_coverage,
                "attacker_belief": lambda m: m.attacker.belief,
            },
            agenttype_reporters={
                DefenderAgent: {
                    "defender": "index",
                    "misreported": lambda a: a.last.misreported,
                    "distortion": lambda a: a.distortion,
                    "deviated": lambda a: a.last.deviated,
                    "realised_utility": lambda a: a.last.realised_utility,
                    "cumulative_utility": "cumulative_utility",
                    "sp_gain": lambda a: a.last.sp_gain,
                    "ir_gain": lambda a: a.last.ir_gain,
                    "learning": "learning",
                }
            },
        )

    def step(self) -> None:
        """Play one round of :class:`~agents.roles.RoundLoop`, append its record and
        collect the round's data (``datacollector``)."""
        record = self.loop.play(self.round_index, self.rng)
        if self.keep:
            self.records.append(record)
        else:
            self.records = [record]
        self.round_index += 1
        if self.collect:
            self.datacollector.collect(self)

    def run(self) -> list[RoundRecord]:
        """Play :attr:`rounds` rounds; returns the records."""
        for _ in range(self.rounds):
            self.step()
        return self.records

    def release(self) -> None:
        """Drop the agents and Mesa's class-level reference to this model."""
        for agent in list(self.agents):
            agent.remove()
        mesa.Agent._ids.pop(self, None)  # Mesa 3.3 holds every model here forever

    def __enter__(self) -> CoordinationModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def play(
    game: SecurityGame,
    mechanism: Mechanism,
    behaviours: Behaviours,
    *,
    attacker: AttackerModel | None = None,
    rounds: int = 100,
    rng: Any = None,
) -> Iterator[RoundRecord]:
    """The records of a :class:`CoordinationModel`'s ``rounds`` rounds, one at a time
    as they are played (the model keeps none, so a long run's memory does not grow);
    the model is released at the end."""
    with CoordinationModel(
        game,
        mechanism,
        behaviours,
        attacker=attacker,
        rounds=rounds,
        rng=rng,
        collect=False,
        keep=False,
    ) as model:
        for _ in range(rounds):
            model.step()
            yield model.records[-1]


def simulate(
    game: SecurityGame,
    mechanism: Mechanism,
    behaviours: Behaviours,
    *,
    attacker: AttackerModel | None = None,
    rounds: int = 100,
    rng: Any = None,
) -> list[RoundRecord]:
    """Every record of :func:`play`, as a list (the model is released at the end)."""
    return list(play(game, mechanism, behaviours, attacker=attacker, rounds=rounds, rng=rng))
