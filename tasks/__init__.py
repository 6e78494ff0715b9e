"""Tasks bind a model family to its data and accuracy protocol (WIDER FACE AP, CIFAR-10 top-1).

A registry, not a dispatch: each ``tasks/<name>.py`` declares ``TASK`` (``compbench.tasks.base``) and is
found by listing this package, so adding a task touches no other file. Looking up one task by
name imports that module only; listing them all (the report, the baseline gate) imports every
task module but none of their protocols, which load where an evaluation runs.

A project's own task lives in its own repository: a model names it as
``"package.module:ATTRIBUTE"`` (a ``TaskDeclaration``), and once looked up it is listed with
the built-in ones (the session's matrix looks up each model's task when it is expanded).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from compbench.assets import Assets
from compbench.layout import import_reference_module
from compbench.specs import ModelSpec
from compbench.tasks.base import Metric, Task, TaskDeclaration, UnknownTask

__all__ = ["Metric", "Task", "TaskDeclaration", "UnknownTask", "all_tasks", "create_task",
           "declaration", "metric"]

_NOT_TASKS = frozenset({"base"})
_REFERENCED: dict[str, TaskDeclaration] = {}   # a project's own tasks, by reference


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
    built_in = (_declared_by(module_name) for module_name in _module_names())
    for declared in [*built_in, *_REFERENCED.values()]:
        if declared is None:
            continue
        if declared.name in found and found[declared.name] is not declared:
            raise TypeError(f"two tasks are named {declared.name!r}: rename the project's own")
        for candidate in declared.metrics:
            # The baseline file keys tolerances by metric name alone: two tasks may share a
            # metric (two classifiers' top-1) only if they declare it identically.
            owner, earlier = metrics.setdefault(candidate.name, (declared.name, candidate))
            if earlier != candidate:
                raise TypeError(f"tasks {owner!r} and {declared.name!r} both declare metric "
                                f"{candidate.name!r}, differently: rename one or make them equal")
        found[declared.name] = declared
    return found


def _referenced(reference: str) -> TaskDeclaration:
    module_name, _, attribute = reference.partition(":")
    try:
        # a built-in module by its short name too, as compbench.specs.resolve reads references
        declared = getattr(import_reference_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise UnknownTask(f"task {reference!r} cannot be found ({exc}): it must name a "
                          "TaskDeclaration in a module importable from the project's folder") from None
    if not isinstance(declared, TaskDeclaration):
        raise UnknownTask(f"task {reference!r} is {type(declared).__name__}, not a "
                          "compbench.tasks.base.TaskDeclaration")
    if _REFERENCED.get(reference) is not declared:
        _REFERENCED[reference] = declared
        all_tasks.cache_clear()
        try:
            all_tasks()   # its name and metrics checked against every other task's now
        except TypeError as exc:
            del _REFERENCED[reference]
            all_tasks.cache_clear()
            raise UnknownTask(f"task {reference!r}: {exc}") from None
    return declared


def declaration(name: str) -> TaskDeclaration:
    """The declaration of task ``name``: a built-in name imports ``tasks/<name>.py`` and
    nothing else; a ``module:ATTRIBUTE`` reference imports the project's module."""
    if ":" in name:
        return _referenced(name)
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
