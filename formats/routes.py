"""The conversion graph, read from the edge modules themselves.

Each ``formats/<source>_to_<target>.py`` is the one place that states what it converts and what
it needs (``SOURCE``, ``TARGET``, ``REQUIRES``, ``convert``). Routes, the convert step and the
variants' conversion requirements (``compbench.runner.matrix.expand``) are derived from those modules, so
adding a conversion is adding one file, and no table elsewhere can disagree with it.

Edge modules import their frameworks inside ``convert``: discovering the graph (done by every
process that lists variants) must not pay for torch, TensorFlow or OpenVINO.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import pkgutil
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from types import ModuleType

from compbench.errors import CompbenchError
from compbench.formats.artifacts import FILENAMES, Artifact, artifact_in

PACKAGE = "compbench.formats"
EDGE_NAME = re.compile(r"^(?P<source>[a-z0-9]+)_to_(?P<target>[a-z0-9]+)$")


class NoRoute(CompbenchError, ValueError):
    """No chain of edge modules converts one format into another (a ValueError for callers that
    predate this class)."""


class BadEdge(CompbenchError):
    """An edge module's file name, declarations or formats do not agree."""


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    requires: tuple[str, ...]  # distribution names (as in pyproject's extras)
    module: str
    convert: Callable[[Path, Path, tuple[int, ...], bool], None]


def _edge_of(module: ModuleType) -> Edge | None:
    """The edge ``module`` declares, or None when it is no edge; a half-declared edge is an
    error, since silently dropping it would turn into a confusing "no conversion" later."""
    short = module.__name__.rpartition(".")[2]
    named = EDGE_NAME.match(short)
    declares = hasattr(module, "SOURCE") or hasattr(module, "TARGET")
    if not named and not declares:
        return None
    where = module.__file__ or module.__name__
    if not named:
        raise BadEdge(f"{where} declares a conversion but is not named <source>_to_<target>.py; "
                      f"rename it to {getattr(module, 'SOURCE', '?')}_to_"
                      f"{getattr(module, 'TARGET', '?')}.py")
    missing = [name for name in ("SOURCE", "TARGET", "REQUIRES", "convert")
               if not hasattr(module, name)]
    if missing:
        raise BadEdge(f"{where} is named like a conversion edge but lacks {', '.join(missing)}")
    source, target = module.SOURCE, module.TARGET
    if (source, target) != (named["source"], named["target"]):
        raise BadEdge(f"{where} is named {short} but declares SOURCE={source!r}, "
                      f"TARGET={target!r}; the file name and the declaration must agree")
    unknown = [fmt for fmt in (source, target) if fmt not in FILENAMES]
    if unknown:
        raise BadEdge(f"{where} uses unknown format(s) {', '.join(map(repr, unknown))}; "
                      f"known formats (compbench.formats.artifacts.FILENAMES): {', '.join(FILENAMES)}")
    requires = module.REQUIRES
    if not isinstance(requires, tuple) or not all(isinstance(r, str) for r in requires):
        raise BadEdge(f"{where}: REQUIRES must be a tuple of distribution names")
    return Edge(source, target, requires, module.__name__, module.convert)


@functools.cache
def edges(package: str = PACKAGE) -> dict[tuple[str, str], Edge]:
    """Every edge module in ``package``, keyed by (source, target).

    Every module is imported (they are cheap by contract) so that a misnamed edge is reported
    rather than ignored. ``package`` is a parameter so a test can discover a copy of formats/.
    """
    found: dict[tuple[str, str], Edge] = {}
    root = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda info: info.name):
        if info.ispkg or info.name.startswith("_"):
            continue
        edge = _edge_of(importlib.import_module(f"{package}.{info.name}"))
        if edge is not None:
            found[(edge.source, edge.target)] = edge
    return found


def _no_route(source: str, target: str, package: str) -> NoRoute:
    unknown = [fmt for fmt in (source, target) if fmt not in FILENAMES]
    note = (f" ({', '.join(map(repr, unknown))} is no known format: {', '.join(FILENAMES)})"
            if unknown else "")
    known = ", ".join(f"{a}→{b}" for a, b in sorted(edges(package)))
    return NoRoute(f"no conversion from {source} to {target}{note}; remove that engine from "
                   f"the variant's row (bench/suite.py for the built-in suite), or add a "
                   f"formats/{source}_to_<format>.py edge (known edges: {known})")


def route(source: str, target: str, package: str = PACKAGE) -> list[str]:
    """Formats to produce, in order, to get from ``source`` to ``target`` (empty when equal).

    Fewest conversions first, since each one is a cached step and a chance to lose accuracy;
    ties go to the alphabetically first intermediate format so a route never depends on the
    order files happen to be listed in.
    """
    if source == target:
        return []
    successors: dict[str, list[str]] = {}
    for a, b in sorted(edges(package)):
        successors.setdefault(a, []).append(b)
    parent: dict[str, str] = {source: source}
    queue = deque([source])
    while queue:
        current = queue.popleft()
        for following in successors.get(current, []):
            if following in parent:
                continue
            parent[following] = current
            if following == target:
                path = [target]
                while parent[path[-1]] != source:
                    path.append(parent[path[-1]])
                return path[::-1]
            queue.append(following)
    raise _no_route(source, target, package)


def requirements(source: str, target: str, package: str = PACKAGE) -> tuple[str, ...]:
    """Distributions the conversions from ``source`` to ``target`` need, in route order."""
    formats = [source, *route(source, target, package)]
    found = edges(package)
    return tuple(dict.fromkeys(r for a, b in pairwise(formats)
                               for r in found[(a, b)].requires))


def direct_edge(source: str, target: str, package: str = PACKAGE) -> Edge:
    """The one edge module from ``source`` to ``target``, imported alone: a convert step's
    recorded dependencies (its cache key) then name only the edge it ran, so editing one
    converter rebuilds only its own conversions."""
    name = f"{source}_to_{target}"
    if (not EDGE_NAME.match(name) or source not in FILENAMES or target not in FILENAMES
            or importlib.util.find_spec(f"{package}.{name}") is None):
        raise NoRoute(f"no direct conversion from {source} to {target}; "
                      f"use compbench.formats.routes.route({source!r}, {target!r}) for the chain")
    edge = _edge_of(importlib.import_module(f"{package}.{name}"))
    assert edge is not None  # the name matched, so it is an edge or BadEdge was raised
    return edge


def convert_step(source: Artifact, target_format: str, out_dir: Path,
                 input_shape: tuple[int, ...], dynamic_batch: bool = False) -> Artifact:
    """One direct conversion (one edge of ``route``), written into ``out_dir``."""
    edge = direct_edge(source.format, target_format)
    target = artifact_in(out_dir, target_format)
    edge.convert(source.path, target.path, input_shape, dynamic_batch)
    return target
