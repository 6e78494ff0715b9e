"""The one way a bench test turns baseline checks into a verdict."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import pytest

from compbench.runner.baselines import Check
from compbench.runner.results import VariantResult


class InconclusiveMeasurement(UserWarning):
    """A measurement too noisy to be called a pass or a regression (listed in the summary)."""


def gate(result: VariantResult, checks: Iterable[Check], updating_baselines: bool,
         detail: str = "") -> None:
    """Record each check's basis in the ledger; fail with every problem at once, unless this
    session records new baselines (then the measurements are what it is for)."""
    checks = list(checks)
    result.baseline_basis.update({c.metric: c.basis for c in checks})
    result.verdicts.update({c.metric: c.verdict for c in checks})
    for check in checks:
        if check.inconclusive:
            result.inconclusive.append(check.inconclusive)
            warnings.warn(InconclusiveMeasurement(check.inconclusive), stacklevel=2)
    problems = [c.problem + detail for c in checks if c.problem]
    if problems and not updating_baselines:
        pytest.fail("\n".join(problems), pytrace=False)
