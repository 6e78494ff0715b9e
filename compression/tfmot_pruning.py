"""``pruned-50``: unstructured magnitude pruning with TensorFlow Model Optimization (tfmot).

What is done, per the tfmot pruning guide:

1. Every ``Conv2D`` and ``Dense`` kernel of the fp32 model is wrapped with
   ``tfmot.sparsity.keras.prune_low_magnitude`` and a ``PolynomialDecay`` schedule from 0 to
   the row's ``sparsity`` (``pruned-50``: 50 %) over the first two thirds of the fine-tuning
   steps (mask updated every
   ``steps // 30`` steps); the last third fine-tunes at a constant 50 %. Every pruned kernel ends
   with half its weights exactly zero (per layer, the smallest magnitudes).
   Not pruned: ``DepthwiseConv2D`` (3×3 per-channel filters, ~10 % of MobileNetV2's weights, and
   the layers whose accuracy suffers most from losing half their taps), biases, BatchNorm and
   weight-free layers, so the whole model is somewhat below 50 % zeros.
2. Fine-tune with ``UpdatePruningStep`` (``keras_finetune``: fresh Adam cosine-decayed, a
   fixed number of steps over a fixed class-balanced 10 000-image train subset, seeded order
   and flips, distilled from the fp32 model's outputs; cross-entropy on probabilities for
   ResNet-8, on logits for MobileNetV2).
3. ``strip_pruning`` removes the wrappers (the zeros stay in the kernels) and the tf_keras model
   is saved (.h5). Zeros are stored like any float, so the raw size is unchanged; the gain is
   in the gzip size. No engine here exploits the sparsity for speed.
"""

from __future__ import annotations

import os
from dataclasses import replace

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow: tfmot needs tf_keras

from compbench.compression.base import RecipeContext  # noqa: E402
from compbench.compression.keras_finetune import FinetuneConfig, finetune, training_data  # noqa: E402
from compbench.formats.artifacts import Artifact  # noqa: E402

PRUNED_LAYERS = ("Conv2D", "Dense")  # exact class names: DepthwiseConv2D is not a match
FINETUNE = FinetuneConfig(batch_size=64)


def pruned(ctx: RecipeContext, *, sparsity: float, steps: int, learning_rate: float) -> Artifact:
    """The row's parameters (``bench/suite.py``): final sparsity of each pruned kernel,
    fine-tuning steps (as many as fit a short cold build on a shared 2-core machine;
    docs/recipe-cost.md) and the fine-tune's Adam learning rate (pruning needs a larger one than
    clustering to re-route around the zeros)."""
    config = replace(FINETUNE, steps=steps, learning_rate=learning_rate, seed=ctx.seed)
    return ctx.save_keras(prune(ctx.source_model(), ctx.task, config, sparsity))


def is_pruned(layer) -> bool:
    return type(layer).__name__ in PRUNED_LAYERS


def schedule_steps(steps: int) -> tuple[int, int]:
    """(end_step, frequency): the mask reaches the target at ``end_step``, a multiple of the
    frequency, at two thirds of the run, so the last third fine-tunes the final mask."""
    frequency = max(1, steps // 30)
    end_step = max(frequency, (2 * steps // 3) // frequency * frequency)
    if end_step >= steps:  # too few steps for a ramp: prune at the first step, then fine-tune
        return 0, 1
    return end_step, frequency


def prune(model, task, config: FinetuneConfig, sparsity: float):
    """The stripped, fine-tuned pruned copy of ``model`` (``config.steps`` ≥ 1)."""
    import tensorflow_model_optimization as tfmot
    import tf_keras

    sparsity_api = tfmot.sparsity.keras
    batches = training_data(model, task, config)
    end_step, frequency = schedule_steps(config.steps)
    if end_step == 0:
        schedule = sparsity_api.ConstantSparsity(sparsity, begin_step=0, frequency=1)
    else:
        schedule = sparsity_api.PolynomialDecay(initial_sparsity=0.0, final_sparsity=sparsity,
                                                begin_step=0, end_step=end_step,
                                                frequency=frequency)

    def wrap(layer):
        if not is_pruned(layer):
            return layer
        return sparsity_api.prune_low_magnitude(layer, pruning_schedule=schedule)

    # ``wrap`` returns the trained layer itself (or a wrapper around it): no re-initialisation.
    wrapped = tf_keras.models.clone_model(model, clone_function=wrap)
    finetune(wrapped, batches, config, callbacks=[sparsity_api.UpdatePruningStep()])
    return sparsity_api.strip_pruning(wrapped)
