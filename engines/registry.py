"""The engines, found by reading each engine module's own declaration (``ENGINES``).

Nothing else lists engines: a new engine is one module in this package with its declaration,
so its name, format, requirements, family and parity bound cannot disagree with a second table.
Every module is imported to read it, which is why engine modules import their frameworks lazily
(``tox -e onnxruntime`` has no TensorFlow). Discovery runs on first use, not on import, so a step
that only loads an engine it was given (``load_engine``) imports that engine's module alone.

Requirements are distribution names; the extra that installs one is read from compbench's
package metadata (``compbench.extras``, i.e. ``pyproject.toml``), the tox env that runs an
engine is its family (``tests/test_declarations.py`` holds tox.ini to that).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
import pkgutil
from collections.abc import Iterable

import compbench.engines as engines
from compbench.dependencies import installed_version, normalize_name
from compbench.engines.base import Engine, EngineSpec
from compbench.errors import EngineUnavailable
from compbench.extras import extras_of_distributions

_NOT_ENGINES = ("base", "registry")


@functools.cache
def _discovered() -> dict[str, EngineSpec]:
    found: dict[str, EngineSpec] = {}
    for info in pkgutil.iter_modules(engines.__path__):
        if info.name in _NOT_ENGINES or info.name.startswith("_"):
            continue
        module_name = f"{engines.__name__}.{info.name}"
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ImportError(
                f"{module_name} cannot be imported to read its declaration ({exc}); engine "
                "modules import their frameworks inside functions, see engines/registry.py"
            ) from exc
        for spec in getattr(module, "ENGINES", ()):  # a module without one is a helper
            if spec.name in found:
                raise ValueError(f"engine {spec.name!r} is declared by both {found[spec.name].module} "
                                 f"and {module_name}")
            found[spec.name] = dataclasses.replace(spec, module=module_name)
    return dict(sorted(found.items()))


def __getattr__(name: str):
    if name == "ENGINES":  # name → EngineSpec, sorted by name
        return _discovered()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def families() -> dict[str, list[str]]:
    """Family (= the tox env running it) → its engines."""
    grouped: dict[str, list[str]] = {}
    for spec in _discovered().values():
        grouped.setdefault(spec.family, []).append(spec.name)
    return grouped


def engine_config(name: str) -> EngineSpec:
    try:
        return _discovered()[name]
    except KeyError:
        raise EngineUnavailable(f"unknown engine {name!r}; known: {', '.join(_discovered())}") from None


def missing_distributions(distributions: Iterable[str]) -> list[str]:
    """The ones not installed: what pip installed, not what happens to be importable (the
    same lookup that records a step's distributions for the cache)."""
    return [name for name in distributions if installed_version(name) is None]


def extras_for(distributions: Iterable[str]) -> list[str]:
    """Every compbench extra that installs one of ``distributions`` (a declaration names
    distributions, the check of what a step loaded compares extras)."""
    table = extras_of_distributions()
    return sorted({extra for name in distributions for extra in table.get(normalize_name(name), ())})


def install_hint(missing: Iterable[str], family: str) -> str:
    """How to get ``missing`` installed: one extra per distribution, and the tox env."""
    table = extras_of_distributions()
    missing = list(missing)
    orphans = [name for name in missing if normalize_name(name) not in table]
    if orphans:  # a declaration drifted from pyproject.toml (tests/test_declarations.py)
        return (f"No extra in pyproject.toml installs {', '.join(orphans)}: add it to "
                "[project.optional-dependencies].")
    extras = sorted({min(table[normalize_name(name)]) for name in missing})
    return (f"Install them with: pip install -e '.[{','.join(extras)}]' "
            f"-c constraints/known-good.txt (or run `tox -e {family}`).")


def unavailable(subject: str, distributions: Iterable[str], family: str) -> EngineUnavailable | None:
    """The skip reason when some of ``distributions`` are not installed (None: all are)."""
    missing = missing_distributions(distributions)
    if not missing:
        return None
    return EngineUnavailable(f"{subject} needs the Python distribution(s) {', '.join(missing)}, "
                             f"which are not installed. {install_hint(missing, family)}")


def get_engine(name: str) -> Engine:
    return load_engine(engine_config(name))


def load_engine(spec: EngineSpec) -> Engine:
    problem = unavailable(f"engine {spec.name!r}", spec.requires, spec.family)
    if problem:
        raise problem
    return importlib.import_module(spec.module).create(spec)
