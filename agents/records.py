"""Round records as rows and DataFrames, with the column names and dtypes of a study's
``rounds`` table (:mod:`runs.schema`), so a simulation run by hand and a study's
dataset can be analysed with the same code.

Against an attacker with several resources, ``designated_target``,
``attacked_target`` and ``covered`` are missing (<NA>): the sets are in
``designated_targets`` and ``attacked_targets`` (sorted targets joined by commas, as
"2,5"), and ``covered_attacks`` counts the attacked targets that were covered.
``coverage_in_force`` is the coverage the defenders' executions put in force, per
target (:func:`parse_coverage` reads it back): with the game and the attacked target,
one round of an attack log (:class:`sim.fitting.AttackLog`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from agents.rounds import RoundRecord
from sim.game import FloatArray

#: The columns a round record gives; the study's ``rounds`` table
#: (:data:`runs.schema.ROUND_COLUMNS`) is built on them.
RECORD_COLUMNS: dict[str, str] = {
    "round": "Int64",
    "defender": "Int64",
    "leader": "Int64",
    "attacker_resources": "Int64",
    "designated_target": "Int64",
    "attacked_target": "Int64",
    "covered": "boolean",
    "designated_targets": "string",
    "attacked_targets": "string",
    "covered_attacks": "Int64",
    "coverage_in_force": "string",
    "misreported": "boolean",
    "deviated": "boolean",
    "expected_utility": "float64",
    "realised_utility": "float64",
    "sp_gain": "float64",
    "ir_gain": "float64",
    "sp_gain_realised": "float64",
    "ir_gain_realised": "float64",
}


def _one(target: int) -> int | None:
    return None if target < 0 else target


def targets_text(targets: tuple[int, ...]) -> str:
    """An attacked set as text: the sorted targets joined by commas ("2,5")."""
    return ",".join(str(t) for t in targets)


def coverage_text(coverage: Sequence[float]) -> str:
    """A coverage vector as text that reads back exactly: each entry's shortest
    round-trip representation, joined by commas."""
    return ",".join(repr(float(x)) for x in coverage)


def parse_coverage(text: str) -> FloatArray:
    """The coverage vector :func:`coverage_text` wrote."""
    return np.array([float(x) for x in text.split(",")], dtype=np.float64)


def record_rows(record: RoundRecord) -> list[dict[str, Any]]:
    """One row per defender of a round, keyed by :data:`RECORD_COLUMNS`."""
    in_force = coverage_text(record.effective_coverage)
    return [
        {
            "round": record.round,
            "defender": d.defender,
            "leader": record.leader,
            "attacker_resources": record.attacker_resources,
            "designated_target": _one(record.designated_target),
            "attacked_target": _one(record.attacked_target),
            "covered": record.covered,
            "designated_targets": targets_text(record.designated_targets),
            "attacked_targets": targets_text(record.attacked_targets),
            "covered_attacks": sum(record.covered_attacks),
            "coverage_in_force": in_force,
            "misreported": d.misreported,
            "deviated": d.deviated,
            "expected_utility": d.expected_utility,
            "realised_utility": d.realised_utility,
            "sp_gain": d.sp_gain,
            "ir_gain": d.ir_gain,
            "sp_gain_realised": d.sp_gain_realised,
            "ir_gain_realised": d.ir_gain_realised,
        }
        for d in record.defenders
    ]


def records_frame(records: Sequence[RoundRecord]) -> pd.DataFrame:
    """Round records as a DataFrame: one row per round and defender, with exactly the
    study ``rounds`` table's columns and dtypes for what a record holds."""
    rows = [row for record in records for row in record_rows(record)]
    return pd.DataFrame(rows, columns=list(RECORD_COLUMNS)).astype(RECORD_COLUMNS)
