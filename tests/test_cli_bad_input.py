"""Every bad input to the command line ends in one line naming the file or option and the fix.

One class of bad input per test: ``compbench eval-wider`` (prediction files, folders, ground
truth), ``compbench predict-wider`` (``--out``, truncated images) and asset overrides (pytest
``--asset`` and ``$COMPBENCH_ASSET_OVERRIDES``). No test runs a model: the predict-wider checks
must fire before the pipeline is prepared, which ``no_pipeline`` enforces.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from compbench.assets import OVERRIDES_ENV, parse_overrides
from compbench.errors import AssetCorrupt, BadOption, CompbenchError
from compbench.evaluation.widerface import PredictionFileError, read_prediction_file, read_predictions
from compbench.evaluation.widerface.cli import main as eval_main
from compbench.runner.cli import main as compbench_main
from compbench.settings import REPO_ROOT

GT_RELDIR = "widerface/eval_tools/ground_truth"
GT_NAMES = ["wider_face_val.mat", "wider_easy_val.mat", "wider_medium_val.mat",
            "wider_hard_val.mat"]
REAL_KEY = "0--Parade/0_Parade_marchingband_1_465"  # first image of the official list
VARIANT = "scrfd_500m_kps/fp32/torch"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def one_line_error(captured, prefix: str) -> str:
    """The single stderr line (of capsys or a subprocess), prefixed, with no traceback."""
    out, err = (captured.out, captured.err) if hasattr(captured, "err") else (captured.stdout,
                                                                                captured.stderr)
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), lines[0]
    return lines[0]


def eval_error(capsys, *argv: str) -> str:
    assert eval_main(list(argv)) == 2
    return one_line_error(capsys.readouterr(), "compbench eval-wider: ")


@pytest.fixture(scope="module")
def gt_dir(asset_file):
    return [asset_file(f"{GT_RELDIR}/{name}") for name in GT_NAMES][0].parent


@pytest.fixture
def one_prediction(tmp_path) -> Path:
    """A valid prediction folder of one real val image."""
    write(tmp_path / "preds" / f"{REAL_KEY}.txt", "0_Parade_marchingband_1_465\n0\n")
    return tmp_path / "preds"


def gt_copy(tmp_path: Path, gt_dir: Path, **renamed: str) -> Path:
    """A copy of the official folder; ``renamed[target] = source`` puts ``source`` at ``target``."""
    folder = tmp_path / "gt"
    folder.mkdir()
    for name in GT_NAMES:
        shutil.copyfile(gt_dir / renamed.get(name, name), folder / name)
    return folder


def resave(source: Path, target: Path) -> None:
    """The same ground truth under another sha256 (what a user's own re-saved copy looks like)."""
    from scipy.io import loadmat, savemat

    content = loadmat(source, variable_names=["event_list", "file_list", "gt_list"])
    savemat(target, {name: value for name, value in content.items() if not name.startswith("_")})


# --- eval-wider: prediction files ----------------------------------------------------------

@pytest.mark.parametrize("count_line", ["99999999999", "4" * 400])
def test_absurd_box_count_is_one_error_not_an_allocation(tmp_path, count_line):
    path = write(tmp_path / "e" / "img.txt", f"img\n{count_line}\n1 2 3 4 0.5\n")
    for read in (lambda: read_prediction_file(path), lambda: read_predictions(tmp_path)):
        with pytest.raises(PredictionFileError) as info:
            read()
        assert f"{path}:2: box count {count_line} but 1 box line(s) follow" in str(info.value)


def test_absurd_box_count_through_the_cli(tmp_path, gt_dir, capsys):
    path = write(tmp_path / "preds" / f"{REAL_KEY}.txt",
                 "0_Parade_marchingband_1_465\n99999999999\n")
    line = eval_error(capsys, "--pred-dir", str(tmp_path / "preds"), "--gt-dir", str(gt_dir))
    assert f"{path}:2: box count 99999999999 but 0 box line(s) follow" in line


def test_absurd_box_count_as_a_command(tmp_path, gt_dir):
    path = write(tmp_path / "preds" / f"{REAL_KEY}.txt",
                 "0_Parade_marchingband_1_465\n99999999999\n1 2 3 4 0.5\n")
    completed = subprocess.run(
        [sys.executable, "-m", "compbench.runner.cli", "eval-wider", "--pred-dir",
         str(tmp_path / "preds"), "--gt-dir", str(gt_dir)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    line = one_line_error(completed, "compbench eval-wider: ")
    assert f"{path}:2: box count 99999999999 but 1 box line(s) follow" in line


def test_prediction_folder_that_is_a_file(tmp_path, capsys):
    not_a_folder = write(tmp_path / "preds.txt", "x")
    line = eval_error(capsys, "--pred-dir", str(not_a_folder))
    assert f"{not_a_folder} is a file, not a folder" in line and "<event>/<name>.txt" in line


def test_prediction_folder_that_is_a_broken_link(tmp_path, capsys):
    (tmp_path / "preds").symlink_to(tmp_path / "gone")
    line = eval_error(capsys, "--pred-dir", str(tmp_path / "preds"))
    assert f"{tmp_path / 'preds'} is a broken symbolic link (to {tmp_path / 'gone'})" in line


@pytest.mark.parametrize("kind", ["folder", "broken link"])
def test_prediction_file_that_is_not_a_file(one_prediction, capsys, kind):
    bad = one_prediction / "0--Parade" / "0_Parade_Parade_0_628.txt"
    if kind == "folder":
        bad.mkdir()
    else:
        bad.symlink_to(one_prediction / "nowhere.txt")
    line = eval_error(capsys, "--pred-dir", str(one_prediction), "--subset")
    what = "is a folder, not a file" if kind == "folder" else "is a broken symbolic link"
    assert f"{bad} {what}" in line and "expected a prediction file there" in line


def test_event_folder_that_is_a_broken_link(one_prediction, capsys):
    (one_prediction / "1--Handshaking").symlink_to(one_prediction / "elsewhere")
    line = eval_error(capsys, "--pred-dir", str(one_prediction), "--subset")
    assert f"{one_prediction / '1--Handshaking'} is a broken symbolic link" in line


def permission_denied(path, *_):
    """What reading a file without permission raises (root ignores chmod 000)."""
    raise PermissionError(13, "Permission denied", str(path))


def test_unreadable_prediction_file(one_prediction, gt_dir, capsys, monkeypatch):
    # Root reads through chmod 000, so the permission error is raised where the file is read.
    monkeypatch.setattr(Path, "read_bytes", permission_denied)
    line = eval_error(capsys, "--pred-dir", str(one_prediction), "--gt-dir", str(gt_dir))
    assert (f"{one_prediction / REAL_KEY}.txt: cannot read the prediction file (Permission "
            f"denied): check its permissions") in line


def test_unreadable_event_folder(one_prediction, capsys, monkeypatch):
    listed = Path.iterdir

    def iterdir(self):
        if self.name == "0--Parade":
            raise PermissionError(13, "Permission denied", str(self))
        return listed(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    line = eval_error(capsys, "--pred-dir", str(one_prediction))
    assert (f"cannot list the folder {one_prediction / '0--Parade'} (Permission denied): "
            f"check its permissions") in line


@pytest.mark.skipif(AS_ROOT, reason="root reads files whatever their mode")
def test_chmod_000_prediction_file_and_folder(one_prediction, capsys):
    event = one_prediction / "0--Parade"
    file = event / "0_Parade_marchingband_1_465.txt"
    file.chmod(0)
    try:
        assert "cannot read the prediction file" in eval_error(
            capsys, "--pred-dir", str(one_prediction), "--subset", "--gt-dir", "/nonexistent")
    finally:
        file.chmod(0o644)
    event.chmod(0)
    try:
        assert f"cannot list the folder {event}" in eval_error(capsys, "--pred-dir",
                                                               str(one_prediction))
    finally:
        event.chmod(0o755)


# --- eval-wider: ground truth --------------------------------------------------------------

@pytest.mark.parametrize("target, source", [("wider_hard_val.mat", "wider_easy_val.mat"),
                                            ("wider_face_val.mat", "wider_easy_val.mat")])
def test_official_file_under_the_wrong_name(tmp_path, gt_dir, one_prediction, capsys, target,
                                            source):
    folder = gt_copy(tmp_path, gt_dir, **{target: source})
    line = eval_error(capsys, "--pred-dir", str(one_prediction), "--gt-dir", str(folder))
    assert (f"{folder / target} is the official {source} (identical sha256), not {target}: "
            f"the ground truth files are misnamed or swapped") in line


def test_unknown_ground_truth_content_is_a_warning(tmp_path, gt_dir, one_prediction, capsys):
    folder = gt_copy(tmp_path, gt_dir)
    resave(gt_dir / "wider_hard_val.mat", folder / "wider_hard_val.mat")
    assert eval_main(["--pred-dir", str(one_prediction), "--gt-dir", str(folder),
                      "--subset"]) == 0
    line = one_line_error(capsys.readouterr(), "compbench eval-wider: warning: ")
    assert f"{folder / 'wider_hard_val.mat'} is not the official wider_hard_val.mat" in line


def test_swapped_setting_files_of_unknown_content(tmp_path, gt_dir, one_prediction, capsys):
    # Re-saved, so no checksum matches: the nesting easy < medium < hard still catches the swap.
    folder = gt_copy(tmp_path, gt_dir)
    resave(gt_dir / "wider_hard_val.mat", folder / "wider_easy_val.mat")
    assert eval_main(["--pred-dir", str(one_prediction), "--gt-dir", str(folder)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "Traceback" not in "".join(err) and len(err) == 2  # the warning, then the error
    assert err[0].startswith("compbench eval-wider: warning: ")
    assert err[1] == (f"compbench eval-wider: {folder / 'wider_easy_val.mat'} keeps faces that "
                      f"wider_medium_val.mat does not (official files nest easy within medium "
                      f"within hard): the setting files are swapped or not from the official "
                      f"release; get them from the WIDER FACE dataset site (eval_tools.zip, "
                      f"folder eval_tools/ground_truth).")


def test_ground_truth_folder_that_is_a_file(tmp_path, one_prediction, capsys):
    not_a_folder = write(tmp_path / "gt.mat", "x")
    line = eval_error(capsys, "--pred-dir", str(one_prediction), "--gt-dir", str(not_a_folder))
    assert f"ground truth folder not usable: {not_a_folder} is a file, not a folder" in line


def test_ground_truth_file_that_is_a_folder(tmp_path, gt_dir, one_prediction, capsys):
    folder = gt_copy(tmp_path, gt_dir)
    (folder / "wider_medium_val.mat").unlink()
    (folder / "wider_medium_val.mat").mkdir()
    line = eval_error(capsys, "--pred-dir", str(one_prediction), "--gt-dir", str(folder))
    assert f"{folder / 'wider_medium_val.mat'} is a folder, not a file" in line


def test_ground_truth_file_that_is_unreadable(tmp_path, gt_dir, one_prediction, capsys,
                                              monkeypatch):
    import compbench.evaluation.widerface.ground_truth as ground_truth

    monkeypatch.setattr(ground_truth, "sha256_of", permission_denied)
    line = eval_error(capsys, "--pred-dir", str(one_prediction), "--gt-dir", str(gt_dir))
    assert (f"cannot read {gt_dir / 'wider_face_val.mat'} (Permission denied): check its "
            f"permissions") in line


# --- predict-wider: --out, checked before the pipeline ---------------------------------------

class FakePipeline:
    """Stands in for ``VariantPipeline``: no build, no model, a session that is never run."""

    def __init__(self, variant, assets, cache, task):
        self.session = SimpleNamespace(run=None, accepts_batch=lambda size: size == 1)

    def prepare(self) -> None:
        pass


@pytest.fixture
def no_pipeline(monkeypatch):
    """Preparing the pipeline (building, calibrating, loading a model) fails the test."""

    class Refused(FakePipeline):
        def prepare(self) -> None:
            pytest.fail("--out was not checked before the pipeline was prepared")

    monkeypatch.setattr("compbench.runner.pipeline.VariantPipeline", Refused)


def predict_error(capsys, out: Path, *extra: str) -> str:
    assert compbench_main(["predict-wider", "--variant", VARIANT, "--out", str(out),
                           *extra]) == 2
    return one_line_error(capsys.readouterr(), "compbench: error: ")


def test_out_that_is_a_file(tmp_path, capsys, no_pipeline):
    out = write(tmp_path / "out", "x")
    line = predict_error(capsys, out)
    assert f"--out {out} is a file, not a folder: it must be a folder" in line


def test_out_under_a_file(tmp_path, capsys, no_pipeline):
    parent = write(tmp_path / "out", "x")
    line = predict_error(capsys, parent / "preds")
    assert f"--out {parent / 'preds'} cannot be created: {parent} is a file, not a folder" in line


def test_out_as_a_command_fails_fast(tmp_path):
    out = write(tmp_path / "out", "x")
    completed = subprocess.run(
        [sys.executable, "-m", "compbench.runner.cli", "predict-wider", "--variant", VARIANT,
         "--out", str(out)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=20)
    assert completed.returncode == 2
    assert f"--out {out} is a file" in one_line_error(completed, "compbench: error: ")


def test_out_with_a_file_where_an_event_folder_goes(tmp_path, asset_dir, assets, capsys,
                                                    no_pipeline):
    asset_dir("widerface/WIDER_val/images")
    out = tmp_path / "out"
    blocker = write(out / "0--Parade", "not a folder")
    line = predict_error(capsys, out, "--assets", str(assets.root))
    assert (f"{blocker} is a file, not a folder, but the predictions of event 0--Parade go into "
            f"a folder of that name") in line


def test_out_that_holds_predictions_needs_overwrite(tmp_path, capsys, no_pipeline):
    out = tmp_path / "out"
    old = write(out / "0--Parade" / "0_Parade_x_1.txt", "0_Parade_x_1\n0\n")
    line = predict_error(capsys, out)
    assert (f"--out {out} already holds 1 prediction file(s) (e.g. {old}); pass --overwrite "
            f"to replace them") in line


def test_overwrite_replaces_and_names_the_leftovers(tmp_path, asset_dir, assets, capsys,
                                                    monkeypatch):
    from compbench.tasks.widerface import WiderFaceTask

    asset_dir("widerface/WIDER_val/images")
    monkeypatch.setattr("compbench.runner.pipeline.VariantPipeline", FakePipeline)
    monkeypatch.setattr(WiderFaceTask, "predict",
                        lambda self, run, label, batch: {REAL_KEY: np.zeros((0, 5))})
    out = tmp_path / "out"
    write(out / f"{REAL_KEY}.txt", "0_Parade_marchingband_1_465\n0\n")
    leftover = write(out / "0--Parade" / "0_Parade_x_1.txt", "0_Parade_x_1\n0\n")
    assert compbench_main(["predict-wider", "--variant", VARIANT, "--out", str(out),
                           "--assets", str(assets.root), "--overwrite"]) == 0
    captured = capsys.readouterr()
    assert "wrote 1 prediction files (0 detections)" in captured.out
    line = one_line_error(captured, "note: 1 older prediction file(s) of other images")
    assert str(leftover) in line


def test_batch_falls_back_to_one_for_a_fixed_batch_artifact(tmp_path, asset_dir, assets, capsys,
                                                            monkeypatch):
    from compbench.tasks.widerface import WiderFaceTask

    asset_dir("widerface/WIDER_val/images")
    monkeypatch.setattr("compbench.runner.pipeline.VariantPipeline", FakePipeline)
    batches = []
    monkeypatch.setattr(WiderFaceTask, "predict",
                        lambda self, run, label, batch: batches.append(batch) or {})
    assert compbench_main(["predict-wider", "--variant", VARIANT, "--out", str(tmp_path / "o"),
                           "--assets", str(assets.root), "--batch", "4"]) == 0
    assert batches == [1]
    assert "has a fixed batch of 1: predicting one image at a time" in capsys.readouterr().err


LIMITS = ["0", "-1", "inf", "nan"]
NUMERIC_OPTIONS = {   # every numeric option of `compbench`, with the rest of a valid command
    "--batch": (["predict-wider", "--variant", VARIANT, "--out", "{tmp}/o"],
                "expected a whole number >= 1"),
    "--tolerance": (["compare", ".", ".", "resnet8/fp32/onnxruntime"],
                    "expected a number strictly between 0 and 1"),
    "--speed-budget": (["compare", ".", ".", "resnet8/fp32/onnxruntime"],
                       "expected a finite number of seconds > 0"),
    "--last": (["history", "--history", "{tmp}/history.sqlite"], "expected a whole number >= 1"),
}


@pytest.mark.parametrize("value", LIMITS)
@pytest.mark.parametrize("option", NUMERIC_OPTIONS)
def test_a_numeric_option_at_its_limit_is_one_usage_error(tmp_path, capsys, no_pipeline, option,
                                                          value):
    """Before the command does anything: no worker started, no model prepared, no file read."""
    command, expected = NUMERIC_OPTIONS[option]
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in command] + [option, value]
    with pytest.raises(SystemExit) as exit_info:
        compbench_main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err and not captured.out
    assert captured.err.splitlines()[-1].endswith(
        f"error: argument {option}: {expected}, got {value!r}")


# --- predict-wider: images -----------------------------------------------------------------

def test_truncated_jpeg_is_corrupt_not_half_grey(tmp_path, asset_dir):
    import cv2

    from compbench.tasks.widerface import read_image

    source = sorted(asset_dir("widerface/WIDER_val/images").rglob("*.jpg"))[0]
    data = source.read_bytes()
    truncated = tmp_path / "0--Parade" / source.name
    truncated.parent.mkdir()
    truncated.write_bytes(data[:len(data) // 2])
    assert cv2.imread(str(truncated)) is not None  # OpenCV alone only warns
    with pytest.raises(AssetCorrupt) as info:
        read_image(truncated)
    message = str(info.value)
    assert f"image {truncated} is truncated" in message and "Replace it with the original" in message
    padded = tmp_path / "padded.jpg"
    padded.write_bytes(data + b"\0" * 100)  # some writers pad after the end marker
    assert read_image(padded).shape == read_image(source).shape


def test_every_real_image_passes_the_truncation_check(asset_dir):
    from compbench.tasks.widerface import _jpeg_is_truncated

    images = [path for folder in ("widerface/WIDER_val/images", "widerface/calib/images")
              for path in sorted(asset_dir(folder).rglob("*.jpg"))]
    assert len(images) == 202
    assert [path for path in images if _jpeg_is_truncated(path)] == []


def test_unreadable_image_names_it(tmp_path, monkeypatch):
    from compbench.tasks.widerface import read_image

    image = tmp_path / "a.jpg"
    image.mkdir()
    with pytest.raises(AssetCorrupt, match=rf"cannot read image {image} \(Is a directory\)"):
        read_image(image)


def test_image_entry_that_is_not_a_file(tmp_path):
    from compbench.evaluation.widerface import list_images

    (tmp_path / "0--Parade").mkdir()
    (tmp_path / "0--Parade" / "a.jpg").symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(AssetCorrupt, match="a.jpg is a broken symbolic link"):
        list_images(tmp_path)
    with pytest.raises(AssetCorrupt, match="image folder not usable: .* is a file, not a folder"):
        list_images(write(tmp_path / "images.txt", "x"))


# --- asset overrides -----------------------------------------------------------------------

def test_malformed_override_is_a_compbench_error():
    with pytest.raises(BadOption) as info:
        parse_overrides(["scrfd/SCRFD_500M_KPS.pth"], "--asset")
    assert isinstance(info.value, CompbenchError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith("--asset: asset override 'scrfd/SCRFD_500M_KPS.pth' must "
                                      "look like RELPATH=PATH")


def run_pytest(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "compbench.pytest_assets", "-q",
         "test_nothing.py", *args], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})})  # this tree's plugin


def test_malformed_asset_option_is_a_usage_error(tmp_path):
    completed = run_pytest(tmp_path, "--asset", "=/data/x.pth")
    assert completed.returncode == pytest.ExitCode.USAGE_ERROR
    assert "Traceback" not in completed.stdout + completed.stderr
    assert completed.stderr.strip() == (
        "ERROR: --asset: asset override '=/data/x.pth' must look like RELPATH=PATH, e.g. "
        "scrfd/SCRFD_500M_KPS.pth=/data/other.pth")


def test_malformed_override_variable_is_a_usage_error(tmp_path):
    completed = run_pytest(tmp_path, env={OVERRIDES_ENV: "a=b;oops"})
    assert completed.returncode == pytest.ExitCode.USAGE_ERROR
    assert "Traceback" not in completed.stdout + completed.stderr
    assert completed.stderr.strip() == (
        f"ERROR: {OVERRIDES_ENV}: asset override 'oops' must look like RELPATH=PATH (entries "
        f"separated by ';'), e.g. scrfd/SCRFD_500M_KPS.pth=/data/other.pth")


def test_malformed_override_variable_in_the_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(OVERRIDES_ENV, "scrfd/SCRFD_500M_KPS.pth=")
    assert compbench_main(["assets", "--assets", str(tmp_path)]) == 2
    line = one_line_error(capsys.readouterr(), f"compbench: error: {OVERRIDES_ENV}: ")
    assert "'scrfd/SCRFD_500M_KPS.pth=' must look like RELPATH=PATH" in line
