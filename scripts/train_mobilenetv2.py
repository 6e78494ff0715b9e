"""Train the CIFAR MobileNetV2 that ships in models/cifar/weights/ (one CPU thread, ~13 min).

The point is a small, reproducible fp32 reference for the Keras compression recipes, not a
state-of-the-art accuracy: a short cosine schedule on the full train split is enough for a model
whose accuracy regressions are clearly visible.

    .venv/bin/python scripts/train_mobilenetv2.py [--epochs 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow: tfmot needs Keras 2
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script from anywhere

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
from tqdm import tqdm  # noqa: E402

from compbench.evaluation.cifar10 import fixed_subset, load_cifar10, top1_accuracy  # noqa: E402
from compbench.models.cifar import (  # noqa: E402
    MAX_WEIGHT_BYTES,
    WEIGHTS_DIR,
    random_crop_flip,
    write_weight_record,
)
from compbench.models.cifar.keras_models import build_mobilenetv2, mobilenetv2_preprocess  # noqa: E402
from compbench.settings import resolve_assets_dir  # noqa: E402

WEIGHT_FILE = "mobilenetv2_cifar10.h5"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", default=None, help="assets folder (default as for pytest)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1, help="peak SGD learning rate")
    parser.add_argument("--width", type=float, default=0.35, help="MobileNetV2 width multiplier")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="use only the first N shuffled train images (quick trials)")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / WEIGHT_FILE)
    return parser.parse_args()


def single_thread(seed: int) -> None:
    """One thread (the machine is shared) and deterministic kernels, so the seed fixes the result."""
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf_keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def make_model(width: float, steps: int, peak_lr: float) -> tf_keras.Model:
    model = build_mobilenetv2(width)
    warmup = max(1, steps // 20)
    schedule = tf_keras.optimizers.schedules.CosineDecay(
        peak_lr / 10, decay_steps=steps - warmup, warmup_target=peak_lr, warmup_steps=warmup)
    optimizer = tf_keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=5e-4)
    optimizer.exclude_from_weight_decay(var_names=["_bn", "bias"])  # decay only conv/dense kernels
    model.compile(optimizer=optimizer, metrics=["accuracy"],
                  loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def train(model: tf_keras.Model, images: np.ndarray, labels: np.ndarray, epochs: int,
          batch_size: int, rng: np.random.Generator) -> None:
    steps_per_epoch = len(images) // batch_size  # drop the ragged last batch: stable BN statistics
    for epoch in range(epochs):
        order = rng.permutation(len(images))
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{epochs}", unit="batch")
        for step in bar:
            index = order[step * batch_size:(step + 1) * batch_size]
            batch = mobilenetv2_preprocess(random_crop_flip(images[index], rng))
            loss, accuracy = model.train_on_batch(batch, labels[index], reset_metrics=step == 0)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{loss:.3f}", acc=f"{accuracy:.3f}")


def save_small(model: tf_keras.Model, out: Path) -> int:
    """Save the full model (architecture + weights) only if it fits the repository's size limit."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        staged = Path(tmp) / out.name
        model.save(staged, include_optimizer=False, save_format="h5")
        size = staged.stat().st_size
        if size > MAX_WEIGHT_BYTES:
            raise SystemExit(f"{out.name} would be {size} bytes > {MAX_WEIGHT_BYTES}: not saved; "
                             "use a smaller --width.")
        os.replace(staged, out)
    return size


def main() -> None:
    args = parse_args()
    single_thread(args.seed)
    rng = np.random.default_rng(args.seed)
    root = resolve_assets_dir(args.assets)
    train_split, test_split = load_cifar10(root, "train"), load_cifar10(root, "test")
    images, labels = train_split.images, train_split.labels
    if args.train_limit:
        keep = rng.permutation(len(images))[:args.train_limit]
        images, labels = images[keep], labels[keep]

    steps = args.epochs * (len(images) // args.batch_size)
    model = make_model(args.width, steps, args.lr)
    print(f"MobileNetV2 width {args.width}: {model.count_params()} parameters, "
          f"{len(images)} train images, {args.epochs} epochs, seed {args.seed}")
    start, cpu_start = time.perf_counter(), time.process_time()
    train(model, images, labels, args.epochs, args.batch_size, rng)
    minutes = (time.perf_counter() - start) / 60
    # Wall time depends on who else uses the machine; CPU time is the reproducible cost.
    cpu_minutes = (time.process_time() - cpu_start) / 60

    logits = model.predict(mobilenetv2_preprocess(test_split.images), batch_size=500, verbose=0)
    test_top1 = top1_accuracy(logits, test_split.labels)
    subset = fixed_subset(test_split)
    subset_logits = model.predict(mobilenetv2_preprocess(subset.images), batch_size=500, verbose=0)
    subset_top1 = top1_accuracy(subset_logits, subset.labels)
    size = save_small(model, args.out)
    write_weight_record(args.out.name, {
        "script": "scripts/train_mobilenetv2.py", "seed": args.seed, "epochs": args.epochs,
        "train_images": len(images), "batch_size": args.batch_size, "width": args.width,
        "params": model.count_params(), "test_top1": f"{test_top1:.4f}",
        "subset_top1": f"{subset_top1:.4f}", "train_minutes": f"{minutes:.1f}",
        "cpu_minutes": f"{cpu_minutes:.1f}", "bytes": size,
        "framework": f"tf_keras-{tf_keras.__version__}"}, readme=args.out.parent / "README.md")
    print(f"test top-1 {test_top1:.4f} (subset {subset_top1:.4f}), {minutes:.1f} min, "
          f"saved {args.out} ({size} bytes)")


if __name__ == "__main__":
    main()
