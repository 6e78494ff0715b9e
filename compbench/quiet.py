"""Keep native libraries' start-up chatter out of a user's terminal.

TensorFlow's C++ runtime writes its absl pre-initialisation notices ("All log messages before
absl::InitializeLog() ...", oneDNN and CUDA-stub lines) straight to file descriptor 2 while it
is imported, before ``TF_CPP_MIN_LOG_LEVEL`` applies; Python-level filters never see them. So
the import runs with fd 2 pointed at a scratch file, and the captured text is replayed only if
the import fails (then it is the diagnosis) or when ``COMPBENCH_VERBOSE=1`` asks for it.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from types import ModuleType

VERBOSE_ENV = "COMPBENCH_VERBOSE"


def import_quietly(name: str) -> ModuleType:
    """``importlib.import_module(name)`` with the native stderr of its first import held back."""
    if name in sys.modules or os.environ.get(VERBOSE_ENV) == "1":
        return importlib.import_module(name)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            return importlib.import_module(name)
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
