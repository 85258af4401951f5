"""Study statistics: failure rates with Clopper-Pearson intervals, gains and welfare."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.numerics import GAIN_TOL
from sim.stats import clopper_pearson


def _rate(label: str, flags: pd.Series) -> dict[str, float]:
    """``<label>_rate``, ``_low``, ``_high`` (Clopper-Pearson) and ``_n`` of a flag series."""
    values = flags.dropna().astype(bool)
    k, n = int(values.sum()), int(values.size)
    low, high = clopper_pearson(k, n)
    rate = k / n if n else np.nan
    return {f"{label}_rate": rate, f"{label}_low": low, f"{label}_high": high, f"{label}_n": n}


def summarise(audits: pd.DataFrame, rounds: pd.DataFrame) -> pd.DataFrame:
    """Per mechanism (x profile for simulations): failure rates with Clopper-Pearson
    CIs, mean gains, and welfare relative to the status-quo NSE."""
    rows: list[dict[str, Any]] = []
    ok = audits[audits["status"] == "ok"]
    for mechanism, group in ok.groupby("mechanism", sort=True):
        instances = group.drop_duplicates(["grid_point", "replication"])
        entry: dict[str, Any] = {
            "mechanism": mechanism,
            "profile": "(one-shot audit)",
            "source": "audit",
        }
        for label, series in (
            (
                "pe_failure",
                ~group.drop_duplicates(["grid_point", "replication"])["pareto_efficient"].astype(
                    "boolean"
                ),
            ),
            ("weak_up_failure", group["weak_up"].eq("fails").where(group["weak_up"].notna())),
            ("sp_failure", group["sp_failure"]),
            ("ir_failure", group["ir_failure"]),
        ):
            entry.update(_rate(label, series))
        entry["mean_sp_gain"] = float(group["sp_gain"].mean())
        entry["mean_ir_gain"] = float(group["ir_gain"].mean())
        entry["welfare_gain"] = float((instances["welfare"] - instances["nse_welfare"]).mean())
        entry["failed_instances"] = int(
            (audits[(audits["mechanism"] == mechanism)]["status"] == "failed").sum()
        )
        rows.append(entry)
    sims = rounds[(rounds["status"] == "ok") & rounds["strategic"].astype(bool)]
    for (mechanism, profile), group in sims.groupby(["mechanism", "profile"], sort=True):
        entry = {"mechanism": mechanism, "profile": profile, "source": "simulation"}
        for label, gains in (("sp_failure", group["sp_gain"]), ("ir_failure", group["ir_gain"])):
            entry.update(_rate(label, gains > GAIN_TOL))
        entry["mean_sp_gain"] = float(group["sp_gain"].mean())
        entry["mean_ir_gain"] = float(group["ir_gain"].mean())
        entry["mean_expected_utility"] = float(group["expected_utility"].mean())
        rows.append(entry)
    return pd.DataFrame(rows)
