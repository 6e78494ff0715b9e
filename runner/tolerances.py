"""How far each gated value may move: the defaults a new baseline file starts from.

Accuracy metrics, their direction and their default tolerances are facts of each task and are
declared there (``tasks/<name>.py``); this module owns only the runner's own measurements (sizes,
speed-up, the compression census). The defaults fill a new profile and back any metric a file
does not list; a file's own ``tolerances`` always win, so recorded files gate exactly as they
were recorded. Each entry's ``why`` is copied into the files and says where its width comes from.
"""

from __future__ import annotations

import functools

from compbench.tasks import Metric, all_tasks, declaration

RUNNER_TOLERANCES: dict[str, dict] = {
    "size_bytes": {"rel": 0.02, "why": "serialisation metadata varies by a few hundred bytes"},
    "size_gzip_bytes": {"rel": 0.02, "why": "as size_bytes"},
    "speedup": {"rel": 0.15, "why": "paired interval vs the cold recording, wider than unchanged "
                                    "sessions move a 1 ms+ forward's speed-up (docs/speed-gate-study)"},
    # the compression census (runner/census.py, docs/compression-census.md)
    **{count: {"abs": 0, "why": "an operator count of the executed graph: one operator leaving "
                                "int8 is the silent bug the census is for"}
       for count in ("int8_convs", "float_convs", "int8_matmuls", "float_matmuls")},
    "zero_fraction": {"abs": 0.002, "why": "fine-tuned sparsity sits at its target; rebuilds move "
                                           "it by ties at the magnitude threshold only"},
    "conv_channels": {"abs": 0, "why": "structured pruning's kept channels are set by its ratio"},
    "max_distinct_per_kernel": {"abs": 0, "why": "clustering leaves at most its cluster count; "
                                               "an fp16 IR may merge, never add, values"},
}
CENSUS_METRICS = ("int8_convs", "float_convs", "int8_matmuls", "float_matmuls", "zero_fraction",
                  "conv_channels", "max_distinct_per_kernel")
RUNNER_CROSS_HARDWARE_TOLERANCES: dict[str, dict] = {
    "speedup": {"rel": 0.8, "why": "int8 speed-ups on AVX2-only measured down to 0.28x of the "
                                   "VNNI values (int8-qat/torch 1.62x vs 5.86x)"},
}


# Derived from the task declarations, never listed here (one task may share another's metric
# only by declaring it identically, so a name is enough to find its facts). Functions, not
# constants: a project's own tasks are known once its matrix is loaded, after this import.
def _declared() -> dict[str, Metric]:
    """The metrics of the tasks the session's models use (a project's baseline file knows its
    own tasks' metrics, not those of every task compbench ships)."""
    from compbench.runner.matrix import active

    return _declared_by(active())


@functools.lru_cache(maxsize=4)   # per matrix: asked for every value a baseline file holds
def _declared_by(matrix) -> dict[str, Metric]:
    used = {declaration(model.task).name for model in matrix.models.values()}
    return {m.name: m for task in all_tasks().values() if task.name in used for m in task.metrics}


def accuracy_metrics() -> tuple[str, ...]:
    return tuple(_declared())


def default_tolerances() -> dict[str, dict]:
    return {**{name: m.tolerance.as_entry() for name, m in _declared().items()}, **RUNNER_TOLERANCES}


def cross_hardware_tolerances() -> dict[str, dict]:
    return {**{name: m.cross_hardware.as_entry() for name, m in _declared().items()},
            **RUNNER_CROSS_HARDWARE_TOLERANCES}


def known_metrics() -> tuple[str, ...]:
    return tuple(default_tolerances())
