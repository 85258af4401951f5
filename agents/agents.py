"""Mesa agents: the coordination authority, the defenders and the attacker.

Each *is* its participant of :mod:`agents.roles` (it inherits from it and from
``mesa.Agent``), so the Mesa model and the Mesa-free :func:`~agents.roles.play_rounds`
share one round loop. Agents register themselves
with the model on construction; there is no scheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from agents.attackers import AttackerModel
from agents.behaviours import ExecutionBehaviour, ReportingBehaviour
from agents.roles import Attacker, Authority, Defender
from mechanisms.base import Mechanism

if TYPE_CHECKING:
    from agents.model import CoordinationModel


class CoordinationAuthority(Authority, mesa.Agent):
    """Pools the resources, runs the mechanism on the reports and privately sends each
    defender her part of one sampled joint pure strategy (Section 5.1)."""

    def __init__(self, model: CoordinationModel, mechanism: Mechanism) -> None:
        Authority.__init__(self, model.game, mechanism)
        mesa.Agent.__init__(self, model)


class DefenderAgent(Defender, mesa.Agent):
    """A defender: reports a type and executes (or deviates from) her recommendation.

    ``cumulative_utility`` sums her realised utilities so far, ``last`` is her latest
    round record and ``learning`` her learners' estimates.
    """

    def __init__(
        self,
        model: CoordinationModel,
        index: int,
        reporting: ReportingBehaviour,
        executing: ExecutionBehaviour,
    ) -> None:
        Defender.__init__(self, index, reporting, executing)
        mesa.Agent.__init__(self, model)

    @property
    def distortion(self) -> float:
        """The L1 distance of her latest report from her true type (0: truthful)."""
        if self.last is None:
            return 0.0
        game = self.model.game
        reward = np.asarray(self.last.reported_reward) - game.defender_reward[self.index]
        penalty = np.asarray(self.last.reported_penalty) - game.defender_penalty[self.index]
        return float(np.abs(reward).sum() + np.abs(penalty).sum())


class AttackerAgent(Attacker, mesa.Agent):
    """The attacker: picks a target through its attacker model."""

    def __init__(self, model: CoordinationModel, attacker: AttackerModel) -> None:
        Attacker.__init__(self, model.game, attacker)
        mesa.Agent.__init__(self, model)

    @property
    def belief(self) -> tuple[float, ...] | None:
        """The coverage a learning attacker believes in (None for the others)."""
        estimate = self.attacker_model.estimate
        return None if estimate is None else tuple(float(x) for x in estimate)
