"""The ``defcoord`` command line (the same as ``python -m runs``).

Errors in what the user gave (bad arguments, invalid games or configs, missing
optional extras) print one line on stderr and exit with status 2, never a traceback.
A study whose chunks failed exits with status 1 after writing everything else.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np

from runs import DISTRIBUTION
from sim.errors import SimError
from sim.numerics import is_failure

EXIT_FAILED_CHUNKS = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"defcoord: error: {message}\n")


def _at_least(minimum: int, what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
        return value

    return parse


_positive = _at_least(1, "a positive integer")


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1); got {text!r}")
    return value


_seed = _at_least(0, "a non-negative integer")


def _choices(valid: Sequence[str], what: str) -> Callable[[str], tuple[str, ...]]:
    """A parser of a comma-separated list of ``valid`` names."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in valid]
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"expected {what} among {', '.join(valid)}, comma-separated; got {text!r}"
            )
        return names

    return parse


_formats = _choices(("png", "pdf", "svg"), "file formats")
_properties = _choices(("pe", "weak_up", "strong_up", "sp", "ir", "nash"), "properties")


def study_name(directory: str | Path) -> str:
    """The name of the study in ``directory`` (its manifest's), else the folder's."""
    from runs.export import read_manifest

    return str((read_manifest(Path(directory)) or {}).get("study") or Path(directory).name)


def _pilot_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 3600.0:
        raise argparse.ArgumentTypeError(f"expected seconds in [0, 3600]; got {text!r}")
    return value


def _port(text: str) -> int:
    value = _at_least(1, "a port number in 1..65535")(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number in 1..65535; got {text!r}")
    return value


def _cmd_list(args: argparse.Namespace) -> int:
    from agents.attackers import ATTACKERS
    from agents.behaviours import EXECUTION, REPORTING
    from mechanisms import MECHANISMS, make_mechanism
    from sim.generators import GENERATORS

    for kind, registry in (
        ("mechanisms", MECHANISMS),
        ("reporting behaviours", REPORTING),
        ("execution behaviours", EXECUTION),
        ("attacker models", ATTACKERS),
        ("generators", GENERATORS),
    ):
        print(f"{kind}:")
        for name, info in registry.describe().items():
            params = ", ".join(f"{k}={v!r}" for k, v in info["params"].items())
            print(
                textwrap.fill(
                    info["summary"],
                    width=100,
                    initial_indent=f"  {name:<24} ",
                    subsequent_indent=" " * 27,
                )
            )
            if registry is MECHANISMS:
                mech = make_mechanism(name)
                claims = ", ".join(sorted(mech.claims)) or "none"
                conditional = mech.conditional_claims
                extra = "".join(f"; {c} on {k}" for c, k in sorted(conditional.items()))
                print(f"  {'':<24} claims: {claims}{extra}")
                plans = mech.planned_attacks
                print(
                    f"  {'':<24} plans for: "
                    + (
                        "the game's attacker_resources"
                        if plans is None
                        else "one attack"
                        if plans == 1
                        else f"{plans} attacks"
                    )
                )
            print(f"  {'':<24} params: {params or '(none)'}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from runs.config import load_config
    from runs.runner import run_study

    config = load_config(args.config).with_overrides(seed=args.seed, replications=args.replications)
    if args.dry_run:
        from runs.dryrun import dry_run

        print(dry_run(config, args.jobs or os.cpu_count() or 1, args.pilot_seconds))
        return 0
    out = Path(args.out) if args.out else Path("out") / config.name
    cores = os.cpu_count() or 1
    if args.jobs is not None and args.jobs > cores:
        print(
            f"defcoord: warning: --jobs {args.jobs} is more than this machine's {cores} cores "
            "(clamped to the work available and to a few workers per core)",
            file=sys.stderr,
        )
    result = run_study(
        config,
        out,
        jobs=args.jobs,
        executor=args.executor,
        scheduler=args.scheduler,
        resume=args.resume,
        allow_code_change=args.allow_code_change,
        fmt=args.format,
        quiet=args.quiet,
    )
    print(
        f"study {config.name!r}: {result.chunks} chunks ({result.skipped} resumed), "
        f"{result.rows.get('audits', 0)} audit rows, "
        f"{result.rows.get('rounds', 0)} round rows -> {out}"
    )
    if result.failed:
        print(
            f"defcoord: {len(result.failed)} chunk(s) failed; see {out / 'ledger.jsonl'}",
            file=sys.stderr,
        )
        return EXIT_FAILED_CHUNKS
    return 0


def _by(value: str | None) -> list[str] | None:
    """``--by``: None when not given (the study's swept parameters), [] for ``none``,
    else the comma-separated names (an empty name is an error)."""
    if value is None:
        return None
    names = [v.strip() for v in value.split(",")]
    if names == ["none"]:
        return []
    if not all(names):
        raise SimError(f"--by takes comma-separated column names or 'none'; got {value!r}")
    return names


def _grouping(directory: str | Path, by: list[str] | None) -> list[str]:
    """What a study's summary is grouped by: ``--by``, else its swept parameters."""
    from runs.export import read_manifest, swept

    return swept(read_manifest(Path(directory)) or {}) if by is None else by


def _min_gain(directory: str | Path, given: float | None) -> float:
    from runs.export import study_min_gain

    return study_min_gain(Path(directory)) if given is None else given


def _cmd_plot(args: argparse.Namespace) -> int:
    from runs.plots import plot_study

    paths = plot_study(
        args.dir,
        args.out,
        by=_by(args.by),
        min_gain=args.min_gain,
        size=args.size,
        formats=args.formats,
    )
    reports = [p for p in paths if p.stem == "report"]
    print(f"{len(paths) - len(reports)} figure files, " + " and ".join(map(str, reports)))
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from runs.export import read_dataset
    from runs.report import convergence_warnings, format_summary
    from runs.summary import summarise

    audits, rounds = read_dataset(args.dir, "audits"), read_dataset(args.dir, "rounds")
    summary = summarise(
        audits,
        rounds,
        by=_grouping(args.dir, _by(args.by)),
        min_gain=_min_gain(args.dir, args.min_gain),
    )
    if args.columns is not None and args.format != "latex":
        raise SimError(f"--columns applies to --format latex; got --format {args.format!r}")
    print(
        format_summary(
            summary,
            args.format,
            study=study_name(args.dir),
            by=_grouping(args.dir, _by(args.by)),
            columns=args.columns,
        )
    )
    for warning in convergence_warnings(summary):
        print(f"defcoord: warning: {warning}", file=sys.stderr)
    return 0


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from runs.plots import figure_folder, save_figure, sensitivity
    from runs.report import format_table
    from runs.sensitivity import study_sensitivity
    from runs.style import figure_style

    table = study_sensitivity(
        args.dir,
        args.metric,
        by=() if args.by == "none" else ("mechanism",),
        min_gain=args.min_gain,
    )
    print(format_table(table, args.format))
    with figure_style():
        fig = sensitivity(table)
    if fig is None:
        print(f"defcoord: {args.metric} does not vary over the design: no figure", file=sys.stderr)
        return 0
    folder = figure_folder(Path(args.out) if args.out else Path(args.dir) / "figures")
    paths = save_figure(fig, folder, f"sensitivity_{args.metric}")
    print(f"figure: {' and '.join(map(str, paths))}", file=sys.stderr)
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from runs.logs import attack_log, fits_table
    from runs.report import format_table

    log = attack_log(args.dir, mechanism=args.mechanism, profile=args.profile)
    print(format_table(fits_table(log), args.format))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from runs.compare import compare_mechanisms, compare_studies
    from runs.export import read_dataset
    from runs.report import format_table

    by = _by(args.by)
    if args.mechanism is not None:
        if args.third is not None:
            raise SimError(
                "compare DIR1 DIR2 --mechanism M takes two study directories; got a third "
                f"argument {args.third!r}"
            )
        table = compare_studies(
            args.first,
            args.second,
            args.mechanism,
            by=_grouping(args.first, by),
            min_gain=_min_gain(args.first, args.min_gain),
        )
    else:
        if args.third is None:
            raise SimError(
                "compare takes DIR A B (two mechanisms of one study) or DIR1 DIR2 "
                "--mechanism M (one mechanism in two studies)"
            )
        audits, rounds = read_dataset(args.first, "audits"), read_dataset(args.first, "rounds")
        table = compare_mechanisms(
            audits,
            rounds,
            args.second,
            args.third,
            by=_grouping(args.first, by),
            min_gain=_min_gain(args.first, args.min_gain),
        )
    print(format_table(table, args.format))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from runs.export import read_manifest, verify_dataset
    from runs.studydir import IDENTITY_KEYS, Ledger, StudyDir, identity_key, part_path, sha256

    root = Path(args.dir)
    study = StudyDir(root)
    recorded = study.read_identity()
    manifest = read_manifest(root)
    if recorded is None or manifest is None:
        raise SimError(f"{str(root)!r} is not a study directory (no study.json or manifest)")
    problems = []
    if not manifest.get("finished"):
        problems.append("the manifest records no finished run (a run is under way or stopped)")
    if "dataset_sha256" not in manifest:
        problems.append("the manifest records no dataset SHA-256 (written by an older version)")
    else:
        problems += verify_dataset(root, manifest)
    ledger = Ledger.load(root, identity_key({k: recorded[k] for k in IDENTITY_KEYS}))
    parts = 0
    for chunk, entry in sorted(ledger.entries.items()):
        if entry.get("status") != "ok":
            continue
        parts += 1
        path = part_path(root, chunk)
        if path.is_symlink() or not path.is_file():
            problems.append(f"parts/{path.name} is missing (--resume computes it again)")
        elif sha256(path.read_bytes()) != entry.get("sha256"):
            problems.append(
                f"parts/{path.name} does not match its ledger SHA-256 (--resume computes it again)"
            )
    for problem in problems:
        print(problem)
    files = len(manifest.get("dataset_sha256") or {})
    if problems:
        print(f"defcoord: {len(problems)} problem(s) in {str(root)!r}", file=sys.stderr)
        return EXIT_FAILED_CHUNKS
    print(f"verified: {files} dataset files and {parts} parts match their SHA-256")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from runs.config import schema_text

    print(schema_text())
    return 0


def _range(low: np.ndarray, high: np.ndarray, exact: np.ndarray) -> str:
    """Per defender, the value where its bounds meet (``exact``), else [low, high]."""
    parts = (
        f"{lo:.4f}" if same else f"[{lo:.4f}, {hi:.4f}]"
        for lo, hi, same in zip(low, high, exact, strict=True)
    )
    return "[" + ", ".join(parts) + "]"


def _price(ratio: float, gap: float) -> str:
    """A price as a ratio where the welfares are positive, else as the difference."""
    return f"{ratio:.4f}" if np.isfinite(ratio) else f"undefined as a ratio (gap {gap:.4f})"


def _cmd_audit(args: argparse.Namespace) -> int:
    from mechanisms import make_mechanism
    from mechanisms.outcome import designated_set, outcome_problem
    from mechanisms.properties import (
        find_profitable_misreport,
        ir_violation,
        is_pareto_efficient,
        nse_prices,
        outcome_utility,
        utility_preservation,
    )
    from runs.gamefile import read_game
    from sim.nse.extremes import MAX_TARGETS

    game = read_game(args.game)
    mechanism = make_mechanism(args.mechanism)
    outcome = mechanism.prepared(game).allocate(game, rng=np.random.default_rng(args.seed))
    print(f"mechanism {args.mechanism}: status {outcome.status} {outcome.message}".rstrip())
    if not outcome.ok:
        return EXIT_FAILED_CHUNKS
    problem = outcome_problem(game, outcome)
    if problem is not None:
        print(f"defcoord: {args.mechanism} gave an invalid outcome: {problem}", file=sys.stderr)
        return EXIT_FAILED_CHUNKS
    attacked = designated_set(game, outcome)
    print(
        f"  attacked target{'s' if len(attacked) > 1 else ''} "
        f"{', '.join(map(str, attacked))}, coverage {np.round(outcome.coverage, 4).tolist()}"
    )
    print(f"  utilities {np.round(outcome_utility(game, outcome), 4).tolist()}")
    if game.restricted:
        own = "; ".join(
            f"{i}: {np.flatnonzero(row).tolist()}" for i, row in enumerate(game.allowed)
        )
        print(f"  jurisdictions (defender: targets she may guard) {own}")
    if game.attacker_resources > 1:
        print(
            f"PE, UP, SP and IR: not audited (the audits model one attack; the game has "
            f"attacker_resources={game.attacker_resources})"
        )
        return 0
    pe = is_pareto_efficient(game, outcome)
    print(
        f"PE: {'yes' if pe.efficient else 'no'}"
        + (
            ""
            if pe.efficient
            else f" (dominated by attacking {pe.dominating_target}: utilities "
            f"{np.round(np.asarray(pe.dominating_utility), 4).tolist()})"
        )
    )
    up = utility_preservation(game, outcome)
    b = up.bounds
    exact = bool(b.worst_exact.all() and b.best_exact.all())
    print(
        f"NSE utility per defender ({'exact' if exact else 'bounds'}): worst "
        f"{_range(b.worst_low, b.worst_high, b.worst_exact)}, best "
        f"{_range(b.best_low, b.best_high, b.best_exact)}"
    )
    print(f"weak UP per defender: {list(up.weak)}; strong UP: {list(up.strong)}")
    prices = nse_prices(game)
    if prices.exact:
        print(
            f"welfare: pooled optimum {prices.optimum:.4f}, NSE best "
            f"{prices.best_welfare:.4f}, worst {prices.worst_welfare:.4f}; price of anarchy "
            f"{_price(prices.anarchy, prices.anarchy_gap)}, of stability "
            f"{_price(prices.stability, prices.stability_gap)}"
        )
    else:
        print(
            f"welfare: pooled optimum {prices.optimum:.4f}; prices of anarchy and stability "
            f"not computed (the NSE extremes are exact for at most two defenders with "
            f"resources, no jurisdictions and at most {MAX_TARGETS} attackable targets)"
        )
    for i in range(game.n_defenders):
        found = find_profitable_misreport(
            mechanism, game, i, rng=np.random.default_rng(args.seed + i), budget=args.budget
        )
        if found is None:
            print(f"SP defender {i}: no profitable misreport in {args.budget} candidates")
        else:
            print(
                f"SP defender {i}: gains {found.gain:.4f} by reporting reward "
                f"{np.round(found.reward, 4).tolist()} "
                f"penalty {np.round(found.penalty, 4).tolist()} "
                f"(seed {found.seed}, {found.family})"
            )
        dev = ir_violation(game, outcome, i)
        if is_failure(dev.gain, game.units.defender_scale[i]):
            plan = "; ".join(
                f"told {list(sig)} -> cover {np.round(y, 3).tolist()}"
                for sig, _, y in dev.modification
            )
            print(
                f"IR defender {i}: gains {dev.gain:.4f} by making target {dev.target} "
                f"attacked ({plan or 'oracle'})"
            )
        else:
            print(f"IR defender {i}: no profitable deviation")
    return 0


def _cmd_viz(args: argparse.Namespace) -> int:
    import importlib.util
    import socket
    import subprocess

    missing = [m for m in ("solara", "altair", "networkx") if importlib.util.find_spec(m) is None]
    if missing:
        raise SimError(
            f"defcoord viz needs the 'viz' extra ({', '.join(missing)} missing): "
            "pip install 'defense-coordination[viz]' (make demo and make test install it)"
        )
    env = dict(os.environ)
    if args.game is not None:
        from runs.gamefile import VIZ_GAME_ENV, read_game

        read_game(args.game)  # a bad file fails here, in one line, not in the browser
        env[VIZ_GAME_ENV] = str(Path(args.game).resolve())
    with socket.socket() as probe:  # a taken port fails here, in one line
        try:
            probe.bind((args.host, args.port))
        except OSError as exc:
            raise SimError(
                f"cannot serve on {args.host}:{args.port} ({exc.strerror}); choose another "
                "--port or --host"
            ) from None
    command = [sys.executable, "-m", "solara", "run", "runs.viz", "--production", "--no-open"]
    command += ["--host", args.host, "--port", str(args.port), "--log-level", "warning"]
    command += ["--no-check-version"]  # no call to PyPI from a local view
    print(f"live view: http://{args.host}:{args.port}/  (Ctrl-C stops it)", flush=True)
    # the server dies with this process, even when it is killed (no orphan on the port)
    server = subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)
    try:
        return server.wait()
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


def _die_with_parent() -> None:
    """In a child process on Linux: receive SIGTERM when the parent dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _cmd_demo(args: argparse.Namespace) -> int:
    from runs.config import load_config
    from runs.plots import plot_study
    from runs.runner import run_study
    from runs.studydir import StudyDir

    config = load_config("quickstart")
    out = Path(args.out)
    if out.exists() or out.is_symlink():
        study = StudyDir(out)
        if out.is_symlink() or not out.is_dir() or not study.is_study():
            raise SimError(
                f"--out {str(out)!r} exists and is not a study directory this tool created "
                "(no study.json of its own); refusing to replace it, choose another"
            )
        foreign = study.files()[1]
        if foreign:
            names = ", ".join(str(p.relative_to(out)) for p in foreign[:3])
            raise SimError(
                f"--out {str(out)!r} holds files this tool did not write ({names}"
                f"{', ...' if len(foreign) > 3 else ''}); refusing to replace it, choose "
                "another"
            )
        with study.lock():  # never delete a study another run is writing
            study.remove_own()
    print(
        f"Running the quickstart study ({config.replications} games per grid point, "
        f"{len(config.mechanisms)} mechanisms, {len(config.profiles)} behaviour profiles, "
        f"{config.rounds} rounds) on {args.jobs or 'all'} local core(s)..."
    )
    result = run_study(config, out, jobs=args.jobs, quiet=args.quiet)
    paths = plot_study(out)
    print(
        f"dataset:  {out / 'dataset'}  ({result.rows['audits']} audit rows, "
        f"{result.rows['rounds']} round rows)"
    )
    print(f"summary:  {out / 'summary.csv'}")
    print(f"figures:  {out / 'figures'}  ({len(paths) - 1} files)")
    print(f"report:   {out / 'figures' / 'report.html'}  (and report.md)")
    _cmd_summary(argparse.Namespace(dir=out, by=None, min_gain=None, format="table", columns=None))
    return EXIT_FAILED_CHUNKS if result.failed else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; every option is documented in ``--help``."""
    parser = _Parser(
        prog="defcoord",
        description="Defense coordination in multi-defender security games "
        "(Gan, Elkind, Kraus, Wooldridge, AAMAS 2020): studies, audits, figures.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {metadata.version(DISTRIBUTION)}"
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a study config (TOML) into a dataset")
    run.add_argument("config", help="a study TOML file, or the name of one in runs/configs/")
    run.add_argument("--out", help="output directory (default: out/<study name>)")
    run.add_argument(
        "--jobs", type=_positive, help="local worker processes / dask workers (default: all cores)"
    )
    run.add_argument(
        "--executor",
        choices=["local", "dask"],
        default="local",
        help="local process pool (default) or a dask.distributed cluster",
    )
    run.add_argument("--scheduler", help="dask scheduler address (default: start a LocalCluster)")
    run.add_argument(
        "--resume", action="store_true", help="skip the chunks an interrupted run finished"
    )
    run.add_argument(
        "--allow-code-change",
        action="store_true",
        help="resume although the framework's version or a plug-in's source changed",
    )
    run.add_argument("--seed", type=_seed, help="override [study].seed")
    run.add_argument("--replications", type=_positive, help="override [study].replications")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the conditions, instances and rounds and a wall-time estimate from a "
        "short pilot; write nothing",
    )
    run.add_argument(
        "--pilot-seconds",
        type=_pilot_seconds,
        default=5.0,
        help="the dry run's pilot time budget (default 5)",
    )
    run.add_argument(
        "--format", choices=["parquet", "csv"], default="parquet", help="dataset format"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    plot = sub.add_parser("plot", help="draw the figures and report of a study directory")
    plot.add_argument("dir", help="a study output directory")
    plot.add_argument("--out", help="where to write the figures (default: DIR/figures)")
    plot.add_argument(
        "--size",
        choices=("single", "double"),
        default="double",
        help="figure width: one column (3.4 in) or two (7 in) of a paper (default: double)",
    )
    plot.add_argument(
        "--formats",
        type=_formats,
        default=("png", "pdf"),
        help="comma-separated file formats among png, pdf, svg (default: png,pdf)",
    )
    summary = sub.add_parser("summary", help="print a study's failure rates and gains")
    summary.add_argument("dir", help="a study output directory")
    summary.add_argument(
        "--columns",
        type=_properties,
        help="with --format latex: one table with these properties (comma-separated, "
        "e.g. pe,ir) instead of one table per property",
    )
    compare = sub.add_parser(
        "compare",
        help="paired comparison: DIR A B (two mechanisms of one study) or DIR1 DIR2 "
        "--mechanism M (one mechanism in two studies of the same design)",
    )
    compare.add_argument("first", help="a study output directory")
    compare.add_argument("second", help="mechanism A, or (with --mechanism) a second study")
    compare.add_argument("third", nargs="?", help="mechanism B (without --mechanism)")
    compare.add_argument("--mechanism", help="compare this mechanism across two studies")
    sens = sub.add_parser(
        "sensitivity",
        help="Sobol' indices of a per-instance metric over a study's saltelli design",
    )
    sens.add_argument("dir", help="a study output directory (run on [design] kind = 'saltelli')")
    sens.add_argument(
        "--metric",
        required=True,
        help="<property>_failure (pe, weak_up, strong_up, sp, ir, nash), welfare, or a numeric "
        "audits column (its mean over the instance's defenders)",
    )
    sens.add_argument(
        "--by",
        choices=("mechanism", "none"),
        default="mechanism",
        help="indices per mechanism (default) or over all of them",
    )
    sens.add_argument("--out", help="where to write the figure (default: DIR/figures)")
    fit = sub.add_parser(
        "fit",
        help="fit quantal response and SUQR to a study's simulated attacks (maximum likelihood)",
    )
    fit.add_argument("dir", help="a study output directory with simulated rounds")
    fit.add_argument("--mechanism", help="only the rounds of this mechanism (its label)")
    fit.add_argument("--profile", help="only the rounds of this behaviour profile")
    for command in (summary, compare, sens, fit):
        command.add_argument(
            "--format",
            choices=("table", "csv", "markdown", "latex"),
            default="table",
            help="output format (default: table)",
        )
    for command in (plot, summary, compare):
        command.add_argument(
            "--by",
            help="group by these columns or generator parameters, comma-separated, or "
            "'none' to pool (default: the parameters the study's grid sweeps; plot draws "
            "facets only when it sweeps exactly one)",
        )
    for command in (plot, summary, compare, sens):
        command.add_argument(
            "--min-gain",
            type=_fraction,
            dest="min_gain",
            help="failure threshold relative to the payoff range (default: the study's)",
        )
    verify = sub.add_parser(
        "verify", help="check a study's dataset files and parts against their SHA-256"
    )
    verify.add_argument("dir", help="a study output directory")
    sub.add_parser("list", help="list mechanisms (with claims), behaviours, attackers, generators")
    sub.add_parser("schema", help="every study config field: type, default, meaning")
    audit = sub.add_parser("audit", help="run every audit of one mechanism on one game")
    audit.add_argument("game", help="a game as JSON (SecurityGame.to_dict)")
    audit.add_argument("--mechanism", required=True, help="a registered mechanism (see `list`)")
    audit.add_argument(
        "--budget", type=_positive, default=500, help="misreport candidates per defender"
    )
    audit.add_argument("--seed", type=_seed, default=0, help="seed of the mechanism and the search")
    viz = sub.add_parser("viz", help="serve the live view of a simulation (SolaraViz) locally")
    viz.add_argument("--host", default="127.0.0.1", help="address to listen on")
    viz.add_argument("--port", type=_port, default=8765, help="port to listen on")
    viz.add_argument("--game", help="a JSON game file to open on (default: Example 5.2)")
    demo = sub.add_parser("demo", help="run the quickstart study and draw its figures")
    demo.add_argument("--out", default="out/quickstart", help="output directory (replaced)")
    demo.add_argument("--jobs", type=_positive, help="local worker processes (default: all cores)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so a run stops like Ctrl-C (exit 143)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``defcoord``; returns the exit status."""
    args = build_parser().parse_args(argv)
    handlers = {
        "list": _cmd_list,
        "run": _cmd_run,
        "plot": _cmd_plot,
        "summary": _cmd_summary,
        "compare": _cmd_compare,
        "sensitivity": _cmd_sensitivity,
        "fit": _cmd_fit,
        "verify": _cmd_verify,
        "audit": _cmd_audit,
        "demo": _cmd_demo,
        "schema": _cmd_schema,
        "viz": _cmd_viz,
    }
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return handlers[args.command](args)
    except SimError as exc:
        print(f"defcoord: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (KeyboardInterrupt, Terminated) as exc:
        status = 143 if isinstance(exc, Terminated) else 130
        print(
            "defcoord: interrupted; every finished chunk is recorded, "
            "continue with the same command and --resume"
            if args.command in ("run", "demo")
            else f"defcoord: {args.command} stopped",
            file=sys.stderr,
        )
        return status
    except BrokenPipeError:  # the reader went away (``defcoord list | head``)
        sys.stderr.close()
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
