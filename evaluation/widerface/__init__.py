"""WIDER FACE val AP with the official protocol (eval_tools), fast enough for every test run.

``load_ground_truth`` reads the official ``.mat`` files, ``list_images`` the official image
layout, ``read_predictions`` / ``write_predictions`` the official per-image text files, and
``evaluate`` computes the easy / medium / hard AP exactly as the official tools do.
"""

from evaluation.widerface.ground_truth import SETTINGS, WiderGroundTruth, load_ground_truth
from evaluation.widerface.images import list_images
from evaluation.widerface.prediction_files import (
    PredictionFileError,
    read_prediction_file,
    read_predictions,
    write_predictions,
)
from evaluation.widerface.protocol import (
    UnknownImageError,
    WiderEvaluationError,
    WiderResult,
    evaluate,
    evaluate_detailed,
)

__all__ = [
    "SETTINGS",
    "PredictionFileError",
    "UnknownImageError",
    "WiderEvaluationError",
    "WiderGroundTruth",
    "WiderResult",
    "evaluate",
    "evaluate_detailed",
    "list_images",
    "load_ground_truth",
    "read_prediction_file",
    "read_predictions",
    "write_predictions",
]
