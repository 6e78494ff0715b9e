"""The hooks through which a project tells compbench what to benchmark.

A plugin is any importable module (or installed package) that implements these hooks with
``compbench.runner.hookspec.hookimpl``. compbench finds plugins the way asv finds a project's own
benchmarks and plugins: the project names them in its ``pyproject.toml``, and installed
packages may add themselves through an entry point. The built-in suite is declared exactly
like this (``bench/suite.py``, named in this repository's ``pyproject.toml``)::

    # pyproject.toml of your project
    [tool.compbench]
    plugins = ["mybench.matrix"]        # modules, importable from the project's folder

    # or, for a package installed into the environment
    [project.entry-points.compbench]
    mybench = "mybench.matrix"

``--matrix mybench.matrix`` (pytest and the ``compbench`` command) or ``COMPBENCH_MATRIX``
replace the configured list for one run. docs/how-to/own-model.md walks through a whole project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from compbench.runner.matrix import Matrix

PROJECT_NAME = "compbench"   # pluggy's name for the hooks, and the entry-point group
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def compbench_declare(matrix: Matrix) -> None:
    """Declare models and rows: called once per session, on every plugin, in the order the
    configuration lists them (entry-point plugins after).

    Each ``ModelSpec`` and ``Row`` checks its fields as it is built, and the matrix checks the
    rows against the models and engines once all plugins have declared, so a typo is one
    message naming the row and the field, before anything is built::

        from compbench.runner.hookspec import hookimpl
        from compbench.specs import ModelSpec, Row

        @hookimpl
        def compbench_declare(matrix):
            matrix.add_model(ModelSpec(
                name="digits_cnn", task="mybench.task:TASK",
                source="mybench.model:fp32_model", weights=(),
                input_shape=(1, 1, 8, 8), reference_engine="torch",
                description="8x8 digits CNN, top-1"))
            matrix.add_row(Row(model="digits_cnn", compression="fp32",
                               recipe="compression.fp32:fp32", engines=("torch", "onnxruntime")))
    """
