"""``distilled``: ReviewKD (Chen et al., CVPR 2021) from SCRFD_2.5G_KPS into SCRFD_500M_KPS.

Knowledge review: a student level is not matched with the same teacher level alone. Attention-based
fusion (ABF) modules walk the student's neck maps from the coarsest level to the finest, each one
fusing its level with the already-fused deeper levels (a residual, top-down review path) and
projecting to the teacher's channel count; a hierarchical context loss (HCL: MSE at full
resolution plus MSE of 4x4, 2x2 and 1x1 average-pooled maps, halving weights) compares every fused
map with the teacher's neck map of the same stride (``compbench.compression.review_kd``). A response term on
the head outputs adds the teacher's scores (Bernoulli KL) and, weighted by teacher score, its box
and keypoint distances (``compbench.compression.scrfd.review_kd``, with the crops and the neck maps).

The teacher is the official ONNX export run by onnxruntime, its PAFPN maps exposed as extra outputs
(``compbench.compression.onnx_teacher``; ``compbench.compression.scrfd.onnx_teacher`` finds them
in the graph); it is frozen, so its features and outputs are computed once for the calibration
images. The student is the trained native SCRFD_500M_KPS, fine-tuned with a small learning rate
(BatchNorm statistics frozen: batches of four crops are no statistics). The ABF modules exist
only during training: the saved artifact is a plain ``SCRFD``.

Training sees only the calibration images (never the evaluation images): fixed, seeded 320x320
crops of their letterboxed 640x640 blobs, half of them mirrored, at the evaluation scale (the
network is fully convolutional; the teacher graph is given a free input size, so teacher and
student see exactly the same pixels, borders included). A few images are held out of training to
report the response loss before and after. The first steps train the ABF modules alone, on the
untrained student's cached neck maps, so that their random initialisation sends no noise into the
trained weights; then student and ABF modules train together for a fixed number of steps. Both
phases step through ``compbench.compression.training.train_steps``, the loop the self-distilling recipes use.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from compbench.compression.base import RecipeContext, build_threads
from compbench.compression.review_kd import ReviewFusion, hcl_loss
from compbench.compression.scrfd.review_kd import (
    random_crops,
    response_loss,
    student_channels,
    student_forward,
)
from compbench.compression.training import train_steps
from compbench.formats.artifacts import Artifact

TEACHER = "scrfd/scrfd_2.5g_kps.onnx"


@dataclass(frozen=True)
class KDSettings:
    steps: int                    # after the warm-up: student and ABF together (cosine-decayed Adam)
    student_lr: float             # small: the student is trained already
    crop: int = 320               # training windows of the letterboxed 640x640 blobs
    crops_per_image: int = 4      # fixed per image (seeded), teacher run once on each
    flip: bool = True             # mirror half the crops (the teacher sees the same pixels)
    holdout_images: int = 6       # their crops are not trained on: they monitor the response loss
    warmup_steps: int = 400       # ABF modules alone, on the cached untrained-student maps
    warmup_lr: float = 3e-3
    batch_size: int = 4
    abf_lr: float = 1e-3
    hcl_weight: float = 1.0
    score_weight: float = 1.0
    box_weight: float = 1.0
    kps_weight: float = 0.5
    score_floor: float = 0.02     # teacher scores below the evaluation threshold weigh nothing
    pool_sizes: tuple[int, ...] = (4, 2, 1)
    grad_clip: float = 10.0


def freeze_batchnorm_statistics(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


# -- training data: crops of the calibration images, teacher run once per crop ---------------
@dataclass
class Batch:
    images: Tensor
    features: list[Tensor]          # teacher neck maps, divided by the per-level scale
    outputs: list[Tensor]           # the teacher's nine outputs
    student_features: list[Tensor]  # the untrained student's neck maps (ABF warm-up only)


@dataclass
class DistillData:
    """Every training crop with the frozen teacher's view of it, computed once."""

    pixels: Tensor                  # (N, 3, S, S) uint8: the crops as (blob * 128 + 127.5)
    features: list[Tensor]          # per level (N, C, h, w), divided by ``scales``
    outputs: list[Tensor]           # nine (N, anchors, values)
    student_features: list[Tensor]  # per level (N, 16, h, w), the source student's
    scales: list[float]             # per level RMS of the teacher maps over all crops
    image_ids: Tensor               # (N,) index of the calibration image each crop comes from

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def subset(self, indices: Sequence[int]) -> DistillData:
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return DistillData(self.pixels[index], [f[index] for f in self.features],
                           [o[index] for o in self.outputs],
                           [f[index] for f in self.student_features], self.scales,
                           self.image_ids[index])

    def split_images(self, count: int, rng: np.random.Generator
                     ) -> tuple[DistillData, DistillData | None]:
        """(training crops, crops of ``count`` held-out images) — no image in both."""
        images = np.unique(self.image_ids.numpy())
        if count <= 0 or count >= len(images):
            return self, None
        held = set(rng.choice(images, size=count, replace=False).tolist())
        ids = self.image_ids.tolist()
        return (self.subset([i for i, image in enumerate(ids) if image not in held]),
                self.subset([i for i, image in enumerate(ids) if image in held]))

    def batch(self, indices: Sequence[int]) -> Batch:
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return Batch((self.pixels[index].float() - 127.5) / 128.0,
                     [f[index] for f in self.features], [o[index] for o in self.outputs],
                     [f[index] for f in self.student_features])


def _to_pixels(blob: np.ndarray) -> np.ndarray:
    values = blob[0] * 128.0 + 127.5
    pixels = np.rint(values)
    if np.abs(pixels - values).max(initial=0.0) > 1e-3:
        raise ValueError("calibration blobs are not (uint8 - 127.5) / 128 images")
    return pixels.clip(0, 255).astype(np.uint8)


def precompute(teacher: Callable, student: nn.Module, blobs: Iterable[np.ndarray],
               settings: KDSettings, rng: np.random.Generator,
               total: int | None = None) -> DistillData:
    """Crop every blob, run the frozen teacher (``teacher(crop)`` -> ``TeacherOutputs``) and the
    untrained student's neck on each crop, once."""
    pixels, features, outputs, student_features, image_ids = [], [], [], [], []
    for image_id, blob in enumerate(tqdm(blobs, total=total, desc="review-kd teacher",
                                         unit="img")):
        for crop in random_crops(blob, settings.crop, settings.crops_per_image, settings.flip,
                                 rng):
            result = teacher(crop)
            with torch.no_grad():
                feats, _ = student_forward(student, torch.from_numpy(crop))
            pixels.append(_to_pixels(crop))
            features.append([f[0] for f in result.features])
            outputs.append([o[0] for o in result.outputs])
            student_features.append([f[0] for f in feats])
            image_ids.append(image_id)
    if not pixels:
        raise ValueError("no calibration images to distil on")
    levels = [np.stack([f[i] for f in features]) for i in range(len(features[0]))]
    scales = [float(np.sqrt(np.mean(np.square(level, dtype=np.float64)))) or 1.0
              for level in levels]
    return DistillData(
        torch.from_numpy(np.stack(pixels)),
        [torch.from_numpy(level / scale).float()
         for level, scale in zip(levels, scales, strict=True)],
        [torch.from_numpy(np.stack([o[i] for o in outputs])) for i in range(len(outputs[0]))],
        [torch.stack([f[i] for f in student_features]) for i in range(len(student_features[0]))],
        scales, torch.as_tensor(image_ids, dtype=torch.long))


def distill_losses(model: nn.Module, fusion: ReviewFusion, batch: Batch,
                   settings: KDSettings) -> dict[str, Tensor]:
    """All loss terms of the joint phase (already weighted) plus their sum, ``"total"``."""
    feats, outputs = student_forward(model, batch.images)
    terms = {"hcl": settings.hcl_weight * hcl_loss(fusion(feats), batch.features,
                                                   settings.pool_sizes)}
    weights = {"score": settings.score_weight, "box": settings.box_weight,
               "kps": settings.kps_weight}
    for name, value in response_loss(outputs, batch.outputs, settings.score_floor).items():
        terms[name] = weights[name] * value
    terms["total"] = sum(terms.values())
    return terms


def response_terms(model: nn.Module, data: DistillData, settings: KDSettings,
                   batch_size: int = 8) -> dict[str, float]:
    """Unweighted response terms of ``model`` against the teacher, averaged over ``data``."""
    was_training = model.training
    model.eval()
    sums: dict[str, float] = {}
    batches = 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            batch = data.batch(range(start, min(start + batch_size, len(data))))
            _, outputs = student_forward(model, batch.images)
            for name, value in response_loss(outputs, batch.outputs,
                                              settings.score_floor).items():
                sums[name] = sums.get(name, 0.0) + float(value)
            batches += 1
    model.train(was_training)
    return {name: total / max(batches, 1) for name, total in sums.items()}


def _cosine(step: int, steps: int) -> float:
    return 0.5 * (1 + math.cos(math.pi * step / max(steps, 1)))


class _Sampler:
    """Batches of indices from successive seeded permutations (epochs)."""

    def __init__(self, size: int, batch_size: int, rng: np.random.Generator):
        self.size, self.batch_size, self.rng = size, batch_size, rng
        self.order: list[int] = []

    def __call__(self) -> list[int]:
        while len(self.order) < self.batch_size:
            self.order.extend(self.rng.permutation(self.size).tolist())
        batch, self.order = self.order[:self.batch_size], self.order[self.batch_size:]
        return batch


def train(model: nn.Module, fusion: ReviewFusion, data: DistillData, settings: KDSettings,
          rng: np.random.Generator, progress: bool = True) -> list[dict[str, float]]:
    """ABF warm-up on the cached student maps, then joint fine-tuning; per-step loss terms.

    The warm-up's entries hold ``{"hcl", "total"}``; joint entries add the response terms.
    """
    sample = _Sampler(len(data), settings.batch_size, rng)
    bar = tqdm(total=settings.warmup_steps + settings.steps, desc="review-kd train",
               unit="step", disable=not progress)

    def warmup_loss(_step: int) -> dict[str, Tensor]:
        batch = data.batch(sample())
        hcl = settings.hcl_weight * hcl_loss(fusion(batch.student_features), batch.features,
                                             settings.pool_sizes)
        return {"hcl": hcl, "total": hcl}

    fusion.train()
    warmup = torch.optim.Adam([{"params": list(fusion.parameters()),
                                "base_lr": settings.warmup_lr}])
    history = train_steps(warmup, settings.warmup_steps, warmup_loss,
                          max_grad_norm=settings.grad_clip, bar=bar)

    model.train()
    freeze_batchnorm_statistics(model)
    joint = torch.optim.Adam([
        {"params": list(model.parameters()), "base_lr": settings.student_lr},
        {"params": list(fusion.parameters()), "base_lr": settings.abf_lr},
    ])
    history += train_steps(
        joint, settings.steps,
        lambda _step: distill_losses(model, fusion, data.batch(sample()), settings),
        lr_factor=lambda step: _cosine(step, settings.steps),
        max_grad_norm=settings.grad_clip, bar=bar)
    bar.close()
    model.eval()
    return history


def _fmt(terms: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in terms.items()) or "-"


def _mean_terms(history: list[dict[str, float]]) -> str:
    if not history:
        return "-"
    return ", ".join(f"{k} {np.mean([h[k] for h in history]):.4f}" for k in history[0])


def distilled(ctx: RecipeContext, *, steps: int, student_lr: float) -> Artifact:
    """The row's parameters (``bench/suite.py``): joint training steps after the ABF warm-up
    and the student's peak learning rate."""
    from compbench.compression.scrfd.onnx_teacher import scrfd_teacher

    settings = KDSettings(steps=steps, student_lr=student_lr)
    with build_threads() as threads:
        torch.manual_seed(ctx.seed)
        rng = np.random.default_rng(ctx.seed)
        model = ctx.source_model().eval()
        teacher = scrfd_teacher(ctx.assets.file(TEACHER), ctx.scratch_dir(), threads=threads,
                                any_input_size=True)
        data = precompute(teacher, model, ctx.calibration_inputs(), settings, rng,
                          total=ctx.task.calibration_size)
        del teacher
        data, held_out = data.split_images(settings.holdout_images, rng)
        before = response_terms(model, held_out, settings) if held_out else {}
        fusion = ReviewFusion(student_channels(model), [f.shape[1] for f in data.features])
        history = train(model, fusion, data, settings, rng)
        after = response_terms(model, held_out, settings) if held_out else {}
        warm, n = settings.warmup_steps, 20
        tqdm.write(
            f"review-kd: {len(data)} training crops, teacher map scales "
            f"{[round(s, 5) for s in data.scales]}\n"
            f"  ABF warm-up, first/last {n} steps: {_mean_terms(history[:n])} | "
            f"{_mean_terms(history[warm - n:warm])}\n"
            f"  joint, first/last {n} steps: {_mean_terms(history[warm:warm + n])} | "
            f"{_mean_terms(history[-n:])}\n"
            f"  held-out response loss ({settings.holdout_images} images) before/after: "
            f"{_fmt(before)} | {_fmt(after)}")
        return ctx.save_torch(model)
