"""The CIFAR-10 ViT in the two shapes the rest of the suite consumes.

* ``VitLogits``: a plain ``nn.Module`` ``pixel_values → logits`` with columns in CIFAR order,
  importable so ``torch.save``/``torch.load`` round-trip it (the fp32 row on the torch engine).
* ``save_cifar_ordered``: a save_pretrained folder whose classifier rows are already permuted into
  CIFAR order, the input of the Optimum exporters (ONNX, OpenVINO). Permuting the head's weights
  is exact and keeps the model a ``ViTForImageClassification``, which Optimum needs to recognise
  it; every exported graph then emits CIFAR-ordered logits as output 0 without an extra Gather.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import nn


class VitLogits(nn.Module):
    """``logits[:, class_index]`` of a Hugging Face image classifier, from ``pixel_values``."""

    def __init__(self, model: nn.Module, class_index: tuple[int, ...] | list[int]):
        super().__init__()
        self.model = model
        self.register_buffer("columns", torch.tensor(list(class_index), dtype=torch.long),
                             persistent=False)
        self.identity = list(class_index) == list(range(len(class_index)))

    @classmethod
    def wrap(cls, vit) -> VitLogits:
        """From a ``compbench.models.cifar.vit.CifarVit`` (HF model + class order), in eval mode."""
        return cls(vit.model, vit.class_index).eval()

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        logits = self.model(pixel_values=pixel_values).logits
        return logits if self.identity else logits[:, self.columns]


def cifar_ordered(vit) -> nn.Module:
    """A copy of the HF model whose output column ``c`` is CIFAR class ``c`` (head rows permuted)."""
    model = copy.deepcopy(vit.model).eval()
    index = list(vit.class_index)
    if index == list(range(len(index))):
        return model
    head = model.classifier
    columns = torch.tensor(index, dtype=torch.long)
    with torch.no_grad():
        head.weight.copy_(head.weight[columns].clone())
        if head.bias is not None:
            head.bias.copy_(head.bias[columns].clone())
    old = model.config.id2label
    model.config.id2label = {new: old[int(column)] for new, column in enumerate(index)}
    model.config.label2id = {name: new for new, name in model.config.id2label.items()}
    return model


def save_cifar_ordered(vit, folder: Path | str) -> Path:
    """save_pretrained of ``cifar_ordered(vit)`` plus its preprocessor config, into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cifar_ordered(vit).save_pretrained(folder)
    vit.preprocess.save(folder)
    return folder
