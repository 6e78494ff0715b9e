"""scripts/train_vit.py survives interruption: a resumed run ends with the weights of an
uninterrupted one, bit for bit, so a 90-minute training can be stopped and continued."""

from __future__ import annotations

import argparse
import importlib.util

import pytest
import torch

from compbench.evaluation.cifar10 import load_cifar10
from compbench.settings import REPO_ROOT


def load_train_vit():
    spec = importlib.util.spec_from_file_location("train_vit", REPO_ROOT / "scripts" / "train_vit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recipe(checkpoints) -> argparse.Namespace:
    return argparse.Namespace(epochs=2, seed=0, batch_size=16, lr=2e-3, temperature=4.0,
                              distill_weight=0.9, label_smoothing=0.1, train_limit=48,
                              threads=1, checkpoints=checkpoints)


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, asset_file, monkeypatch):
    script = load_train_vit()
    root = asset_file("cifar10/test.zip").parent.parent
    split = load_cifar10(root, "test")   # a mechanics test: 48 images stand for the train split
    images, labels = split.images[:48], split.labels[:48]
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)

    def fresh_run(name: str):
        torch.manual_seed(0)
        args = recipe(tmp_path / name)
        folder = script.run_folder(args)
        model = script.ViTForImageClassification(script.vit_config())
        return model, args, folder, script.teacher_logits(images, root, folder)

    try:
        model, args, folder, soft = fresh_run("straight")
        script.train(model, images, labels, soft, args, folder)
        straight = {k: v.clone() for k, v in model.state_dict().items()}

        model, args, folder, soft = fresh_run("interrupted")
        crop = script.random_crop_flip
        calls = {"n": 0}

        def interrupt_in_epoch_two(*a, **k):
            calls["n"] += 1
            if calls["n"] > len(images) // args.batch_size:   # the first step of epoch 2
                raise KeyboardInterrupt
            return crop(*a, **k)

        monkeypatch.setattr(script, "random_crop_flip", interrupt_in_epoch_two)
        with pytest.raises(KeyboardInterrupt):
            script.train(model, images, labels, soft, args, folder)
        assert torch.load(folder / "last.pt", weights_only=False)["epoch"] == 1
        monkeypatch.setattr(script, "random_crop_flip", crop)

        model, args, folder, soft = fresh_run("interrupted")  # a new process would start here
        script.train(model, images, labels, soft, args, folder)
        resumed = model.state_dict()
    finally:
        torch.set_num_threads(previous_threads)
    assert straight.keys() == resumed.keys()
    differing = [k for k in straight if not torch.equal(straight[k], resumed[k])]
    assert not differing, f"resumed weights differ from the uninterrupted run's in {differing[:5]}"
    # and the interrupted run really trained: its weights are not the initial ones
    torch.manual_seed(0)
    initial = script.ViTForImageClassification(script.vit_config()).state_dict()
    assert any(not torch.equal(initial[k], resumed[k]) for k in initial)
