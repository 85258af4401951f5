"""Attack logs from a study's ``rounds`` table (``docs/behavioural.md`` §2): every
simulated round's game (rebuilt from the study's seed tree), the coverage in force and
the attacked target, for :mod:`sim.fitting`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from agents.records import parse_coverage
from runs.config import parse_config
from runs.export import read_dataset, read_manifest
from runs.tasks import study_game
from sim.errors import InvalidConfigError
from sim.fitting import AttackLog, fit_quantal, fit_suqr


def attack_log(
    study: str | Path, *, mechanism: str | None = None, profile: str | None = None
) -> AttackLog:
    """The rounds of ``study`` (those of one mechanism label and one profile, when
    named) as an attack log: one entry per simulated round, in the dataset's order."""
    root = Path(study)
    manifest = read_manifest(root)
    if manifest is None or "config" not in manifest:
        raise InvalidConfigError(f"{root} holds no finished study (no manifest.json)")
    config = parse_config(manifest["config"])
    rounds = read_dataset(root, "rounds")
    kept = (rounds["status"] == "ok") & (rounds["defender"] == 0)
    for column, value in (("mechanism", mechanism), ("profile", profile)):
        if value is not None:
            known = sorted(rounds[column].dropna().unique())
            if value not in known:
                raise InvalidConfigError(f"{column} {value!r} is not in the study: {known}")
            kept &= rounds[column] == value
    played = rounds[kept]
    if played.empty:
        raise InvalidConfigError(f"{root} has no simulated rounds to fit (rounds = 0?)")
    if (played["attacker_resources"] > 1).any():
        raise InvalidConfigError(
            f"{root}'s attacker hits several targets a round; the logit fits model one"
        )
    points = config.grid_points()
    games = {
        key: study_game(config, points[int(key[0])], int(key[1]))
        for key in played[["grid_point", "replication"]].drop_duplicates().itertuples(index=False)
    }
    return AttackLog.from_rounds(
        [games[key] for key in played[["grid_point", "replication"]].itertuples(index=False)],
        [parse_coverage(text) for text in played["coverage_in_force"]],
        played["attacked_target"].astype(int).to_numpy(),
    )


def fits_table(log: AttackLog) -> pd.DataFrame:
    """Quantal response and SUQR fitted to ``log``: a row per model and weight with its
    estimate, standard error and 95% interval, and the model's log-likelihood and AIC."""
    rows = []
    for model, fit in (("quantal", fit_quantal(log)), ("suqr", fit_suqr(log))):
        aic = 2 * len(fit.features) - 2 * fit.log_likelihood
        for name, weight, error, (low, high) in zip(
            fit.features, fit.weights, fit.std_errors, fit.intervals(), strict=True
        ):
            rows.append(
                {
                    "model": model,
                    "feature": name,
                    "weight": weight,
                    "std_error": error,
                    "low": low,
                    "high": high,
                    "log_likelihood": fit.log_likelihood,
                    "aic": aic,
                    "rounds": fit.rounds,
                }
            )
    return pd.DataFrame(rows)
