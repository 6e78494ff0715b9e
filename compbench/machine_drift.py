"""Did the machine change under the timings? One fixed workload, timed when timing begins and
again later; a session whose machine drifted beyond ``DRIFT_BOUND`` does not gate on speed.

A paired speed-up cancels what happens *during* its rounds, not a machine that turned into
another one between two variants (a neighbour's job that started, a throttled clock, a process
state that made everything slower — fp32/torch after the unit tests until compbench.allocator;
docs/concepts/speed-gate.md, "Machine state"). The calibration workload is what every model
does — stream megabytes through arithmetic — on as many threads as the engines time with, in
numpy ufuncs (no BLAS: OpenBLAS threads busy-wait after each call and would steal the next
test's cores).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from compbench.hardware import available_cores

# Above the spread of looks seconds apart on a shared 2-core VM, below the slow-down of the
# state this is for (both measured: docs/concepts/speed-gate.md, "Machine state"): beyond it,
# it is not the same machine any more.
DRIFT_BOUND = 1.6
_ELEMENTS = 1 << 20  # 8 MB of float64 per thread and step: above any cache, below 32 MB
_STEPS = 4
_REPEATS = 7


def _one_thread(seed: int, start: threading.Barrier, took: list[float]) -> None:
    values = np.random.default_rng(seed).standard_normal(_ELEMENTS)
    scratch = np.empty_like(values)
    start.wait()
    began = time.perf_counter()
    for _ in range(_STEPS):
        np.sin(values, out=scratch)
        np.multiply(scratch, 1.5, out=values)
    took.append(time.perf_counter() - began)


def calibration_s(threads: int | None = None) -> float:
    """Fastest of a few repeats of the fixed workload on ``threads`` threads at once (default:
    all cores), each repeat as long as its slowest thread. The arrays are allocated before the
    clock starts: the allocator's state is a property of the process, not of the machine."""
    count = threads or available_cores()
    times = []
    for _ in range(_REPEATS):
        start, took = threading.Barrier(count), []
        workers = [threading.Thread(target=_one_thread, args=(i, start, took))
                   for i in range(count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        times.append(max(took))
    return float(min(times))  # the least disturbed repeat: a drift is what persists


@dataclass
class MachineDrift:
    """The calibration time when timing began, and every later look at it."""

    start_s: float
    later_s: list[float] = field(default_factory=list)
    began: str = "before the first test"  # an xdist worker begins at its first timing test

    @classmethod
    def begin(cls, began: str = "before the first test") -> MachineDrift:
        return cls(calibration_s(), began=began)

    def to_dict(self) -> dict:
        return {"start_s": self.start_s, "later_s": list(self.later_s), "began": self.began}

    @classmethod
    def from_dict(cls, data, where: str) -> MachineDrift:
        """The fields of ``to_dict`` back, checked: ``ValueError`` naming ``where`` and the
        field when one is missing or not of its type (data from a results file, not code)."""
        def seconds(value, at: str) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{at}: expected a positive number of seconds, found {value!r:.40}")
            return float(value)

        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object")
        for key in ("start_s", "later_s"):
            if key not in data:
                raise ValueError(f"{where}.{key}: missing")
        if not isinstance(data["later_s"], list):
            raise ValueError(f"{where}.later_s: expected a list of seconds")
        began = data.get("began", "before the first test")
        if not isinstance(began, str):
            raise ValueError(f"{where}.began: expected a string")
        return cls(seconds(data["start_s"], f"{where}.start_s"),
                   [seconds(t, f"{where}.later_s[{i}]") for i, t in enumerate(data["later_s"])],
                   began)

    def look(self) -> float:
        """Time the workload now; the factor against the start (>1: slower now)."""
        self.later_s.append(calibration_s())
        return self.later_s[-1] / self.start_s

    @property
    def worst_factor(self) -> float:
        factors = [t / self.start_s for t in self.later_s] or [1.0]
        return max(max(factors), 1 / min(factors))

    @property
    def stable(self) -> bool:
        return self.worst_factor <= DRIFT_BOUND

    def unstable_reason(self) -> str | None:
        """Why speed cannot be gated now (a fresh look), or None when the machine held."""
        factor = self.look()
        if max(factor, 1 / factor) <= DRIFT_BOUND:
            return None
        return (f"the machine drifted: a fixed calibration workload takes {factor:.2f}x its "
                f"time when timing began ({self.later_s[-1] * 1e3:.0f} ms vs "
                f"{self.start_s * 1e3:.0f} ms, bound {DRIFT_BOUND}x)")

    def describe(self) -> str:
        if not self.later_s:
            return f"calibration {self.start_s * 1e3:.0f} ms {self.began}"
        verdict = "stable" if self.stable else "UNSTABLE: speed checks in this session are not trustworthy"
        return (f"calibration {self.start_s * 1e3:.0f} ms {self.began}, "
                f"{self.later_s[-1] * 1e3:.0f} ms at the end, worst drift "
                f"{self.worst_factor:.2f}x (bound {DRIFT_BOUND}x): {verdict}")
