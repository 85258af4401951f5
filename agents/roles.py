"""The participants of a round and the one round loop (no Mesa).

:class:`Authority`, :class:`Defender` and :class:`Attacker` are plain objects with one
uniform interface; the Mesa agents of :mod:`agents.agents` *are* these objects (they
inherit from them and from ``mesa.Agent``), so :class:`RoundLoop` plays a round the
same way whether the participants live in a Mesa model or not.

One :meth:`RoundLoop.play` is one round (Gan et al. 2020, Section 5.1):

1. each defender reports a type through her reporting behaviour;
2. the authority runs the mechanism on the reported game (one seed draw) and samples
   one joint pure strategy from the recommendation (for ``nse``, each defender samples
   her own), sending each defender only her own part;
3. each defender prepares (her per-round hook) and executes: follows, or deviates;
4. the attacker picks its targets (one per attacker resource) against the coverage
   it believes in;
5. the pure :func:`~agents.rounds.play_round` resolves the attack and the SP and IR
   counterfactuals with common random numbers; everybody observes the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.attackers import AttackerModel, make_attacker
from agents.behaviours import ExecutionBehaviour, ReportingBehaviour, fresh
from agents.rounds import (
    DefenderRound,
    RoundDraws,
    RoundRecord,
    effective_coverage,
    play_round,
    recommended_strategy,
)
from mechanisms.base import Mechanism
from mechanisms.outcome import MechanismOutcome, outcome_problem
from sim.errors import InvalidParameterError, SolverFailedError
from sim.game import FloatArray, SecurityGame

Behaviours = Sequence[tuple[ReportingBehaviour, ExecutionBehaviour]]


@dataclass(eq=False)
class Authority:
    """The coordination authority: runs the mechanism on the reported game.

    Outcomes are cached by the reports (deterministic mechanisms only ever see a few
    distinct report profiles), and so are the SP counterfactuals (each defender's
    truthful report with the others as reported).
    """

    game: SecurityGame
    mechanism: Mechanism
    _cache: dict[tuple[bytes, int], MechanismOutcome] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        self.mechanism = self.mechanism.prepared(self.game)

    def allocate(self, rewards: FloatArray, penalties: FloatArray, seed: int) -> MechanismOutcome:
        """The outcome on the reports (seeded for randomised mechanisms)."""
        key = (rewards.tobytes() + penalties.tobytes(), seed if self.mechanism.randomised else 0)
        if key not in self._cache:
            reported = self.game
            for i in range(self.game.n_defenders):
                if not (
                    np.array_equal(rewards[i], self.game.defender_reward[i])
                    and np.array_equal(penalties[i], self.game.defender_penalty[i])
                ):
                    reported = reported.with_reports(i, rewards[i], penalties[i])
            outcome = self.mechanism.allocate(reported, rng=np.random.default_rng(seed))
            problem = outcome_problem(reported, outcome) if outcome.ok else None
            if problem is not None:
                raise SolverFailedError(
                    f"mechanism {outcome.mechanism} gave an invalid outcome: {problem}"
                )
            self._cache[key] = outcome
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


@dataclass(eq=False)
class Defender:
    """A defender with her reporting and execution behaviours (fresh copies: no
    learned state is shared between runs)."""

    index: int
    reporting: ReportingBehaviour
    executing: ExecutionBehaviour
    cumulative_utility: float = field(default=0.0, init=False)
    last: DefenderRound | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.reporting, self.executing = fresh(self.reporting), fresh(self.executing)

    def report(
        self, game: SecurityGame, mechanism: Mechanism, rng: np.random.Generator
    ) -> tuple[FloatArray, FloatArray]:
        """Her report this round."""
        return self.reporting.report(game, self.index, mechanism, rng)

    def execute(
        self,
        game: SecurityGame,
        outcome: MechanismOutcome,
        signal: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Prepare for ``outcome`` (the behaviour's per-round hook) and execute her
        recommended row ``signal``: what she actually guards (bool, shape (m,))."""
        self.executing.prepare(game, self.index, outcome, rng)
        return self.executing.execute(game, self.index, signal, rng)

    def plan_key(self) -> object:
        """Identifies the execution plan in force (see
        :meth:`~agents.behaviours.ExecutionBehaviour.plan_key`)."""
        return self.executing.plan_key()

    def plan(self, game: SecurityGame, signal: np.ndarray) -> FloatArray:
        """Her marginal coverage for ``signal``."""
        return self.executing.planned(game, self.index, signal)

    def observe(self, row: DefenderRound) -> None:
        """Her record of the round: kept as :attr:`last`, its realised utility added to
        :attr:`cumulative_utility` and fed to both behaviours (the learners)."""
        self.last = row
        self.cumulative_utility += row.realised_utility
        self.reporting.observe(row.realised_utility)
        self.executing.observe(row.realised_utility)

    @property
    def learning(self) -> dict[str, float] | None:
        """Her learners' current estimates (arm -> mean realised utility), or None."""
        out: dict[str, float] = {}
        for behaviour in (self.reporting, self.executing):
            out.update(behaviour.estimates())
        return out or None


@dataclass(eq=False)
class Attacker:
    """The attacker, through its attacker model (a fresh copy, reset for the game)."""

    game: SecurityGame
    attacker_model: AttackerModel
    attacks: int = field(default=1, init=False)

    def __post_init__(self) -> None:
        self.attacker_model = fresh(self.attacker_model)
        self.attacker_model.reset(self.game)
        self.attacks = self.game.attacker_resources

    def respond(
        self, outcome: MechanismOutcome, coverage: FloatArray, u: FloatArray
    ) -> tuple[int, ...]:
        """Its attacked set against the coverage in force ``coverage``, with the round's
        draws."""
        model = self.attacker_model
        return model.respond(self.game, model.belief(outcome, coverage), outcome, u)

    def observe(self, covered: np.ndarray) -> None:
        """The allocation it saw this round (bool, shape (m,))."""
        self.attacker_model.observe(covered)


@dataclass(eq=False)
class RoundLoop:
    """The round loop over one game's participants (Mesa agents or plain roles).

    The exact effective coverage of the defenders' plans is cached by the outcome and
    every defender's plan key.
    """

    game: SecurityGame
    authority: Authority
    defenders: Sequence[Defender]
    attacker: Attacker
    _effective: dict[tuple[object, ...], tuple[FloatArray, FloatArray]] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        response = self.attacker.attacker_model.logit()
        for defender in self.defenders:
            defender.executing.face(response)

    def play(self, round_index: int, rng: np.random.Generator) -> RoundRecord:
        """Play one round (steps 1-5 of the module docstring) and return its record."""
        game, authority = self.game, self.authority
        reports = [d.report(game, authority.mechanism, rng) for d in self.defenders]
        rewards = np.array([r for r, _ in reports])
        penalties = np.array([p for _, p in reports])
        seed = int(rng.integers(2**63))
        outcome = authority.allocate(rewards, penalties, seed)
        if not outcome.ok or outcome.recommendation is None:
            raise SolverFailedError(f"mechanism {outcome.mechanism} failed: {outcome.message}")
        truthful = authority.counterfactuals(rewards, penalties, seed)
        draws = RoundDraws.draw(rng, game.n_defenders, self.attacker.attacks)
        recommended = recommended_strategy(outcome.recommendation, draws)
        executed = np.array(
            [d.execute(game, outcome, recommended[d.index], rng) for d in self.defenders]
        )
        record = play_round(
            game,
            round_index,
            outcome,
            truthful,
            (rewards, penalties),
            draws,
            executed,
            self.effective(outcome),
            lambda coverage: self.attacker.respond(outcome, coverage, draws.attacker),
        )
        for defender, row in zip(self.defenders, record.defenders, strict=True):
            defender.observe(row)
        self.attacker.observe(np.asarray(executed.any(axis=0)))
        return record

    def effective(self, outcome: MechanismOutcome) -> tuple[FloatArray, FloatArray]:
        """The exact coverage in force (and per defender "if she followed")."""
        key = (outcome.key(), tuple(d.plan_key() for d in self.defenders))
        if key not in self._effective:
            rec = outcome.recommendation
            if rec is None:
                raise InvalidParameterError("RoundLoop.effective needs a recommendation")
            self._effective[key] = effective_coverage(
                rec, lambda i, signal: self.defenders[i].plan(self.game, signal)
            )
        return self._effective[key]


def check_behaviours(game: SecurityGame, behaviours: Behaviours, owner: str) -> None:
    """One (reporting, executing) pair per defender, else ``InvalidParameterError``."""
    if len(behaviours) != game.n_defenders:
        raise InvalidParameterError(
            f"{owner}.behaviours needs one (reporting, executing) pair per defender "
            f"({game.n_defenders}); got {len(behaviours)}"
        )


def play_rounds(
    game: SecurityGame,
    mechanism: Mechanism,
    behaviours: Behaviours,
    *,
    attacker: AttackerModel | None = None,
    rounds: int = 100,
    rng: Any = None,
) -> list[RoundRecord]:
    """The rounds of :class:`agents.model.CoordinationModel` with plain participants
    (no Mesa): the same loop, the same draws, the same records."""
    check_behaviours(game, behaviours, "play_rounds")
    loop = RoundLoop(
        game,
        Authority(game, mechanism),
        [Defender(i, r, e) for i, (r, e) in enumerate(behaviours)],
        Attacker(game, attacker if attacker is not None else make_attacker("informed")),
    )
    generator = np.random.default_rng(rng)
    return [loop.play(r, generator) for r in range(rounds)]
