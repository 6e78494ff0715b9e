"""compbench: a pytest-benchmark regression suite for compressed vision models.

The importable core (settings, assets, cache, variant table, baselines, report) lives here;
models, compression recipes, evaluation protocols and engines are sibling folders in the
repository so a newcomer finds each concept by its folder name, and sub-packages of this one
once installed (``compbench.models``, ``compbench.runner``, ...: compbench.layout).
"""

__version__ = "0.1.0"

import os as _os

# Set before anything imports TensorFlow or transformers (see ../shared/notes/stack.md):
# tfmot only works with the legacy tf_keras; transformers would otherwise import TensorFlow
# (a slow import: docs/studies/design-measurements.md) even on the torch path.
_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("USE_TF", "0")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The built-in folders as compbench.runner, compbench.models, ... in a checkout too, and the old
# top-level names an artifact pickled before the rename still names (compbench.layout).
from compbench import layout as _layout  # noqa: E402

_layout.install()

# An emulated hardware class (compbench.isa_emulation) caps oneDNN and ATen, which read their
# caps once at first use: before any engine library is imported.
from compbench import isa_emulation as _isa_emulation  # noqa: E402

_isa_emulation.apply_caps()
