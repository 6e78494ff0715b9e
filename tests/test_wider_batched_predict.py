"""The detector's evaluation may prefetch and batch: neither may change a prediction.

Real SCRFD weights on real WIDER FACE val images: the prefetching predict at batch 1 equals the
plain one-image ``detect`` loop exactly, and batch 3 (a full batch, then a partial one) equals it
within float summation order.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from compbench.errors import AssetCorrupt
from compbench.models.scrfd.detector import detect, to_wider
from compbench.models.scrfd.network import torch_runner
from compbench.models.scrfd.weights import load_scrfd_500m_kps
from compbench.tasks.widerface import WiderFaceTask, read_image

IMAGES = 5


@pytest.fixture(scope="module")
def runner(asset_file):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch_runner(load_scrfd_500m_kps(asset_file("scrfd/SCRFD_500M_KPS.pth")))
    torch.set_num_threads(previous)


@pytest.fixture
def task(assets) -> WiderFaceTask:
    task = WiderFaceTask(assets)
    task.images = task.images[:IMAGES]
    return task


def test_prefetching_predict_equals_the_plain_loop(task, runner):
    plain = {key: to_wider(detect(runner, read_image(path), task.settings))
             for key, path in task.images}
    fetched = task.predict(runner, "fp32", batch_size=1)
    assert list(fetched) == list(plain)
    for key in plain:
        np.testing.assert_array_equal(fetched[key], plain[key], err_msg=key)


def test_batched_predict_matches_batch_one(task, runner):
    one = task.predict(runner, "fp32", batch_size=1)
    three = task.predict(runner, "fp32", batch_size=3)
    assert list(three) == list(one)
    assert sum(len(rows) for rows in one.values()) > 0
    for key in one:
        assert three[key].shape == one[key].shape, key
        np.testing.assert_allclose(three[key], one[key], atol=1e-3, rtol=1e-4, err_msg=key)


def test_a_batch_to_an_artifact_without_a_batch_axis_is_refused(task, runner):
    def batch_one_export(blob):   # the official ONNX export: (N, C) outputs, no batch axis
        return [np.asarray(out)[0] for out in runner(blob)]

    with pytest.raises(ValueError, match="no batch axis; evaluate it with batch 1"):
        task.predict(batch_one_export, "official-export", batch_size=2)


def test_a_truncated_image_is_named_even_when_prefetched(tmp_path, assets, runner):
    source = WiderFaceTask(assets)
    for key, path in source.images[:3]:
        target = tmp_path / key.split("/")[0] / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    task = WiderFaceTask(assets, images_root=tmp_path)
    broken = task.images[1][1]
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    with pytest.raises(AssetCorrupt, match=broken.name):
        task.predict(runner, "fp32", batch_size=2)
