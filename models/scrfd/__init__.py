"""Native PyTorch SCRFD_500M_KPS (insightface's 0.5 GFLOP face detector with 5 landmarks).

Written from the architecture, not ported code: the module tree matches the published
checkpoint's keys, and the outputs reproduce the official ONNX export (same order, plus the
batch dimension). Pre/post-processing follows insightface's ``SCRFD.detect`` and is shared by
every engine through ``detect(run, image, settings)``.
"""

from compbench.models.scrfd.detector import Detections, DetectorSettings, detect, to_wider
from compbench.models.scrfd.export import export_onnx
from compbench.models.scrfd.network import OUTPUT_NAMES, SCRFD, STRIDES, torch_runner
from compbench.models.scrfd.postprocess import decode, nms, postprocess
from compbench.models.scrfd.preprocess import letterbox
from compbench.models.scrfd.weights import load_scrfd_500m_kps

__all__ = [
    "OUTPUT_NAMES", "SCRFD", "STRIDES", "Detections", "DetectorSettings", "decode", "detect",
    "export_onnx", "letterbox", "load_scrfd_500m_kps", "nms", "postprocess", "to_wider",
    "torch_runner",
]
