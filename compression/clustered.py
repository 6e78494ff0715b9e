"""``clustered-16`` / ``clustered-32``: tfmot weight clustering, N shared values per layer.

What is done, per the tfmot clustering guide:

1. Every ``Conv2D`` and ``Dense`` kernel of the fp32 model is wrapped with
   ``tfmot.clustering.keras.cluster_weights`` (``number_of_clusters`` = the row's ``clusters``, centroids
   initialised with ``CentroidInitialization.KMEANS_PLUS_PLUS``), each layer its own centroids.
   Not clustered: ``DepthwiseConv2D`` (tfmot's registry clusters no depthwise weights),
   ``BatchNormalization`` (tfmot never clusters it; TFLite/OpenVINO fold it into the preceding
   kernel anyway, which rescales each output channel and so multiplies the distinct values
   in the converted file), biases (tfmot clusters kernels only) and weight-free layers.
2. Fine-tune the wrapped model (``keras_finetune``: fresh Adam cosine-decayed, a fixed
   number of steps over a fixed class-balanced 10 000-image train subset, seeded order and
   flips, distilled from the fp32 model's outputs), so the centroids, biases and BatchNorm
   adapt to the shared values. The loss matches the output: cross-entropy on probabilities
   for ResNet-8 (softmax last layer), on logits for MobileNetV2.
3. ``strip_clustering`` replaces each wrapper with a plain layer whose kernel holds only the
   centroid values, and the tf_keras model is saved (.h5). The file stays the same size raw;
   the gain shows in the gzip size, which is what the size table reports alongside.
"""

from __future__ import annotations

import os
from dataclasses import replace

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # before TensorFlow: tfmot needs tf_keras

from compbench.compression.base import RecipeContext  # noqa: E402
from compbench.compression.keras_finetune import FinetuneConfig, finetune, training_data  # noqa: E402
from compbench.formats.artifacts import Artifact  # noqa: E402

CLUSTERED_LAYERS = ("Conv2D", "Dense")  # exact class names: DepthwiseConv2D is not a match
FINETUNE = FinetuneConfig(batch_size=64)


def clustered(ctx: RecipeContext, *, clusters: int, steps: int, learning_rate: float) -> Artifact:
    """The row's parameters (``bench/suite.py``): shared values per kernel, fine-tuning steps
    (as many as fit a short cold build on a shared 2-core machine; docs/recipe-cost.md) and the
    fine-tune's Adam learning rate."""
    config = replace(FINETUNE, steps=steps, learning_rate=learning_rate, seed=ctx.seed)
    return ctx.save_keras(cluster(ctx.source_model(), ctx.task, clusters, config))


def is_clustered(layer) -> bool:
    return type(layer).__name__ in CLUSTERED_LAYERS


def cluster(model, task, clusters: int, config: FinetuneConfig):
    """The stripped, fine-tuned clustered copy of ``model`` (``config.steps=0``: no fine-tune)."""
    import tensorflow_model_optimization as tfmot
    import tf_keras

    keras_clustering = tfmot.clustering.keras
    batches = training_data(model, task, config) if config.steps > 0 else None
    tf_keras.utils.set_random_seed(config.seed)  # k-means++ samples its seeds

    def wrap(layer):
        if not is_clustered(layer):
            return layer
        return keras_clustering.cluster_weights(
            layer, number_of_clusters=clusters,
            cluster_centroids_init=keras_clustering.CentroidInitialization.KMEANS_PLUS_PLUS)

    # ``wrap`` returns the trained layer itself (or a wrapper around it), so no weight is
    # re-initialised by the clone.
    wrapped = tf_keras.models.clone_model(model, clone_function=wrap)
    if config.steps > 0:
        finetune(wrapped, batches, config)
    return keras_clustering.strip_clustering(wrapped)
