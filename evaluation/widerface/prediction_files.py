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

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from compbench.errors import CompbenchError
from compbench.evaluation.widerface.fast_decimal import CHUNK_BYTES, parse_numbers
from compbench.evaluation.widerface.images import is_dangling, list_folder, path_problem

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
        _write_file(out_dir / event / f"{name}{SUFFIX}", f"{name}\n{len(array)}\n{rows}")


def _write_file(target: Path, text: str) -> None:
    """``check_output_folder`` vets the folder up front; this still names the file if the disk
    fills up or the folder changes under us, instead of ending a long run in a traceback."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="ascii")
    except OSError as exc:
        raise PredictionFileError(f"cannot write {target} ({exc.strerror}): check that the output "
                                  f"folder is writable and has no file where a folder must go.") from exc


def _require_writable(folder: Path, problem: str) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PredictionFileError(f"{problem} (check its permissions or choose another output "
                                  "folder).")


def _check_creatable(out_dir: Path) -> None:
    """A missing ``--out`` is created by the writer: its nearest existing ancestor must allow it."""
    ancestor = out_dir.parent
    while not ancestor.exists() and not ancestor.is_symlink() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    problem = path_problem(ancestor, folder=True)
    if problem:
        raise PredictionFileError(f"--out {out_dir} cannot be created: {problem}; choose another "
                                  f"output folder.")
    _require_writable(ancestor, f"--out {out_dir} cannot be created: {ancestor} is not writable")


def check_output_folder(out_dir: str | Path, overwrite: bool = False) -> dict[str, Path]:
    """Vet an output folder before inference, so a bad ``--out`` costs seconds, not a whole run.

    Returns the prediction files already there (only allowed with ``overwrite``): the writer
    replaces those of the images it predicts and leaves the others, which the caller reports.
    """
    out_dir = Path(out_dir)
    if not out_dir.exists() and not out_dir.is_symlink():
        _check_creatable(out_dir)
        return {}
    problem = path_problem(out_dir, folder=True)
    if problem:
        raise PredictionFileError(f"--out {problem}: it must be a folder (created if absent); "
                                  f"choose another path.")
    _require_writable(out_dir, f"--out {out_dir} is not writable")
    existing = prediction_paths(out_dir)
    if existing and not overwrite:
        first = next(iter(existing.values()))
        raise PredictionFileError(f"--out {out_dir} already holds {len(existing)} prediction "
                                  f"file(s) (e.g. {first}); pass --overwrite to replace them, or "
                                  f"choose an empty or new folder.")
    return existing


def check_event_folders(out_dir: str | Path, keys: Iterable[str]) -> None:
    """A file where an event folder must go would make the writer fail after inference."""
    out_dir = Path(out_dir)
    for event in sorted({_split_key(key)[0] for key in keys}):
        folder = out_dir / event
        problem = path_problem(folder, folder=True) if folder.exists() or is_dangling(folder) else None
        if problem:
            raise PredictionFileError(f"{problem}, but the predictions of event {event} go into a "
                                      f"folder of that name: move it away or choose another --out.")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PredictionFileError(f"{path}: cannot read the prediction file ({exc.strerror}): "
                                  f"check its permissions.") from exc


def _count_beyond_body(count: int, body: bytes) -> int | None:
    """The box lines present if fewer than ``count``, else None.

    Checked before anything is sized by ``count``: a corrupt count such as 99999999999 would
    otherwise ask for terabytes. The newline count is a C-speed upper bound; only a file that
    exceeds it pays for the exact count (the one the line-by-line reader uses).
    """
    if count <= body.count(b"\n") + 1:
        return None
    present = len(body.decode("ascii", errors="replace").splitlines())
    return present if count > present else None


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
    body = raw[second_end + 1:end]
    present = _count_beyond_body(count, body)
    if present is not None:
        raise _fail(path, 2, f"box count {count} but {present} box line(s) follow")
    return count, body


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
    if not pred_dir.exists() and not pred_dir.is_symlink():
        raise PredictionFileError(f"prediction folder not found: {pred_dir} (expected "
                                  f"<folder>/<event>/<name>.txt, the official layout).")
    problem = path_problem(pred_dir, folder=True)
    if problem:
        raise PredictionFileError(f"prediction folder not usable: {problem} (it must be a "
                                  f"folder holding <event>/<name>.txt, the official layout).")
    paths = {}
    for event_dir in list_folder(pred_dir, PredictionFileError):
        if event_dir.name.startswith("."):
            continue
        if is_dangling(event_dir):  # perhaps a linked event folder: its files would be lost
            raise PredictionFileError(f"{path_problem(event_dir, folder=True)}: fix or remove it.")
        if event_dir.is_dir():
            paths.update(_event_files(event_dir))
    return dict(sorted(paths.items()))


def _event_files(event_dir: Path) -> dict[str, Path]:
    """The ``.txt`` entries of one event folder. One that is not a readable file is an error:
    skipping it would silently count that image as having no detections."""
    paths = {}
    for path in list_folder(event_dir, PredictionFileError):
        if path.suffix != SUFFIX or path.name.startswith("."):
            continue
        problem = path_problem(path, folder=False)
        if problem:
            raise PredictionFileError(f"{problem}: expected a prediction file there; fix or "
                                      f"remove it.")
        paths[f"{event_dir.name}/{path.stem}"] = path
    return paths


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
