"""The mechanism protocol, its registry, and the helpers every mechanism shares.

A mechanism is a frozen dataclass whose fields are its parameters, registered with
``@register_mechanism("name")`` and checked by the conformance suite in
``tests/test_mechanisms.py`` (see the README's *Extending* section). Most mechanisms
pick one outcome of the finite outcome space and derive from
:class:`~mechanisms.outcome_set.OutcomeSetMechanism`; any class that satisfies
:class:`Mechanism` may be registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from mechanisms.outcome import MechanismOutcome
from sim.game import FloatArray, SecurityGame
from sim.registry import Registry, params_of


@runtime_checkable
class Mechanism(Protocol):
    """A coordination mechanism: reported game in, outcome out.

    Attributes
    ----------
    name : str
        The registry name (set by :func:`register_mechanism`).
    claims : frozenset of str
        Properties (:data:`PROPERTIES`) it satisfies on every game; the conformance
        suite checks each with the matching audit.
    conditional_claims : mapping of str to str
        Properties that hold on a restricted class of games, e.g. Theorem 4.3's
        ``"nonoverlapping_interior"``; checked on that class.
    uses_status_quo : bool
        Whether the outcome depends on a status-quo NSE (the weak-UP constraint).
    randomised : bool
        Whether :meth:`allocate` draws from its ``rng`` (its outcomes are then cached
        per seed, never across seeds).
    planned_attacks : int or None
        How many attacks its outcomes are planned for: 1 for the paper's mechanisms
        (Gan et al. 2020 model one attack; against a stronger attacker they keep
        planning for one), None for the game's ``attacker_resources``.

    A mechanism that plans with the game's schedules (``SecurityGame.schedules``)
    also sets ``plans_schedules = True``; studies of games with schedules run only
    those (every other assumes each resource guards one target). One that pools every
    resource regardless of jurisdictions sets ``pools_resources = True``; it refuses
    games with jurisdictions, and studies with jurisdictions do not run it.
    """

    name: ClassVar[str]
    claims: ClassVar[frozenset[str]]
    conditional_claims: ClassVar[Mapping[str, str]]
    uses_status_quo: ClassVar[bool]
    randomised: ClassVar[bool]
    planned_attacks: ClassVar[int | None]

    def allocate(self, game: SecurityGame, *, rng: np.random.Generator) -> MechanismOutcome:
        """The outcome on the *reported* ``game``."""
        ...

    def prepared(self, true_game: SecurityGame) -> Mechanism:
        """The mechanism as run on ``true_game``'s instance: binds what the authority
        knows before the reports (the status-quo NSE for ``csw_max_nse``)."""
        ...

    def outcomes_for_reports(
        self,
        game: SecurityGame,
        defender: int,
        rewards: FloatArray,
        penalties: FloatArray,
        seed: int,
    ) -> tuple[np.ndarray, FloatArray]:
        """Targets (b,) and coverages (b, m) when ``defender`` reports each row of
        ``rewards``/``penalties`` (shape (b, m)) and the others report ``game``'s
        types; target -1 where there is no outcome. The misreport search's inner loop
        (:mod:`mechanisms.reports` has the batched building blocks)."""
        ...


MECHANISMS: Registry[Any] = Registry("mechanism")
register_mechanism = MECHANISMS.register


def make_mechanism(name: str, **params: Any) -> Mechanism:
    """Build the registered mechanism ``name`` with ``params``."""
    mechanism: Mechanism = MECHANISMS.make(name, **params)
    return mechanism


def available_mechanisms() -> list[str]:
    """The registered mechanism names, sorted."""
    return MECHANISMS.names()


#: Property names used in ``claims`` and by the audits in :mod:`mechanisms.properties`.
PROPERTIES = frozenset(
    {"pareto_efficient", "weakly_up", "strongly_up", "strategyproof", "individually_rational"}
)


def failed_outcome(mechanism: Mechanism, game: SecurityGame, message: str) -> MechanismOutcome:
    """An outcome with ``status="failed"``: studies record it, nobody raises it."""
    return MechanismOutcome(
        mechanism=mechanism.name,
        params=params_of(mechanism),
        coverage=np.zeros(game.n_targets),
        attacked_target=-1,
        defender_utility=np.full(game.n_defenders, np.nan),
        status_quo_utility=None,
        recommendation=None,
        status="failed",
        message=message,
    )


def plans_schedules(mechanism: Mechanism | type) -> bool:
    """Whether ``mechanism`` (or its class) plans with the game's schedules."""
    return bool(getattr(mechanism, "plans_schedules", False))


def pools_resources(mechanism: Mechanism | type) -> bool:
    """Whether ``mechanism`` (or its class) pools every resource, ignoring jurisdictions."""
    return bool(getattr(mechanism, "pools_resources", False))


def describe(mechanism: Mechanism) -> dict[str, Any]:
    """Name, claims and parameters of a mechanism, for listings and manifests."""
    return {
        "name": mechanism.name,
        "claims": sorted(mechanism.claims),
        "conditional_claims": dict(mechanism.conditional_claims),
        "planned_attacks": mechanism.planned_attacks,
        "plans_schedules": plans_schedules(mechanism),
        "pools_resources": pools_resources(mechanism),
        "params": params_of(mechanism),
    }
