"""Images per second of a detector variant's WIDER FACE evaluation, before and after prefetching
and batching, so a user can predict the full val's time (3226 images) from the mini set's.

Three ways over the same images, each one pass after a warm-up image, interleaved ``--rounds``
times so that machine drift hits all three alike (the medians are printed):

- ``plain``: read, letterbox, run, decode one image after the other (the evaluation before
  the pipelined ``WiderFaceTask.predict``);
- ``pipelined``: reading and letterboxing one thread ahead of the network, decoding the outputs
  (score filter, NMS) on another behind it, batch 1 (what the gate runs today: every detector
  artifact has a fixed batch of 1);
- ``pipelined+batch N``: N letterboxed images per call, if the artifact has a batch axis (the
  native PyTorch rows do; ONNX and OpenVINO artifacts get one when the model spec sets
  ``eval_batch``).

The network runs on ``--threads`` threads (default 1: what the accuracy step gives it).

``--compare-nms`` runs every way twice per round, with the decode + NMS the evaluation had
before issue 22 (``tests/reference_nms.py``: one numpy IoU row per kept box) and with the
current one, in alternating order, and fails unless both predict the same rows. It also times
decode + NMS alone, old and new alternately on each image's same network outputs. On a shared
machine only such interleaved pairs are comparable, hence ratios per round and their range.
``--out FILE`` writes the tables as a page with the machine, commit and command.

    .venv/bin/python scripts/wider_throughput.py scrfd_500m_kps/fp32/torch --batch 4
    .venv/bin/python scripts/wider_throughput.py scrfd_500m_kps/fp32/torch --compare-nms \\
        --rounds 5 --out docs/detector-evaluation-speed.md
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script from anywhere

from compbench.isolation import STEP_THREADS  # noqa: E402

Rows = dict[str, np.ndarray]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", help="a detector variant id, e.g. scrfd_500m_kps/fp32/torch")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=STEP_THREADS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--assets", default=None)
    parser.add_argument("--images", default=None, help="WIDER_val/images (default: the mini set)")
    parser.add_argument("--compare-nms", action="store_true",
                        help="also run the pre-issue-22 decode + NMS, interleaved, and time both")
    parser.add_argument("--out", default=None, help="also write the tables to this markdown page")
    args = parser.parse_args()

    import dataclasses

    from compbench.assets import Assets
    from compbench.cache import ArtifactCache
    from compbench.engines.registry import load_engine
    from compbench.hardware import current
    from compbench.models.scrfd.detector import detect, to_wider
    from compbench.runner.matrix import get_variant
    from compbench.runner.pipeline import VariantPipeline
    from compbench.tasks.widerface import WiderFaceTask, read_image

    variant = get_variant(args.variant)
    assets = Assets(args.assets)
    task = WiderFaceTask(assets, images_root=Path(args.images) if args.images else None)
    pipeline = VariantPipeline(variant, assets, ArtifactCache(), task)
    pipeline.prepare()
    engine = load_engine(dataclasses.replace(pipeline.engine.config, threads=args.threads))
    session = engine.load(pipeline.convert().path)
    run = session.run
    load_before = os.getloadavg()

    def plain() -> Rows:
        return {key: to_wider(detect(run, read_image(path), task.settings))
                for key, path in task.images}

    ways: dict[str, Callable[[], Rows]] = {
        "plain": plain, "pipelined": lambda: task.predict(run, variant.id, 1)}
    if args.batch > 1 and session.accepts_batch(args.batch):
        ways[f"pipelined+batch {args.batch}"] = lambda: task.predict(run, variant.id, args.batch)
    implementations = ["reference", "current"] if args.compare_nms else ["current"]

    sections = []
    if args.compare_nms:
        sections.append(_decode_nms_table(task, run, args.rounds))
        print(sections[-1])
    detect(run, read_image(task.images[0][1]), task.settings)  # warm-up
    seconds: dict[tuple[str, str], list[float]] = {
        (way, name): [] for way in ways for name in implementations}
    predicted: dict[str, Rows] = {}
    for round_ in range(args.rounds):
        for way, measure in ways.items():
            first: Rows | None = None
            for name in implementations[::1 if round_ % 2 == 0 else -1]:
                with _decode_nms(name):
                    start = time.perf_counter()
                    rows = measure()
                    seconds[way, name].append(time.perf_counter() - start)
                if way == "pipelined":
                    predicted.setdefault(name, rows)
                if first is None:
                    first = rows
                else:
                    _require_identical(first, rows, way)
    sections.append(_throughput_table(seconds, ways, implementations, len(task.images)))
    if args.compare_nms:
        sections[-1] += "\n\n" + _ap_line(task, predicted)
    load_after = os.getloadavg()
    header = (f"{variant.id}, {args.threads} network thread(s), {len(task.images)} images of "
              f"{task.images_root}, {args.rounds} rounds, CPU {current().describe()}; load "
              f"average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print(header)
    print(sections[-1])
    if args.out:
        _write_page(Path(args.out), header, sections, args.compare_nms)


@contextlib.contextmanager
def _decode_nms(name: str) -> Iterator[None]:
    """The evaluation's decode + NMS swapped for the reference while ``name`` is "reference"."""
    import compbench.models.scrfd.detector as detector

    if name == "current":
        yield
        return
    from tests.reference_nms import reference_postprocess

    current = detector.postprocess
    detector.postprocess = reference_postprocess
    try:
        yield
    finally:
        detector.postprocess = current


def _require_identical(expected: Rows, got: Rows, way: str) -> None:
    same = list(expected) == list(got) and all(
        expected[key].dtype == got[key].dtype and expected[key].shape == got[key].shape
        and expected[key].tobytes() == got[key].tobytes() for key in expected)
    if not same:
        raise SystemExit(f"{way}: the current decode + NMS predicts other rows than the reference "
                         "(tests/reference_nms.py); run tests/test_nms_exact.py to see where")


def _ap_line(task, predicted: dict[str, Rows]) -> str:
    """The official AP of each decode + NMS's rows: the same rows must score the same AP."""
    from compbench.evaluation.widerface.protocol import evaluate

    scores = []
    for name, rows in predicted.items():
        aps = evaluate(rows, task.ground_truth, subset=True, evaluated_keys=rows)
        scores.append(f"{name} " + " / ".join(f"{aps[s]:.6f}" for s in ("easy", "medium", "hard")))
    return "WIDER AP easy / medium / hard of the pipelined rows: " + "; ".join(scores) + "."


def _decode_nms_table(task, run, rounds: int) -> str:
    """Milliseconds per image of decode + NMS, old and new alternately on the same outputs."""
    from compbench.models.scrfd.postprocess import postprocess
    from tests.reference_nms import reference_postprocess

    settings = task.settings
    images, network = [], []
    for _, blob, scale in task.letterboxed():
        start = time.perf_counter()
        outputs = [np.asarray(out) for out in run(blob)]
        network.append(time.perf_counter() - start)
        images.append((outputs, blob.shape[2:], scale))
    steps = {"reference": reference_postprocess, "current": postprocess}
    per_image = {name: [[] for _ in images] for name in steps}
    totals = {name: [] for name in steps}
    for round_ in range(rounds):
        names = list(steps)[::1 if round_ % 2 == 0 else -1]
        for index, (outputs, hw, scale) in enumerate(images):
            results = []
            for name in names:
                start = time.perf_counter()
                results.append(steps[name](outputs, hw, scale, settings.score_threshold,
                                           settings.nms_iou))
                per_image[name][index].append(time.perf_counter() - start)
            if any(a.tobytes() != b.tobytes() for a, b in zip(*results, strict=True)):
                raise SystemExit("decode + NMS: the current one differs from the reference "
                                 "(tests/reference_nms.py); run tests/test_nms_exact.py")
        for name in steps:
            totals[name].append(sum(times[-1] for times in per_image[name]))
    ms = {name: 1e3 * statistics.median(statistics.median(times) for times in per_image[name])
          for name in steps}
    ratios = [old / new for old, new in zip(totals["reference"], totals["current"], strict=True)]
    ceiling = 1 / statistics.median(network)
    return "\n".join([
        "| per image (median over images of each image's median) | milliseconds |",
        "|---|---:|",
        f"| network, {len(images)} images, one pass | {1e3 * statistics.median(network):.1f} |",
        f"| decode + NMS, reference (one IoU row per kept box) | {ms['reference']:.1f} |",
        f"| decode + NMS, current (row blocks) | {ms['current']:.1f} |",
        "",
        f"decode + NMS, reference / current time over all images, per round: median "
        f"**{statistics.median(ratios):.2f}x** (range {min(ratios):.2f}-{max(ratios):.2f}x over "
        f"{rounds} rounds); identical boxes, scores and landmarks on every image. The network "
        f"alone runs {ceiling:.1f} images/s: at this thread count no pipeline of the three "
        "stages can be faster, whatever decode + NMS costs.",
    ])


def _throughput_table(seconds: dict[tuple[str, str], list[float]], ways, implementations,
                      images: int) -> str:
    base = statistics.median(seconds["plain", implementations[-1]])
    if len(implementations) == 1:
        lines = ["| way | images/s (median) | vs plain |", "|---|---:|---:|"]
        for way in ways:
            median = statistics.median(seconds[way, "current"])
            lines.append(f"| {way} | {images / median:.1f} | {base / median:.2f}x |")
        return "\n".join(lines)
    lines = ["| way | images/s, reference decode + NMS | images/s, current | current / reference "
             "(median, range over rounds) |", "|---|---:|---:|---:|"]
    for way in ways:
        old, new = seconds[way, "reference"], seconds[way, "current"]
        ratios = [before / after for before, after in zip(old, new, strict=True)]
        lines.append(f"| {way} | {images / statistics.median(old):.1f} | "
                     f"{images / statistics.median(new):.1f} | **{statistics.median(ratios):.2f}x** "
                     f"({min(ratios):.2f}-{max(ratios):.2f}) |")
    lines += ["", "Both decode + NMS predicted the same rows for every image, in every way."]
    return "\n".join(lines)


def _write_page(path: Path, header: str, sections: list[str], compared: bool) -> None:
    from compbench.provenance import provenance

    origin = provenance(" ".join(["scripts/wider_throughput.py", *sys.argv[1:]]))
    title = ("Detector evaluation speed: decode + NMS before and after issue 22" if compared
             else "Detector evaluation speed")
    intro = ("The one-row NMS loop (`tests/reference_nms.py`) against the row-block NMS of "
             "`models/scrfd/postprocess.py`, which keeps the same float32 arithmetic and so the "
             "same predictions and AP. " if compared else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"# {title}\n\n{intro}Generated by `{origin['command']}` on {origin['date']}, commit "
        f"`{origin['git_commit']}`: {header}. The machine is shared, so absolute numbers move "
        "with its load; the ratios come from runs interleaved in one process.\n\n"
        + "\n\n".join(sections) + "\n", encoding="utf-8")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
