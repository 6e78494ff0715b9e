"""Choose a detector row's training parameters without labels and without evaluation images.

``int8-qat``, ``pruned`` and ``sparse`` fine-tune SCRFD_500M_KPS by self-distillation from the
fp32 model on the 102 unlabelled calibration images. Their learning rates, steps, ratio and
scope were once picked by AP on the 100 evaluation images, so those rows' AP is optimistic by
construction. There are no other labelled WIDER images here, so this script picks them by a
label-free criterion on calibration images the candidate did not train on:

- split: every 5th calibration image (sorted order, 20 of 102) is held out; each candidate
  trains on the other 82 by the row's own recipe (in this process, one torch thread, as a
  build step runs);
- criterion: the mean self-distillation loss of the candidate against fp32
  (``scrfd_distillation_loss``, the loss every detector recipe minimises: scores, boxes and
  keypoints of the anchors the detector keeps) on the whole held-out images — the lowest wins;
  within 2 % of the lowest, the fewer steps, then the smaller rate;
- the evaluation images are never opened (the task's image list is emptied before any build).

It writes ``compression/selection/scrfd_500m_kps-<compression>.json`` (candidates, criterion,
choice) and prints the table; copy the choice into the row (``bench/suite.py``) by hand, then
the row's final build trains on all 102 images.

    .venv/bin/python scripts/select_detector_finetune.py int8-qat \\
        --grid lr=2e-5,3e-5,5e-5 --grid steps=400,800
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script from anywhere

import torch  # noqa: E402

from compbench.assets import Assets  # noqa: E402
from compbench.compression.base import RecipeContext, build_threads  # noqa: E402
from compbench.compression.scrfd.distillation_loss import scrfd_distillation_loss  # noqa: E402
from compbench.compression.self_distillation import evaluate_distance, stack_inputs  # noqa: E402
from compbench.engines.registry import get_engine  # noqa: E402
from compbench.runner.matrix import get_variant  # noqa: E402
from compbench.runner.parameter_selection import candidates, choose, parse_grid, write_selection  # noqa: E402
from compbench.tasks import create_task  # noqa: E402
from compbench.tasks.widerface import read_image  # noqa: E402

HELD_OUT_EVERY = 5
TIE = 0.02
SEED = 0


def split_calibration(images: list) -> tuple[list, list]:
    """(training images, held-out images): every HELD_OUT_EVERY-th image is held out."""
    held_out = images[HELD_OUT_EVERY - 1::HELD_OUT_EVERY]
    return [p for p in images if p not in held_out], held_out


def torch_outputs(session):
    return lambda batch: [torch.from_numpy(o) for o in session.run(batch.numpy())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compression", help="a detector row: int8-qat, pruned, sparse, ...")
    parser.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2",
                        help="values to try for one recipe parameter")
    parser.add_argument("--out", type=Path,
                        help="default compression/selection/scrfd_500m_kps-<compression>.json")
    args = parser.parse_args()

    row = get_variant(f"scrfd_500m_kps/{args.compression}/torch")
    grid = parse_grid(args.grid)
    trials = list(candidates(row, grid))   # an unknown parameter stops here, before any work
    assets = Assets()
    task = create_task(row.model, assets)
    task.images = []  # the evaluation images: never read by a selection
    training, held_out = split_calibration(task.calib_images)
    task.calib_images = training
    engine = get_engine("torch")
    with build_threads():
        teacher = RecipeContext(row.model, "fp32", Path("."), task, assets).source_model().eval()
        held_out_inputs = stack_inputs((task.preprocess(read_image(p)) for p in held_out),
                                       len(held_out), "load held-out calibration images")

    tried = []
    began = time.time()
    for params, variant in trials:
        started = time.time()
        with tempfile.TemporaryDirectory(prefix="compbench-select-") as out_dir:
            context = RecipeContext(row.model, row.compression, Path(out_dir), task, assets, SEED)
            artifact = variant.run_recipe(context)
            with build_threads():
                session = engine.load(artifact.path)
                distance = evaluate_distance(torch_outputs(session), teacher, held_out_inputs,
                                             scrfd_distillation_loss)
        tried.append({"params": params, "held_out_distance": round(distance, 6),
                           "seconds": round(time.time() - started)})
        print(f"{params}: held-out distance to fp32 {distance:.6f}", file=sys.stderr, flush=True)

    best = min(c["held_out_distance"] for c in tried)
    choice = choose([c for c in tried if c["held_out_distance"] <= best * (1 + TIE)])
    write_selection({
        "row": f"scrfd_500m_kps/{args.compression}", "recipe": row.recipe,
        "held_out": f"calibration images (no labels): every {HELD_OUT_EVERY}th of "
                    f"{len(training) + len(held_out)} held out ({len(held_out)}), candidates "
                    f"trained on the other {len(training)}; evaluation images never read",
        "criterion": "lowest mean scrfd_distillation_loss against fp32 on the whole held-out "
                     f"images; within {TIE:.0%} of it the fewer steps, then the smaller lr",
        "grid": grid, "candidates": tried, "choice": choice["params"],
        "seconds": round(time.time() - began),
    }, args.out, grid, "held_out_distance")


if __name__ == "__main__":
    main()
