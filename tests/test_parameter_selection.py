"""Recipe parameters are chosen on held-out train images: the selection never reads the test split."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

from compbench.settings import REPO_ROOT


def load_script(name: str = "select_keras_finetune"):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_held_out_images_are_disjoint_from_every_training_subset():
    script = load_script()
    held_out = script.held_out_indices(50_000)
    assert len(held_out) == 10_000 and set(held_out % 5) == {2}
    script.check_disjoint(held_out, 50_000, {"fine-tune": slice(0, 50_000, 5)})
    with pytest.raises(SystemExit, match="overlap the calibration"):
        script.check_disjoint(held_out, 50_000, {"calibration": slice(0, 50_000, 3)})


def test_a_selection_scores_candidates_without_the_test_split(tmp_path, monkeypatch, asset_file):
    asset_file("cifar10/models/mlperf_tiny_resnet8.h5")
    import compbench.evaluation.cifar10  # noqa: F401 (used through the name evaluation)
    from compbench import evaluation

    real = evaluation.cifar10.load_cifar10

    def train_only(root, split, *args, **kwargs):
        if split != "train":
            raise AssertionError(f"the selection read the {split} split")
        return real(root, split, *args, **kwargs)

    monkeypatch.setattr(evaluation.cifar10, "load_cifar10", train_only)
    out = tmp_path / "selection.json"
    monkeypatch.setattr(sys, "argv", ["select", "resnet8/clustered-16", "--grid", "steps=1,2",
                                      "--out", str(out)])
    script = load_script()
    script.main()
    result = json.loads(out.read_text())
    assert [c["params"]["steps"] for c in result["candidates"]] == [1, 2]
    assert result["choice"] in [c["params"] for c in result["candidates"]]
    best = max(c["held_out_top1"] for c in result["candidates"])
    assert np.isclose(next(c["held_out_top1"] for c in result["candidates"]
                           if c["params"] == result["choice"]), best, atol=script.TIE)
    assert "test split is not read" in result["held_out"] and 0.5 < result["fp32_held_out_top1"] < 1


def test_the_detector_selection_holds_out_calibration_images_and_never_opens_an_eval_image(
        tmp_path, monkeypatch, asset_file):
    asset_file("scrfd/SCRFD_500M_KPS.pth")
    script = load_script("select_detector_finetune")
    training, held_out = script.split_calibration(list(range(102)))
    assert len(held_out) == 20 and not set(training) & set(held_out)
    assert len(training) + len(held_out) == 102

    opened = []
    real = script.read_image
    monkeypatch.setattr(script, "read_image", lambda path: opened.append(path) or real(path))
    import compbench.tasks.widerface  # noqa: F401 (used through the name tasks)
    from compbench import tasks

    monkeypatch.setattr(tasks.widerface, "read_image",
                        lambda path: opened.append(path) or real(path))
    out = tmp_path / "selection.json"
    monkeypatch.setattr(sys, "argv", ["select", "sparse", "--grid", "steps=1", "--out", str(out)])
    script.main()
    result = json.loads(out.read_text())
    assert result["choice"]["steps"] == 1 and result["candidates"][0]["held_out_distance"] > 0
    assert opened and all(tasks.widerface.CALIB_IMAGES in str(p) for p in opened)


def test_every_committed_selection_is_what_its_row_runs():
    """The row holds the parameters, the selection file says why: they must agree."""
    import json

    from compbench.runner.matrix import VARIANTS
    from compbench.runner.parameter_selection import SELECTION_DIR

    files = sorted(SELECTION_DIR.glob("*.json"))
    assert files
    for path in files:
        selection = json.loads(path.read_text())
        row = next(v for v in VARIANTS.values()
                   if f"{v.model.name}/{v.compression}" == selection["row"])
        assert dict(row.params) == selection["choice"], path.name
        assert selection["machine"] and selection["candidates"], path.name
