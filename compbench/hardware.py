"""The hardware class a measurement belongs to, and how far apart two classes are.

int8 kernels are chosen by instruction set: with AVX-512 VNNI (or AVX-VNNI, AMX) a u8×s8 dot
product accumulates exactly; on AVX2 alone it goes through ``vpmaddubsw``, whose int16
intermediate saturates, and onnxruntime, OpenVINO and fbgemm all pick other code paths. So int8
accuracy and every speed-up depend on the ISA tier, not on the CPU's name: a Zen 4 and a
Sapphire Rapids runner share int8 numerics, a Zen 3 one does not. The class is therefore the
architecture plus the best int8 tier the CPU offers; vendor, family, model and the full flag
list are recorded beside it (provenance) without splitting baselines further — except for the
rows measured to differ between CPU models of one class (``cpu_model_dependent_accuracy``:
int8-qat's fake-quantised training steps end apart on two CPU models of one class,
deterministically on each; docs/concepts/baselines.md), whose accuracy is kept per
``<class>/<vendor>-<family>-<model>``.
"""

from __future__ import annotations

import functools
import os
import platform
from dataclasses import asdict, dataclass


def available_cores() -> int:
    """Cores this process may run on (its affinity, not the machine's count: CI runners pin)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1

# Best first: the first tier whose flags are all present names the class.
INT8_TIERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("amx", ("amx_int8",)),
    ("avx512-vnni", ("avx512_vnni",)),
    ("avx-vnni", ("avx_vnni",)),
    ("avx512", ("avx512f",)),
    ("avx2", ("avx2",)),
    ("sse4", ("sse4_2",)),
)
RECORDED_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                  "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")


@dataclass(frozen=True)
class Hardware:
    hardware_class: str
    vendor: str
    family: str
    model: str
    model_name: str
    flags: tuple[str, ...]   # the ISA flags of RECORDED_FLAGS that this CPU has
    cores: int
    # the class this CPU really is, when its engines are capped to emulate a lower one
    # (compbench.isa_emulation); empty on a native run
    emulated_on: str = ""
    # the CPUID emulator that ran the evaluations of engines with no cap, when one was set
    cpuid_emulator: str = ""

    def describe(self) -> str:
        flags = " ".join(self.flags) or "none of " + " ".join(RECORDED_FLAGS[:4])
        by = f"; onnxruntime/TFLite under `{self.cpuid_emulator}`" if self.cpuid_emulator else ""
        emulated = (f" (EMULATED: engines capped to it on a `{self.emulated_on}` CPU{by})"
                    if self.emulated_on else "")
        return (f"{self.model_name} ({self.vendor} family {self.family} model {self.model}), "
                f"{self.cores} cores, ISA: {flags} → class `{self.hardware_class}`{emulated}")

    @property
    def cpu(self) -> str:
        """The CPU model within its class, e.g. ``AuthenticAMD-26-2``."""
        return f"{self.vendor}-{self.family}-{self.model}"

    def as_dict(self) -> dict:
        return asdict(self) | {"flags": list(self.flags)}


def _cpuinfo() -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    break  # the first processor describes them all
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def classify(arch: str, flags: set[str]) -> str:
    for tier, needed in INT8_TIERS:
        if all(flag in flags for flag in needed):
            return f"{arch}-{tier}"
    return f"{arch}-generic"


@functools.cache
def current() -> Hardware:
    """This machine, or the lower class its engines are capped to emulate
    (``COMPBENCH_EMULATE_CLASS``, ``compbench.isa_emulation``)."""
    from compbench import isa_emulation

    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    arch = platform.machine() or "unknown"
    native = classify(arch, flags)
    emulated = isa_emulation.target()
    if emulated is not None:
        isa_emulation.check(emulated, native)
    return Hardware(emulated or native, info.get("vendor_id", "unknown"),
                    info.get("cpu family", "?"), info.get("model", "?"),
                    info.get("model name", platform.processor() or "unknown"),
                    tuple(f for f in RECORDED_FLAGS if f in flags), available_cores(),
                    native if emulated else "",
                    os.environ.get(isa_emulation.EMULATOR_VARIABLE, "") if emulated else "")


def class_of(key: str) -> str:
    """The class of a baseline key: a class, or ``<class>/<cpu>`` for one CPU model of it."""
    return key.partition("/")[0]


def distance(a: str, b: str) -> int:
    """How many int8 tiers apart two classes (or CPU models' classes) are (another
    architecture: farther than any)."""
    arch_a, _, tier_a = class_of(a).partition("-")
    arch_b, _, tier_b = class_of(b).partition("-")
    names = [name for name, _ in INT8_TIERS] + ["generic"]
    if arch_a != arch_b or tier_a not in names or tier_b not in names:
        return len(names) + 1
    return abs(names.index(tier_a) - names.index(tier_b))


def nearest(target: str, candidates: list[str]) -> str | None:
    """The candidate class closest to ``target``; on a tie the lower tier (the conservative
    reference: an int8 path that was slow there is not expected to be fast here)."""
    if not candidates:
        return None
    names = [name for name, _ in INT8_TIERS] + ["generic"]
    def tier(key: str) -> str:
        return class_of(key).partition("-")[2]

    return min(candidates, key=lambda c: (distance(target, c),
                                          -names.index(tier(c)) if tier(c) in names else 0,
                                          c))
