"""CIFAR-10 classifiers, plus the record of the small weights trained in this repository.

Framework-specific code lives in submodules (``resnet20`` torch, ``keras_models`` TensorFlow,
``vit`` transformers) so importing this package never pulls in a framework.

The weights README doubles as the source of truth for the accuracy each bundled model must
reproduce: the training script writes one line per weight file and the tests read it back, so a
retrained model cannot drift from its documented accuracy unnoticed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_README = WEIGHTS_DIR / "README.md"
MAX_WEIGHT_BYTES = 2 * 1024 * 1024  # larger files belong in the assets folder, not in git
_README_HEADER = """# CIFAR-10 weights trained in this repository

One line per weight file, written by the training script that produced it (do not edit by hand;
re-run the script instead). `test_top1` is top-1 on the full 10 000-image test split of the
embedded JPEG copy; `subset_top1` is on the fixed 2 000-image subset the tests use
(`compbench.evaluation.cifar10.fixed_subset`). `train_minutes` is wall time on a shared 2-core machine with
`threads` training threads (1 where the line does not say; it grows with other users' load);
`train_minutes_last_run` is that of the last run of a resumable script only; `cpu_minutes` is the
process CPU time (summed over every resumed run).

"""
_LINE = re.compile(r"^- `(?P<name>[^`]+)`: (?P<fields>.*)$")


def read_weight_records(readme: Path = WEIGHTS_README) -> dict[str, dict[str, str]]:
    """``{weight file name: {field: value}}`` from the weights README (empty if none yet)."""
    if not readme.is_file():
        return {}
    records = {}
    for line in readme.read_text().splitlines():
        match = _LINE.match(line)
        if match:
            fields = dict(item.split("=", 1) for item in match["fields"].split() if "=" in item)
            records[match["name"]] = fields
    return records


def write_weight_record(name: str, fields: dict[str, object],
                        readme: Path = WEIGHTS_README) -> None:
    """Add or replace the line for ``name``, keeping the other scripts' lines."""
    records = read_weight_records(readme)
    records[name] = {key: str(value) for key, value in fields.items()}
    lines = [f"- `{key}`: " + " ".join(f"{k}={v}" for k, v in value.items())
             for key, value in sorted(records.items())]
    readme.parent.mkdir(parents=True, exist_ok=True)
    readme.write_text(_README_HEADER + "\n".join(lines) + "\n")


def random_crop_flip(images: np.ndarray, rng: np.random.Generator, pad: int = 4) -> np.ndarray:
    """The standard CIFAR augmentation (pad-4 random crop, horizontal flip) on a uint8 NHWC batch.

    Done in numpy with an explicit generator so both training scripts, whatever their framework,
    see the same augmentation stream for a given seed.
    """
    count, height, width, _ = images.shape
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    dy = rng.integers(0, 2 * pad + 1, count)
    dx = rng.integers(0, 2 * pad + 1, count)
    flip = rng.random(count) < 0.5
    out = np.empty_like(images)
    for i in range(count):
        crop = padded[i, dy[i]:dy[i] + height, dx[i]:dx[i] + width]
        out[i] = crop[:, ::-1] if flip[i] else crop
    return out
