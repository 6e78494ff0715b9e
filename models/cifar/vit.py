"""A Vision Transformer for CIFAR-10 through ``transformers``, small or user-supplied.

``transformers.ViTForImageClassification`` is used (rather than a hand-written ViT) because the
HF/optimum compression paths only recognise that class. ``vit_config`` is the small from-scratch
model trained by scripts/train_vit.py; ``load_vit`` also accepts any local save_pretrained folder,
e.g. a user-downloaded CIFAR-10 fine-tune of ViT-Base at 224×224, with its image processor.

Nothing here touches the Hub: loading is ``local_files_only`` and new models come from a config.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("USE_TF", "0")  # transformers would otherwise import TensorFlow too

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from transformers import ViTConfig, ViTForImageClassification  # noqa: E402

from compbench.errors import AssetCorrupt, AssetMissing  # noqa: E402

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                 "dog", "frog", "horse", "ship", "truck")
PREPROCESSOR_FILE = "preprocessor_config.json"


def vit_config() -> ViTConfig:
    """The bundled from-scratch ViT: 4×4 patches (64 tokens), 6 layers of width 96.

    Sized by budget: ≤ 2 MB of fp32 weights (so it can live in git) and enough epochs within a
    CPU-time budget (docs/studies/design-measurements.md). A wider model gets fewer epochs in
    that time and ends up worse.
    """
    return ViTConfig(
        image_size=32, patch_size=4, num_channels=3,
        hidden_size=96, num_hidden_layers=6, num_attention_heads=3, intermediate_size=192,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        num_labels=len(CIFAR_CLASSES),
        id2label=dict(enumerate(CIFAR_CLASSES)),
        label2id={name: i for i, name in enumerate(CIFAR_CLASSES)},
    )


@dataclass(frozen=True)
class VitPreprocess:
    """The image processor's arithmetic, reimplemented in torch to batch without PIL round trips.

    HF's ViTImageProcessor resizes with PIL bilinear and rounds to uint8; ``F.interpolate``
    matches it to within one grey level (measured on 32→224), far below JPEG noise.
    """

    size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    rescale: float = 1 / 255

    def __call__(self, images: np.ndarray) -> torch.Tensor:
        """uint8 N×H×W×3 RGB → float32 N×3×size normalised."""
        batch = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
        batch = batch * self.rescale
        if tuple(batch.shape[-2:]) != self.size:
            batch = F.interpolate(batch, size=self.size, mode="bilinear", antialias=True,
                                  align_corners=False)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return ((batch - mean) / std).contiguous()

    def save(self, folder: Path) -> None:
        """Write a preprocessor_config.json that HF's ViTImageProcessor also understands."""
        config = {"image_processor_type": "ViTImageProcessor", "do_resize": True,
                  "size": {"height": self.size[0], "width": self.size[1]}, "resample": 2,
                  "do_rescale": True, "rescale_factor": self.rescale, "do_normalize": True,
                  "image_mean": list(self.mean), "image_std": list(self.std)}
        (Path(folder) / PREPROCESSOR_FILE).write_text(json.dumps(config, indent=2) + "\n")


def default_preprocess(config: ViTConfig) -> VitPreprocess:
    """HF's ViT default (mean = std = 0.5), used when a folder has no preprocessor_config.json."""
    return VitPreprocess((config.image_size, config.image_size), (0.5,) * 3, (0.5,) * 3)


@dataclass
class CifarVit:
    """A loaded ViT with what it takes to score CIFAR images: preprocessing and class order.

    ``class_index[c]`` is the model's output column for CIFAR class ``c``; a fine-tune found on
    disk may order its labels differently, and accuracy must not depend on that.
    """

    model: ViTForImageClassification
    preprocess: VitPreprocess
    class_index: tuple[int, ...]

    @torch.inference_mode()
    def logits(self, images: np.ndarray, batch_size: int = 250) -> np.ndarray:
        """CIFAR-ordered logits (N×10) for uint8 NHWC images."""
        columns = torch.tensor(self.class_index)
        outputs = []
        for start in range(0, len(images), batch_size):
            pixels = self.preprocess(images[start:start + batch_size])
            outputs.append(self.model(pixel_values=pixels).logits[:, columns].numpy())
        return np.concatenate(outputs) if outputs else np.empty((0, len(columns)), np.float32)


def load_vit(path_or_dir: Path | str) -> CifarVit:
    """A ViT from a local save_pretrained folder (or a file inside it), in eval mode."""
    folder = Path(path_or_dir)
    if folder.is_file():
        folder = folder.parent
    if not (folder / "config.json").is_file():
        raise AssetMissing(f"no ViT checkpoint at {path_or_dir}: expected a save_pretrained folder "
                           "with config.json (train one with scripts/train_vit.py).")
    try:
        model = ViTForImageClassification.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # transformers/safetensors raise many unrelated types
        raise AssetCorrupt(f"cannot load the ViT in {folder}: {exc}") from exc
    return CifarVit(model.eval(), _read_preprocess(folder, model.config), _class_index(model.config))


def _read_preprocess(folder: Path, config: ViTConfig) -> VitPreprocess:
    path = folder / PREPROCESSOR_FILE
    if not path.is_file():
        return default_preprocess(config)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise AssetCorrupt(f"cannot read {path}: {exc}") from exc
    size = raw.get("size", {}) if raw.get("do_resize", True) else {}
    if isinstance(size, int):
        size = {"height": size, "width": size}
    elif "shortest_edge" in size:  # square CIFAR input: the shortest edge is both sides
        size = {"height": size["shortest_edge"], "width": size["shortest_edge"]}
    side = config.image_size
    normalize = raw.get("do_normalize", True)
    return VitPreprocess(
        size=(int(size.get("height", side)), int(size.get("width", side))),
        mean=tuple(raw.get("image_mean", (0.5,) * 3)) if normalize else (0.0,) * 3,
        std=tuple(raw.get("image_std", (0.5,) * 3)) if normalize else (1.0,) * 3,
        rescale=float(raw.get("rescale_factor", 1 / 255)) if raw.get("do_rescale", True) else 1.0,
    )


def _class_index(config: ViTConfig) -> tuple[int, ...]:
    """Map CIFAR classes onto the model's columns by label name; positional if names are generic."""
    if config.num_labels != len(CIFAR_CLASSES):
        raise AssetCorrupt(f"the ViT has {config.num_labels} output classes, CIFAR-10 needs 10.")
    by_name = {str(name).strip().lower(): int(index) for index, name in config.id2label.items()}
    if set(by_name) == set(CIFAR_CLASSES):
        return tuple(by_name[name] for name in CIFAR_CLASSES)
    return tuple(range(len(CIFAR_CLASSES)))
