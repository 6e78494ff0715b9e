"""Train the small CIFAR ViT that ships in models/cifar/weights/vit_cifar10/ (CPU, resumable).

A ViT this small (≤ 2 MB of fp32 weights, so it lives in git) learns slowly from labels alone: it
has none of a CNN's locality prior, and 3 epochs gave 49.7 %. Two things make a CPU budget enough:

- distillation from the bundled ResNet-20 (Hinton et al. 2015): the student also matches the
  teacher's softened logits, which carry the similarities between classes that one-hot labels
  lack. The teacher's logits are computed once per train image (the random crop moves a CIFAR
  image by at most 4 pixels and ResNet-20 was trained with the same crops and flips, so the
  uncropped image's logits stand for all its crops) and cached beside the checkpoints;
- more epochs, in a run that survives interruption: the whole training state is checkpointed
  after every epoch and a re-run with the same arguments resumes from the last one.

The recipe (temperature 4, weight 0.9 on the distillation term, label smoothing 0.1) is the
usual CIFAR setting from the literature, fixed before training; nothing here looks at the test
split until the weights are saved, and the epoch count is the CPU budget, not a tuned value.

    .venv/bin/python scripts/train_vit.py [--epochs 35] [--threads 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
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

from compbench.evaluation.cifar10 import fixed_subset, load_cifar10, top1_accuracy  # noqa: E402
from compbench.models.cifar import (  # noqa: E402
    MAX_WEIGHT_BYTES,
    WEIGHTS_DIR,
    random_crop_flip,
    write_weight_record,
)
from compbench.models.cifar.resnet20 import load_resnet20, to_tensor  # noqa: E402
from compbench.models.cifar.sources import RESNET20  # noqa: E402
from compbench.models.cifar.vit import VitPreprocess, load_vit, vit_config  # noqa: E402
from compbench.settings import resolve_assets_dir, resolve_cache_dir  # noqa: E402

WEIGHT_DIR_NAME = "vit_cifar10"
PREPROCESS = VitPreprocess(size=(32, 32), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", default=None, help="assets folder (default as for pytest)")
    parser.add_argument("--epochs", type=int, default=35)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak AdamW learning rate")
    parser.add_argument("--temperature", type=float, default=4.0, help="distillation softening")
    parser.add_argument("--distill-weight", type=float, default=0.9,
                        help="weight of the teacher term (0 trains on labels alone)")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--train-limit", type=int, default=None,
                        help="use only the first N shuffled train images (quick trials)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (the machine is shared: 1 unless it is yours)")
    parser.add_argument("--checkpoints", type=Path, default=None,
                        help="where the per-epoch state lives (default <cache>/train_vit)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / WEIGHT_DIR_NAME)
    return parser.parse_args()


RECIPE_ARGS = ("epochs", "seed", "batch_size", "lr", "temperature", "distill_weight",
               "label_smoothing", "train_limit")


def run_folder(args: argparse.Namespace) -> Path:
    """One folder per recipe, so a resumed run never continues a different recipe's state."""
    recipe = {name: getattr(args, name) for name in RECIPE_ARGS}
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    root = args.checkpoints or resolve_cache_dir() / "train_vit"
    folder = root / key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.json").write_text(json.dumps(recipe, indent=2, sort_keys=True) + "\n")
    return folder


def teacher_logits(images: np.ndarray, root: Path, folder: Path) -> np.ndarray:
    """ResNet-20's logits for every train image, computed once and kept beside the checkpoints."""
    cached = folder / "teacher_logits.npy"
    if cached.is_file():
        return np.load(cached)
    teacher = load_resnet20(root / RESNET20)
    with torch.inference_mode():
        logits = np.concatenate([teacher(to_tensor(images[start:start + 500])).numpy()
                                 for start in tqdm(range(0, len(images), 500),
                                                   desc="teacher logits", unit="batch")])
    staged = folder / "teacher_logits.tmp.npy"
    np.save(staged, logits)
    staged.replace(cached)
    return logits


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, target: torch.Tensor,
                      args: argparse.Namespace) -> torch.Tensor:
    """(1 − w)·CE(labels) + w·T²·KL(teacher_T ‖ student_T); T² keeps the gradient scale of T = 1."""
    hard = F.cross_entropy(student, target, label_smoothing=args.label_smoothing)
    if args.distill_weight == 0:
        return hard
    t = args.temperature
    soft = F.kl_div(F.log_softmax(student / t, dim=1), F.log_softmax(teacher / t, dim=1),
                    reduction="batchmean", log_target=True) * t * t
    return (1 - args.distill_weight) * hard + args.distill_weight * soft


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up then cosine to zero: transformers diverge without the warm-up."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train(model: ViTForImageClassification, images: np.ndarray, labels: np.ndarray,
          soft_targets: np.ndarray, args: argparse.Namespace, folder: Path) -> float:
    """Train, resuming from ``folder/last.pt`` if an earlier run of this recipe stopped early.

    Returns the CPU minutes spent over all runs (the reproducible cost, summed across resumes).
    """
    steps_per_epoch = len(images) // args.batch_size
    total = args.epochs * steps_per_epoch
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embeddings" not in n]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or "embeddings" in n]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, warmup=max(1, total // 10)))
    rng = np.random.default_rng(args.seed)
    start_epoch, cpu_minutes = 0, 0.0
    checkpoint = folder / "last.pt"
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        start_epoch, cpu_minutes = state["epoch"], state["cpu_minutes"]
        print(f"resuming after epoch {start_epoch} from {checkpoint}")
    model.train()
    for epoch in range(start_epoch, args.epochs):
        cpu_start = time.process_time()
        order = rng.permutation(len(images))
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{args.epochs}", unit="batch")
        seen = correct = 0
        for step in bar:
            index = order[step * args.batch_size:(step + 1) * args.batch_size]
            pixels = PREPROCESS(random_crop_flip(images[index], rng))
            target = torch.from_numpy(labels[index])
            logits = model(pixel_values=pixels).logits
            loss = distillation_loss(logits, torch.from_numpy(soft_targets[index]), target, args)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            seen += len(index)
            correct += int((logits.argmax(1) == target).sum())
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}", train_acc=f"{correct / seen:.3f}")
        cpu_minutes += (time.process_time() - cpu_start) / 60
        staged = folder / "last.tmp.pt"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(), "epoch": epoch + 1,
                    "cpu_minutes": cpu_minutes}, staged)
        staged.replace(checkpoint)  # an interrupted save leaves the previous epoch intact
    model.eval()
    return cpu_minutes


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
        swap_in(staged, out)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return size


def swap_in(staged: Path, out: Path) -> None:
    """Put the folder ``staged`` at ``out`` by renames alone, removing the previous weights only
    once the new ones are in place: they are moved aside under a hidden name (a rename onto an
    empty folder replaces it in one step), put back if the new ones cannot be moved in, and
    deleted last. No exists() check precedes an act, so another process cannot make one stale."""
    aside = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-previous-"))
    try:
        os.replace(out, aside)
    except FileNotFoundError:   # a first save: there is nothing to keep
        aside.rmdir()
        aside = None
    try:
        os.replace(staged, out)
    except BaseException:
        if aside is not None:
            os.replace(aside, out)
        raise
    if aside is not None:
        shutil.rmtree(aside)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    root = resolve_assets_dir(args.assets)
    train_split, test_split = load_cifar10(root, "train"), load_cifar10(root, "test")
    images, labels = train_split.images, train_split.labels
    if args.train_limit:
        keep = np.random.default_rng(args.seed).permutation(len(images))[:args.train_limit]
        images, labels = images[keep], labels[keep]
    folder = run_folder(args)
    soft_targets = teacher_logits(images, root, folder)

    model = ViTForImageClassification(vit_config())
    params = sum(p.numel() for p in model.parameters())
    print(f"ViT: {params} parameters, {len(images)} train images, {args.epochs} epochs, "
          f"seed {args.seed}, distilled from ResNet-20 (weight {args.distill_weight}, "
          f"T {args.temperature}); state in {folder}")
    start = time.perf_counter()
    cpu_minutes = train(model, images, labels, soft_targets, args, folder)
    minutes = (time.perf_counter() - start) / 60  # this run only: resumed epochs are not in it
    size = save_small(model, args.out)

    saved = load_vit(args.out)  # score what is on disk, so the record describes the shipped file
    test_top1 = top1_accuracy(saved.logits(test_split.images), test_split.labels)
    subset = fixed_subset(test_split)
    subset_top1 = top1_accuracy(saved.logits(subset.images), subset.labels)
    write_weight_record(args.out.name, {
        "script": "scripts/train_vit.py", "seed": args.seed, "epochs": args.epochs,
        "train_images": len(images), "batch_size": args.batch_size, "lr": args.lr,
        "teacher": "resnet20", "distill_weight": args.distill_weight,
        "temperature": args.temperature, "label_smoothing": args.label_smoothing,
        "params": params, "test_top1": f"{test_top1:.4f}", "subset_top1": f"{subset_top1:.4f}",
        "threads": args.threads, "train_minutes_last_run": f"{minutes:.1f}",
        "cpu_minutes": f"{cpu_minutes:.1f}", "bytes": size,
        "framework": f"torch-{torch.__version__}/transformers-{transformers.__version__}"},
        readme=args.out.parent / "README.md")
    print(f"test top-1 {test_top1:.4f} (subset {subset_top1:.4f}), {cpu_minutes:.1f} CPU min, "
          f"saved {args.out} ({size} bytes)")


if __name__ == "__main__":
    main()
