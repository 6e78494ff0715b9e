"""``distilled``: ReviewKD (Chen et al., CVPR 2021) from SCRFD_2.5G_KPS into SCRFD_500M_KPS.

Knowledge review: a student level is not matched with the same teacher level alone. Attention-based
fusion (ABF) modules walk the student's neck maps from the coarsest level to the finest, each one
fusing its level with the already-fused deeper levels (a residual, top-down review path) and
projecting to the teacher's channel count; a hierarchical context loss (HCL: MSE at full
resolution plus MSE of 4x4, 2x2 and 1x1 average-pooled maps, halving weights) compares every fused
map with the teacher's neck map of the same stride. A response term on the head outputs adds the
teacher's scores (Bernoulli KL) and, weighted by teacher score, its box and keypoint distances.

The teacher is the official ONNX export run by onnxruntime, its PAFPN maps exposed as extra outputs
(``compression.onnx_teacher``); it is frozen, so its features and outputs are computed once for the
calibration images. The student is the trained native SCRFD_500M_KPS, fine-tuned with a small
learning rate (BatchNorm statistics frozen: batches of four crops are no statistics). The ABF modules
exist only during training: the saved artifact is a plain ``SCRFD``.

Training sees only the calibration images (never the evaluation images): fixed, seeded 320x320
crops of their letterboxed 640x640 blobs, half of them mirrored, at the evaluation scale (the
network is fully convolutional; the teacher graph is given a free input size, so teacher and
student see exactly the same pixels, borders included). A few images are held out of training to
report the response loss before and after. The first steps train the ABF modules alone, on the
untrained student's cached neck maps, so that their random initialisation sends no noise into the
trained weights; then student and ABF modules train together for a fixed number of steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from compression.base import RecipeContext
from formats.artifacts import Artifact

TEACHER = "scrfd/scrfd_2.5g_kps.onnx"
NUM_STRIDES = 3


@dataclass(frozen=True)
class KDSettings:
    crop: int = 320               # training windows of the letterboxed 640x640 blobs
    crops_per_image: int = 4      # fixed per image (seeded), teacher run once on each
    flip: bool = True             # mirror half the crops (the teacher sees the same pixels)
    holdout_images: int = 6       # their crops are not trained on: they monitor the response loss
    warmup_steps: int = 400       # ABF modules alone, on the cached untrained-student maps
    warmup_lr: float = 3e-3
    steps: int = 300              # then student and ABF together (cosine-decayed Adam)
    batch_size: int = 4
    student_lr: float = 2e-5      # small: the student is trained already
    abf_lr: float = 1e-3
    hcl_weight: float = 1.0
    score_weight: float = 1.0
    box_weight: float = 1.0
    kps_weight: float = 0.5
    score_floor: float = 0.02     # teacher scores below the evaluation threshold weigh nothing
    pool_sizes: tuple[int, ...] = (4, 2, 1)
    grad_clip: float = 10.0
    # One thread, measured: on the shared 2-core machine, with other jobs running, two torch
    # threads made a training step 30-60x slower than one (each op waits for its descheduled
    # sibling thread); one thread is also one fixed, reproducible reduction order.
    threads: int = 1


# -- review mechanism -------------------------------------------------------------------------
class ABF(nn.Module):
    """Attention-based fusion of one student level with the fused deeper levels.

    ``forward(x, deeper)`` returns ``(out, fused)``: ``fused`` (``mid`` channels) carries on to
    the next finer level, ``out`` (``out_channels``) is compared with the teacher. Two sigmoid
    attention maps, computed from both inputs, weight the level and the upsampled deeper result.
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, fuse: bool):
        super().__init__()
        self.project = nn.Sequential(nn.Conv2d(in_channels, mid_channels, 1, bias=False),
                                     nn.BatchNorm2d(mid_channels))
        self.attention = nn.Conv2d(2 * mid_channels, 2, 1) if fuse else None
        self.output = nn.Sequential(nn.Conv2d(mid_channels, out_channels, 3, 1, 1, bias=False),
                                    nn.BatchNorm2d(out_channels))

    def forward(self, x: Tensor, deeper: Tensor | None = None) -> tuple[Tensor, Tensor]:
        fused = self.project(x)
        if self.attention is not None:
            if deeper is None:
                raise ValueError("a fusing ABF needs the deeper level's fused map")
            deeper = F.interpolate(deeper, size=fused.shape[-2:], mode="nearest")
            weights = torch.sigmoid(self.attention(torch.cat([fused, deeper], dim=1)))
            fused = fused * weights[:, :1] + deeper * weights[:, 1:]
        return self.output(fused), fused


class ReviewFusion(nn.Module):
    """The review path over student levels given finest first: coarsest is fused first."""

    def __init__(self, student_channels: Sequence[int], teacher_channels: Sequence[int],
                 mid_channels: int | None = None):
        super().__init__()
        if len(student_channels) != len(teacher_channels):
            raise ValueError("one teacher level per student level")
        mid = mid_channels or max(teacher_channels)
        last = len(student_channels) - 1
        self.abfs = nn.ModuleList(ABF(s, mid, t, fuse=i < last)
                                  for i, (s, t) in enumerate(zip(student_channels,
                                                                 teacher_channels,
                                                                 strict=True)))

    def forward(self, feats: Sequence[Tensor]) -> list[Tensor]:
        outs: list[Tensor] = [feats[0]] * len(feats)
        deeper = None
        for i in range(len(feats) - 1, -1, -1):
            outs[i], deeper = self.abfs[i](feats[i], deeper)
        return outs


def hcl_loss(student: Sequence[Tensor], teacher: Sequence[Tensor],
             pool_sizes: Sequence[int] = (4, 2, 1)) -> Tensor:
    """Hierarchical context loss, summed over levels.

    Per level: MSE of the maps, plus MSE of their ``k x k`` average pools (``k`` in
    ``pool_sizes``, skipped when not smaller than the map) with weights 1/2, 1/4, ...; the
    weighted sum is divided by the total weight. Zero exactly when the maps are equal.
    """
    total = student[0].new_zeros(())
    for fs, ft in zip(student, teacher, strict=True):
        if fs.shape != ft.shape:
            raise ValueError(f"student map {tuple(fs.shape)} vs teacher map {tuple(ft.shape)}")
        level = F.mse_loss(fs, ft)
        weight, weights = 1.0, 1.0
        for k in pool_sizes:
            if k >= min(fs.shape[-2:]):
                continue
            weight /= 2
            level = level + weight * F.mse_loss(F.adaptive_avg_pool2d(fs, k),
                                                F.adaptive_avg_pool2d(ft, k))
            weights += weight
        total = total + level / weights
    return total


def response_loss(student: Sequence[Tensor], teacher: Sequence[Tensor],
                  score_floor: float = 0.02) -> dict[str, Tensor]:
    """Head-output distillation on the nine SCRFD outputs (scores, boxes, keypoints per stride).

    ``score``: Bernoulli KL(teacher || student) summed over anchors (zero when equal); ``box`` and
    ``kps``: smooth-L1 of the distances (stride units), averaged over coordinates and weighted by
    the teacher score where it reaches ``score_floor``. All three are divided by the total weight
    (at least 1), i.e. per teacher-detected face rather than per anchor.
    """
    n = NUM_STRIDES
    eps = 1e-6
    s_scores = torch.cat([s.reshape(-1) for s in student[:n]]).clamp(eps, 1 - eps)
    t_scores = torch.cat([t.reshape(-1) for t in teacher[:n]]).clamp(eps, 1 - eps)
    weights = torch.where(t_scores >= score_floor, t_scores, torch.zeros_like(t_scores))
    norm = weights.sum().clamp(min=1.0)
    kl = (t_scores * (t_scores.log() - s_scores.log())
          + (1 - t_scores) * ((1 - t_scores).log() - (1 - s_scores).log()))
    terms = {"score": kl.sum() / norm}
    for name, first in (("box", n), ("kps", 2 * n)):
        if len(student) <= first:
            continue
        dist = torch.cat([F.smooth_l1_loss(s, t, reduction="none", beta=0.1).mean(-1).reshape(-1)
                          for s, t in zip(student[first:first + n], teacher[first:first + n],
                                          strict=True)])
        terms[name] = (weights * dist).sum() / norm
    return terms


# -- student ----------------------------------------------------------------------------------
def student_channels(model: nn.Module) -> list[int]:
    return [conv.out_channels for conv in model.neck.fpn_convs]


def student_forward(model: nn.Module, images: Tensor) -> tuple[list[Tensor], list[Tensor]]:
    """Neck maps and the nine outputs (same order as ``SCRFD.forward``), from one pass."""
    feats = model.neck(list(model.backbone(images)))
    scores, boxes, kps = model.bbox_head(feats)
    return feats, [*scores, *boxes, *kps]


def freeze_batchnorm_statistics(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


# -- training data: crops of the calibration images, teacher run once per crop ---------------
PAD_VALUE = (0.0 - 127.5) / 128.0  # letterbox padding (black) after normalisation


def content_extent(blob: np.ndarray) -> tuple[int, int]:
    """(height, width) of the letterboxed image: it is anchored top-left, padding is black."""
    content = np.any(blob[0] != PAD_VALUE, axis=0)
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if rows.size == 0:
        return blob.shape[2], blob.shape[3]
    return int(rows[-1]) + 1, int(cols[-1]) + 1


def random_crops(blob: np.ndarray, size: int, count: int, flip: bool,
                 rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` ``size x size`` windows placed uniformly over the image content (not the
    padding), each mirrored left-right with probability 1/2 when ``flip``."""
    height, width = content_extent(blob)
    crops = []
    for _ in range(count):
        top = int(rng.integers(0, max(min(height, blob.shape[2]) - size, 0) + 1))
        left = int(rng.integers(0, max(min(width, blob.shape[3]) - size, 0) + 1))
        crop = blob[:, :, top:top + size, left:left + size]
        if flip and rng.random() < 0.5:
            crop = crop[:, :, :, ::-1]
        crops.append(np.ascontiguousarray(crop))
    return crops


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


# -- training ---------------------------------------------------------------------------------
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
    history: list[dict[str, float]] = []
    bar = tqdm(total=settings.warmup_steps + settings.steps, desc="review-kd train",
               unit="step", disable=not progress)

    def step(optimizer, terms: dict[str, Tensor], lr_factor: float) -> None:
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * lr_factor
        optimizer.step()
        history.append({name: float(value.detach()) for name, value in terms.items()})
        bar.set_postfix({k: f"{v:.4f}" for k, v in history[-1].items()}, refresh=False)
        bar.update()

    fusion.train()
    warmup = torch.optim.Adam([{"params": list(fusion.parameters()),
                                "base_lr": settings.warmup_lr}])
    for _ in range(settings.warmup_steps):
        batch = data.batch(sample())
        hcl = settings.hcl_weight * hcl_loss(fusion(batch.student_features), batch.features,
                                             settings.pool_sizes)
        step(warmup, {"hcl": hcl, "total": hcl}, 1.0)

    model.train()
    freeze_batchnorm_statistics(model)
    joint = torch.optim.Adam([
        {"params": list(model.parameters()), "base_lr": settings.student_lr},
        {"params": list(fusion.parameters()), "base_lr": settings.abf_lr},
    ])
    for i in range(settings.steps):
        step(joint, distill_losses(model, fusion, data.batch(sample()), settings),
             _cosine(i, settings.steps))
    bar.close()
    model.eval()
    return history


def _fmt(terms: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in terms.items()) or "-"


def _mean_terms(history: list[dict[str, float]]) -> str:
    if not history:
        return "-"
    return ", ".join(f"{k} {np.mean([h[k] for h in history]):.4f}" for k in history[0])


def distilled(ctx: RecipeContext) -> Artifact:
    from compression.onnx_teacher import OnnxTeacher

    settings = KDSettings()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        torch.manual_seed(ctx.seed)
        rng = np.random.default_rng(ctx.seed)
        model = ctx.source_model().eval()
        teacher = OnnxTeacher.scrfd(ctx.assets.file(TEACHER), ctx.scratch_dir(),
                                    threads=settings.threads, any_input_size=True)
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
    finally:
        torch.set_num_threads(previous_threads)
