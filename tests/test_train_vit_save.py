"""scripts/train_vit.py replaces the shipped ViT folder without a moment where neither the old nor
the new weights exist: a save interrupted while moving the new folder in keeps the old one."""

from __future__ import annotations

import os

import pytest

from tests.test_train_vit import load_train_vit


def saved_weights(folder) -> bytes:
    return (folder / "model.safetensors").read_bytes()


def test_a_save_replaces_the_folder_and_leaves_nothing_behind(tmp_path):
    script = load_train_vit()
    out = tmp_path / "vit_cifar10"
    script.save_small(script.ViTForImageClassification(script.vit_config()), out)   # a first save
    first = saved_weights(out)
    script.save_small(script.ViTForImageClassification(script.vit_config()), out)
    assert saved_weights(out) != first and sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_an_interrupted_save_keeps_the_previous_weights(tmp_path, monkeypatch):
    script = load_train_vit()
    out = tmp_path / "vit_cifar10"
    script.save_small(script.ViTForImageClassification(script.vit_config()), out)
    previous = saved_weights(out)

    def interrupted_on_moving_in(move):
        def rename(source, target, *args, **kwargs):
            if os.fspath(target) == os.fspath(out) and ".vit_cifar10-previous-" not in os.fspath(source):
                raise KeyboardInterrupt   # Ctrl-C just before the new folder is moved in
            return move(source, target, *args, **kwargs)
        return rename

    # the old code moved the new folder in with os.rename (Path.rename), the new with os.replace
    monkeypatch.setattr(os, "rename", interrupted_on_moving_in(os.rename))
    monkeypatch.setattr(os, "replace", interrupted_on_moving_in(os.replace))
    with pytest.raises(KeyboardInterrupt):
        script.save_small(script.ViTForImageClassification(script.vit_config()), out)
    monkeypatch.undo()
    assert saved_weights(out) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
