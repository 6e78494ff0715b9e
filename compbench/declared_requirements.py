"""A row's declared requirements, checked against what its steps really loaded.

``Row.requires`` (and the engine's and conversion's packages) say what a variant needs, so a
missing package is a skip naming the extra to install instead of an ImportError. Declarations
drift; the recorded dependencies of every step (``compbench.dependencies``) do not. So every
build and evaluation checks: each distribution it loaded that one of compbench's extras installs
must belong to an extra the variant declares. The extras are read from compbench's own package
metadata (``pyproject.toml``), not from another list.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re

from compbench.errors import CompbenchError

NOT_DECLARABLE = ("all", "dev")


class UndeclaredRequirement(CompbenchError):
    """A step loaded a framework that its variant's row does not declare."""


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def extras_of_distributions() -> dict[str, frozenset[str]]:
    """Distribution → the compbench extras that install it (base dependencies excluded)."""
    from packaging.requirements import Requirement

    metadata = importlib.metadata.metadata("compbench")
    extras = [e for e in metadata.get_all("Provides-Extra") or [] if e not in NOT_DECLARABLE]
    found: dict[str, set[str]] = {}
    base: set[str] = set()
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is None:
            base.add(normalize(requirement.name))
            continue
        for extra in extras:
            if requirement.marker.evaluate({"extra": extra}):
                found.setdefault(normalize(requirement.name), set()).add(extra)
    return {name: frozenset(values) for name, values in found.items() if name not in base}


def undeclared(loaded_distributions: list[str], declared_extras: set[str]) -> list[str]:
    table = extras_of_distributions()
    return sorted(dist for dist in loaded_distributions
                  if (extras := table.get(normalize(dist))) and not extras & declared_extras)


def check_declared(variant, step: str, dependencies: dict) -> None:
    from engines.registry import engine_config, extras_for

    declared = set(extras_for(variant.requires + engine_config(variant.engine).packages))
    missing = undeclared(list(dependencies.get("distributions", {})), declared)
    if missing:
        raise UndeclaredRequirement(
            f"the {step} step of {variant.id} loaded {', '.join(missing)}, which its row in "
            f"compbench/variants.py does not declare (declared extras: "
            f"{', '.join(sorted(declared)) or 'none'}). Add the import name to the row's "
            "`requires` (or the model's), so a machine without it skips this variant cleanly.")
