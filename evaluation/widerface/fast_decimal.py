"""Exact, vectorised parsing of plain decimal numbers ("-12.375", "0.8231").

numpy's text parsers (fromstring, loadtxt) cost more for a full WIDER val prediction folder
than the whole evaluation budget (docs/studies/design-measurements.md). Prediction files hold plain
decimals, so they are parsed with array operations instead; the result equals ``float()`` bit
for bit (tests/test_wider_prediction_files.py checks it, halfway cases included).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

# --- Exact vectorised decimal parsing -------------------------------------------------------
# numpy's text parsers (fromstring, loadtxt) cost more for a full val folder than the whole
# evaluation budget (docs/studies/design-measurements.md). Our files hold plain decimals ("-12.375",
# "0.8231"), so we parse them with array operations instead: find the digit runs before and
# after each dot, turn 8 ASCII digits at a time into an integer with the SWAR multiply-shift
# trick, and divide the integer mantissa m (at most 19 digits, so < 2**64) by 10**k in x87
# extended precision. That division is exact to 64 bits; rounding it again to 53 bits gives
# the correctly rounded double -- what float() returns -- except when the 64-bit result sits
# exactly halfway between two doubles, which we detect and hand to float(). Tokens outside
# the plain grammar (exponents, "nan", > 19 digits, stray characters) also go to float().
# Platforms without an 80-bit long double use numpy's own (slow, exact) parser.

_EXTENDED = (np.finfo(np.longdouble).nmant == 63 and np.dtype(np.longdouble).itemsize == 16
             and sys.byteorder == "little")
_PAD = 24  # '0' bytes before the text so every 8-byte window of a token stays in the buffer
_ZERO_PAD = b"0" * _PAD
_MAX_DIGITS = 19
CHUNK_BYTES = 1 << 17  # bytes per pass: temporaries stay below the mmap threshold, get reused
_ASCII_ZEROS = np.uint64(0x3030303030303030)
# _KEEP[n]: keeps the last n bytes (high bytes, little-endian) of an 8-byte window.
_KEEP = np.array([0] + [((1 << (8 * n)) - 1) << (8 * (8 - n)) for n in range(1, 9)],
                 dtype=np.uint64)
_ZERO_FILL = ~_KEEP & _ASCII_ZEROS
_POW10 = np.array([10 ** k for k in range(_MAX_DIGITS + 1)], dtype=np.uint64)
_POW10_EXTENDED = np.cumprod(np.full(_MAX_DIGITS + 1, 10, dtype=np.longdouble)) / 10  # exact


def _eight_digits(windows: np.ndarray, n_digits: np.ndarray) -> np.ndarray:
    """Value of the last ``n_digits`` (0..8) ASCII digits of each little-endian 8-byte window."""
    u = ((windows & _KEEP[n_digits]) | _ZERO_FILL[n_digits]) - _ASCII_ZEROS
    u = (u * np.uint64(10) + (u >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    u = (u * np.uint64(100) + (u >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    return (u * np.uint64(10000) + (u >> np.uint64(32))) & np.uint64(0xFFFFFFFF)


def _digit_runs(windows: np.ndarray, end: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Integer value of the digits at ``[end - length, end)``, ``length`` <= 19."""
    value = _eight_digits(windows[end - 8], np.minimum(length, 8))
    longer = np.flatnonzero(length > 8)
    if longer.size:
        end, length = end[longer], length[longer]
        high = _eight_digits(windows[end - 16], np.minimum(length - 8, 8))
        longest = np.flatnonzero(length > 16)
        if longest.size:
            top = _eight_digits(windows[end[longest] - 24], length[longest] - 16)
            high[longest] += top * np.uint64(10 ** 8)
        value[longer] += high * np.uint64(10 ** 8)
    return value


def _parse_chunk(bodies: list[bytes]) -> np.ndarray | None:
    """Numbers of ``bodies``: tokens separated by one space or newline (None: a bad token)."""
    # One copy builds the padded text: "0" * _PAD, "\n", the bodies joined by "\n", "\n".
    text = b"\n".join([_ZERO_PAD, *bodies, b""])
    raw = np.frombuffer(text, dtype=np.uint8)
    windows = np.ndarray((raw.size - 7,), dtype="<u8", buffer=text, strides=(1,))
    is_sep = (raw == 32) | (raw == 10)
    is_dot = raw == 46
    is_sep[:_PAD + 1] = False
    delimiters = np.flatnonzero(is_sep | is_dot)
    delimiter_is_dot = is_dot[delimiters]
    end_index = np.flatnonzero(~delimiter_is_dot)
    ends = delimiters[end_index]                       # token ends (exclusive)
    starts = np.concatenate(([_PAD + 1], ends[:-1] + 1))
    # A token's dot is the delimiter just before its end; two dots make it a float() case.
    before = end_index - 1
    has_dot = np.zeros(len(ends), dtype=bool)
    has_dot[before >= 0] = delimiter_is_dot[before[before >= 0]]
    slow = np.zeros(len(ends), dtype=bool)
    twice = has_dot & (end_index >= 2)
    slow[twice] = delimiter_is_dot[end_index[twice] - 2]
    dot = np.where(has_dot, delimiters[np.maximum(before, 0)], ends)
    negative = raw[starts] == 45
    int_length = dot - starts - negative
    frac_length = np.where(has_dot, ends - dot - 1, 0)
    odd = np.flatnonzero(~((raw - np.uint8(48) < 10) | is_sep | is_dot)[_PAD + 1:]) + _PAD + 1
    if odd.size:  # anything but digits, one dot and a leading minus
        token = np.searchsorted(ends, odd)
        sign = (odd == starts[token]) & (raw[odd] == 45)
        slow[token[~sign]] = True
    digits = int_length + frac_length
    slow |= (digits == 0) | (digits > _MAX_DIGITS) | (int_length < 0)
    int_length = np.clip(int_length, 0, _MAX_DIGITS)
    frac_length = np.clip(frac_length, 0, _MAX_DIGITS)
    mantissa = (_digit_runs(windows, dot, int_length) * _POW10[frac_length]
                + _digit_runs(windows, ends, frac_length))
    quotient = mantissa.astype(np.longdouble) / _POW10_EXTENDED[frac_length]
    significand = quotient.view(np.uint64)[::2]
    slow |= (significand & np.uint64(0x7FF)) == np.uint64(0x400)  # halfway between doubles
    numbers = quotient.astype(np.float64)
    np.negative(numbers, out=numbers, where=negative)
    for index in np.flatnonzero(slow):
        try:
            numbers[index] = float(text[starts[index]:ends[index]])
        except ValueError:
            return None
    return numbers


def parse_numbers(bodies: list[bytes]) -> np.ndarray | None:
    """All numbers of ``bodies`` in order (each: tokens separated by single spaces or
    newlines, no leading or trailing whitespace); None if any token is not a number."""
    if not bodies:
        return np.zeros(0)
    if _EXTENDED:
        return _parse_chunk(bodies)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return np.fromstring(b"\n".join(bodies), dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None
