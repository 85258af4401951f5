"""The pure game core: game model, utilities, exact solvers, sampling, instances and
generators (numpy/scipy only; no Mesa, no I/O, and no import of any other package
of the project). The Mesa model lives beside its agents, in :mod:`agents.model`.
"""

from sim.errors import (
    DuplicateNameError,
    InvalidConfigError,
    InvalidGameError,
    InvalidParameterError,
    SimError,
    UnknownNameError,
)
from sim.game import SecurityGame
from sim.generators import available_generators, make_generator
from sim.payoffs import (
    attacked_target,
    attacker_utilities,
    best_responses,
    defender_utilities,
    defender_utility,
)
from sim.sampling import CombSupport, Recommendation, comb_support

__all__ = [
    "CombSupport",
    "DuplicateNameError",
    "InvalidConfigError",
    "InvalidGameError",
    "InvalidParameterError",
    "Recommendation",
    "SecurityGame",
    "SimError",
    "UnknownNameError",
    "attacked_target",
    "attacker_utilities",
    "available_generators",
    "best_responses",
    "comb_support",
    "defender_utilities",
    "defender_utility",
    "make_generator",
]
