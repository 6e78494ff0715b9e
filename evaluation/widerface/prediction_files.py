"""The official WIDER FACE prediction format: ``<out>/<event>/<name>.txt`` per image.

Each file holds the image name (line 1), the number of boxes (line 2), then one
``x y w h score`` line per box. It is the interchange format of every published WIDER FACE
result, so the evaluator reads it rather than anything of our own.

Writing uses Python's shortest round-trip float repr, so reading a written folder gives back the
identical float64 arrays and the same AP as evaluating the arrays in memory.

Reading is the slow part of a full-val evaluation (about five million numbers), so files in the
plain layout our writer and the usual detector scripts produce (single spaces, ``\\n`` line ends)
are concatenated and parsed together by an exact vectorised decimal parser, after checking per
file that the separators form exactly the declared number of 5-field lines. Anything else
(tabs, CRLF, a malformed number) goes through a line-by-line reader that names the file and
line at fault.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from compbench.errors import CompbenchError

SUFFIX = ".txt"
COLUMNS = 5
BODY_FIRST_LINE = 3  # line number of the first box line
_WHITESPACE = b" \t\n\r\v\f"


class PredictionFileError(CompbenchError):
    """A prediction folder or file that does not follow the official format."""


def _fail(path: Path, line: int | None, problem: str) -> PredictionFileError:
    where = f"{path}:{line}" if line is not None else str(path)
    return PredictionFileError(
        f"{where}: {problem} (expected line 1 the image name, line 2 the box count, then one "
        f"'x y w h score' line per box).")


def _split_key(key: str) -> tuple[str, str]:
    event, sep, name = key.partition("/")
    if not sep or not event or not name or "/" in name:
        raise PredictionFileError(f"prediction key {key!r} is not '<event>/<name>'.")
    return event, name


def write_predictions(out_dir: str | Path, predictions: Mapping[str, np.ndarray]) -> None:
    """Write one official file per image; existing files for the same images are replaced."""
    out_dir = Path(out_dir)
    for key, boxes in predictions.items():
        event, name = _split_key(key)
        array = np.asarray(boxes, dtype=np.float64)
        if array.size == 0:
            array = array.reshape(0, COLUMNS)
        if array.ndim != 2 or array.shape[1] != COLUMNS:
            raise PredictionFileError(f"predictions for {key!r} have shape {array.shape}; "
                                      f"expected (n, 5) rows of x y w h score.")
        if not np.isfinite(array).all():
            raise PredictionFileError(f"predictions for {key!r} contain NaN or infinity; "
                                      f"refusing to write them.")
        rows = "".join(" ".join(map(repr, row)) + "\n" for row in array.tolist())
        (out_dir / event).mkdir(parents=True, exist_ok=True)
        (out_dir / event / f"{name}{SUFFIX}").write_text(f"{name}\n{len(array)}\n{rows}",
                                                         encoding="ascii")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PredictionFileError(f"{path}: cannot read the prediction file ({exc}).") from exc


def _header(path: Path, raw: bytes) -> tuple[int, bytes]:
    """Check line 1 (name) and line 2 (count); return the count and the box lines' text."""
    first_end = raw.find(b"\n")
    if first_end < 0:
        raise _fail(path, 2, "missing the box count line")
    name = raw[:first_end].strip().decode("utf-8", errors="replace")
    # Tools write "<name>", "<name>.jpg" or even "<event>/<name>.jpg": compare the base name.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    if base.lower().endswith(".jpg"):
        base = base[:-4]
    if base != path.stem:
        raise _fail(path, 1, f"image name {name!r} does not match the file name")
    second_end = raw.find(b"\n", first_end + 1)
    if second_end < 0:
        second_end = len(raw)
    count_text = raw[first_end + 1:second_end].strip()
    try:
        count = int(count_text)
    except ValueError:
        raise _fail(path, 2, f"box count {count_text.decode(errors='replace')!r} is not an "
                             f"integer") from None
    if count < 0:
        raise _fail(path, 2, f"negative box count {count}")
    end = len(raw)
    while end > second_end + 1 and raw[end - 1] in _WHITESPACE:  # trailing blank lines
        end -= 1
    return count, raw[second_end + 1:end]


_SEPARATORS_ONLY = bytes(c for c in range(256) if c not in b" \n")
_ROW_SKELETON = b" " * (COLUMNS - 1) + b"\n"


def _is_plain(body: bytes, count: int) -> bool:
    """True when the separators alone prove ``count`` lines of exactly 5 single-spaced fields.

    Deleting every byte but spaces and newlines must leave ``"    \n"`` per line: that rules out
    missing or extra fields, double or trailing spaces and blank lines at C speed, so the batch
    parse cannot silently shift numbers between rows.
    """
    if count == 0:
        return not body
    if b"\t" in body or b"\r" in body or b"\v" in body or b"\f" in body:
        return False
    skeleton = body.translate(None, _SEPARATORS_ONLY)
    return skeleton == _ROW_SKELETON * (count - 1) + _ROW_SKELETON[:-1]


# --- Exact vectorised decimal parsing -------------------------------------------------------
# numpy's text parsers (fromstring, loadtxt) cost ~300 ns per number: 1.5 s for a full val
# folder, more than the whole evaluation budget. Our files hold plain decimals ("-12.375",
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
_CHUNK = 1 << 17  # bytes per pass: temporaries stay below the mmap threshold, get reused
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


def _parse_numbers(bodies: list[bytes]) -> np.ndarray | None:
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


def _parse_carefully(path: Path, body: bytes, count: int) -> np.ndarray:
    """Line by line: slow, but pins the first bad line for the error message."""
    lines = body.decode("ascii", errors="replace").splitlines()
    if len(lines) != count:
        raise _fail(path, 2, f"box count {count} but {len(lines)} box line(s) follow")
    boxes = np.empty((count, COLUMNS))
    for index, line in enumerate(lines):
        fields = line.split()
        number = BODY_FIRST_LINE + index
        if len(fields) != COLUMNS:
            raise _fail(path, number, f"{len(fields)} field(s) instead of 5")
        try:
            boxes[index] = [float(field) for field in fields]
        except ValueError:
            raise _fail(path, number, f"not a number in {line.strip()!r}") from None
        if not np.isfinite(boxes[index]).all():
            raise _fail(path, number, f"NaN or infinity in {line.strip()!r}")
    return boxes


def _parse_plain(bodies: list[bytes], total: int) -> np.ndarray | None:
    """(total, 5) boxes of plain bodies, or None if a number is bad (caller re-reads)."""
    numbers = _parse_numbers(bodies)
    if numbers is None or numbers.size != COLUMNS * total or not np.isfinite(numbers).all():
        return None
    return numbers.reshape(total, COLUMNS)


def read_prediction_file(path: str | Path) -> np.ndarray:
    """The (n, 5) float64 boxes of one official prediction file."""
    path = Path(path)
    count, body = _header(path, _read_bytes(path))
    if count == 0 and not body:
        return np.zeros((0, COLUMNS))
    boxes = _parse_plain([body], count) if _is_plain(body, count) else None
    return boxes if boxes is not None else _parse_carefully(path, body, count)


def prediction_paths(pred_dir: str | Path) -> dict[str, Path]:
    """``"<event>/<name>" -> path`` of every ``<pred_dir>/<event>/<name>.txt``, sorted by key."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise PredictionFileError(f"prediction folder not found: {pred_dir} (expected "
                                  f"<folder>/<event>/<name>.txt, the official layout).")
    paths = {}
    for event_dir in pred_dir.iterdir():
        if not event_dir.is_dir() or event_dir.name.startswith("."):
            continue
        for path in event_dir.iterdir():
            if path.suffix == SUFFIX and not path.name.startswith(".") and path.is_file():
                paths[f"{event_dir.name}/{path.stem}"] = path
    return dict(sorted(paths.items()))


def read_predictions(pred_dir: str | Path) -> dict[str, np.ndarray]:
    """Every prediction file of ``pred_dir`` as ``"<event>/<name>" -> (n, 5)`` float64."""
    return read_prediction_paths(prediction_paths(pred_dir))


def read_prediction_paths(paths: Mapping[str, Path]) -> dict[str, np.ndarray]:
    """Read the files of a ``prediction_paths`` mapping (lets a caller vet the keys first).

    Plain files are parsed together, about ``_CHUNK`` bytes at a time (see the module
    docstring); the others are read line by line, so an error names the file and line.
    """
    result: dict[str, np.ndarray] = {}
    pending: list[tuple[str, int, bytes]] = []
    size = 0
    for key, path in paths.items():
        count, body = _header(path, _read_bytes(path))
        if not _is_plain(body, count):
            result[key] = _parse_carefully(path, body, count)
            continue
        pending.append((key, count, body))
        size += len(body)
        if size >= _CHUNK:
            _parse_pending(pending, paths, result)
            pending, size = [], 0
    _parse_pending(pending, paths, result)
    return {key: result[key] for key in paths}


def _parse_pending(pending: list[tuple[str, int, bytes]], paths: Mapping[str, Path],
                   result: dict[str, np.ndarray]) -> None:
    boxes = _parse_plain([body for _, count, body in pending if count],
                         sum(count for _, count, _ in pending))
    if boxes is None:
        for key, _, _ in pending:  # the culprit raises, naming its file and line
            result[key] = read_prediction_file(paths[key])
        return
    start = 0
    for key, count, _ in pending:  # views into one array: no per-image copies
        result[key] = boxes[start:start + count]
        start += count
