"""The digits task: what is timed, what int8 calibrates on, and how accuracy is scored.

Calibration reads the train split only; the score is top-1 on the evaluation split."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from compbench.assets import Assets
from compbench.specs import ModelSpec
from compbench.tasks.base import Metric, RunFn, Task, TaskDeclaration, Tolerance, checked

CALIBRATION_IMAGES = 300

METRICS = (Metric(
    "digit_accuracy", "digit top-1",
    Tolerance(abs=0.006, why="two of the 360 evaluation images: a rebuilt int8 model may flip "
                             "one on another CPU of the same class"),
    Tolerance(abs=0.03, why="int8 kernels differ between instruction sets; 3 pt is a real "
                            "change on 360 images")),)


class DigitsTask(Task):
    name = "digits"
    metrics = ("digit_accuracy",)
    data_description = "UCI handwritten digits from scikit-learn, a fixed 20 % evaluation split"

    def fingerprint(self) -> dict:
        from teamdigits.data import digest

        return {"task": self.name, "evaluation": digest("evaluation")}

    def calibration_fingerprint(self) -> dict:
        from teamdigits.data import digest

        return {"train": digest("train"), "calibration_images": CALIBRATION_IMAGES}

    def sample_input(self) -> np.ndarray:
        from teamdigits.data import split

        return split("evaluation")[0][:1]

    @property
    def calibration_size(self) -> int:
        return CALIBRATION_IMAGES

    def calibration_inputs(self) -> Iterator[np.ndarray]:
        from teamdigits.data import split

        images = split("train")[0][:CALIBRATION_IMAGES]
        for index in range(len(images)):
            yield images[index:index + 1]

    @property
    def evaluation_size(self) -> int:
        from teamdigits.data import split

        return len(split("evaluation")[1])

    def evaluate(self, run: RunFn, label: str, batch_size: int = 1) -> dict[str, float]:
        from teamdigits.data import split

        images, labels = split("evaluation")
        safe_run = checked(run, label)
        predicted = [int(np.argmax(safe_run(images[i:i + 1])[0])) for i in range(len(labels))]
        return {"digit_accuracy": float(np.mean(np.asarray(predicted) == labels))}


def _create(model: ModelSpec, assets: Assets) -> DigitsTask:
    return DigitsTask()


TASK = TaskDeclaration(name="digits", metrics=METRICS, main_metric="digit_accuracy", assets=(),
                       create=_create)
