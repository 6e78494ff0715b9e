"""The footprint step, in a step interpreter (``compbench.isolation``) like ``compbench.runner.steps``.

Its own module so that adding it did not change ``runner/steps.py``, which every cached entry
records as a dependency (editing it rebuilds the whole cache).
"""

from __future__ import annotations

from pathlib import Path

from compbench.runner.steps import _assets


def _status_mb(field: str) -> float:
    """A field of /proc/self/status (VmRSS: resident now, VmHWM: the peak so far), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def footprint(request: dict, out_dir: Path) -> dict:
    """What one artifact costs on one engine in a fresh process: the resident memory before the
    engine is touched (interpreter, numpy, the task's data), the peak after loading the artifact
    and ``request["forwards"]`` batch-1 forwards (the kernel's high-water mark, VmHWM: every
    page the engine, its library and the model ever held), and the start-up time — importing
    the engine's library, loading the artifact, the first output."""
    import time

    import numpy as np

    from compbench.engines.base import EngineSpec
    from compbench.engines.registry import load_engine
    from compbench.specs import Variant
    from compbench.tasks import create_task

    variant = Variant.from_request(request["variant"])
    inputs = create_task(variant.model, _assets(request)).sample_input()
    spec = EngineSpec(**{**request["engine"], "requires": tuple(request["engine"]["requires"]),
                         "threads": request["threads"]})
    before = _status_mb("VmRSS")
    began = time.perf_counter()
    session = load_engine(spec).load(Path(request["artifact"]))
    first = session.run(inputs)
    startup = time.perf_counter() - began
    for _ in range(request["forwards"] - 1):
        session.run(inputs)
    if not all(np.isfinite(np.asarray(o)).all() for o in first):
        raise RuntimeError(f"{variant.id}: non-finite outputs while measuring its footprint")
    return {"rss_before_mb": round(before, 1), "peak_rss_mb": round(_status_mb("VmHWM"), 1),
            "startup_s": round(startup, 3)}
