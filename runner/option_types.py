"""argparse ``type=`` checks for numeric options, shared by ``compbench`` and the pytest plugin.

A number at its limit must be refused where it is typed, as a usage error naming the option: left
to the code that uses it, ``0`` quietly means "the default" (``--build-jobs``), ``-1`` means "no
limit" (an SQL ``LIMIT``), ``inf`` overflows into a traceback mid-run and ``nan`` compares false
with everything, passing any ``<`` check written the wrong way round.
"""

from __future__ import annotations

import argparse
import math


def positive_int(text: str) -> int:
    """A whole number >= 1 (counts: images per batch, processes, runs)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def positive_seconds(text: str) -> float:
    """A finite duration > 0."""
    value = _number(text, "a finite number of seconds > 0")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds > 0, got {text!r}")
    return value


def open_fraction(text: str) -> float:
    """A fraction strictly between 0 and 1 (a tolerance: 0 flags noise, 1 flags nothing)."""
    value = _number(text, "a number strictly between 0 and 1")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {text!r}")
    return value


def _number(text: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value
