"""The compbench command line: list the matrix, predict and evaluate WIDER FACE, check assets.

Heavy libraries are imported inside each subcommand so that ``compbench eval-wider`` starts in
a fraction of a second and ``compbench variants`` works without any engine installed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from compbench.errors import CompbenchError
from compbench.runner.option_types import open_fraction, positive_int, positive_seconds
from compbench.runner.plugin_manager import MATRIX_ENV


def cmd_variants(args: argparse.Namespace) -> int:
    from compbench.engines.registry import engine_config, missing_distributions
    from compbench.runner.matrix import select

    for variant in select(args.filter):
        if args.ids:
            print(variant.id)
            continue
        missing = missing_distributions(engine_config(variant.engine).requires + variant.requires)
        state = f"  [needs {', '.join(missing)}]" if missing else ""
        print(f"{variant.id:48s} {variant.description}{state}")
        if args.details:
            print(f"{'':48s} recipe {variant.recipe}")
            if variant.params:
                print(f"{'':48s} " + ", ".join(f"{k}={v!r}" for k, v in variant.params))
            if variant.after:
                print(f"{'':48s} on the artifact of row {variant.model.name}/{variant.after} "
                      "(a chain: that row's recipe and parameters, its cached build)")
    return 0


def cmd_assets(args: argparse.Namespace) -> int:
    from compbench.assets import Assets

    assets = Assets(args.assets)
    print(f"assets folder: {assets.root}")
    status = assets.check_all()
    for relpath, state in status.items():
        print(f"  {'ok ' if state == 'ok' else 'BAD'} {relpath}")
        if state != "ok":
            print(f"      {state}")
    return 0 if all(s == "ok" for s in status.values()) else 2


def cmd_predict_wider(args: argparse.Namespace) -> int:
    from compbench.evaluation.widerface.prediction_files import check_event_folders, check_output_folder

    # A bad --out must cost a second, not a calibration and a pass over every image.
    out = Path(args.out)
    existing = check_output_folder(out, overwrite=args.overwrite)
    from compbench.runner.matrix import get_variant

    variant = get_variant(args.variant)  # an unknown id fails before any heavy import
    from compbench.assets import Assets
    from compbench.cache import ArtifactCache
    from compbench.evaluation.widerface import write_predictions
    from compbench.runner.pipeline import VariantPipeline
    from compbench.tasks.widerface import WiderFaceTask

    if variant.model.task != "widerface":
        raise CompbenchError(f"{variant.id} is not a WIDER FACE detector variant")
    assets = Assets(args.assets)
    task = WiderFaceTask(assets, images_root=Path(args.images) if args.images else None)
    check_event_folders(out, [key for key, _ in task.images])  # the events are known only now
    pipeline = VariantPipeline(variant, assets, ArtifactCache(args.cache_dir), task)
    pipeline.prepare()
    batch = args.batch if pipeline.session.accepts_batch(args.batch) else 1
    if batch != args.batch:
        print(f"note: {variant.id}'s artifact has a fixed batch of 1: predicting one image at a "
              "time", file=sys.stderr)
    predictions = task.predict(pipeline.session.run, variant.id, batch)
    write_predictions(out, predictions)
    total = sum(len(p) for p in predictions.values())
    print(f"wrote {len(predictions)} prediction files ({total} detections) to {args.out}")
    stale = [key for key in existing if key not in predictions]
    if stale:
        print(f"note: {len(stale)} older prediction file(s) of other images are still in "
              f"{args.out} (e.g. {existing[stale[0]]}); eval-wider would read them too: "
              f"delete them or write to a new folder.", file=sys.stderr)
    return 0


def cmd_eval_wider(argv: list[str]) -> int:
    from compbench.evaluation.widerface.cli import main

    return main(argv)


def cmd_compare(args: argparse.Namespace) -> int:
    from compbench.runner.compare import Side, compare, compare_plan
    from compbench.runner.matrix import select

    variants = [v.id for v in select(args.filter)]
    if not variants:
        raise CompbenchError(f"no variant matches {' '.join(args.filter)!r}: see `compbench variants`")
    base, head = Side.parse(args.base, "base"), Side.parse(args.head, "head")
    table, regressed = compare(base, head, variants, compare_plan(args.speed_budget),
                               args.tolerance, log=lambda line: print(line, file=sys.stderr))
    print(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table, encoding="utf-8")
    return 1 if regressed else 0


def cmd_bisect(args: argparse.Namespace) -> int:
    """The first commit of GOOD..BAD that regressed one variant (runner/bisect.py)."""
    from compbench.runner.bisect import bisect, render
    from compbench.runner.compare import compare_plan
    from compbench.runner.matrix import get_variant

    variant = get_variant(args.select).id   # an unknown id fails before any worktree
    if args.package:
        from compbench.runner.package_bisect import PackageRange, bisect_package

        if args.good or args.bad or args.alert:
            raise CompbenchError("bisect --package takes no GOOD/BAD commits and no --alert: the "
                                 "range is the package's, e.g. --package onnxruntime==1.30.0..1.32.0")
        found = bisect_package(PackageRange.parse(args.package), variant,
                               compare_plan(args.speed_budget), args.tolerance, args.remeasure,
                               log=lambda line: print(line, file=sys.stderr))
        print(render(found, variant))
        return 0 if found.first_bad or found.bad_is_not_worse else 1
    if not (args.good and args.bad):
        raise CompbenchError("bisect needs GOOD and BAD commits (or --package NAME==A..B)")
    found = bisect(args.good, args.bad, variant, compare_plan(args.speed_budget), args.tolerance,
                   repo=Path(args.repo), remeasure=args.remeasure,
                   log=lambda line: print(line, file=sys.stderr))
    print(render(found, variant))
    if args.alert:   # the bisect alert: an issue body naming the commit, with the evidence
        from compbench.runner.bisect import git
        from compbench.runner.bisect_alert import render_alert

        # hashes, not refs: HEAD or a branch name reproduces another range tomorrow
        command = ["compbench", "bisect", git(Path(args.repo), "rev-parse", args.good),
                   found.commits[-1], "--select", variant]
        command += [] if args.tolerance == 0.05 else ["--tolerance", str(args.tolerance)]
        command += [] if args.speed_budget == 3.0 else ["--speed-budget", str(args.speed_budget)]
        command += [] if args.repo == "." else ["--repo", args.repo]
        Path(args.alert).parent.mkdir(parents=True, exist_ok=True)
        Path(args.alert).write_text(render_alert(found, variant, args.bad, command,
                                                 args.report_url), encoding="utf-8")
    return 0 if found.first_bad or found.bad_is_not_worse else 1


def cmd_regressions(args: argparse.Namespace) -> int:
    """The variants the gate called red in these results files, one id per line (what turned each
    red on stderr): the nightly's alert job bisects them (runner/regressions.py)."""
    from compbench.runner import results_file
    from compbench.runner.regressions import regressed

    results = {}
    for name in args.files:
        results.update(results_file.read(Path(name)).results)
    found = regressed(results)
    for variant_id in list(found)[:args.limit]:
        print(f"{variant_id}: {', '.join(found[variant_id])}", file=sys.stderr)
        print(variant_id)
    if len(found) > args.limit:
        print(f"... and {len(found) - args.limit} more (--limit {args.limit})", file=sys.stderr)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from compbench.project import current
    from compbench.runner.history import History, trend_table
    from compbench.settings import resolve_history_path

    history = History(resolve_history_path(current().reports_dir, args.history))
    if not history.path.exists():
        raise CompbenchError(f"no history at {history.path} yet: every `pytest bench` session "
                             "appends to it (or pass --history / set COMPBENCH_HISTORY)")
    table = trend_table(history, args.filter, args.last)
    if table.empty:
        raise CompbenchError(f"no variant in {history.path} matches {' '.join(args.filter)!r}")
    print(f"{history.path}: {history.session_count()} session(s)")
    print(table.to_markdown(index=False, disable_numparse=True))
    return 0


def cmd_accept(args: argparse.Namespace) -> int:
    """Move a baseline to the level after a confirmed change point (runner/accept.py)."""
    from compbench.project import current
    from compbench.runner.accept import accept
    from compbench.runner.baselines import Baselines, baseline_path
    from compbench.runner.history import History
    from compbench.runner.matrix import get_variant
    from compbench.settings import resolve_history_path

    variant = get_variant(args.variant).id
    history = History(resolve_history_path(current().reports_dir, args.history))
    if not history.path.exists():
        raise CompbenchError(f"no history at {history.path}: a change is accepted from the "
                             "sessions recorded there (pass --history / set COMPBENCH_HISTORY)")
    path = baseline_path(args.profile, Path(args.baselines_dir) if args.baselines_dir else None)
    command = " ".join(["compbench", *sys.argv[1:]])
    accepted, changes = accept(Baselines.load(args.profile, path), history, variant, args.metric,
                               args.reason, command)
    point = accepted.point
    print(f"{variant} {args.metric}: accepted the change at session {point.session_id} "
          f"({(point.git_commit or '?')[:12]}, {point.date}, p = {point.p_value:.3g}); the "
          f"baseline is now the median of the {accepted.runs} run(s) since, "
          f"{accepted.value:.6g}, on {accepted.machine}, in {path}")
    for line in changes:
        print(f"  {line}")
    return 0


def cmd_emulation_check(args: argparse.Namespace) -> int:
    """Emulated values of a lower class against a real machine's (runner/emulation_check.py)."""
    from compbench import hardware
    from compbench.runner import emulation_check
    from compbench.runner.baselines import Baselines
    from compbench.runner.matrix import select

    baselines = Baselines.load(args.profile)
    wanted = {v.id for v in select(args.filter)}
    real = [vid for vid in emulation_check.real_values(baselines, args.hardware_class) if vid in wanted]
    if not real:
        raise CompbenchError(f"no variant matching {' '.join(args.filter)!r} has values recorded on "
                             f"a real {args.hardware_class} machine in {baselines.path}: nothing "
                             "to check emulation against")
    measured = emulation_check.measure(sorted(real), args.hardware_class, args.cache_dir)
    rows = emulation_check.compare(baselines, args.hardware_class, measured)
    table = emulation_check.render(rows, args.hardware_class, hardware.current().hardware_class)
    print(table)
    if args.out:
        from compbench.provenance import provenance

        origin = provenance(" ".join(["compbench emulation-check", *sys.argv[2:]]))
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(
            f"# Emulated `{args.hardware_class}` against real machines\n\nGenerated by "
            f"`{origin['command']}` on {origin['date']}, commit `{origin['git_commit']}`, on "
            f"{hardware.current().describe()}; data: each model's evaluation set "
            f"(WIDER FACE mini set, CIFAR-10 JPEG test copy).\n\n{table}\n", encoding="utf-8")
    if args.record:
        emulation_check.record(baselines, args.hardware_class, rows)
        print(f"written to {baselines.path} [\"{emulation_check.SECTION}\"]"
              f"[\"{args.hardware_class}\"]")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Several sessions' results files (CI shards: one job per engine family or model) as one
    report, markdown and HTML. Not a gate: each shard gated its own variants."""
    import datetime as dt

    from compbench.runner import results_file
    from compbench.runner.report import render
    from compbench.runner.report_files import write_reports
    from compbench.runner.results import Ledger

    ledger, notes, sources, seen, commits = Ledger(), {}, [], {}, set()
    for name in args.files:
        found = results_file.read(Path(name))
        for variant_id in found.results:
            seen.setdefault(variant_id, []).append(name)
        results_file.merge_into(found, ledger, notes)
        commits.add(str(found.origin.get("git_commit")))
        sources.append(f"`{name}`: commit `{found.origin.get('git_commit')}`, "
                       f"{found.origin.get('date')}, {found.machine.describe()}")
    if not ledger.results:
        raise CompbenchError(f"{' '.join(args.files)}: no variant in these results files")
    twice = sorted(v for v, files in seen.items() if len(files) > 1)
    warnings = ([f"**Different commits** ({', '.join(sorted(commits))}): these shards did not "
                 "measure the same code."] if len(commits) > 1 else [])
    if twice:
        warnings.append(f"In more than one file (the later file's values win): {', '.join(twice)}.")
    now = dt.datetime.now(dt.UTC)
    header_lines = [f"Merged from {len(sources)} results file(s):", *sources, *warnings]
    markdown = (f"# compbench merged report {now.isoformat(timespec='seconds')}\n\n"
                + "\n".join(f"- {line}" if i else line for i, line in enumerate(header_lines))
                + "\n\n" + render(ledger, notes))
    stamp = "merged-" + now.strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.report_dir)
    path, html_path, _ = write_reports(ledger, notes, "compbench merged report", header_lines,
                                       markdown, out, stamp)
    bencher = results_file.write_bencher(ledger.results, out)
    print(markdown)
    print(f"merged report written to {path} and {html_path} (Bencher metrics: {bencher})",
          file=sys.stderr)
    return 0


def cmd_durations(args: argparse.Namespace) -> int:
    """Each build group's estimated cold seconds (runner/durations.py); --write commits this
    cache's step times to ci/durations.json; --shards N previews ``pytest --shard K/N``."""
    from compbench.paired_timing import PairingPlan
    from compbench.project import current
    from compbench.runner import durations, matrix, shards
    from compbench.runner.distributed import build_group
    from compbench.settings import resolve_cache_dir

    variants = matrix.select(args.filter)
    if not variants:
        raise CompbenchError(f"no variant matches {' '.join(args.filter)!r}: see `compbench variants`")
    cache = resolve_cache_dir(args.cache_dir)
    file = Path(args.file) if args.file else current().durations_file
    committed = durations.StepTimes.read(file)
    if args.write:
        if not cache.is_dir():
            raise CompbenchError(f"no artifact cache at {cache} to read step times from: run the "
                                 "bench first, or pass --cache-dir (or set COMPBENCH_CACHE)")
        found = durations.StepTimes.from_cache(cache)
        committed = found.over(committed).kept_for(matrix.variants().values())
        committed.write(file)
        print(f"{file}: {len(found.seconds)} step time(s) read from {cache}, "
              f"{len(committed.seconds)} in the file")
        if not args.shards:
            return 0
    if args.shards:   # what every CI job computes: the committed times alone
        units = shards.variant_units(variants, committed)
        seconds = shards.step_seconds(committed, args.speed_budget or PairingPlan().budget_s)
        for index, names in enumerate(shards.partition(units, seconds, args.shards), 1):
            print(f"shard {index}/{args.shards}: ~{shards.shard_cost(units, names, seconds):.0f} s "
                  f"cold, {len(names)} build group(s)")
            for name in names:
                print(f"  {name}")
        return 0
    times = durations.load(cache, file)
    groups: dict[str, list] = {}
    for variant in variants:
        groups.setdefault(build_group(variant), []).append(variant)
    rows = []
    for group, members in groups.items():
        steps = {step for variant in members for step in times.steps(variant)}
        timed = sum(step in times.seconds for step in steps)
        rows.append((times.total(steps), group, len(members), timed, len(steps)))
    for seconds, group, count, timed, total in sorted(rows, key=lambda row: (-row[0], row[1])):
        print(f"{seconds:8.0f} s  {group:40s} {count} variant(s), {timed}/{total} step(s) timed")
    print(f"cold estimates: the step times in {cache} over those in {file} (a step timed in "
          "neither: the median of its kind, for its model where it has one)", file=sys.stderr)
    return 0


def cmd_bench(argv: list[str]) -> int:
    import pytest

    from compbench.runner.bench_session import bench_arguments

    return int(pytest.main([*bench_arguments(), *argv]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="compbench", description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", default=None, metavar="MODULES",
                        help="comma-separated plugin modules declaring what to benchmark, instead "
                             "of the project's [tool.compbench] plugins (compbench.runner.hookspec)")
    sub = parser.add_subparsers(dest="command", required=True)

    variants = sub.add_parser("variants", help="list variant ids <model>/<compression>/<engine>")
    variants.add_argument("filter", nargs="*", help="substrings of ids to keep")
    variants.add_argument("--ids", action="store_true", help="ids only, one per line")
    variants.add_argument("--details", action="store_true",
                          help="also each row's recipe function and its parameters")
    variants.set_defaults(func=cmd_variants)

    assets = sub.add_parser("assets", help="verify the assets folder (existence, checksums)")
    assets.add_argument("--assets", default=None, metavar="DIR")
    assets.set_defaults(func=cmd_assets)

    predict = sub.add_parser("predict-wider",
                             help="run a detector variant over WIDER images, write official files")
    predict.add_argument("--variant", required=True)
    predict.add_argument("--images", default=None,
                         help="WIDER_val/images folder (default: the assets' mini set)")
    predict.add_argument("--out", required=True, help="output folder for <event>/<name>.txt")
    predict.add_argument("--overwrite", action="store_true",
                         help="replace the prediction files already in --out (refused otherwise)")
    predict.add_argument("--batch", type=positive_int, default=1, metavar="N",
                         help="letterboxed images per call where the artifact has a batch axis "
                              "(the native PyTorch rows; scripts/wider_throughput.py measures it)")
    predict.add_argument("--assets", default=None, metavar="DIR")
    predict.add_argument("--cache-dir", default=None)
    predict.set_defaults(func=cmd_predict_wider)

    comparing = sub.add_parser(
        "compare", help="time, evaluate and size variants on two sides (git refs, checkouts "
                        "or Python environments) interleaved in one job; exit 1 on a regression")
    comparing.add_argument("base", help="REF, PATH, REF@PYTHON or @PYTHON (this checkout)")
    comparing.add_argument("head", help="as base")
    comparing.add_argument("filter", nargs="*", help="substrings of variant ids (default: all)")
    comparing.add_argument("--tolerance", type=open_fraction, default=0.05,
                           help="speed loss the head may have before its whole interval below "
                                "1 - tolerance is a regression (default: 0.05)")
    comparing.add_argument("--speed-budget", type=positive_seconds, default=3.0, metavar="SECONDS",
                           help="time for one variant's interleaved rounds (default: 3)")
    comparing.add_argument("--out", default=None, help="also write the markdown table here")
    comparing.set_defaults(func=cmd_compare)

    bisecting = sub.add_parser(
        "bisect", help="the first commit of GOOD..BAD that regressed a variant: each probe in its "
                       "own worktree and process, timed interleaved against GOOD as compare does")
    bisecting.add_argument("good", nargs="?", help="a commit where the variant was fine")
    bisecting.add_argument("bad", nargs="?", help="a later commit where it regressed")
    bisecting.add_argument("--package", default=None, metavar="NAME==GOOD..BAD",
                           help="bisect a dependency's releases instead of commits: each probe "
                                "runs this checkout with one release of NAME first on its path")
    bisecting.add_argument("--select", required=True, metavar="ID", help="the variant id")
    bisecting.add_argument("--repo", default=".", help="the git repository (default: .)")
    bisecting.add_argument("--tolerance", type=open_fraction, default=0.05,
                           help="as compare's (default: 0.05)")
    bisecting.add_argument("--speed-budget", type=positive_seconds, default=3.0, metavar="SECONDS",
                           help="time for one probe's interleaved rounds (default: 3)")
    bisecting.add_argument("--remeasure", type=int, default=2, metavar="N",
                           help="re-measurements of an inconclusive probe (default: 2)")
    bisecting.add_argument("--alert", default=None, metavar="PATH",
                           help="also write the answer as an alert markdown (an issue body): "
                                "variant, metric, first bad commit, evidence, reproduce commands")
    bisecting.add_argument("--report-url", default=None, metavar="URL",
                           help="the report to link from the bisect alert (e.g. the nightly's)")
    bisecting.set_defaults(func=cmd_bisect)

    past = sub.add_parser("history", help="each variant's last runs from the history database: "
                                          "latest values, change since the previous run, trend")
    past.add_argument("filter", nargs="*", help="substrings of variant ids (default: all)")
    past.add_argument("--last", type=positive_int, default=10, help="runs per variant (default: 10)")
    past.add_argument("--history", default=None, metavar="PATH",
                      help="the database (default: $COMPBENCH_HISTORY or reports/history.sqlite)")
    past.set_defaults(func=cmd_history)

    accepting = sub.add_parser("accept", help="accept a confirmed change on purpose: the baseline "
                               "moves to the median of this machine's runs since the change point, "
                               "with the reason and the change's commit in its provenance")
    accepting.add_argument("variant", help="the variant id")
    accepting.add_argument("metric", help="the metric (speedup, top1, hard, size_bytes, ...)")
    accepting.add_argument("--reason", required=True, help="why the change is intended (kept in the file)")
    accepting.add_argument("--history", default=None, metavar="PATH",
                           help="the database (default: $COMPBENCH_HISTORY or reports/history.sqlite)")
    accepting.add_argument("--profile", default="default", help="baseline profile (default: default)")
    accepting.add_argument("--baselines-dir", default=None, metavar="DIR",
                           help="folder of <profile>.json (default: the project's baselines/)")
    accepting.set_defaults(func=cmd_accept)

    regressing = sub.add_parser("regressions", help="the variants the gate called red in these "
                                "results files, one id per line (the nightly's alert bisects them)")
    regressing.add_argument("files", nargs="+", metavar="RESULTS_FILE")
    regressing.add_argument("--limit", type=positive_int, default=3, metavar="N",
                            help="list at most N (each costs a bisection; default: 3)")
    regressing.set_defaults(func=cmd_regressions)

    merging = sub.add_parser("merge", help="one report from several sessions' results files "
                             "(results-<stamp>.json or latest-results.json beside each report; CI "
                             "shards; docs/results-schema.md)")
    merging.add_argument("files", nargs="+", metavar="RESULTS_FILE")
    merging.add_argument("--report-dir", default="reports",
                         help="where the merged markdown and HTML report go (default: reports)")
    merging.set_defaults(func=cmd_merge)
    emulating = sub.add_parser(
        "emulation-check", help="evaluate variants with the engines capped to a lower hardware "
        "class and compare with that class's values from real machines")
    emulating.add_argument("hardware_class", help="the class to emulate, e.g. x86_64-avx2")
    emulating.add_argument("filter", nargs="*", help="substrings of variant ids (default: all)")
    emulating.add_argument("--profile", default="default", help="baseline profile (default: default)")
    emulating.add_argument("--cache-dir", default=None,
                           help="artifact cache (default: $COMPBENCH_CACHE or ~/.cache/compbench)")
    emulating.add_argument("--out", default=None, metavar="FILE",
                           help="also write the table, with the machine and commit, to FILE")
    emulating.add_argument("--record", action="store_true",
                           help="write the rows emulation does not reproduce into the baseline "
                                "file: an emulated recording then leaves them to real machines")
    emulating.set_defaults(func=cmd_emulation_check)
    timing = sub.add_parser(
        "durations", help="each build group's estimated cold duration from the cache's recorded "
                          "step times; --write updates ci/durations.json, --shards N previews "
                          "pytest --shard K/N (docs/sharding.md)")
    timing.add_argument("filter", nargs="*", help="substrings of variant ids (default: all)")
    timing.add_argument("--cache-dir", default=None,
                        help="artifact cache (default: $COMPBENCH_CACHE or ~/.cache/compbench)")
    timing.add_argument("--write", action="store_true",
                        help="write the cache's step times of every variant into ci/durations.json "
                             "(steps this cache lacks keep their committed times)")
    timing.add_argument("--file", default=None, metavar="PATH",
                        help="the durations file (default: ci/durations.json, the committed one)")
    timing.add_argument("--shards", type=positive_int, default=None, metavar="N",
                        help="print the N shards pytest --shard K/N runs (committed times only)")
    timing.add_argument("--speed-budget", type=positive_seconds, default=None, metavar="SECONDS",
                        help="a timed variant's share of a shard, as pytest's --speed-budget "
                             "(default: its default)")
    timing.set_defaults(func=cmd_durations)
    sub.add_parser("eval-wider", add_help=False,
                   help="official WIDER FACE AP of a prediction folder (see eval-wider --help)")
    sub.add_parser("bench", add_help=False, help="run the bench suite (pytest bench ARGS)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["eval-wider"]:
            return cmd_eval_wider(argv[1:])
        if argv[:1] == ["bench"]:
            return cmd_bench(argv[1:])
        args = build_parser().parse_args(argv)
        if args.matrix:  # for this process and the workers it starts (compare, bisect)
            os.environ[MATRIX_ENV] = args.matrix
        return args.func(args)
    except CompbenchError as exc:
        print(f"compbench: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `compbench variants | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
