"""The dataset schema: the columns of both tables, their dtypes and sort keys.

Every row belongs to one condition (the first columns of both tables); ``audits`` has
one row per instance and defender, ``rounds`` one per simulated round and defender.
The runner's workers build frames with :func:`frame`, and :mod:`runs.export` writes
and reads them with exactly these dtypes.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

#: The condition every row belongs to (the first columns of both tables).
CONDITION_COLUMNS: dict[str, str] = {
    "chunk": "string",
    "study": "string",
    "generator": "string",
    "grid_point": "Int64",
    "grid_params": "string",
    "mechanism": "string",
    "mechanism_name": "string",
    "mechanism_params": "string",
}

AUDIT_COLUMNS: dict[str, str] = {
    **CONDITION_COLUMNS,
    "replication": "Int64",
    "spawn_key": "string",
    "defender": "Int64",
    "status": "string",
    "error": "string",
    "n_defenders": "Int64",
    "n_targets": "Int64",
    "resources": "Int64",
    "total_resources": "Int64",
    "attacked_target": "Int64",
    "utility": "float64",
    "nse_utility": "float64",
    "welfare": "float64",
    "nse_welfare": "float64",
    "pareto_efficient": "boolean",
    "weak_up": "string",
    "strong_up": "string",
    "sp_gain": "float64",
    "sp_failure": "boolean",
    "sp_family": "string",
    "ir_gain": "float64",
    "ir_failure": "boolean",
    "nse_total_coverage": "float64",
    "nse_spent": "float64",
    "pooled_coverage": "float64",
}

ROUND_COLUMNS: dict[str, str] = {
    **CONDITION_COLUMNS,
    "profile": "string",
    "attacker": "string",
    "replication": "Int64",
    "spawn_key": "string",
    "round": "Int64",
    "defender": "Int64",
    "strategic": "boolean",
    "status": "string",
    "error": "string",
    "n_defenders": "Int64",
    "n_targets": "Int64",
    "designated_target": "Int64",
    "attacked_target": "Int64",
    "covered": "boolean",
    "misreported": "boolean",
    "deviated": "boolean",
    "expected_utility": "float64",
    "realised_utility": "float64",
    "sp_gain": "float64",
    "ir_gain": "float64",
    "sp_gain_realised": "float64",
    "ir_gain_realised": "float64",
}


#: The tables of a dataset, by name.
TABLES: dict[str, dict[str, str]] = {"audits": AUDIT_COLUMNS, "rounds": ROUND_COLUMNS}

#: The order rows are stored and read back in (deterministic whatever the workers).
SORT_KEYS: dict[str, list[str]] = {
    "audits": ["grid_point", "mechanism", "replication", "defender"],
    "rounds": ["grid_point", "mechanism", "profile", "replication", "round", "defender"],
}


def typed(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """``df`` with exactly ``table``'s columns, in order, with their dtypes."""
    columns = TABLES[table]
    return df[list(columns)].astype(columns)


def frame(rows: list[dict[str, Any]], table: str) -> pd.DataFrame:
    """Rows (dicts) as a DataFrame of ``table`` with exactly its columns and dtypes."""
    columns = TABLES[table]
    return pd.DataFrame(rows, columns=list(columns)).astype(columns)
