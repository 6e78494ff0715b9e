"""This team's own compression recipe, beside compbench's generic ones: a recipe is a function
of the build context (compbench.compression.base.RecipeContext) and the row's parameters."""

from __future__ import annotations

from compbench.compression.base import RecipeContext
from compbench.formats.artifacts import Artifact


def magnitude_sparsity(ctx: RecipeContext, *, sparsity: float) -> Artifact:
    """Zero the ``sparsity`` share of smallest-magnitude weights over all convolutions and the
    classifier at once (one global threshold: layers with many small weights give up more),
    without fine-tuning: what the team ships when a sparse kernel library is the target."""
    import torch

    model = ctx.source_model()
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)]
    magnitudes = torch.cat([layer.weight.detach().abs().flatten() for layer in layers])
    threshold = torch.quantile(magnitudes, sparsity)
    with torch.no_grad():
        for layer in layers:
            layer.weight.mul_((layer.weight.abs() > threshold).to(layer.weight.dtype))
    return ctx.save_model(model)
