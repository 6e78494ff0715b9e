"""The official WIDER FACE val ground truth, read once into plain numpy structures.

The official ``.mat`` files nest MATLAB cell arrays three deep (event -> image -> array), which
every caller would otherwise have to unwrap with ``[i][0][j][0]`` indexing. Here they become two
flat dictionaries keyed by ``"<event>/<name>"`` (the image path under ``WIDER_val/images``
without ``.jpg``), so predictions, image lists and ground truth all share one key.

The setting files (easy / medium / hard) do not hold their own boxes: each lists, per image, the
1-based indices of the faces of ``wider_face_val.mat`` that the setting scores; every other face
is "ignored" (a detection on it is neither a hit nor a false positive). We store those indices
0-based so they index the box arrays directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from compbench.assets import MANIFEST, sha256_of
from compbench.errors import AssetCorrupt, AssetMissing
from compbench.evaluation.widerface.images import path_problem

SETTINGS: tuple[str, ...] = ("easy", "medium", "hard")
VAL_MAT = "wider_face_val.mat"
GT_SOURCE = "the WIDER FACE dataset site (eval_tools.zip, folder eval_tools/ground_truth)"
GT_RELDIR = "widerface/eval_tools/ground_truth"  # under the assets folder


def setting_mat(setting: str) -> str:
    return f"wider_{setting}_val.mat"


@dataclass(frozen=True)
class WiderGroundTruth:
    """Ground truth of one split.

    ``boxes[key]``: (n, 4) float64 ``x y w h`` in the official order (which the keep indices
    refer to). ``keep[setting][key]``: int64 0-based indices into ``boxes[key]`` of the faces
    that the setting counts. Dictionaries keep the official event / file order.
    """

    boxes: dict[str, np.ndarray]
    keep: dict[str, dict[str, np.ndarray]]

    @property
    def keys(self) -> list[str]:
        return list(self.boxes)

    def face_count(self, setting: str, keys: Iterable[str] | None = None) -> int:
        """Faces the setting counts (the AP's recall denominator) over ``keys`` (default: all)."""
        per_image = self.keep[setting]
        chosen = per_image if keys is None else keys
        return int(sum(len(per_image[key]) for key in chosen))


_HOLDS = f"{VAL_MAT} and wider_{{easy,medium,hard}}_val.mat"


def _check_path(path: Path, folder: bool) -> None:
    """A missing ground-truth file or folder, or one of the wrong kind: one message naming it."""
    what = "folder" if folder else "file"
    if not path.exists() and not path.is_symlink():
        raise AssetMissing(f"WIDER FACE ground truth {what} not found: {path}. The folder must "
                           f"hold {_HOLDS}; get them from {GT_SOURCE}.")
    problem = path_problem(path, folder=folder)
    if problem:
        fix = (f"it must be a folder holding {_HOLDS}" if folder
               else f"put the official file there, from {GT_SOURCE}")
        raise AssetCorrupt(f"WIDER FACE ground truth {what} not usable: {problem}; {fix}.")


def _check_file(path: Path) -> None:
    _check_path(path, folder=False)


def _check_folder(gt_dir: Path) -> None:
    _check_path(gt_dir, folder=True)


def official_checksums() -> dict[str, str]:
    """File name -> sha256 of the official files, taken from the asset manifest so the
    published checksums live in one place."""
    prefix = f"{GT_RELDIR}/"
    return {relpath[len(prefix):]: spec.sha256 for relpath, spec in MANIFEST.items()
            if relpath.startswith(prefix) and spec.sha256}


def _sha256(path: Path) -> str:
    _check_file(path)
    try:
        return sha256_of(path)
    except OSError as exc:
        raise AssetCorrupt(f"cannot read {path} ({exc.strerror}): check its permissions.") from exc


def check_official_files(gt_dir: str | Path) -> list[str]:
    """Compare the four files with the official checksums; return warnings for unknown content.

    An official file under another official name (easy saved as hard) loads without complaint
    (every setting file also holds face_bbx_list) and gives plausible, wrong APs, so it is an
    error that says what the file really is. Unknown content (a re-saved copy, another
    release) may be legitimate: only a warning, the structural checks still apply.
    """
    gt_dir = Path(gt_dir)
    _check_folder(gt_dir)
    official = official_checksums()
    name_of = {digest: name for name, digest in official.items()}
    warnings = []
    for name, expected in official.items():
        path = gt_dir / name
        digest = _sha256(path)
        if digest == expected:
            continue
        if digest in name_of:
            raise AssetCorrupt(f"{path} is the official {name_of[digest]} (identical sha256), "
                               f"not {name}: the ground truth files are misnamed or swapped; "
                               f"put the official {name} there, from {GT_SOURCE}.")
        warnings.append(f"{path} is not the official {name} (unknown sha256 {digest[:16]}…); "
                        f"using it anyway, its APs are not comparable with published ones.")
    return warnings


def _load_mat(path: Path, variables: list[str]) -> dict[str, np.ndarray]:
    # Imported here: scipy.io is the slowest import of the package and only this needs it.
    from scipy.io import loadmat

    _check_file(path)
    try:
        content = loadmat(str(path), variable_names=variables)
    except Exception as exc:  # scipy raises several unrelated types for a damaged file
        raise AssetCorrupt(f"cannot read {path} as a MATLAB file ({exc}); replace it with a "
                           f"fresh copy from {GT_SOURCE}.") from exc
    missing = [name for name in variables if name not in content]
    if missing:
        raise AssetCorrupt(f"{path} lacks the variable(s) {', '.join(missing)}: it is not an "
                           f"official WIDER FACE ground truth file (get one from {GT_SOURCE}).")
    return content


def _image_keys(mat: dict[str, np.ndarray]) -> list[list[str]]:
    """Per event, the image keys, in the order the per-image cell arrays use."""
    keys = []
    for event_cell, files_cell in zip(mat["event_list"][:, 0], mat["file_list"][:, 0], strict=True):
        event = str(event_cell[0])
        keys.append([f"{event}/{str(name_cell[0])}" for name_cell in files_cell[:, 0]])
    return keys


def _boxes_of(cell: np.ndarray) -> np.ndarray:
    if cell.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    return np.asarray(cell, dtype=np.float64).reshape(-1, 4)


def _keep_of(path: Path, cell: np.ndarray, key: str, n_faces: int) -> np.ndarray:
    one_based = np.asarray(cell, dtype=np.int64).reshape(-1)
    if one_based.size and (one_based.min() < 1 or one_based.max() > n_faces):
        raise AssetCorrupt(f"{path}: keep index out of range 1..{n_faces} for image {key}; "
                           f"the file does not match {VAL_MAT}.")
    return one_based - 1


def _flat_faces(gt: WiderGroundTruth, setting: str) -> np.ndarray:
    """The setting's faces as indices into all faces of the split, image after image."""
    start, flat = 0, [np.zeros(0, dtype=np.int64)]
    for key, boxes in gt.boxes.items():
        flat.append(gt.keep[setting][key] + start)
        start += len(boxes)
    return np.concatenate(flat)


def _check_nested(gt_dir: Path, gt: WiderGroundTruth) -> None:
    """In the official release every easy face is a medium face and every medium face a hard
    one, on every image. Setting files that break it are swapped or edited; unlike a bad
    index, nothing else would notice. A small part of the load's time
    (docs/studies/design-measurements.md)."""
    for looser, stricter in pairwise(SETTINGS):
        if not np.isin(_flat_faces(gt, looser), _flat_faces(gt, stricter)).all():
            raise AssetCorrupt(
                f"{gt_dir / setting_mat(looser)} keeps faces that {setting_mat(stricter)} does "
                f"not (official files nest easy within medium within hard): the setting files "
                f"are swapped or not from the official release; get them from {GT_SOURCE}.")


def _read(gt_dir: Path) -> WiderGroundTruth:
    val_path = gt_dir / VAL_MAT
    val = _load_mat(val_path, ["event_list", "file_list", "face_bbx_list"])
    event_keys = _image_keys(val)
    boxes: dict[str, np.ndarray] = {}
    for keys, bbx_cell in zip(event_keys, val["face_bbx_list"][:, 0], strict=True):
        for key, cell in zip(keys, bbx_cell[:, 0], strict=True):
            boxes[key] = _boxes_of(cell)

    keep: dict[str, dict[str, np.ndarray]] = {}
    for setting in SETTINGS:
        path = gt_dir / setting_mat(setting)
        mat = _load_mat(path, ["event_list", "file_list", "gt_list"])
        if _image_keys(mat) != event_keys:
            raise AssetCorrupt(f"{path} lists other events or images than {val_path}; both must "
                               f"come from the same official release ({GT_SOURCE}).")
        keep[setting] = {
            key: _keep_of(path, cell, key, len(boxes[key]))
            for keys, gt_cell in zip(event_keys, mat["gt_list"][:, 0], strict=True)
            for key, cell in zip(keys, gt_cell[:, 0], strict=True)
        }
    ground_truth = WiderGroundTruth(boxes=boxes, keep=keep)
    _check_nested(gt_dir, ground_truth)
    return ground_truth


def load_ground_truth(gt_dir: str | Path) -> WiderGroundTruth:
    """Read ``wider_face_val.mat`` and the three setting files of ``gt_dir``.

    The setting files repeat the event and file lists; we check they agree with the main file,
    because a keep list applied to the wrong image would silently corrupt every AP. Contents
    are not checksummed here (``check_official_files`` does, for folders the user names).
    """
    gt_dir = Path(gt_dir)
    _check_folder(gt_dir)
    try:
        return _read(gt_dir)
    except (IndexError, ValueError, TypeError, AttributeError) as exc:
        # The variables exist but are not nested cell arrays of the official shape.
        raise AssetCorrupt(f"the .mat files in {gt_dir} do not have the official WIDER FACE "
                           f"structure ({type(exc).__name__}: {exc}); get them from "
                           f"{GT_SOURCE}.") from exc
