"""The Mesa model: defenders, an attacker and a coordination authority over repeated
rounds (the simulation layer; ``sim/__init__`` does not import this module).

One :meth:`CoordinationModel.step` is one round:

1. each :class:`~agents.agents.DefenderAgent` reports a type through its behaviour;
2. the :class:`~agents.agents.CoordinationAuthority` runs the mechanism on the reported
   game and samples one joint pure strategy from the recommendation (for ``nse``,
   each defender samples her own), sending each defender only her own part;
3. each defender executes: follows, or deviates through her behaviour;
4. the :class:`~agents.agents.AttackerAgent` picks a target;
5. the attack is resolved by the pure :func:`~agents.rounds.play_round`, which also
   evaluates the SP and IR counterfactuals with common random numbers.

All randomness comes from ``model.rng``, seeded from the ``rng`` argument (a
``SeedSequence``, an int or a ``Generator``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mesa
import numpy as np

from agents.agents import AttackerAgent, CoordinationAuthority, DefenderAgent
from agents.attackers import AttackerModel, make_attacker
from agents.behaviours import ExecutionBehaviour, ReportingBehaviour, fresh
from agents.roles import AuthorityRole, DefenderRole
from agents.rounds import (
    RoundDraws,
    RoundRecord,
    effective_coverage,
    play_round,
    recommended_strategy,
)
from mechanisms.base import Mechanism
from mechanisms.outcome import MechanismOutcome
from sim.errors import InvalidParameterError, SolverFailedError
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
        behaviours: Sequence[tuple[ReportingBehaviour, ExecutionBehaviour]],
        *,
        attacker: AttackerModel | None = None,
        rounds: int = 100,
        rng: Any = None,
    ) -> None:
        if len(behaviours) != game.n_defenders:
            raise InvalidParameterError(
                f"CoordinationModel.behaviours needs one (reporting, executing) pair per "
                f"defender ({game.n_defenders}); got {len(behaviours)}"
            )
        if not (isinstance(rounds, int) and rounds >= 0):
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
        self._effective: dict[tuple[object, tuple[object, ...]], tuple[Any, Any]] = {}
        self.authority = CoordinationAuthority(self, AuthorityRole(game, mechanism))
        self.defenders = [
            DefenderAgent(self, DefenderRole(i, fresh(reporting), fresh(executing)))
            for i, (reporting, executing) in enumerate(behaviours)
        ]
        model = fresh(attacker) if attacker is not None else make_attacker("informed")
        self.attacker = AttackerAgent(self, model)

    def step(self) -> None:
        """Play one round and append its :class:`~agents.rounds.RoundRecord`."""
        game, n = self.game, self.game.n_defenders
        defenders = self.agents_by_type[DefenderAgent]
        defenders.do("make_report")
        reports = [agent.submitted() for agent in self.defenders]
        rewards = np.array([r for r, _ in reports])
        penalties = np.array([p for _, p in reports])
        outcome = self.authority.allocate(rewards, penalties)
        if not outcome.ok or outcome.recommendation is None:
            raise SolverFailedError(f"mechanism {outcome.mechanism} failed: {outcome.message}")
        draws = RoundDraws.draw(self.rng, n)
        recommended = recommended_strategy(outcome.recommendation, draws)
        for agent in self.defenders:
            agent.act(outcome, recommended[agent.index])
        executed = np.array([agent.executed for agent in self.defenders])
        record = play_round(
            game,
            self.round_index,
            outcome,
            self.authority.truthful,
            (rewards, penalties),
            draws,
            executed,
            self.effective(outcome),
            self.attacker.responder(outcome, draws.attacker),
        )
        for agent, row in zip(self.defenders, record.defenders, strict=True):
            agent.role.observe(row.realised_utility)
        self.attacker.attacker.observe(np.asarray(executed.any(axis=0)))
        self.records.append(record)
        self.round_index += 1

    def effective(self, outcome: MechanismOutcome) -> tuple[Any, Any]:
        """The exact coverage in force (and per-defender "if she followed"), cached by
        the outcome and every defender's current plan."""
        roles = [agent.role for agent in self.defenders]
        key = (outcome.key(), tuple(role.executing.plan_key() for role in roles))
        if key not in self._effective:
            game = self.game
            rec = outcome.recommendation
            assert rec is not None
            self._effective[key] = effective_coverage(
                rec, lambda i, signal: roles[i].plan(game, signal)
            )
        return self._effective[key]

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


def simulate(
    game: SecurityGame,
    mechanism: Mechanism,
    behaviours: Sequence[tuple[ReportingBehaviour, ExecutionBehaviour]],
    *,
    attacker: AttackerModel | None = None,
    rounds: int = 100,
    rng: Any = None,
) -> list[RoundRecord]:
    """Run a :class:`CoordinationModel` for ``rounds`` rounds and release it."""
    with CoordinationModel(
        game, mechanism, behaviours, attacker=attacker, rounds=rounds, rng=rng
    ) as model:
        return model.run()
