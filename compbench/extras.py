"""compbench's pyproject extras, read from its installed package metadata.

``pyproject.toml`` is the one owner of "which extra installs which distribution"; everything
that needs the mapping (skip messages, the declared-requirements check, provenance) reads it
from the metadata pip generated from that file instead of keeping a copy.
"""

from __future__ import annotations

import functools
import importlib.metadata

from compbench.dependencies import normalize_name

NOT_DECLARABLE = ("all", "dev")  # umbrella and tooling extras: never what a variant needs


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
            base.add(normalize_name(requirement.name))
            continue
        for extra in extras:
            if requirement.marker.evaluate({"extra": extra}):
                found.setdefault(normalize_name(requirement.name), set()).add(extra)
    return {name: frozenset(values) for name, values in found.items() if name not in base}
