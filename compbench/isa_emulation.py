"""Measure a lower hardware class on this machine by capping the instruction set the engines use.

int8 accuracy is stored per hardware class (``compbench.hardware``) because the int8 kernels an
engine picks depend on the CPU's best int8 tier. A team's runner fleet changes CPU, so a gate
whose values come from whichever machine recorded last goes red on the first other class. Where
an engine's kernel choice can be capped, the values of every lower class can be recorded on one
machine, each class in its own capped process, builds included (calibration and fine-tuning
depend on the builder's fp32 kernels too).

The switch is one environment variable, ``COMPBENCH_EMULATE_CLASS``, set before the process
starts: oneDNN reads its cap once, at its first use, so it cannot be changed inside a running
process. Every step interpreter inherits it (``compbench.isolation``), the machine reports the
emulated class, and its cache keys name it, so an emulated artifact never serves a native run.

What each engine honours (the studies in ``docs/int8-isa-study``):
- OpenVINO's CPU plugin and TensorFlow build on oneDNN, which honours ``ONEDNN_MAX_CPU_ISA``.
- PyTorch: ``ATEN_CPU_CAPABILITY`` caps ATen's vectorised kernels and ``ONEDNN_MAX_CPU_ISA`` its
  oneDNN ones; the quantized ``x86`` engine sends convolutions to oneDNN only when the CPU has
  AVX-512 VNNI and to fbgemm otherwise, which no variable flips, so below VNNI the session selects
  the ``fbgemm`` engine itself — the dispatch such a CPU makes.
- onnxruntime's MLAS and TFLite's XNNPACK pick kernels from CPUID at start-up and offer no cap,
  and torch.compile's Inductor generates code for the instruction set the CPU reports: their
  values of another class need a real machine of that class, or a CPU emulator that answers
  CPUID as that class does (``COMPBENCH_CPUID_EMULATOR``, below).

A CPUID emulator: ``COMPBENCH_CPUID_EMULATOR="qemu-x86_64 -cpu max"`` (Debian's ``qemu-user``)
runs the evaluation of an onnxruntime or TFLite variant under QEMU's software CPU, whose CPUID
reports AVX2 and no AVX-512 (its translator implements no AVX-512), so MLAS and XNNPACK take the
kernels an AVX2-only CPU takes. It is slow (every instruction is translated), so it wraps only
the evaluation step of those engines; their builds (calibration included) run capped as the other
engines' do. It can emulate the AVX2 class only. How close it comes to real machines is measured
by ``compbench emulation-check`` (docs/emulation-check-x86_64-avx2.md).
"""

from __future__ import annotations

import os
import shutil

from compbench.errors import CompbenchError

VARIABLE = "COMPBENCH_EMULATE_CLASS"

# tier -> the caps that make this machine's engines behave as a CPU whose best int8 tier it is
CAPS: dict[str, dict[str, str]] = {
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"},
    "avx512": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "ATEN_CPU_CAPABILITY": "avx512"},
    "avx-vnni": {"ONEDNN_MAX_CPU_ISA": "AVX2_VNNI", "ATEN_CPU_CAPABILITY": "avx2"},
    "avx512-vnni": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_VNNI", "ATEN_CPU_CAPABILITY": "avx512"},
}
VNNI_TIERS = ("amx", "avx512-vnni", "avx-vnni")

_MLAS = "onnxruntime's MLAS picks its kernels from CPUID and has no switch to cap them"
# engine -> None when it honours the caps, else why it cannot be emulated
NOT_EMULATED: dict[str, str | None] = {
    "openvino": None,
    "torch": None,
    "torchscript": None,
    "torch-compile": "Inductor generates its kernels for the instruction set the CPU reports",
    "keras": None,
    "onnxruntime": _MLAS,
    "onnxruntime-1t": _MLAS,
    "tflite": "TFLite's XNNPACK picks its kernels from CPUID and has no switch to cap them",
}


EMULATOR_VARIABLE = "COMPBENCH_CPUID_EMULATOR"
# engines that choose kernels from CPUID alone, measurable under a CPUID emulator
CPUID_ENGINES = ("onnxruntime", "onnxruntime-1t", "tflite")
# the tiers a software CPU can present: QEMU's translator implements AVX2 but no AVX-512
EMULATOR_TIERS = ("avx2",)


class EmulationError(CompbenchError):
    """The requested class cannot be emulated on this machine."""


def target() -> str | None:
    """The class this process emulates, or None on a native run."""
    return os.environ.get(VARIABLE) or None


def tier_of(hardware_class: str) -> str:
    return hardware_class.partition("-")[2]


def check(requested: str, native: str) -> None:
    """Refuse what cannot be emulated: another architecture, a higher tier, an unknown tier."""
    from compbench.hardware import INT8_TIERS

    names = [name for name, _ in INT8_TIERS]
    how = f"set {VARIABLE} to one of the classes below this machine's ({native}) or unset it"
    if tier_of(requested) not in CAPS:
        raise EmulationError(f"{VARIABLE}={requested!r} is not a class that can be emulated "
                             f"(known: {', '.join('x86_64-' + t for t in CAPS)}): {how}")
    if requested.partition("-")[0] != native.partition("-")[0]:
        raise EmulationError(f"{VARIABLE}={requested!r}: another architecture than this "
                             f"machine's {native}: {how}")
    if names.index(tier_of(requested)) < names.index(tier_of(native)):
        raise EmulationError(f"{VARIABLE}={requested!r} is above this machine's class {native}: "
                             f"a cap can only take instructions away; {how}")


def caps(requested: str) -> dict[str, str]:
    return dict(CAPS[tier_of(requested)])


def apply_caps() -> None:
    """Put the caps of the emulated class into this process's environment (and so into every
    child's); must run before any engine library is imported."""
    requested = target()
    if requested is not None and tier_of(requested) in CAPS:  # else check() says why, later
        os.environ.update(caps(requested))


def reason_not_emulated(engine: str) -> str | None:
    """Why an engine's values cannot be measured under emulation (None: they can)."""
    if target() is None or evaluation_prefix(engine):
        return None
    return NOT_EMULATED.get(engine, f"engine {engine!r} has no known instruction-set cap")


def evaluation_prefix(engine: str) -> list[str]:
    """The command that runs an evaluation step of ``engine`` under the CPUID emulator, prepended
    to the step's interpreter; empty when the engine's caps suffice or no emulator is set."""
    command = os.environ.get(EMULATOR_VARIABLE, "").split()
    requested = target()
    if not command or requested is None or engine not in CPUID_ENGINES:
        return []
    if tier_of(requested) not in EMULATOR_TIERS:
        raise EmulationError(
            f"{EMULATOR_VARIABLE} is set, but a software CPU can present only the "
            f"{', '.join('x86_64-' + t for t in EMULATOR_TIERS)} class, not {requested}: unset "
            f"{EMULATOR_VARIABLE} (onnxruntime and TFLite are then skipped under emulation)")
    if shutil.which(command[0]) is None:
        raise EmulationError(
            f"{EMULATOR_VARIABLE}={' '.join(command)!r}: {command[0]!r} is not on PATH; install "
            "it (Debian: apt-get install qemu-user) or unset the variable")
    return command


def torch_quantized_engine() -> str | None:
    """The quantized engine a CPU of the emulated class dispatches int8 convolutions to, where it
    differs from this machine's (None: leave torch's choice)."""
    requested = target()
    if requested is None or tier_of(requested) in VNNI_TIERS:
        return None
    return "fbgemm"
