"""One exception family so every bad input ends in one clear message.

Each error names the file (or id) at fault and the fix; the CLI and the pytest plugin print
``str(error)`` and nothing else, so the message must stand on its own.
"""

from __future__ import annotations


class CompbenchError(Exception):
    """Base class: a user-facing problem with a one-paragraph explanation."""


class AssetMissing(CompbenchError):
    """An asset file is absent. Tests that need it skip with this message."""


class AssetCorrupt(CompbenchError):
    """An asset exists but fails its checksum or cannot be read. Always an error, never a skip."""


class BaselineError(CompbenchError):
    """A baseline file is malformed or lacks an entry."""


class UnknownVariant(CompbenchError):
    """A variant id is not in the variant table."""


class EngineUnavailable(CompbenchError):
    """The Python package behind an engine is not installed (tests skip with this message)."""


class NotEmulated(EngineUnavailable):
    """The engine picks its kernels from CPUID, so an emulated hardware class cannot be measured
    on it (``compbench.isa_emulation``): the variant is skipped with this reason.

    ``engine`` and ``reason`` are kept as attributes so a caller that reports the reason on its
    own (the emulation check) never has to take it back out of the message's wording."""

    def __init__(self, message: str, engine: str, reason: str):
        super().__init__(message)
        self.engine = engine
        self.reason = reason

    def __reduce__(self):   # args holds the message only: rebuild with all three when unpickled
        return type(self), (str(self), self.engine, self.reason)


class NonFiniteOutput(CompbenchError):
    """A model produced NaN or infinity: the artifact is broken, results would be meaningless."""


class BadOption(CompbenchError, ValueError):
    """A malformed command-line option or environment setting (a ValueError for older callers)."""
