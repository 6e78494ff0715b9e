"""The data types of the test matrix (``runner.matrix`` holds the table itself).

Apart from the table so that a step's interpreter, which receives its variant as data
(``Variant.as_request`` / ``Variant.from_request``), never imports the table: editing one row
must not look like a code change to every cached step of every other row.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Scalar = int | float | str | bool
# (name, value) pairs, sorted by name: hashable like the rest of a Variant, and JSON-able
Params = tuple[tuple[str, Scalar], ...]


def frozen_params(params: Mapping[str, Scalar] | Params, where: str) -> Params:
    """A row's recipe parameters as a sorted tuple; scalars only, so that they key the cache
    as written and ``compbench variants --details`` can print them as they are."""
    items = params.items() if isinstance(params, Mapping) else params
    pairs = tuple(sorted((str(k), v) for k, v in items))
    for name, value in pairs:
        if not isinstance(value, (int, float, str, bool)):
            raise TypeError(f"{where}: parameter {name}={value!r} is not a number, string or "
                            "bool (a recipe parameter must be a plain value)")
    return pairs


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str                 # a module of tasks/ (its TASK declares data, metrics, protocol)
    source: str               # "module:function" building the fp32 reference (torch/keras/hf)
    weights: tuple[str, ...]  # asset files the source reads (their checksums key the cache)
    input_shape: tuple[int, ...]
    reference_engine: str     # the speed-up denominator; also the source model's own format
    description: str
    preprocess: str = ""      # "module:function" (assets) → (uint8 NHWC images → model input)
    requires: tuple[str, ...] = ("torch",)  # distributions (pyproject names) the source needs
    eval_batch: int = 1       # >1: artifacts get a dynamic batch axis so evaluation can batch


@dataclass(frozen=True)
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
        object.__setattr__(self, "params",
                           frozen_params(self.params, f"row {self.model}/{self.compression}"))


@dataclass(frozen=True)
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
    """``"package.module:function"`` → the function (imported only when a variant needs it)."""
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
