"""The UCI handwritten digits (1 797 images of 8x8 pixels, 16 grey levels) as they ship inside
scikit-learn, split once: 80 % to train and calibrate on, 20 % to evaluate (never trained,
calibrated or tuned on)."""

from __future__ import annotations

import functools
import hashlib

import numpy as np

EVALUATION_SHARE = 0.2
SPLIT_SEED = 0


@functools.cache
def digits() -> tuple[np.ndarray, np.ndarray]:
    """(images as float32 N×1×8×8 in [0, 1], labels)."""
    from sklearn.datasets import load_digits

    loaded = load_digits()
    images = (loaded.images / 16.0).astype(np.float32)[:, None, :, :]
    return images, loaded.target.astype(np.int64)


@functools.cache
def split(part: str) -> tuple[np.ndarray, np.ndarray]:
    """``"train"`` or ``"evaluation"``: a fixed shuffle, the same on every machine."""
    images, labels = digits()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    cut = int(round(len(labels) * (1 - EVALUATION_SHARE)))
    chosen = order[:cut] if part == "train" else order[cut:]
    return images[chosen], labels[chosen]


def digest(part: str) -> str:
    """The identity of a split's pixels and labels: part of every cache key that reads it."""
    images, labels = split(part)
    return hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
