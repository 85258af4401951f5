"""The three roles of a round, as plain objects; :mod:`agents.agents` wraps each in a
Mesa agent, and the no-Mesa baseline of ``bench/simulation.py`` drives them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agents.behaviours import ExecutionBehaviour, LearningDeviation, ReportingBehaviour
from mechanisms.base import Mechanism
from mechanisms.outcome import MechanismOutcome
from sim.game import FloatArray, SecurityGame


@dataclass
class AuthorityRole:
    """The coordination authority: runs the mechanism on the reported game.

    Outcomes are cached by the reports (deterministic mechanisms only ever see a few
    distinct report profiles), and so are the SP counterfactuals (each defender's
    truthful report with the others as reported).
    """

    game: SecurityGame
    mechanism: Mechanism
    randomised: bool = False
    _cache: dict[tuple[bytes, int], MechanismOutcome] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.mechanism = self.mechanism.prepared(self.game)
        self.randomised = bool(getattr(type(self.mechanism), "randomised", False))

    def allocate(self, rewards: FloatArray, penalties: FloatArray, seed: int) -> MechanismOutcome:
        """The outcome on the reports (seeded for randomised mechanisms)."""
        key = (rewards.tobytes() + penalties.tobytes(), seed if self.randomised else 0)
        if key not in self._cache:
            reported = self.game
            for i in range(self.game.n_defenders):
                if not (
                    np.array_equal(rewards[i], self.game.defender_reward[i])
                    and np.array_equal(penalties[i], self.game.defender_penalty[i])
                ):
                    reported = reported.with_reports(i, rewards[i], penalties[i])
            self._cache[key] = self.mechanism.allocate(reported, rng=np.random.default_rng(seed))
        return self._cache[key]

    def counterfactuals(
        self, rewards: FloatArray, penalties: FloatArray, seed: int
    ) -> list[MechanismOutcome]:
        """Per defender: the outcome had she reported truthfully."""
        out = []
        for i in range(self.game.n_defenders):
            r, p = rewards.copy(), penalties.copy()
            r[i], p[i] = self.game.defender_reward[i], self.game.defender_penalty[i]
            out.append(self.allocate(r, p, seed))
        return out


@dataclass
class DefenderRole:
    """A defender with her reporting and execution behaviours."""

    index: int
    reporting: ReportingBehaviour
    executing: ExecutionBehaviour

    def report(
        self, game: SecurityGame, mechanism: Mechanism, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        """Her report this round."""
        return self.reporting.report(game, self.index, mechanism, rng)

    def prepare(
        self, game: SecurityGame, outcome: MechanismOutcome, rng: np.random.Generator
    ) -> None:
        """Get ready to execute under ``outcome`` (a learner picks its rule here)."""
        if isinstance(self.executing, LearningDeviation):
            self.executing.choose(rng)
        self.executing.prepare(game, self.index, outcome)

    def execute(
        self, game: SecurityGame, signal: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """What she actually guards given her recommended row ``signal``."""
        return self.executing.execute(game, self.index, signal, rng)

    def plan(self, game: SecurityGame, signal: np.ndarray) -> FloatArray:
        """Her marginal coverage for ``signal``."""
        return self.executing.plan(game, self.index, signal)

    def observe(self, realised_utility: float) -> None:
        """Feed the realised utility to both behaviours."""
        self.reporting.observe(realised_utility)
        self.executing.observe(realised_utility)
