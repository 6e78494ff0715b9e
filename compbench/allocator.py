"""Keep freed memory in the process while timing, so a forward pass does not page-fault.

glibc returns large freed blocks to the kernel (mmap'd chunks are unmapped, the heap top is
trimmed), so every forward pass of a model whose activations are megabytes maps them afresh,
a large share of a forward's time spent in the kernel (docs/concepts/speed-gate.md, "Machine
state"), and how expensive those faults are depends on what the process did before (the unit
tests, other engines). A serving process that stays up keeps that memory warm; a benchmark
should measure the model, not the allocator's give-back policy. Fixed thresholds (glibc's
``mallopt``) keep blocks up to 32 MB on the heap and never trim it — the effect that
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` would have if set before start-up.
Loading TensorFlow's library calls ``mallopt`` itself and puts glibc's defaults back (large
allocations fault again after ``import tensorflow``), so the thresholds are applied again
before every timing, not once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc's maximum on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD_BYTES = 1 << 30


@functools.cache
def _mallopt() -> Callable[[int, int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return None


def keep_freed_memory() -> str:
    """Apply the thresholds (idempotent, microseconds); say what was done (report header)."""
    mallopt = _mallopt()
    if mallopt is None:
        return "allocator: default (no glibc mallopt here)"
    if not (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
            and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)):
        return "allocator: default (glibc refused the thresholds)"
    return (f"allocator: glibc keeps freed blocks up to {MMAP_THRESHOLD_BYTES >> 20} MB, "
            "heap never trimmed")
