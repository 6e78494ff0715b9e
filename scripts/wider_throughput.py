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

    .venv/bin/python scripts/wider_throughput.py scrfd_500m_kps/fp32/torch --batch 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script from anywhere

from compbench.isolation import STEP_THREADS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", help="a detector variant id, e.g. scrfd_500m_kps/fp32/torch")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=STEP_THREADS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--assets", default=None)
    parser.add_argument("--images", default=None, help="WIDER_val/images (default: the mini set)")
    args = parser.parse_args()

    import dataclasses

    from compbench.assets import Assets
    from compbench.cache import ArtifactCache
    from compbench.hardware import current
    from engines.registry import load_engine
    from models.scrfd.detector import detect, to_wider
    from runner.matrix import get_variant
    from runner.pipeline import VariantPipeline
    from tasks.widerface import WiderFaceTask, read_image

    variant = get_variant(args.variant)
    assets = Assets(args.assets)
    task = WiderFaceTask(assets, images_root=Path(args.images) if args.images else None)
    pipeline = VariantPipeline(variant, assets, ArtifactCache(), task)
    pipeline.prepare()
    engine = load_engine(dataclasses.replace(pipeline.engine.config, threads=args.threads))
    session = engine.load(pipeline.convert().path)
    run = session.run

    def plain() -> None:
        for _, path in task.images:
            to_wider(detect(run, read_image(path), task.settings))

    ways = {"plain": plain, "pipelined": lambda: task.predict(run, variant.id, 1)}
    if args.batch > 1 and session.accepts_batch(args.batch):
        ways[f"pipelined+batch {args.batch}"] = lambda: task.predict(run, variant.id, args.batch)
    detect(run, read_image(task.images[0][1]), task.settings)  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            seconds[name].append(time.perf_counter() - start)
    print(f"{variant.id}, {args.threads} network thread(s), {len(task.images)} images, "
          f"{args.rounds} rounds, CPU {current().describe()}")
    base = statistics.median(seconds["plain"])
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"  {name:<18} {len(task.images) / median:6.1f} images/s  ({base / median:.2f}x plain)")


if __name__ == "__main__":
    main()
