"""Loading a project's plugins and asking them for the matrix (hooks: ``compbench.runner.hookspec``).

The plugins are the project's own modules, named in its configuration (``compbench.project``)
or replaced for one run by ``--matrix``/``COMPBENCH_MATRIX``, plus installed packages that
register under the ``compbench`` entry-point group. An explicit list is taken as the whole
list: a run asked for one matrix gets that one, whatever else is installed.
"""

from __future__ import annotations

import os
import sys
import traceback

import pluggy

from compbench.errors import CompbenchError
from compbench.layout import import_reference_module
from compbench.project import Project, current
from compbench.runner import hookspec
from compbench.runner.matrix import Matrix

MATRIX_ENV = "COMPBENCH_MATRIX"
MATRIX_SETTING = f"--matrix or {MATRIX_ENV}"


class PluginError(CompbenchError):
    """A declared plugin cannot be imported, or failed while declaring."""


def _where_it_failed(exc: Exception) -> str:
    """The error and the plugin's line it came from (a syntax error has no frame of its own)."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}:{exc.lineno})"
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{type(exc).__name__}: {exc} ({frame.filename}:{frame.lineno})"


def explicit_plugins(option: str | None = None) -> tuple[str, ...] | None:
    """``--matrix`` (or ``COMPBENCH_MATRIX``): comma-separated module names, or None."""
    raw = option if option is not None else os.environ.get(MATRIX_ENV)
    if not raw:
        return None
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def plugin_manager(project: Project, modules: tuple[str, ...] | None = None) -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspec.PROJECT_NAME)
    manager.add_hookspecs(hookspec)
    # the project's modules import from its folder, as pytest imports a rootdir's conftest
    if str(project.root) not in sys.path:
        sys.path.insert(0, str(project.root))
    where = MATRIX_SETTING if modules is not None else f"{project.config_file} [tool.compbench] plugins"
    for name in modules if modules is not None else project.plugins:
        try:
            # a built-in module by its short name (this repository's configuration names its
            # suite so), installed or not: the rule of compbench.specs.resolve
            module = import_reference_module(name)
        except ImportError as exc:
            raise PluginError(f"plugin {name!r} (from {where}) cannot be imported: {exc}. "
                              f"It must be a module importable from {project.root} or installed "
                              "in this environment") from None
        except CompbenchError:     # a declaration checked as it was built: its own message
            raise
        except Exception as exc:   # a syntax error or a bug at the module's top level
            raise PluginError(f"plugin {name!r} (from {where}) failed to import: "
                              f"{_where_it_failed(exc)}") from None
        if not hasattr(module, "compbench_declare"):
            raise PluginError(f"plugin {name!r} (from {where}) implements no compbench hook: "
                              "define compbench_declare(matrix) (compbench.runner.hookspec)")
        if manager.get_plugin(name) is None:
            manager.register(module, name)
    if modules is None:
        manager.load_setuptools_entrypoints(hookspec.PROJECT_NAME)
    return manager


def load_matrix(project: Project | None = None, modules: tuple[str, ...] | None = None) -> Matrix:
    """The project's matrix, declared by its plugins and checked (every row expanded)."""
    project = project or current()
    modules = modules if modules is not None else explicit_plugins()
    manager = plugin_manager(project, modules)
    matrix = Matrix()
    try:
        # in the order the configuration lists them (pluggy itself would call the last
        # registered first), so the report's rows follow the declarations
        for implementation in manager.hook.compbench_declare.get_hookimpls():
            implementation.function(matrix=matrix)
    except CompbenchError:
        raise
    except Exception as exc:  # a plugin's own bug: name it, keep its last frame
        raise PluginError(f"a compbench plugin failed while declaring its matrix: "
                          f"{_where_it_failed(exc)}") from None
    if not matrix.rows:
        named = ", ".join(modules if modules is not None else project.plugins) or "none"
        raise PluginError(f"the plugins of {project.config_file} ({named}) declared no rows: add "
                          "models and rows in compbench_declare (compbench.runner.hookspec)")
    matrix.variants  # noqa: B018 - expand and check every row now
    return matrix
