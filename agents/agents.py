"""Mesa agents: the coordination authority, the defenders and the attacker.

Each *is* its participant of :mod:`agents.roles` (Mesa 3.3 passes extra constructor
arguments on to the next base class), so the Mesa model and the Mesa-free
:func:`~agents.roles.play_rounds` share one round loop. Agents register themselves
with the model on construction; there is no scheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from agents.attackers import AttackerModel
from agents.behaviours import ExecutionBehaviour, ReportingBehaviour
from agents.roles import Attacker, Authority, Defender
from mechanisms.base import Mechanism

if TYPE_CHECKING:
    from agents.model import CoordinationModel


class CoordinationAuthority(mesa.Agent, Authority):
    """Pools the resources, runs the mechanism on the reports and privately sends each
    defender her part of one sampled joint pure strategy (Section 5.1)."""

    def __init__(self, model: CoordinationModel, mechanism: Mechanism) -> None:
        super().__init__(model, model.game, mechanism)


class DefenderAgent(mesa.Agent, Defender):
    """A defender: reports a type and executes (or deviates from) her recommendation.

    ``cumulative_utility`` sums her realised utilities so far.
    """

    def __init__(
        self,
        model: CoordinationModel,
        index: int,
        reporting: ReportingBehaviour,
        executing: ExecutionBehaviour,
    ) -> None:
        super().__init__(model, index, reporting, executing)


class AttackerAgent(mesa.Agent, Attacker):
    """The attacker: picks a target through its attacker model."""

    def __init__(self, model: CoordinationModel, attacker: AttackerModel) -> None:
        super().__init__(model, model.game, attacker)
