"""Chains: a row whose recipe runs on another row's artifact (``Row.after``)."""

from __future__ import annotations

import pytest
import torch

from compbench.bench.suite import MATRIX, MODELS, expand
from compbench.compression.base import RecipeContext
from compbench.formats.artifacts import Artifact
from compbench.runner.baselines import recipe_of
from compbench.runner.matrix import VARIANTS, upstream_of
from compbench.specs import Row

CHAIN = "scrfd_500m_kps/pruned-20+int8-ort/onnxruntime"

def test_a_chain_starts_from_the_row_it_follows_with_that_rows_recipe():
    chain = VARIANTS[CHAIN]
    upstream = upstream_of(chain)
    assert upstream.id.startswith("scrfd_500m_kps/pruned-20/")
    assert dict(upstream.params)["ratio"] == 0.2
    assert upstream_of(upstream) is None
    # the baseline remembers the whole chain: changing pruned-20's ratio is another recipe
    assert recipe_of(CHAIN).startswith(recipe_of(upstream.id) + " -> compression.int8_ort")

def test_every_chain_follows_a_row_of_its_own_model_and_needs_what_it_needs():
    rows = {(r.model, r.compression): r for r in MATRIX}
    chains = [v for v in VARIANTS.values() if v.after]
    assert len({v.compression for v in chains}) >= 4
    for variant in chains:
        row = rows[(variant.model.name, variant.after)]
        assert set(row.requires) <= set(variant.requires)
        assert variant.compression.startswith(variant.after + "+")

def test_a_chain_after_a_missing_row_fails_at_import():
    bad = Row(model="scrfd_500m_kps", compression="ghost+int8-ort", recipe="compression.int8_ort:int8_ort",
              engines=("onnxruntime",), after="ghost")
    with pytest.raises(ValueError, match="follows 'ghost', which is no row of scrfd_500m_kps"):
        expand([*MATRIX, bad])

def test_the_source_model_of_a_chain_step_is_the_previous_artifact(tmp_path):
    previous = torch.nn.Linear(3, 2)
    path = tmp_path / "model.pt"
    torch.save(previous, path)
    context = RecipeContext(MODELS["scrfd_500m_kps"], "x", tmp_path, task=None, assets=None,
                            source=Artifact("torch", path))
    loaded = context.source_model()
    assert torch.equal(loaded.weight, previous.weight)
    assert loaded is not context.source_model()     # a fresh copy each time: recipes modify it

def test_a_chain_cannot_start_from_an_engine_only_format(tmp_path):
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"")
    context = RecipeContext(MODELS["scrfd_500m_kps"], "x", tmp_path, task=None, assets=None,
                            source=Artifact("onnx", onnx))
    with pytest.raises(ValueError, match="cannot start from a 'onnx' artifact"):
        context.source_model()

def test_an_unchained_variant_has_no_upstream():
    assert all(upstream_of(v) is None for v in VARIANTS.values() if not v.after)
