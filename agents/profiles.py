"""Behaviour profiles: which defenders are strategic, and how.

A profile names a reporting and an execution behaviour (with parameters) for the
*strategic* defenders; everybody else is truthful and follows. ``strategic`` is

* ``"random"`` (the default): one defender per replication, drawn by the study from
  the replication's own role stream, so it is the same defender for every mechanism
  and profile of that replication (a paired comparison), and no mechanism's
  distinguished defender (a dictator) is systematically the strategic one;
* ``"each"``: one run per defender, each with that defender alone strategic;
* ``"first"``: defender 0; ``"all"``: every defender; or a list of defender indices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.behaviours import (
    EXECUTION,
    REPORTING,
    ExecutionBehaviour,
    ReportingBehaviour,
    make_execution,
    make_reporting,
)
from sim.errors import InvalidParameterError

#: The named ways of choosing the strategic defenders.
STRATEGIC_MODES = ("random", "each", "first", "all")


@dataclass(frozen=True)
class BehaviourProfile:
    """Reporting and execution behaviours of the strategic defenders."""

    name: str
    reporting: str = "truthful"
    executing: str = "follow"
    reporting_params: Mapping[str, Any] = field(default_factory=dict)
    executing_params: Mapping[str, Any] = field(default_factory=dict)
    strategic: Any = "random"

    def __post_init__(self) -> None:
        REPORTING.get(self.reporting)
        EXECUTION.get(self.executing)
        make_reporting(self.reporting, **dict(self.reporting_params))
        make_execution(self.executing, **dict(self.executing_params))
        if not (
            self.strategic in STRATEGIC_MODES
            or (
                isinstance(self.strategic, list | tuple)
                and self.strategic
                and all(
                    isinstance(i, int) and not isinstance(i, bool) and i >= 0
                    for i in self.strategic
                )
            )
        ):
            raise InvalidParameterError(
                f"BehaviourProfile.strategic must be 'first', 'all' or a list of defender "
                f"indices, or 'random' or 'each'; got {self.strategic!r}"
            )

    @property
    def misreports(self) -> bool:
        """Whether its strategic defenders may report anything but their true type."""
        return self.reporting != "truthful"

    @property
    def deviates(self) -> bool:
        """Whether its strategic defenders may execute anything but the recommendation."""
        return self.executing != "follow"

    def runs(self, n: int, drawn: int) -> list[list[int]]:
        """The strategic defenders of each simulation run in a game with ``n`` defenders
        (one run, or one per defender for ``"each"``); ``drawn`` is the replication's
        random defender (used by ``"random"``)."""
        if self.strategic == "random":
            if not 0 <= drawn < n:
                raise InvalidParameterError(
                    f"BehaviourProfile.runs.drawn must be in [0, {n}); got {drawn!r}"
                )
            return [[drawn]]
        if self.strategic == "each":
            return [[i] for i in range(n)]
        return [self.strategic_defenders(n)]

    def strategic_defenders(self, n: int) -> list[int]:
        """The strategic defenders' indices in a game with ``n`` defenders (for the
        fixed modes: ``"first"``, ``"all"`` or a list)."""
        if self.strategic in ("random", "each"):
            raise InvalidParameterError(
                f"BehaviourProfile {self.name!r}: strategic={self.strategic!r} is drawn per "
                f"replication; use runs(n, drawn)"
            )
        if self.strategic == "first":
            return [0]
        if self.strategic == "all":
            return list(range(n))
        bad = [i for i in self.strategic if i >= n]
        if bad:
            raise InvalidParameterError(
                f"BehaviourProfile {self.name!r}: strategic defenders {bad} do not exist (n={n})"
            )
        return sorted(set(self.strategic))

    def behaviours(
        self, n: int, strategic: list[int] | None = None
    ) -> list[tuple[ReportingBehaviour, ExecutionBehaviour]]:
        """One (reporting, executing) pair per defender; ``strategic`` (default: the
        fixed modes' defenders) play the profile's behaviours."""
        chosen = set(self.strategic_defenders(n) if strategic is None else strategic)
        return [
            (
                make_reporting(self.reporting, **dict(self.reporting_params)),
                make_execution(self.executing, **dict(self.executing_params)),
            )
            if i in chosen
            else (make_reporting("truthful"), make_execution("follow"))
            for i in range(n)
        ]
