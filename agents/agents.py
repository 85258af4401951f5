"""Mesa agents: defenders, the attacker and the coordination authority (Mesa 3.3:
agents register themselves with the model on construction; no scheduler)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import mesa
import numpy as np

from agents.attackers import AttackerModel
from agents.roles import AuthorityRole, DefenderRole
from mechanisms.outcome import MechanismOutcome
from sim.game import FloatArray

if TYPE_CHECKING:
    from sim.model import CoordinationModel


class CoordinationAuthority(mesa.Agent):
    """Pools the resources, runs the mechanism on the reports and privately sends each
    defender her part of one sampled joint pure strategy (Section 5.1)."""

    def __init__(self, model: CoordinationModel, role: AuthorityRole) -> None:
        super().__init__(model)
        self.role = role
        self.outcome: MechanismOutcome | None = None
        self.truthful: list[MechanismOutcome] = []

    def allocate(self, rewards: FloatArray, penalties: FloatArray) -> MechanismOutcome:
        """Run the mechanism on this round's reports (one seed draw from ``model.rng``)."""
        seed = int(self.model.rng.integers(2**63))
        self.outcome = self.role.allocate(rewards, penalties, seed)
        self.truthful = self.role.counterfactuals(rewards, penalties, seed)
        return self.outcome


class DefenderAgent(mesa.Agent):
    """A defender: reports a type and executes (or deviates from) her recommendation."""

    def __init__(self, model: CoordinationModel, role: DefenderRole) -> None:
        super().__init__(model)
        self.role = role
        self.report: tuple[FloatArray, FloatArray] | None = None
        self.executed: np.ndarray | None = None

    @property
    def index(self) -> int:
        """Her defender index in the game."""
        return self.role.index

    def make_report(self) -> None:
        """Step (1): report a type through her reporting behaviour."""
        model = self.model
        self.report = self.role.report(model.game, model.authority.role.mechanism, model.rng)

    def submitted(self) -> tuple[FloatArray, FloatArray]:
        """This round's report (after :meth:`make_report`)."""
        if self.report is None:
            raise RuntimeError("DefenderAgent.submitted called before make_report")
        return self.report

    def act(self, outcome: MechanismOutcome, signal: np.ndarray) -> None:
        """Step (3): execute her private recommendation ``signal``."""
        self.role.prepare(self.model.game, outcome, self.model.rng)
        self.executed = self.role.execute(self.model.game, signal, self.model.rng)


class AttackerAgent(mesa.Agent):
    """The attacker: picks a target through its attacker model."""

    def __init__(self, model: CoordinationModel, attacker: AttackerModel) -> None:
        super().__init__(model)
        self.attacker = attacker
        attacker.reset(model.game)

    def responder(self, outcome: MechanismOutcome, u: float) -> Callable[[FloatArray], int]:
        """Step (4): its response to a coverage vector, with this round's draw ``u``."""
        game = self.model.game

        def respond(coverage: FloatArray) -> int:
            return self.attacker.respond(game, self.attacker.belief(outcome, coverage), outcome, u)

        return respond
