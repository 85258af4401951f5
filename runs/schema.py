"""The dataset schema: the columns of both tables, their dtypes and sort keys.

Every row belongs to one condition (the first columns of both tables), followed by
one typed column per game-generator parameter of the study (:func:`parameter_columns`:
the swept ones and the fixed ones, so a study's parameters are columns, not JSON);
``audits`` has one row per instance and defender, ``rounds`` one per simulated round
and defender. The runner's workers build Arrow tables with :func:`arrow_table`, and
:mod:`runs.export` writes and reads them with exactly these dtypes.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from agents.records import RECORD_COLUMNS

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
    "attacker_resources": "Int64",
    "payoff_range": "float64",
    "strategic": "boolean",
    "role": "string",
    "attacked_target": "Int64",
    "attacked_targets": "string",
    "utility": "float64",
    "nse_utility": "float64",
    "welfare": "float64",
    "nse_welfare": "float64",
    "pooled_welfare": "float64",
    "pareto_efficient": "boolean",
    "weak_up": "string",
    "strong_up": "string",
    "up": "string",
    "up_reference": "string",
    "nse_extremes": "string",
    "best_nse_welfare": "float64",
    "worst_nse_welfare": "float64",
    "price_of_anarchy": "float64",
    "price_of_stability": "float64",
    "anarchy_gap": "float64",
    "stability_gap": "float64",
    "sp_gain": "float64",
    "sp_family": "string",
    "sp_budget": "Int64",
    "sp_found_at": "Int64",
    "sp_gain_half": "float64",
    "ir_gain": "float64",
    "logit_utility": "float64",
    "logit_welfare": "float64",
    "logit_ir_gain": "float64",
    "logit_ir_gain_upper": "float64",
    "nse_total_coverage": "float64",
    "nse_spent": "float64",
    "pooled_coverage": "float64",
    "nash_consistent": "boolean",
}

ROUND_COLUMNS: dict[str, str] = {
    **CONDITION_COLUMNS,
    "profile": "string",
    "reporting": "string",
    "executing": "string",
    "attacker": "string",
    "replication": "Int64",
    "spawn_key": "string",
    "focal_defender": "Int64",
    "strategic": "boolean",
    "role": "string",
    "payoff_range": "float64",
    "status": "string",
    "error": "string",
    "n_defenders": "Int64",
    "n_targets": "Int64",
    # what each round record holds (its ``leader`` is stored as ``role``)
    **{k: v for k, v in RECORD_COLUMNS.items() if k != "leader"},
}


#: The tables of a dataset, by name.
TABLES: dict[str, dict[str, str]] = {"audits": AUDIT_COLUMNS, "rounds": ROUND_COLUMNS}

#: The order rows are stored and read back in (deterministic whatever the workers).
SORT_KEYS: dict[str, list[str]] = {
    "audits": ["grid_point", "mechanism", "replication", "defender"],
    "rounds": [
        "grid_point",
        "mechanism",
        "profile",
        "replication",
        "focal_defender",
        "round",
        "defender",
    ],
}


#: Generator parameters that are columns already (the realised game's size and its
#: attacker's resources), and the one whose name a column holds for something else
#: (each defender's resources).
PARAMETERS_SHOWN = frozenset({"n_defenders", "n_targets", "attacker_resources"})
PARAMETER_RENAMED = {"resources": "resources_spec"}


def parameter_column(name: str) -> str:
    """The column that holds generator parameter ``name``."""
    return PARAMETER_RENAMED.get(name, name)


def _dtype(values: Sequence[object]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "Int64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "float64"
    return "string"


def parameter_columns(points: Sequence[Mapping[str, object]]) -> dict[str, str]:
    """Column -> dtype of the generator parameters, from every grid point's full
    parameter set (scalars keep their type; anything else is stored as JSON text)."""
    names = sorted({name for point in points for name in point} - PARAMETERS_SHOWN)
    return {parameter_column(name): _dtype([point.get(name) for point in points]) for name in names}


def parameter_values(point: Mapping[str, object], columns: Mapping[str, str]) -> dict[str, object]:
    """A grid point's parameters as the values of their ``columns``."""
    out: dict[str, object] = {}
    for name, value in point.items():
        column = parameter_column(name)
        if column in columns:
            text = columns[column] == "string" and not isinstance(value, str)
            out[column] = json.dumps(value, sort_keys=True) if text else value
    return out


def columns(table: str, parameters: Mapping[str, str]) -> dict[str, str]:
    """Every column of ``table`` with its dtype: the condition, the study's parameter
    columns, then the table's own."""
    own = TABLES[table]
    head = {k: v for k, v in own.items() if k in CONDITION_COLUMNS}
    tail = {k: v for k, v in own.items() if k not in CONDITION_COLUMNS}
    return {**head, **dict(parameters), **tail}


def stored_parameters(df: pd.DataFrame) -> dict[str, str]:
    """The parameter columns of a stored table (those the fixed schema does not name),
    with their stored dtypes."""
    fixed = set(AUDIT_COLUMNS) | set(ROUND_COLUMNS)
    return {c: str(df[c].dtype) for c in df.columns if c not in fixed}


def typed(
    df: pd.DataFrame, table: str, parameters: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """``df`` with exactly ``table``'s columns (and the parameter columns: given, or
    those ``df`` holds), in order, with their dtypes."""
    wanted = columns(table, stored_parameters(df) if parameters is None else parameters)
    return df[list(wanted)].astype(wanted)


#: The Arrow type of each dtype of the schema (what the workers write).
ARROW_TYPES = {
    "string": pa.string(),
    "Int64": pa.int64(),
    "float64": pa.float64(),
    "boolean": pa.bool_(),
}

#: Back from Arrow to the schema's pandas dtypes (nullable integers, booleans, strings).
PANDAS_TYPES = {
    pa.string(): pd.StringDtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.bool_(): pd.BooleanDtype(),
}


def arrow_table(rows: list[dict[str, Any]], table: str, parameters: Mapping[str, str]) -> pa.Table:
    """Rows (dicts) as an Arrow table of ``table`` with exactly its columns and types,
    built column by column (missing keys and None are nulls); no DataFrame. A key that
    is no column of the table (a misspelt one) raises ``KeyError`` naming it rather
    than vanish."""
    wanted = columns(table, parameters)
    unknown = set().union(*map(dict.keys, rows)) - wanted.keys() if rows else set()
    if unknown:
        raise KeyError(f"{table} rows have keys that are no column of the table: {sorted(unknown)}")
    schema = pa.schema([(name, ARROW_TYPES[dtype]) for name, dtype in wanted.items()])
    try:  # every row has every column (the workers' rows do): transposed in C
        values = zip(*map(operator.itemgetter(*wanted), rows), strict=True)
        data = dict(zip(wanted, map(list, values), strict=True)) if rows else {}
    except KeyError:
        data = {}
    if len(data) != len(wanted):
        data = {name: [row.get(name) for row in rows] for name in wanted}
    return pa.table(data, schema=schema)
