"""One installed namespace, two layouts.

The repository keeps its folders at the top (``runner/``, ``models/``, ``compression/`` ... beside
``compbench/``): a newcomer finds each concept by its folder name. Installed, those folders would
land in site-packages as top-level packages and collide with a team's own ``models``; so the
wheel maps them under ``compbench`` (pyproject.toml ``[tool.setuptools.package-dir]``) and every
import names ``compbench.runner``, ``compbench.models``, ... This module makes those names work
in both layouts, with one module object per file:

- ``CheckoutFinder``: in a checkout (no install, or ``pip install -e .``), ``compbench.runner``
  is the folder ``./runner`` (the package itself has no ``runner`` inside it there).
- ``LegacyNames``: a pickle made before the rename names ``compression.torch_int8_ptq`` (the
  cache keeps such artifacts); the old top-level names load as aliases of the ``compbench.``
  modules, unless the environment has a package of that name of its own, which wins.
- ``built_in_module``: the short ``"models.cifar.sources:resnet20"`` references rows and
  baselines are written with (a recipe's identity in baselines/*.json is built from them).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

BUILT_IN = ("runner", "models", "tasks", "engines", "formats", "evaluation", "compression", "bench")
PACKAGE_DIR = Path(__file__).resolve().parent
# Where the built-in folders sit: inside the package when installed, beside it in a checkout.
SOURCE_ROOT = PACKAGE_DIR if (PACKAGE_DIR / "runner").is_dir() else PACKAGE_DIR.parent
IN_CHECKOUT = SOURCE_ROOT != PACKAGE_DIR


def built_in_module(name: str) -> str:
    """The module a reference's ``name`` means: a name under a built-in package (``models.x``,
    ``compression.int8_ort``, ``bench.suite``) is ``compbench.<name>`` when compbench has that
    module; any other name (``teamdigits.task``, or a team's own ``models.mine``) is itself."""
    top = name.partition(".")[0]
    if top not in BUILT_IN:
        return name
    try:
        found = importlib.util.find_spec(f"compbench.{name}") is not None
    except ImportError:   # a parent of it is missing: not ours
        found = False
    return f"compbench.{name}" if found else name


def import_reference_module(name: str):
    """``importlib.import_module`` of a reference's module, by the rule of ``built_in_module``."""
    return importlib.import_module(built_in_module(name))


class CheckoutFinder(importlib.abc.MetaPathFinder):
    """``compbench.<folder>`` → the checkout's ``<folder>/``, for exactly the built-in folders;
    their submodules are then found through the package's ``__path__`` as usual."""

    NAMES = frozenset(f"compbench.{name}" for name in BUILT_IN)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.NAMES:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [str(SOURCE_ROOT)])


class _Alias(importlib.abc.Loader):
    """Loads an old name as the ``compbench.`` module itself (``sys.modules`` then holds the
    same object under both names), keeping that module's own spec."""

    def __init__(self, target: str):
        self.target = target
        self.spec = None

    def create_module(self, spec):
        module = importlib.import_module(self.target)
        self.spec = module.__spec__
        return module

    def exec_module(self, module):
        module.__spec__ = self.spec   # the import system set the alias's spec on it


class LegacyNames(importlib.abc.MetaPathFinder):
    """The pre-namespace top-level names (``models``, ``compression.torch_int8_ptq``, ...) as
    aliases of ``compbench.<name>``.

    A top-level name is aliased only when no other finder has a package of that name (a team's
    own ``models`` wins) or the one it has is this very folder (a checkout's root on sys.path:
    the alias keeps one module object per file). It sits first on ``sys.meta_path`` so that the
    submodules of an aliased package are aliased too rather than loaded a second time through
    the package's ``__path__``; for everything else it answers None at once."""

    def find_spec(self, fullname, path=None, target=None):
        top, dot, _ = fullname.partition(".")
        if top not in BUILT_IN:
            return None
        if dot:
            parent = sys.modules.get(top)
            if parent is None or parent is not sys.modules.get(f"compbench.{top}"):
                return None    # its package is someone else's (or not aliased)
        elif self._elsewhere(top):
            return None
        try:
            spec = importlib.util.find_spec(f"compbench.{fullname}")
        except ImportError:
            return None
        if spec is None:
            return None
        return importlib.util.spec_from_loader(
            fullname, _Alias(f"compbench.{fullname}"),
            is_package=spec.submodule_search_locations is not None)

    def _elsewhere(self, top: str) -> bool:
        """Another finder has a package ``top`` that is not compbench's own folder."""
        ours = (SOURCE_ROOT / top).resolve()
        for finder in sys.meta_path:
            if finder is self or isinstance(finder, CheckoutFinder):
                continue
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            try:
                spec = find_spec(top, None)
            except (ImportError, ValueError):
                continue
            if spec is None:
                continue
            # (a namespace path may carry an editable install's path-hook entry: not a folder)
            places = [p for p in spec.submodule_search_locations or () if Path(p).is_dir()]
            if not spec.submodule_search_locations and spec.origin:
                places = [str(Path(spec.origin).parent)]
            if not places or any(Path(p).resolve() != ours for p in places):
                return True
            return False   # the same folder, found through sys.path: alias it
        return False


def install() -> None:
    """Called once by ``import compbench``."""
    if not any(isinstance(finder, LegacyNames) for finder in sys.meta_path):
        sys.meta_path.insert(0, LegacyNames())
    if IN_CHECKOUT and not any(isinstance(finder, CheckoutFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, CheckoutFinder())
