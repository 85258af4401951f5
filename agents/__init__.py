"""Mesa agents, their behaviours and attacker models, and the per-round economics.

:mod:`agents.rounds` (pure economics), :mod:`agents.behaviours` (reporting and
execution registries), :mod:`agents.attackers` (attacker registry),
:mod:`agents.profiles`, :mod:`agents.empirical` (SP/IR failure rates) and
:mod:`agents.agents` (the Mesa agents).
"""

from agents.attackers import ATTACKERS, make_attacker
from agents.behaviours import EXECUTION, REPORTING, make_execution, make_reporting
from agents.empirical import EmpiricalFailures, FailureRate, empirical_failures
from agents.profiles import BehaviourProfile
from agents.rounds import DefenderRound, RoundDraws, RoundRecord, play_round

__all__ = [
    "ATTACKERS",
    "EXECUTION",
    "REPORTING",
    "BehaviourProfile",
    "DefenderRound",
    "EmpiricalFailures",
    "FailureRate",
    "RoundDraws",
    "RoundRecord",
    "empirical_failures",
    "make_attacker",
    "make_execution",
    "make_reporting",
    "play_round",
]
