"""SCRFD on WIDER FACE: letterboxed images in, official easy/medium/hard AP out.

The evaluation images and the calibration images are different folders of the assets
(``WIDER_val/images`` vs ``calib/images``); nothing here ever calibrates on eval images.

Imports are split by path: a recipe builds this task for its calibration inputs only, and the
artifact cache keys a recipe by every project file its process loaded, so the protocol and
the ground-truth reader are imported where evaluation runs. Otherwise an edit to the WIDER
evaluation would look like a change to every SCRFD recipe. The detector code is imported on
first use too, so that listing the tasks does not load torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from compbench.assets import Assets
from compbench.errors import AssetCorrupt
from compbench.fingerprint import files_digest
from compbench.specs import ModelSpec
from compbench.tasks.base import Metric, RunFn, Task, TaskDeclaration, Tolerance, checked

if TYPE_CHECKING:
    from compbench.models.scrfd.detector import DetectorSettings

GT_FILES = tuple(f"widerface/eval_tools/ground_truth/wider_{name}_val.mat"
                 for name in ("face", "easy", "medium", "hard"))
EVAL_IMAGES = "widerface/WIDER_val/images"
CALIB_IMAGES = "widerface/calib/images"
FULL_VAL_IMAGES = 3226

_SAME_CLASS = Tolerance(abs=0.005, why=(
    "same class: a rebuilt int8 or fine-tuned artifact moved AP by < 0.2 pt between clean runs; "
    "0.5 pt is a real change on 100 images"))
_CROSS_CLASS = Tolerance(abs=0.04, why=(
    "int8 on AVX2-only vs AVX-512 VNNI measured up to 2.8 pt (int8-ort on OpenVINO, easy AP, "
    "mini set)"))
METRICS = tuple(Metric(setting, f"AP {setting}", _SAME_CLASS, _CROSS_CLASS)
                for setting in ("easy", "medium", "hard"))


_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_TAIL_BYTES = 4096  # enough to step over the zero padding some writers append


def _jpeg_is_truncated(path: Path) -> bool:
    """True for a JPEG without its end-of-image marker: a cut-short copy or download.

    OpenCV's libjpeg only warns ("Premature end of JPEG file") and returns the missing rows
    grey, which would quietly lower the AP. Reading the first and last bytes costs one seek;
    a second, strict decode would double the time per image. Non-JPEG files are left to
    OpenCV, which decodes them or fails loudly.
    """
    with path.open("rb") as handle:
        if handle.read(2) != _JPEG_START:
            return False
        size = handle.seek(0, 2)
        handle.seek(max(size - _TAIL_BYTES, 2))
        return not handle.read().rstrip(b"\0").endswith(_JPEG_END)


def read_image(path: Path) -> np.ndarray:
    fix = "Replace it with the original from the WIDER FACE release."
    try:
        truncated = _jpeg_is_truncated(path)
    except OSError as exc:
        raise AssetCorrupt(f"cannot read image {path} ({exc.strerror}): it must be a readable "
                           f"file. {fix}") from exc
    if truncated:
        raise AssetCorrupt(f"image {path} is truncated (the JPEG lacks its end marker FFD9, e.g. "
                           f"an interrupted copy or download). {fix}")
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise AssetCorrupt(f"cannot decode image {path}: the file is damaged or not an image. {fix}")
    return image


class WiderFaceTask(Task):
    name = "widerface"
    metrics = tuple(metric.name for metric in METRICS)

    def __init__(self, assets: Assets, settings: DetectorSettings | None = None,
                 images_root: Path | None = None):
        from compbench.evaluation.widerface.images import list_images
        from compbench.models.scrfd.detector import DetectorSettings

        self.assets = assets
        self.settings = DetectorSettings() if settings is None else settings
        self.gt_dir = [assets.file(f) for f in GT_FILES][0].parent
        self.images_root = images_root or assets.directory(EVAL_IMAGES)
        self.images = list_images(self.images_root)
        self.calib_images = [path for _, path in list_images(assets.directory(CALIB_IMAGES))]
        self._ground_truth = None
        self.data_description = (
            f"WIDER FACE val, {len(self.images)} of {FULL_VAL_IMAGES} images present at "
            f"{self.images_root} (official protocol in subset mode: only these images' faces "
            "count)." + (" This is the embedded mini set: its AP is not comparable with "
                         "published full-val numbers." if len(self.images) < FULL_VAL_IMAGES
                         else ""))

    @property
    def ground_truth(self):
        if self._ground_truth is None:
            from compbench.evaluation.widerface.ground_truth import load_ground_truth

            self._ground_truth = load_ground_truth(self.gt_dir)
        return self._ground_truth

    def fingerprint(self) -> dict:
        return {"task": self.name, "settings": repr(self.settings),
                "images": files_digest([p for _, p in self.images], self.images_root),
                "ground_truth": files_digest([self.assets.file(f) for f in GT_FILES])}

    def calibration_fingerprint(self) -> dict:
        root = self.assets.directory(CALIB_IMAGES)
        return {"calib_images": files_digest(self.calib_images, root),
                "input_size": self.settings.input_size}

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        from compbench.models.scrfd.preprocess import letterbox

        blob, _ = letterbox(image, self.settings.input_size)
        return blob

    def sample_input(self) -> np.ndarray:
        return self.preprocess(read_image(self.images[0][1]))

    @property
    def calibration_size(self) -> int:
        return len(self.calib_images)

    @property
    def evaluation_size(self) -> int:
        return len(self.images)

    def calibration_inputs(self) -> Iterator[np.ndarray]:
        for path in self.calib_images:
            yield self.preprocess(read_image(path))

    def letterboxed(self) -> Iterator[tuple[str, np.ndarray, float]]:
        """(key, 1x3xSxS blob, scale) per evaluation image, in the order of ``self.images``."""
        from compbench.models.scrfd.preprocess import letterbox

        for key, path in self.images:
            blob, scale = letterbox(read_image(path), self.settings.input_size)
            yield key, blob, scale

    def predict(self, run: RunFn, label: str, batch_size: int = 1) -> dict[str, np.ndarray]:
        """Per image key ``<event>/<name>``: the (n, 5) x y w h score rows of the official format.

        Three stages overlap, as a pipeline: reading the JPEG and letterboxing run one prefetch
        thread ahead of the network, and turning the outputs into boxes (score filter, NMS over
        the thousands of candidates an image has at the protocol's 0.02 threshold) runs on a
        second thread behind it. The network releases the GIL, so the stages share the cores.
        ``batch_size`` letterboxed images go through ``run`` at once where the artifact has a
        batch axis (every letterbox is SxS, so images of any size stack). None of this changes
        a prediction beyond float summation order (tests/test_wider_batched_predict.py).
        """
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        from tqdm import tqdm

        from compbench.prefetch import prefetched

        safe_run = checked(run, label)
        predictions: dict[str, np.ndarray] = {}
        behind: deque = deque()   # (key, future) in image order, bounded like the read-ahead
        inputs = prefetched(self.letterboxed(), depth=2 * batch_size)
        with tqdm(total=len(self.images), desc=f"WIDER {label}", unit="img", leave=False) as bar, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="compbench-decode") as decoder:
            def collect(keep: int) -> None:
                while len(behind) > keep:
                    key, rows = behind.popleft()
                    predictions[key] = rows.result()
                    bar.update(1)

            for group in _batches(inputs, batch_size):
                outputs = [np.asarray(out) for out in
                           safe_run(np.concatenate([blob for _, blob, _ in group]))]
                for index, (key, blob, scale) in enumerate(group):
                    mine = [_image_slice(out, index, len(group)) for out in outputs]
                    behind.append((key, decoder.submit(_wider_rows, mine, blob.shape[2:], scale,
                                                       self.settings)))
                collect(keep=2 * batch_size)
            collect(keep=0)
        return predictions

    def evaluate(self, run: RunFn, label: str, batch_size: int = 1) -> dict[str, float]:
        from compbench.evaluation.widerface.protocol import evaluate

        predictions = self.predict(run, label, batch_size)
        aps = evaluate(predictions, self.ground_truth, subset=True, evaluated_keys=predictions)
        return {metric: float(aps[metric]) for metric in self.metrics}


def _batches(items: Iterator, size: int) -> Iterator[list]:
    group: list = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def _wider_rows(outputs: list[np.ndarray], input_hw: tuple[int, int], scale: float,
                settings: DetectorSettings) -> np.ndarray:
    from compbench.models.scrfd.detector import detections, to_wider

    return to_wider(detections(outputs, input_hw, scale, settings))


def _image_slice(output: np.ndarray, index: int, batch: int) -> np.ndarray:
    """One image's part of a raw output: (B, N, C) -> (1, N, C); a batch-1 export's (N, C) as is."""
    if output.ndim == 3 and output.shape[0] == batch:
        return output[index:index + 1]
    if batch == 1:
        return output
    raise ValueError(f"a batch of {batch} images gave an output of shape {output.shape}: the "
                     "artifact has no batch axis; evaluate it with batch 1")


def _create(model: ModelSpec, assets: Assets) -> WiderFaceTask:
    return WiderFaceTask(assets)


TASK = TaskDeclaration(
    name="widerface", metrics=METRICS,
    # hard: every labelled face counts there (easy and medium keep subsets of them)
    main_metric="hard",
    assets=(*GT_FILES, EVAL_IMAGES, CALIB_IMAGES), create=_create)
