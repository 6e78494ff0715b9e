"""torch.compile (Inductor, CPU) of the same pickled ``nn.Module`` that ``torch`` runs eagerly.

Why a separate engine: eager PyTorch dispatches every operator on its own, so the ``torch``
row measures a model plus the framework's per-op overhead. Inductor traces the whole forward
once, fuses the elementwise work into generated C++ kernels and removes the Python dispatch,
so the pair ``torch`` / ``torch-compile`` on one artifact separates what a compression does
to the arithmetic from what the runtime wastes around it; a variant whose win disappears
under compilation (or appears only there) is telling us about PyTorch, not about the model.

The comparison is only fair if this row really is compiled code, so everything that would let
it quietly become eager again is closed off: the whole forward must be one graph
(``fullgraph``: a graph break raises), Dynamo must not swallow errors (``suppress_errors``),
and running out of recompilations raises instead of falling back to eager. Shapes are static
(``dynamic=False``): latency is batch 1, evaluation a fixed batch, one specialised compile
each. The first call per input shape compiles (seconds); the latency test's warm-up call
pays for it. Kernels are generated for the engine's pinned thread count (``cpp.threads``),
in this process (``compile_threads=1``: no compile-worker pool on a 2-core machine).

torch is imported only inside functions: the registry imports engine modules just to read
their declarations, on machines where torch may be absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compbench.engines.base import Engine, EngineSpec, Session
from compbench.errors import CompbenchError

if TYPE_CHECKING:
    import torch

ENGINES = (
    EngineSpec(name="torch-compile", artifact_format="torch", requires=("torch",), family="torch",
               description="torch.compile (Inductor, CPU), whole forward as one graph",
               output_tolerance=1e-4),  # Inductor fuses and reorders float sums
)

# Distinct input shapes one session may compile for (batch 1, the evaluation batch, a last
# partial batch, ...). Beyond that something re-specialises on every call: fail, not eager.
RECOMPILE_LIMIT = 8


class TorchCompileFailed(CompbenchError, RuntimeError):
    """torch.compile could not turn an artifact into one compiled graph (no eager fallback)."""


def inductor_options(threads: int) -> dict[str, Any]:
    """Inductor settings applied to this compilation only (they are part of its cache key)."""
    return {
        "compile_threads": 1,       # compile in this process, no worker pool
        "cpp.threads": threads,     # OpenMP thread count baked into the generated kernels
        "max_autotune": False,      # no benchmarking of alternatives: same code every run
    }


def configure_dynamo() -> None:
    """Process-wide Dynamo/Inductor settings that must hold whenever this engine compiles."""
    import torch._dynamo
    import torch._inductor.config

    # The worker pool is decided from the process-wide value; set before the first compile.
    torch._inductor.config.compile_threads = 1
    torch._dynamo.config.suppress_errors = False  # TORCHDYNAMO_SUPPRESS_ERRORS=1 would set it
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit,
                                               RECOMPILE_LIMIT)
    torch._dynamo.config.fail_on_recompile_limit_hit = True


class TorchCompileSession(Session):
    def __init__(self, module: torch.nn.Module, threads: int, artifact: Path):
        import torch

        self.threads = threads
        self.artifact = artifact
        self.module = module
        self.compiled = torch.compile(module, backend="inductor", fullgraph=True, dynamic=False,
                                      options=inductor_options(threads))
        self._compiled_for: set[tuple] = set()

    def run(self, inputs: np.ndarray) -> Sequence[np.ndarray]:
        import torch

        from compbench.engines.torch_eager import outputs_to_numpy, pin_torch_threads

        pin_torch_threads(self.threads)
        tensor = torch.from_numpy(inputs)
        signature = (tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
        with torch.inference_mode():
            if signature in self._compiled_for:
                return outputs_to_numpy(self.compiled(tensor))
            outputs = self._compile_and_run(tensor)
        self._compiled_for.add(signature)
        return outputs

    def census(self) -> dict[str, int | float]:
        """The module Dynamo compiles as one graph (fullgraph: nothing of it runs elsewhere);
        int8 modules cannot reach this engine at all (``_has_ao_quantized_modules``)."""
        from compbench.engines.torch_eager import module_census

        return module_census(self.module)

    def _compile_and_run(self, tensor: torch.Tensor) -> list[np.ndarray]:
        from compbench.engines.torch_eager import outputs_to_numpy

        configure_dynamo()  # again: another engine in this process may have changed it
        try:
            return outputs_to_numpy(self.compiled(tensor))
        except Exception as exc:
            first_line = next((line for line in str(exc).splitlines() if line.strip()), "")
            hint = (" The module holds torch.ao quantized modules (FX/eager-mode int8): their "
                    "quantized::* kernels take packed-parameter ScriptObjects, which Dynamo "
                    "cannot trace." if _has_ao_quantized_modules(self.module) else "")
            raise TorchCompileFailed(
                f"torch.compile (inductor, fullgraph, static shapes) failed for {self.artifact} "
                f"on an input of shape {tuple(tensor.shape)}: {type(exc).__name__}: "
                f"{first_line}.{hint} This engine never falls back to eager; run the artifact "
                "on the 'torch' engine instead.") from exc


def _has_ao_quantized_modules(module: torch.nn.Module) -> bool:
    prefixes = ("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized")
    return any(type(m).__module__.startswith(prefixes) for m in module.modules())


class TorchCompileEngine(Engine):
    def load(self, artifact: Path) -> Session:
        import torch

        from compbench.engines.torch_eager import pin_torch_threads

        pin_torch_threads(self.threads)
        configure_dynamo()
        # The artifact comes from our own content-addressed cache, built by this code: trusted.
        module = torch.load(artifact, weights_only=False, map_location="cpu")
        module.eval()
        return TorchCompileSession(module, self.threads, artifact)


def create(config: EngineSpec) -> Engine:
    return TorchCompileEngine(config)
