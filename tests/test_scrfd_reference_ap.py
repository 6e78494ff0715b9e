"""The native fp32 model scores the same WIDER AP as the official ONNX export.

Both go through the same insightface-style pre/post-processing; only the network differs. This
is the foundation's acceptance check: every compressed variant is compared with this fp32.
"""

from __future__ import annotations

import onnxruntime as ort
import pytest

from compbench.runner.matrix import get_variant
from compbench.runner.pipeline import VariantPipeline


@pytest.fixture(scope="module")
def task_and_native_ap(assets, artifact_cache):
    pipeline = VariantPipeline(get_variant("scrfd_500m_kps/fp32/torch"), assets, artifact_cache)
    pipeline.prepare()
    return pipeline.task, pipeline.accuracy()


def test_native_ap_matches_official_onnx(task_and_native_ap, asset_file):
    task, native = task_and_native_ap
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(asset_file("scrfd/scrfd_500m_kps.onnx")), options,
                                   providers=["CPUExecutionProvider"])

    def official(blob):
        return session.run(None, {"images": blob})

    reference = task.evaluate(official, "official scrfd_500m_kps.onnx")
    for setting in ("easy", "medium", "hard"):
        assert abs(native[setting] - reference[setting]) <= 0.005, setting
    assert 0.5 < reference["hard"] < reference["medium"] < reference["easy"] < 1.0
