"""Letterbox preprocessing, bit-for-bit the recipe of insightface's ``SCRFD.detect``.

Matching it exactly matters: the published WIDER numbers and the reference ONNX outputs were
obtained with it, and a one-pixel difference in the resized size shifts every decoded box.
"""

from __future__ import annotations

import cv2
import numpy as np

MEAN = 127.5
STD = 128.0


def _as_size(input_size: int | tuple[int, int]) -> tuple[int, int]:
    """``(width, height)``; an int means a square input."""
    if isinstance(input_size, int):
        return input_size, input_size
    width, height = input_size
    return int(width), int(height)


def fitted_size(image_hw: tuple[int, int], input_size: int | tuple[int, int]) -> tuple[int, int]:
    """``(new_width, new_height)`` of the resized image inside the network input.

    The side that limits the fit gets the full input length; the other is *truncated* with
    ``int()`` from the aspect ratio, as insightface does (not rounded).
    """
    width, height = _as_size(input_size)
    im_ratio = float(image_hw[0]) / image_hw[1]
    model_ratio = float(height) / width
    if im_ratio > model_ratio:
        new_height = height
        new_width = int(new_height / im_ratio)
    else:
        new_width = width
        new_height = int(new_width * im_ratio)
    return new_width, new_height


def letterbox(image_bgr: np.ndarray, input_size: int | tuple[int, int] = 640
              ) -> tuple[np.ndarray, float]:
    """BGR uint8 HxWx3 image -> (1x3xHxW float32 RGB blob, scale).

    The image is resized (bilinear) to fit, anchored top-left, and zero-padded right/bottom, so
    network coordinates map back to the original by a single division by ``scale`` (no offset).
    The scale is the vertical one, new_height / height, again as insightface defines it.
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 BGR image, got shape {image_bgr.shape}")
    width, height = _as_size(input_size)
    new_width, new_height = fitted_size(image_bgr.shape[:2], (width, height))
    resized = cv2.resize(image_bgr, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    canvas[:new_height, :new_width] = resized
    rgb = canvas[:, :, ::-1].astype(np.float32)
    blob = (rgb - MEAN) / STD
    blob = np.ascontiguousarray(blob.transpose(2, 0, 1)[None])
    scale = float(new_height) / image_bgr.shape[0]
    return blob, scale
