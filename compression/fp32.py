"""``fp32``, the reference: the source model unchanged, so every other row has a fair denominator."""

from __future__ import annotations

from compbench.compression.base import RecipeContext
from compbench.formats.artifacts import Artifact


def fp32(ctx: RecipeContext) -> Artifact:
    return ctx.save_model(ctx.source_model())
