"""The seed tree: one root seed determines every draw of a study.

Replication r uses ``SeedSequence(seed, spawn_key=(r,))``, split into an *instance*
stream (the game), a *dynamics* stream (mechanism draws, behaviours, attacker), a
*role* stream (which defender is strategic under the ``"random"`` mode) and a
*search* stream per defender (the one-shot audit's misreport search, so that one
defender's search does not depend on another's budget). Every condition of
replication r sees the same game and the same draws (paired comparisons), and adding
replications leaves the earlier ones unchanged.
"""

from __future__ import annotations

import numpy as np


def replication_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed of replication ``replication``."""
    return np.random.SeedSequence(seed, spawn_key=(replication,))


def streams(seed: int, replication: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(instance, dynamics) seed sequences of a replication."""
    instance, dynamics = replication_seed(seed, replication).spawn(2)
    return instance, dynamics


def strategic_draw(seed: int, replication: int, n_defenders: int) -> int:
    """The replication's random strategic defender: the first draw of its role stream
    (the third child of its seed, so the instance and dynamics streams are untouched)."""
    role = replication_seed(seed, replication).spawn(3)[2]
    return int(np.random.default_rng(role).integers(n_defenders))


def instance_rng(seed: int, replication: int) -> np.random.Generator:
    """The generator that draws replication ``replication``'s game."""
    return np.random.default_rng(streams(seed, replication)[0])


def dynamics_seed(seed: int, replication: int) -> np.random.SeedSequence:
    """The seed of replication ``replication``'s dynamics (the same for every condition)."""
    return streams(seed, replication)[1]


def allocation_seed(seed: int, replication: int) -> int:
    """The seed a one-shot audit allocates replication ``replication``'s outcome with
    (the first draw of its dynamics), which its misreport searches share."""
    return int(np.random.default_rng(dynamics_seed(seed, replication)).integers(2**63))


def search_rng(seed: int, replication: int, defender: int) -> np.random.Generator:
    """The generator of the one-shot audit's misreport search for ``defender``: child
    ``defender`` of the fourth child of the replication's seed."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replication, 3, defender)))
