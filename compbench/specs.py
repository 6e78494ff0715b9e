"""The data types of the test matrix (``compbench.runner.matrix`` holds the table itself).

Apart from the table so that a step's interpreter, which receives its variant as data
(``Variant.as_request`` / ``Variant.from_request``), never imports the table: editing one row
must not look like a code change to every cached step of every other row.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from compbench.errors import CompbenchError
from compbench.layout import import_reference_module

Scalar = int | float | str | bool
# (name, value) pairs, sorted by name: hashable like the rest of a Variant, and JSON-able
Params = tuple[tuple[str, Scalar], ...]


class SpecError(CompbenchError, ValueError):
    """A model or row declared with a field of the wrong kind. Raised where the declaration is
    made, so a typo in one row is one message naming the row and the field before any build."""


NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")              # one part of a variant id
REFERENCE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")         # "package.module:function"


def _require(ok: bool, where: str, name: str, value: object, expected: str) -> None:
    if not ok:
        raise SpecError(f"{where}: {name}={value!r} is not {expected}")


def _strings(where: str, name: str, value: object, *, non_empty: bool = False) -> tuple[str, ...]:
    """A tuple (or list) of non-empty strings, as a tuple; a bare string is refused, since
    iterating it would silently give its characters."""
    ok = (isinstance(value, (tuple, list)) and all(isinstance(v, str) and v for v in value)
          and (bool(value) or not non_empty))
    _require(ok, where, name, value, "a tuple of names" + (" (at least one)" if non_empty else "")
             + (f" — write ({value!r},) for one" if isinstance(value, str) else ""))
    return tuple(value)


def _check_fields(spec: object, where: str, names: tuple[str, ...], references: tuple[str, ...],
                  strings: tuple[str, ...], tuples: tuple[str, ...], flags: tuple[str, ...],
                  optional: tuple[str, ...] = ()) -> None:
    """``optional`` names or references may be left empty ("")."""
    for fields, pattern, expected in (
            (names, NAME, "a name of letters, digits and _ . + - (it becomes part of a variant id)"),
            (references, REFERENCE, "a 'package.module:function' reference")):
        for name in fields:
            value = getattr(spec, name)
            _require(isinstance(value, str) and (bool(pattern.match(value))
                                                 or (value == "" and name in optional)),
                     where, name, value, expected)
    for name in strings:
        value = getattr(spec, name)
        _require(isinstance(value, str), where, name, value, "a string")
    for name in tuples:
        object.__setattr__(spec, name, _strings(where, name, getattr(spec, name)))
    for name in flags:
        value = getattr(spec, name)
        _require(isinstance(value, bool), where, name, value, "True or False")


def frozen_params(params: Mapping[str, Scalar] | Params, where: str) -> Params:
    """A row's recipe parameters as a sorted tuple; scalars only, so that they key the cache
    as written and ``compbench variants --details`` can print them as they are."""
    items = params.items() if isinstance(params, Mapping) else params
    pairs = tuple(sorted((str(k), v) for k, v in items))
    for name, value in pairs:
        if not isinstance(value, (int, float, str, bool)):
            raise SpecError(f"{where}: parameter {name}={value!r} is not a number, string or "
                            "bool (a recipe parameter must be a plain value)")
    return pairs


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    name: str
    # a built-in task's name (a module of tasks/), or "package.module:ATTRIBUTE" naming a
    # project's own compbench.tasks.base.TaskDeclaration (data, metrics, protocol)
    task: str
    source: str               # "module:function" building the fp32 reference (torch/keras/hf)
    weights: tuple[str, ...]  # asset files the source reads (their checksums key the cache)
    input_shape: tuple[int, ...]
    reference_engine: str     # the speed-up denominator; also the source model's own format
    description: str
    preprocess: str = ""      # "module:function" (assets) → (uint8 NHWC images → model input)
    requires: tuple[str, ...] = ("torch",)  # distributions (pyproject names) the source needs
    eval_batch: int = 1       # >1: artifacts get a dynamic batch axis so evaluation can batch

    def __post_init__(self) -> None:
        where = f"model {self.name!r}"
        _check_fields(self, where, names=("name", "reference_engine"),
                      references=("source", "preprocess"), strings=("description",),
                      tuples=("weights", "requires"), flags=(), optional=("preprocess",))
        _require(isinstance(self.task, str) and bool(NAME.match(self.task) or REFERENCE.match(self.task)),
                 where, "task", self.task,
                 "a built-in task's name or a 'package.module:ATTRIBUTE' TaskDeclaration")
        shape = self.input_shape
        _require(isinstance(shape, (tuple, list)) and bool(shape)
                 and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape),
                 where, "input_shape", shape, "a tuple of positive integers (batch first)")
        object.__setattr__(self, "input_shape", tuple(shape))
        _require(isinstance(self.eval_batch, int) and not isinstance(self.eval_batch, bool)
                 and self.eval_batch >= 1, where, "eval_batch", self.eval_batch,
                 "a positive integer")


@dataclass(frozen=True, kw_only=True)
class Row:
    model: str
    compression: str
    recipe: str               # "module:function" in compression/
    engines: tuple[str, ...]
    description: str = ""
    requires: tuple[str, ...] = ()  # distributions the recipe needs beyond the model's
    inputs: tuple[str, ...] = ()    # asset files the recipe reads besides the model's weights
    # (e.g. a distillation teacher): checked before the build, their checksums key its cache
    # Accuracy differs between CPU int8 instruction sets (int8 kernels; TF fine-tunes whose
    # oneDNN float kernels differ by ISA and drift apart over training steps, measured): its
    # baselines are kept per hardware class (compbench.hardware).
    cpu_dependent_accuracy: bool = False
    # ... and differs between CPU models of one class too (measured, compbench.hardware): its
    # accuracy baselines are kept per CPU model
    cpu_model_dependent_accuracy: bool = False
    # the recipe's keyword arguments: what this row *means* (steps, learning rate, sparsity,
    # clusters...), so two rows that differ by a number share one recipe function, and the
    # numbers key the cache and are listed by `compbench variants --details`
    params: Mapping[str, Scalar] = field(default_factory=dict)
    # a chain: the compression of this model's row whose artifact is this recipe's source
    # model instead of fp32 (e.g. int8-ort after "pruned"); that row's own recipe and
    # parameters are its, its cached build is reused
    after: str = ""

    def __post_init__(self) -> None:
        where = f"row {self.model}/{self.compression}"
        _check_fields(self, where, names=("model", "compression", "after"), references=("recipe",),
                      strings=("description",), tuples=("requires", "inputs"),
                      flags=("cpu_dependent_accuracy", "cpu_model_dependent_accuracy"),
                      optional=("after",))
        object.__setattr__(self, "engines", _strings(where, "engines", self.engines, non_empty=True))
        _require(isinstance(self.params, (Mapping, tuple, list)), where, "params", self.params,
                 "a mapping of parameter names to plain values")
        object.__setattr__(self, "params", frozen_params(self.params, where))


@dataclass(frozen=True, kw_only=True)
class Variant:
    model: ModelSpec
    compression: str
    engine: str
    recipe: str
    description: str
    requires: tuple[str, ...] = ()         # distributions: model's, row's, conversion's
    inputs: tuple[str, ...] = ()
    cpu_dependent_accuracy: bool = False
    params: Params = ()
    cpu_model_dependent_accuracy: bool = False
    after: str = ""                        # Row.after: the row whose artifact is the source

    @property
    def id(self) -> str:
        return f"{self.model.name}/{self.compression}/{self.engine}"

    def __str__(self) -> str:
        return self.id

    def as_request(self) -> dict:
        """JSON-able form (a step's request; part of its cache key)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_request(cls, data: dict) -> Variant:
        def tuples(mapping: dict) -> dict:
            return {k: tuple(v) if isinstance(v, list) else v for k, v in mapping.items()}

        return cls(**tuples({**data, "model": ModelSpec(**tuples(data["model"])),
                             "params": tuple(tuple(p) for p in data.get("params", ()))}))

    def run_recipe(self, context) -> object:
        """The row's recipe function called with the row's parameters."""
        return resolve(self.recipe)(context, **dict(self.params))


def resolve(reference: str) -> Callable:
    """``"package.module:function"`` → the function (imported only when a variant needs it).

    A reference whose package is a built-in one (runner, models, tasks, engines, formats,
    evaluation, compression, bench) names the module under ``compbench`` when compbench has it:
    rows and baselines keep the short ``"compression.int8_ort:int8_ort"`` they were written with
    (a recipe's identity in baselines/*.json is built from it), while the installed package has
    only ``compbench.compression``. Any other module, a team's own ``models.mine`` included, is
    imported by the name given (``compbench.layout.built_in_module``)."""
    module_name, _, attribute = reference.partition(":")
    return getattr(import_reference_module(module_name), attribute)
