"""The gate's verdicts: problems fail the test, undecided checks warn and are counted."""

from __future__ import annotations

import pytest

from compbench.runner.baselines import Check
from compbench.runner.gate import InconclusiveMeasurement, gate
from compbench.runner.matrix import get_variant
from compbench.runner.results import VariantResult


def result() -> VariantResult:
    return VariantResult(get_variant("scrfd_500m_kps/int8-ort/onnxruntime"))


def test_an_undecided_check_warns_is_counted_and_does_not_fail():
    undecided = Check("speedup", 1.2, 1.5, "rel 0.4", None, inconclusive="too noisy to tell")
    measured = result()
    with pytest.warns(InconclusiveMeasurement, match="too noisy"):
        gate(measured, [undecided], updating_baselines=False)
    assert measured.inconclusive == ["too noisy to tell"]


def test_a_problem_fails_with_every_message_at_once():
    checks = [Check("hard", 0.5, 0.6, "±0.01", "REGRESSION hard"),
              Check("size_bytes", 2, 1, "rel 0.05", "REGRESSION size")]
    with pytest.raises(pytest.fail.Exception, match="REGRESSION hard\nREGRESSION size"):
        gate(result(), checks, updating_baselines=False)
    gate(result(), checks, updating_baselines=True)  # recording: the measurements are the point
