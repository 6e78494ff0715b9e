"""The matrix object: what one project benchmarks, built through the public declaration API.

Every runner module asks this object (``active()``) for variants instead of reading a table's
module globals, so the built-in suite (``bench/suite.py``) and a team's own project
(``docs/how-to/own-model.md``) go through the same code: plugins named by the project's
configuration declare models and rows into a ``Matrix`` (``compbench.runner.hookspec``), and the
matrix expands them into variants once, checking every row before anything is built.

Variant ids are ``<model>/<compression>/<engine>``; a row lists the engines it runs on, and a
combination that cannot work is simply absent, so nothing is skipped at run time for being
impossible.
"""

from __future__ import annotations

from dataclasses import replace

from compbench.errors import EngineUnavailable, UnknownVariant
from compbench.specs import ModelSpec, Row, SpecError, Variant


class Matrix:
    """Models and rows in declaration order (the order of the report's rows), and the variants
    they expand to. Declarations are refused once the variants have been read: a plugin that
    adds a row after the session started would leave earlier readers with another matrix."""

    def __init__(self) -> None:
        self.models: dict[str, ModelSpec] = {}
        self.rows: list[Row] = []
        self._variants: dict[str, Variant] | None = None

    def add_model(self, model: ModelSpec) -> None:
        self._open(f"model {getattr(model, 'name', model)!r}")
        if not isinstance(model, ModelSpec):
            raise SpecError(f"add_model({model!r:.60}): expected a compbench.specs.ModelSpec")
        if model.name in self.models:
            raise SpecError(f"model {model.name!r} is declared twice (a model name is part of "
                            "every variant id and baseline key: rename one)")
        self.models[model.name] = model

    def add_row(self, row: Row) -> None:
        self._open(f"row {getattr(row, 'model', '?')}/{getattr(row, 'compression', row)}")
        if not isinstance(row, Row):
            raise SpecError(f"add_row({row!r:.60}): expected a compbench.specs.Row")
        if any((r.model, r.compression) == (row.model, row.compression) for r in self.rows):
            raise SpecError(f"row {row.model}/{row.compression} is declared twice")
        self.rows.append(row)

    def _open(self, what: str) -> None:
        if self._variants is not None:
            raise SpecError(f"{what}: declared after the matrix was expanded; declare models and "
                            "rows in the compbench_declare hook (compbench.runner.hookspec)")

    @property
    def variants(self) -> dict[str, Variant]:
        """Every variant by id, in row order (expanded and checked on first use)."""
        if self._variants is None:
            self._variants = {variant.id: variant for variant in expand(self.models, self.rows)}
        return self._variants

    def get(self, variant_id: str) -> Variant:
        try:
            return self.variants[variant_id]
        except KeyError:
            known = "\n  ".join(self.variants)
            raise UnknownVariant(
                f"unknown variant id {variant_id!r}. Known ids (`compbench variants`):\n  {known}"
            ) from None

    def upstream_of(self, variant: Variant) -> Variant | None:
        """In a chain, the variant whose recipe build is this one's source model (any engine of
        that row: a build does not depend on the engine)."""
        if not variant.after:
            return None
        prefix = f"{variant.model.name}/{variant.after}/"
        return next(v for v in self.variants.values() if v.id.startswith(prefix))

    def reference_of(self, variant: Variant) -> Variant:
        """The fp32 variant on the model's reference engine: the speed-up denominator."""
        return self.get(f"{variant.model.name}/fp32/{variant.model.reference_engine}")

    def select(self, patterns: list[str] | None) -> list[Variant]:
        """Variants whose id contains any of ``patterns`` (all when empty)."""
        if not patterns:
            return list(self.variants.values())
        return [v for v in self.variants.values() if any(p in v.id for p in patterns)]


def expand(models: dict[str, ModelSpec], rows: list[Row]) -> list[Variant]:
    """Rows → variants, in row order.

    A variant also needs what converting the model into its engine's format needs, and that
    depends on the route (torch reaches OpenVINO through ONNX, Keras directly): the edge
    modules on the route declare it, so it is derived here rather than kept as a second table.
    A row naming an undeclared model, a missing chain step or an engine that no module declares
    fails here, before anything is built.
    """
    from compbench.engines.registry import engine_config
    from compbench.formats.routes import requirements as conversion_requires

    def requires(model: ModelSpec, row: Row, engine: str) -> tuple[str, ...]:
        conversion = conversion_requires(
            engine_config(model.reference_engine).artifact_format, engine_config(engine).artifact_format
        )
        return tuple(dict.fromkeys(model.requires + row.requires + conversion))

    from compbench.tasks import UnknownTask, declaration

    for model in models.values():   # a project's own task joins the registry here
        try:
            declaration(model.task)
        except UnknownTask as exc:
            raise SpecError(f"model {model.name!r}: {exc}") from None
    by_key = {(row.model, row.compression): row for row in rows}
    for row in rows:
        where = f"row {row.model}/{row.compression}"
        if row.model not in models:
            raise SpecError(f"{where}: model={row.model!r} is not a declared model "
                            f"(declared: {', '.join(models) or 'none'})")
        if row.after and (row.model, row.after) not in by_key:
            raise SpecError(f"{where} follows {row.after!r}, which is no row of {row.model}")
        for engine in (*row.engines, models[row.model].reference_engine):
            try:
                engine_config(engine)
            except EngineUnavailable as exc:   # a name no engine module declares
                raise SpecError(f"{where}: engines: {exc}") from None

    def needs(row: Row) -> tuple[str, ...]:  # a chain needs what each of its steps needs
        return row.requires + (needs(by_key[(row.model, row.after)]) if row.after else ())

    return [
        Variant(
            model=models[row.model],
            compression=row.compression,
            engine=engine,
            recipe=row.recipe,
            description=row.description,
            requires=requires(models[row.model], replace(row, requires=needs(row)), engine),
            inputs=row.inputs,
            cpu_dependent_accuracy=row.cpu_dependent_accuracy,
            params=row.params,
            cpu_model_dependent_accuracy=row.cpu_model_dependent_accuracy,
            after=row.after,
        )
        for row in rows
        for engine in row.engines
    ]


_ACTIVE: Matrix | None = None


def active() -> Matrix:
    """The session's matrix: the one the pytest plugin or the CLI loaded (``use``), or else the
    one the project's configuration declares (``compbench.runner.plugin_manager``)."""
    global _ACTIVE
    if _ACTIVE is None:
        from compbench.runner.plugin_manager import load_matrix

        _ACTIVE = load_matrix()
    return _ACTIVE


def use(matrix: Matrix) -> Matrix:
    """Make ``matrix`` the session's (the pytest plugin and the CLI call this once, first)."""
    global _ACTIVE
    matrix.variants  # noqa: B018 - expand and check every row now, before any build
    _ACTIVE = matrix
    return matrix


# The lookups every runner module uses, on the session's matrix.
def variants() -> dict[str, Variant]:
    return active().variants


def get_variant(variant_id: str) -> Variant:
    return active().get(variant_id)


def upstream_of(variant: Variant) -> Variant | None:
    return active().upstream_of(variant)


def reference_of(variant: Variant) -> Variant:
    return active().reference_of(variant)


def select(patterns: list[str] | None) -> list[Variant]:
    return active().select(patterns)


def __getattr__(name: str):
    # ``VARIANTS`` was a module global of the built-in table before the matrix became an
    # object: scripts and tests that still read it get the session's variants
    if name == "VARIANTS":
        return variants()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
