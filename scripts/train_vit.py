"""Train the small CIFAR ViT that ships in models/cifar/weights/vit_cifar10/ (one CPU thread).

ViTs need far more data and epochs than a CNN to shine; this one gets a few epochs on one CPU
thread, so its accuracy is modest. That is fine: it exists to exercise the transformers/optimum
compression paths on a real, trained attention model, and the README records what it reaches.

    .venv/bin/python scripts/train_vit.py [--epochs 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("USE_TF", "0")  # transformers would otherwise import TensorFlow
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script from anywhere

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from tqdm import tqdm  # noqa: E402
from transformers import ViTForImageClassification  # noqa: E402

from compbench.settings import resolve_assets_dir  # noqa: E402
from evaluation.cifar10 import fixed_subset, load_cifar10, top1_accuracy  # noqa: E402
from models.cifar import (  # noqa: E402
    MAX_WEIGHT_BYTES,
    WEIGHTS_DIR,
    random_crop_flip,
    write_weight_record,
)
from models.cifar.vit import VitPreprocess, load_vit, vit_config  # noqa: E402

WEIGHT_DIR_NAME = "vit_cifar10"
PREPROCESS = VitPreprocess(size=(32, 32), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", default=None, help="assets folder (default as for pytest)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="use only the first N shuffled train images (quick trials)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / WEIGHT_DIR_NAME)
    return parser.parse_args()


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up then cosine to zero: transformers diverge without the warm-up."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train(model: ViTForImageClassification, images: np.ndarray, labels: np.ndarray,
          args: argparse.Namespace, rng: np.random.Generator) -> None:
    steps_per_epoch = len(images) // args.batch_size
    total = args.epochs * steps_per_epoch
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embeddings" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "embeddings" in n]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, warmup=max(1, total // 10)))
    model.train()
    for epoch in range(args.epochs):
        order = rng.permutation(len(images))
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{args.epochs}", unit="batch")
        seen = correct = 0
        for step in bar:
            index = order[step * args.batch_size:(step + 1) * args.batch_size]
            pixels = PREPROCESS(random_crop_flip(images[index], rng))
            target = torch.from_numpy(labels[index])
            logits = model(pixel_values=pixels).logits
            loss = F.cross_entropy(logits, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            seen += len(index)
            correct += int((logits.argmax(1) == target).sum())
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{correct / seen:.3f}")
    model.eval()


def save_small(model: ViTForImageClassification, out: Path) -> int:
    """save_pretrained (safetensors) + preprocessor config, only if the weights fit in git."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        model.save_pretrained(staged, safe_serialization=True)
        PREPROCESS.save(staged)
        size = (staged / "model.safetensors").stat().st_size
        if size > MAX_WEIGHT_BYTES:
            raise SystemExit(f"model.safetensors would be {size} bytes > {MAX_WEIGHT_BYTES}: "
                             "not saved; shrink vit_config().")
        staged.chmod(0o755)  # mkdtemp and safetensors create owner-only entries
        for entry in staged.iterdir():
            entry.chmod(0o644)
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return size


def main() -> None:
    args = parse_args()
    torch.set_num_threads(1)  # the machine is shared
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    root = resolve_assets_dir(args.assets)
    train_split, test_split = load_cifar10(root, "train"), load_cifar10(root, "test")
    images, labels = train_split.images, train_split.labels
    if args.train_limit:
        keep = rng.permutation(len(images))[:args.train_limit]
        images, labels = images[keep], labels[keep]

    model = ViTForImageClassification(vit_config())
    params = sum(p.numel() for p in model.parameters())
    print(f"ViT: {params} parameters, {len(images)} train images, {args.epochs} epochs, "
          f"seed {args.seed}")
    start, cpu_start = time.perf_counter(), time.process_time()
    train(model, images, labels, args, rng)
    minutes = (time.perf_counter() - start) / 60
    # Wall time depends on who else uses the machine; CPU time is the reproducible cost.
    cpu_minutes = (time.process_time() - cpu_start) / 60
    size = save_small(model, args.out)

    saved = load_vit(args.out)  # score what is on disk, so the record describes the shipped file
    test_top1 = top1_accuracy(saved.logits(test_split.images), test_split.labels)
    subset = fixed_subset(test_split)
    subset_top1 = top1_accuracy(saved.logits(subset.images), subset.labels)
    write_weight_record(args.out.name, {
        "script": "scripts/train_vit.py", "seed": args.seed, "epochs": args.epochs,
        "train_images": len(images), "batch_size": args.batch_size, "params": params,
        "test_top1": f"{test_top1:.4f}", "subset_top1": f"{subset_top1:.4f}",
        "train_minutes": f"{minutes:.1f}",
        "cpu_minutes": f"{cpu_minutes:.1f}", "bytes": size,
        "framework": f"torch-{torch.__version__}/transformers-{transformers.__version__}"},
        readme=args.out.parent / "README.md")
    print(f"test top-1 {test_top1:.4f} (subset {subset_top1:.4f}), {minutes:.1f} min, "
          f"saved {args.out} ({size} bytes)")


if __name__ == "__main__":
    main()
