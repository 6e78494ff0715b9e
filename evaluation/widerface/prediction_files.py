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

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from compbench.errors import CompbenchError
from evaluation.widerface.fast_decimal import CHUNK_BYTES, parse_numbers

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
    numbers = parse_numbers(bodies)
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
        if size >= CHUNK_BYTES:
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
