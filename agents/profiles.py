"""Behaviour profiles: which defenders are strategic, and how.

A profile names a reporting and an execution behaviour (with parameters) for the
*strategic* defenders; everybody else is truthful and follows. ``strategic`` is
``"first"`` (defender 0), ``"all"``, or a list of defender indices.
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


@dataclass(frozen=True)
class BehaviourProfile:
    """Reporting and execution behaviours of the strategic defenders."""

    name: str
    reporting: str = "truthful"
    executing: str = "follow"
    reporting_params: Mapping[str, Any] = field(default_factory=dict)
    executing_params: Mapping[str, Any] = field(default_factory=dict)
    strategic: Any = "first"

    def __post_init__(self) -> None:
        REPORTING.get(self.reporting)
        EXECUTION.get(self.executing)
        make_reporting(self.reporting, **dict(self.reporting_params))
        make_execution(self.executing, **dict(self.executing_params))
        if not (
            self.strategic in ("first", "all")
            or (
                isinstance(self.strategic, list | tuple)
                and all(isinstance(i, int) and i >= 0 for i in self.strategic)
            )
        ):
            raise InvalidParameterError(
                f"BehaviourProfile.strategic must be 'first', 'all' or a list of defender "
                f"indices; got {self.strategic!r}"
            )

    def strategic_defenders(self, n: int) -> list[int]:
        """The strategic defenders' indices in a game with ``n`` defenders."""
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

    def behaviours(self, n: int) -> list[tuple[ReportingBehaviour, ExecutionBehaviour]]:
        """One (reporting, executing) pair per defender."""
        strategic = set(self.strategic_defenders(n))
        return [
            (
                make_reporting(self.reporting, **dict(self.reporting_params)),
                make_execution(self.executing, **dict(self.executing_params)),
            )
            if i in strategic
            else (make_reporting("truthful"), make_execution("follow"))
            for i in range(n)
        ]
