"""Tasks bind a model family to its data and accuracy protocol (WIDER FACE AP, CIFAR-10 top-1).

A registry, not a dispatch: each ``tasks/<name>.py`` declares ``TASK`` (``tasks.base``) and is
found by listing this package, so adding a task touches no other file. Looking up one task by
name imports that module only; listing them all (the report, the baseline gate) imports every
task module but none of their protocols, which load where an evaluation runs.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from compbench.assets import Assets
from compbench.specs import ModelSpec
from tasks.base import Metric, Task, TaskDeclaration, UnknownTask

__all__ = ["Metric", "Task", "TaskDeclaration", "UnknownTask", "all_tasks", "create_task",
           "declaration", "metric"]

_NOT_TASKS = frozenset({"base"})


def _module_names() -> list[str]:
    # Listing reads the folder and imports nothing.
    return sorted(info.name for info in pkgutil.iter_modules(__path__)
                  if not info.ispkg and not info.name.startswith("_") and info.name not in _NOT_TASKS)


def _declared_by(module_name: str) -> TaskDeclaration | None:
    module = importlib.import_module(f"{__name__}.{module_name}")
    declared = getattr(module, "TASK", None)
    if declared is None:
        return None  # a helper module shared by tasks
    if not isinstance(declared, TaskDeclaration) or declared.name != module_name:
        raise TypeError(f"tasks/{module_name}.py: TASK must be a TaskDeclaration named "
                        f"{module_name!r} (the lookup finds a task by its module's name), got "
                        f"{declared!r:.80}")
    return declared


@functools.cache
def all_tasks() -> dict[str, TaskDeclaration]:
    """Every declared task, by name (sorted by name, so the order does not follow the disk)."""
    found: dict[str, TaskDeclaration] = {}
    metrics: dict[str, tuple[str, Metric]] = {}
    for module_name in _module_names():
        declared = _declared_by(module_name)
        if declared is None:
            continue
        for candidate in declared.metrics:
            # The baseline file keys tolerances by metric name alone: two tasks may share a
            # metric (two classifiers' top-1) only if they declare it identically.
            owner, earlier = metrics.setdefault(candidate.name, (declared.name, candidate))
            if earlier != candidate:
                raise TypeError(f"tasks {owner!r} and {declared.name!r} both declare metric "
                                f"{candidate.name!r}, differently: rename one or make them equal")
        found[declared.name] = declared
    return found


def declaration(name: str) -> TaskDeclaration:
    """The declaration of task ``name``, importing ``tasks/<name>.py`` and nothing else."""
    declared = _declared_by(name) if name in _module_names() else None
    if declared is None:
        raise UnknownTask(f"unknown task {name!r}: the known tasks are {', '.join(all_tasks())} "
                          f"(a task is a module tasks/<name>.py that declares TASK)")
    return declared


def metric(name: str) -> Metric | None:
    """The declared accuracy metric ``name`` of any task, or None for the runner's own values
    (size, speed-up)."""
    for declared in all_tasks().values():
        for candidate in declared.metrics:
            if candidate.name == name:
                return candidate
    return None


def create_task(model: ModelSpec, assets: Assets) -> Task:
    try:
        declared = declaration(model.task)
    except UnknownTask as exc:
        raise UnknownTask(f"model {model.name}: {exc}") from None
    return declared.create(model, assets)
