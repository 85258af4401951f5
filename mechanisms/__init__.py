"""Coordination mechanisms and their property audits (Gan et al. 2020, Sections 2-5).

``make_mechanism(name, **params)`` builds a registered mechanism;
``available_mechanisms()`` lists them. Importing this package registers every
mechanism in :mod:`mechanisms.rules` and :mod:`mechanisms.stackelberg`.

Modules: :mod:`~mechanisms.base` (protocol, registry), :mod:`~mechanisms.space` (the
outcome space, closed form and LP-t), :mod:`~mechanisms.outcome_set` (the template of
the outcome-set mechanisms), :mod:`~mechanisms.reports` (outcomes of many reported
games at once), :mod:`~mechanisms.rules` (the registered mechanisms),
:mod:`~mechanisms.stackelberg` (the pooled Stackelberg mechanism against several
attacks),
:mod:`~mechanisms.properties` (the audits).
"""

from mechanisms import rules as _rules  # noqa: F401  (registers the mechanisms)
from mechanisms import stackelberg as _stackelberg  # noqa: F401
from mechanisms.base import (
    MECHANISMS,
    PROPERTIES,
    Mechanism,
    available_mechanisms,
    describe,
    failed_outcome,
    make_mechanism,
    register_mechanism,
)
from mechanisms.outcome import MechanismOutcome
from mechanisms.outcome_set import Choice, OutcomeSetMechanism
from mechanisms.space import lexicographic_argmax

__all__ = [
    "MECHANISMS",
    "PROPERTIES",
    "Choice",
    "Mechanism",
    "MechanismOutcome",
    "OutcomeSetMechanism",
    "available_mechanisms",
    "describe",
    "failed_outcome",
    "lexicographic_argmax",
    "make_mechanism",
    "register_mechanism",
]
