"""Coordination mechanisms and their property audits (Gan et al. 2020, Sections 2-5).

``make_mechanism(name, **params)`` builds a registered mechanism;
``available_mechanisms()`` lists them. Importing this package registers every
mechanism in :mod:`mechanisms.rules`.
"""

from mechanisms import rules as _rules  # noqa: F401  (registers the mechanisms)
from mechanisms.base import (
    MECHANISMS,
    PROPERTIES,
    Mechanism,
    OutcomeSetMechanism,
    available_mechanisms,
    lexicographic_argmax,
    make_mechanism,
    register_mechanism,
)
from mechanisms.outcome import MechanismOutcome
from mechanisms.rules import describe

__all__ = [
    "MECHANISMS",
    "PROPERTIES",
    "Mechanism",
    "MechanismOutcome",
    "OutcomeSetMechanism",
    "available_mechanisms",
    "describe",
    "lexicographic_argmax",
    "make_mechanism",
    "register_mechanism",
]
