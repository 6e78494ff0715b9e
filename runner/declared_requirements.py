"""A row's declared requirements, checked against what its steps really loaded.

``Row.requires`` (and the model's, the conversion's and the engine's) name the distributions a
variant needs, so a missing one is a skip naming the extra to install instead of an ImportError.
Declarations drift; the recorded dependencies of every step (``compbench.dependencies``) do not.
So every build and evaluation checks: each distribution it loaded that one of compbench's extras
installs must belong to an extra the variant declares. The extras are read from compbench's own package
metadata (``pyproject.toml``), not from another list.
"""

from __future__ import annotations

from compbench.dependencies import normalize_name
from compbench.errors import CompbenchError
from compbench.extras import extras_of_distributions


class UndeclaredRequirement(CompbenchError):
    """A step loaded a framework that its variant's row does not declare."""


def undeclared(loaded_distributions: list[str], declared_extras: set[str]) -> list[str]:
    table = extras_of_distributions()
    return sorted(dist for dist in loaded_distributions
                  if (extras := table.get(normalize_name(dist))) and not extras & declared_extras)


def check_declared(variant, step: str, dependencies: dict) -> None:
    from compbench.engines.registry import engine_config, extras_for

    declared = set(extras_for(variant.requires + engine_config(variant.engine).requires))
    missing = undeclared(list(dependencies.get("distributions", {})), declared)
    if missing:
        raise UndeclaredRequirement(
            f"the {step} step of {variant.id} loaded {', '.join(missing)}, which its row in "
            f"the matrix (bench/suite.py for the built-in suite) does not declare (declared extras: "
            f"{', '.join(sorted(declared)) or 'none'}). Add its distribution name to the row's "
            "`requires` (or the model's), so a machine without it skips this variant cleanly.")
