"""``compbench eval-wider``: AP of a folder of official prediction files.

The last stdout line is one JSON object ``{"easy": AP, "medium": AP, "hard": AP}`` so scripts
can take ``tail -n 1``; everything above it is for people. Bad input ends with one message on
stderr naming the file at fault, and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from compbench.errors import AssetCorrupt, CompbenchError
from compbench.evaluation.widerface.ground_truth import (
    GT_RELDIR,
    SETTINGS,
    VAL_MAT,
    WiderGroundTruth,
    check_official_files,
    load_ground_truth,
    setting_mat,
)
from compbench.evaluation.widerface.prediction_files import (
    PredictionFileError,
    prediction_paths,
    read_prediction_paths,
)
from compbench.evaluation.widerface.protocol import WiderResult, evaluate_detailed

EXIT_BAD_INPUT = 2
PROG = "compbench eval-wider"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="WIDER FACE val AP (official eval_tools protocol) of prediction files "
                    "laid out as <pred-dir>/<event>/<name>.txt.")
    parser.add_argument("--pred-dir", required=True, type=Path,
                        help="folder of official prediction files")
    parser.add_argument("--gt-dir", type=Path, default=None,
                        help="folder with wider_face_val.mat and wider_{easy,medium,hard}_val.mat "
                             f"(default: <assets>/{GT_RELDIR})")
    parser.add_argument("--subset", action="store_true",
                        help="evaluate only the images that have a prediction file (e.g. the "
                             "embedded 100-image set); default: all 3226 val images, missing "
                             "files counting as no detections")
    return parser


def _ground_truth(gt_dir: Path | None) -> WiderGroundTruth:
    if gt_dir is not None:
        # A folder the user names is checked against the official checksums too: unknown
        # content is allowed with a warning, an official file under the wrong name is not.
        for warning in check_official_files(gt_dir):
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        return load_ground_truth(gt_dir)
    # The default copy is a managed asset: verify its checksums so a damaged file is an error.
    from compbench.assets import Assets

    assets = Assets()
    try:
        for name in (VAL_MAT, *(setting_mat(setting) for setting in SETTINGS)):
            assets.file(f"{GT_RELDIR}/{name}")
    except AssetCorrupt:
        check_official_files(assets.root / GT_RELDIR)  # says which official file it is, if one
        raise
    return load_ground_truth(assets.root / GT_RELDIR)


def _summary(result: WiderResult, total_images: int, subset: bool) -> list[str]:
    mode = "subset" if subset else "full val"
    lines = [f"WIDER FACE val AP, official protocol ({mode}: {result.image_count} of "
             f"{total_images} images, {result.prediction_count} predictions)"]
    for name, setting in result.settings.items():
        lines.append(f"  {name:<7}{setting.ap:.4f}   ({setting.face_count} faces)")
    return lines


def run(pred_dir: Path, gt_dir: Path | None, subset: bool) -> tuple[list[str], dict[str, float]]:
    """Human summary lines and the APs; raises ``CompbenchError`` on bad input."""
    paths = prediction_paths(pred_dir)
    if not paths:
        raise PredictionFileError(f"no prediction files in {pred_dir} (expected "
                                  f"{pred_dir}/<event>/<name>.txt, the official layout).")
    ground_truth = _ground_truth(gt_dir)
    for key, path in paths.items():  # before parsing: a misplaced file fails fast
        if key not in ground_truth.boxes:
            raise PredictionFileError(f"{path}: no image {key!r} in the WIDER FACE val ground "
                                      f"truth (check the event folder and file name).")
    result = evaluate_detailed(read_prediction_paths(paths), ground_truth, subset=subset)
    lines = _summary(result, len(ground_truth.boxes), subset)
    missing = len(ground_truth.boxes) - len(paths)
    if not subset and missing:
        lines.append(f"  note: {missing} val image(s) have no prediction file and count as "
                     f"having no detections (use --subset to evaluate only the files present)")
    return lines, result.aps


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help or a usage error: argparse already printed why
        return int(exc.code or 0)
    try:
        lines, aps = run(args.pred_dir, args.gt_dir, args.subset)
    except CompbenchError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print("\n".join(lines))
    print(json.dumps(aps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
