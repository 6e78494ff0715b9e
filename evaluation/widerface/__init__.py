"""WIDER FACE val AP with the official protocol (eval_tools), fast enough for every test run.

``load_ground_truth`` reads the official ``.mat`` files, ``list_images`` the official image
layout, ``read_predictions`` / ``write_predictions`` the official per-image text files, and
``evaluate`` computes the easy / medium / hard AP exactly as the official tools do.

The names are re-exported lazily (PEP 562): a recipe that only lists calibration images must
not load the protocol, because the artifact cache keys every step by the project files its
process loaded — an edit to the AP code would otherwise rebuild every detector recipe.
"""

from __future__ import annotations

import importlib

_HOME = {
    "SETTINGS": "ground_truth", "WiderGroundTruth": "ground_truth",
    "load_ground_truth": "ground_truth",
    "list_images": "images",
    "PredictionFileError": "prediction_files", "read_prediction_file": "prediction_files",
    "read_predictions": "prediction_files", "write_predictions": "prediction_files",
    "UnknownImageError": "protocol", "WiderEvaluationError": "protocol",
    "WiderResult": "protocol", "evaluate": "protocol", "evaluate_detailed": "protocol",
}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
