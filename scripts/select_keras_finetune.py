"""Choose a tfmot row's fine-tuning parameters on held-out *train* images, never the test split.

The tfmot recipes (``compression/clustered.py``, ``compression/tfmot_pruning.py``) fine-tune
on a fixed 10 000-image train subset (every 5th image, ``keras_finetune``). Their learning rates
were once picked by top-1 on 2 000 CIFAR-10 *test* images, which makes those rows' test accuracy
optimistic by construction. This script picks them again on images the fine-tune never sees and
the suite never scores:

- held-out: the train images at index ≡ 2 (mod 5), 10 000, class-balanced like the fine-tune
  subset (index ≡ 0 mod 5) and disjoint from it and from the calibration subset (checked);
- candidates: the row's parameters with each combination of the ``--grid`` values;
- each candidate is built by the row's own recipe through the suite's pipeline (cached by
  content: the chosen candidate's build *is* the row's build once its parameters are written
  into ``bench/suite.py``), loaded on the Keras engine, and scored by top-1 on the held-out
  images;
- criterion: the highest held-out top-1; a tie (within 0.1 pt, the held-out set's resolution
  is 0.01 pt, its sampling noise ~0.4 pt) goes to the fewer steps, then the smaller rate.

It writes ``compression/selection/<model>-<compression>.json`` (candidates, criterion, choice)
and prints the table; it changes nothing else — copy the choice into the row by hand.

    .venv/bin/python scripts/select_keras_finetune.py resnet8/pruned-50 \\
        --grid learning_rate=5e-4,1e-3,2e-3 --grid steps=500
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script from anywhere

from compbench.quiet import import_quietly  # noqa: E402

for _library in ("tensorflow", "tf_keras"):  # their native start-up notices stay out of the terminal
    import_quietly(_library)

import numpy as np  # noqa: E402

from compbench.assets import Assets  # noqa: E402
from compbench.cache import ArtifactCache  # noqa: E402
from compbench.compression.keras_finetune import FinetuneConfig  # noqa: E402
from compbench.evaluation.cifar10 import CifarSplit  # noqa: E402
from compbench.runner.matrix import get_variant  # noqa: E402
from compbench.runner.parameter_selection import candidates, choose, parse_grid, write_selection  # noqa: E402
from compbench.runner.pipeline import VariantPipeline  # noqa: E402

HELD_OUT_OFFSET, STRIDE = 2, 5
TIE = 0.001


def held_out_indices(train_size: int) -> np.ndarray:
    return np.arange(HELD_OUT_OFFSET, train_size, STRIDE)


def check_disjoint(held_out: np.ndarray, train_size: int, used: dict[str, slice]) -> None:
    """The held-out images must be none of the images any recipe trains or calibrates on."""
    for name, where in used.items():
        overlap = np.intersect1d(held_out, np.arange(train_size)[where])
        if overlap.size:
            raise SystemExit(f"held-out images overlap the {name} ({overlap.size} images)")


def top1_on(split: CifarSplit, pipeline: VariantPipeline) -> float:
    return pipeline.task.top1(pipeline.session.run, pipeline.variant.id, split, batch_size=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("row", help="<model>/<compression>, e.g. resnet8/pruned-50")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                        help="values to try for one recipe parameter (JSON numbers)")
    parser.add_argument("--out", type=Path, help="default compression/selection/<model>-<compression>.json")
    args = parser.parse_args()

    row = get_variant(f"{args.row}/keras")
    grid = parse_grid(args.grid)
    assets, cache = Assets(), ArtifactCache()
    reference = VariantPipeline(row, assets, cache)
    reference.prepare()
    task = reference.task
    train = task.train
    held_out_at = held_out_indices(len(train))
    check_disjoint(held_out_at, len(train), {
        "fine-tune subset": slice(0, len(train), len(train) // FinetuneConfig().images),
        "calibration subset": slice(0, len(train), len(train) // task.calibration_size)})
    held_out = train.subset(held_out_at)

    tried = []
    began = time.time()
    for params, variant in candidates(row, grid):
        pipeline = VariantPipeline(variant, assets, cache)
        pipeline.prepare()
        started = time.time()
        score = top1_on(held_out, pipeline)
        tried.append({"params": params, "held_out_top1": round(score, 4),
                           "seconds": round(time.time() - started)})
        print(f"{params}: held-out top-1 {score:.4f}", file=sys.stderr, flush=True)

    fp32 = VariantPipeline(get_variant(f"{row.model.name}/fp32/keras"), assets, cache)
    fp32.prepare()
    fp32_top1 = top1_on(held_out, fp32)
    best = max(c["held_out_top1"] for c in tried)
    choice = choose([c for c in tried if c["held_out_top1"] >= best - TIE])
    write_selection({
        "row": args.row, "recipe": row.recipe,
        "held_out": f"CIFAR-10 train images at index ≡ {HELD_OUT_OFFSET} (mod {STRIDE}): "
                    f"{len(held_out)} images, disjoint from the fine-tune and calibration subsets; "
                    "the test split is not read",
        "criterion": f"highest held-out top-1; within {TIE * 100:.1f} pt the fewer steps, then "
                     "the smaller learning rate",
        "fp32_held_out_top1": round(fp32_top1, 4), "grid": grid, "candidates": tried,
        "choice": choice["params"], "seconds": round(time.time() - began),
    }, args.out, grid, "held_out_top1", f"fp32 on the same images: {fp32_top1:.4f}; ")


if __name__ == "__main__":
    main()
