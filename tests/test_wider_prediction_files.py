"""The official per-image prediction files: exact round trip, lenient reading, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import ROUND_DOWN, ROUND_UP, Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest

from compbench.evaluation.widerface import (
    PredictionFileError,
    WiderGroundTruth,
    evaluate,
    fast_decimal,
    load_ground_truth,
    read_prediction_file,
    read_predictions,
    write_predictions,
)
from compbench.evaluation.widerface.cli import main
from compbench.settings import REPO_ROOT


def tricky_values(rng: np.random.Generator, n: int) -> np.ndarray:
    """Numbers whose shortest repr takes every form: 17 digits, exponents, -0.0, integers."""
    columns = [
        rng.uniform(-50, 1200, n),                                   # long decimals, negatives
        rng.uniform(0, 1, n).astype(np.float32).astype(np.float64),  # float32 detector output
        np.round(rng.uniform(0, 300, n)),                            # integral values
        rng.uniform(0, 1, n) * 10.0 ** rng.integers(-9, 20, n),      # exponent forms
        rng.uniform(0, 1, n),
    ]
    values = np.column_stack(columns)
    values[::17, 2] = -0.0
    values[::23, 4] = 1e-5
    values[::29, 0] = 2.0 ** 53 + 2.0
    return values


def test_round_trip_is_bit_exact(tmp_path):
    rng = np.random.default_rng(3)
    predictions = {
        "0--Parade/0_Parade_a_1": tricky_values(rng, 400),
        "0--Parade/0_Parade_b_2": np.zeros((0, 5)),
        "12--Group/12_Group_c_3": tricky_values(rng, 1),
        "12--Group/12_Group_d_4": rng.uniform(0, 1000, (3000, 5)),
    }
    write_predictions(tmp_path, predictions)
    back = read_predictions(tmp_path)
    assert list(back) == sorted(predictions)
    for key, boxes in predictions.items():
        assert back[key].shape == boxes.shape
        # Compare bits, so -0.0 vs 0.0 and the last ulp both count.
        assert back[key].view(np.uint64).tolist() == boxes.view(np.uint64).tolist()
        single = read_prediction_file(tmp_path / f"{key}.txt")
        assert single.view(np.uint64).tolist() == boxes.view(np.uint64).tolist()


def test_portable_parser_gives_the_same_result(tmp_path, monkeypatch):
    # Without an x87 long double the reader falls back to numpy's own parser: same numbers.
    rng = np.random.default_rng(4)
    predictions = {"e/a": tricky_values(rng, 300), "e/b": np.zeros((0, 5))}
    write_predictions(tmp_path, predictions)
    monkeypatch.setattr(fast_decimal, "_EXTENDED", False)
    back = read_predictions(tmp_path)
    assert back["e/a"].view(np.uint64).tolist() == predictions["e/a"].view(np.uint64).tolist()
    assert back["e/b"].shape == (0, 5)
    path = write(tmp_path / "e" / "c.txt", "c\n1\n1 2 3 4 0.5x\n")
    with pytest.raises(PredictionFileError, match=rf"{path}:3: not a number"):
        read_predictions(tmp_path)


def test_numbers_near_halfway_between_doubles_parse_like_float(tmp_path):
    # Decimals 17-19 digits long just below / above the midpoint of two adjacent doubles: the
    # hardest inputs for a fast parser (the reader must still agree with float() bit for bit).
    rng = np.random.default_rng(11)
    tokens = []
    with localcontext() as context:
        context.prec = 60
        for value in rng.uniform(0, 2000, 3000):
            low, high = float(value), float(np.nextafter(value, np.inf))
            mid = (Decimal(low) + Decimal(high)) / 2
            for digits in (17, 18, 19):
                step = Decimal(10) ** (mid.adjusted() - digits + 1)
                tokens += [format(mid.quantize(step, rounding=r), "f")
                           for r in (ROUND_DOWN, ROUND_UP)]
    rows = [" ".join(tokens[i:i + 5]) for i in range(0, len(tokens), 5)]
    path = write(tmp_path / "e" / "img.txt", "img\n" + f"{len(rows)}\n" + "\n".join(rows) + "\n")
    expected = np.array([float(token) for token in tokens])
    assert read_prediction_file(path).ravel().view(np.uint64).tolist() == \
        expected.view(np.uint64).tolist()


def test_written_file_follows_the_official_layout(tmp_path):
    write_predictions(tmp_path, {"3--Riot/3_Riot_x_7": np.array([[1.0, 2.5, 3.0, 4.0, 0.9]])})
    text = (tmp_path / "3--Riot" / "3_Riot_x_7.txt").read_text()
    assert text == "3_Riot_x_7\n1\n1.0 2.5 3.0 4.0 0.9\n"


def test_round_trip_gives_the_same_ap(tmp_path):
    rng = np.random.default_rng(5)
    faces = {f"e/{i}": rng.uniform(0, 200, (4, 4)) for i in range(6)}
    gt = WiderGroundTruth(boxes=faces, keep={s: {k: np.arange(4) for k in faces}
                                             for s in ("easy", "medium", "hard")})
    predictions = {key: np.column_stack([boxes + rng.normal(0, 3, boxes.shape),
                                         rng.uniform(0, 1, 4)])
                   for key, boxes in faces.items()}
    write_predictions(tmp_path, predictions)
    assert evaluate(read_predictions(tmp_path), gt) == evaluate(predictions, gt)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


@pytest.mark.parametrize("first_line", ["img_1", "img_1.jpg", "0--Parade/img_1.jpg",
                                        "/data/WIDER_val/images/0--Parade/img_1.jpg"])
def test_reads_official_style_names(tmp_path, first_line):
    path = write(tmp_path / "0--Parade" / "img_1.txt", f"{first_line}\n1\n10 20 30 40 0.99\n")
    assert read_prediction_file(path).tolist() == [[10.0, 20.0, 30.0, 40.0, 0.99]]


@pytest.mark.parametrize("body", [
    "2\n1 2 3 4 0.5\n5 6 7 8 0.25\n\n\n",          # trailing blank lines
    "2\r\n1 2 3 4 0.5\r\n5 6 7 8 0.25\r\n",        # Windows line ends
    "2\n1\t2\t3\t4\t0.5\n5  6 7 8 0.25 \n",         # tabs, double and trailing spaces
    "2\n1.0 2.0 3.0 4.0 5e-1\n5. 6 7 8 .25",       # exponent, bare dots, no final newline
])
def test_reads_whitespace_variants(tmp_path, body):
    path = write(tmp_path / "e" / "img.txt", "img\n" + body)
    expected = [[1.0, 2.0, 3.0, 4.0, 0.5], [5.0, 6.0, 7.0, 8.0, 0.25]]
    assert read_prediction_file(path).tolist() == expected
    assert read_predictions(tmp_path)["e/img"].tolist() == expected


def test_zero_boxes(tmp_path):
    write(tmp_path / "e" / "empty.txt", "empty\n0\n")
    write(tmp_path / "e" / "empty2.txt", "empty2\n0")
    back = read_predictions(tmp_path)
    assert back["e/empty"].shape == (0, 5) and back["e/empty2"].shape == (0, 5)


def test_ignores_hidden_and_foreign_files(tmp_path):
    write(tmp_path / "e" / "img.txt", "img\n1\n1 2 3 4 0.5\n")
    write(tmp_path / "e" / ".img2.txt", "garbage")
    write(tmp_path / "e" / "notes.md", "garbage")
    write(tmp_path / ".cache" / "x.txt", "garbage")
    write(tmp_path / "summary.txt", "garbage")
    assert list(read_predictions(tmp_path)) == ["e/img"]


@pytest.mark.parametrize("content, where, what", [
    ("img\n3\n1 2 3 4 0.5\n1 2 3 4 0.5\n", ":2:", "box count 3 but 2"),
    ("img\n1\n1 2 3 4\n", ":3:", "4 field"),
    ("img\n2\n1 2 3 4 0.5\n1 2 3 4 0.5 9\n", ":4:", "6 field"),
    ("img\n1\n1 2 x 4 0.5\n", ":3:", "not a number"),
    ("img\n1\n1 2 3 4 nan\n", ":3:", "NaN or infinity"),
    ("img\ntwo\n1 2 3 4 0.5\n", ":2:", "not an integer"),
    ("img\n-1\n", ":2:", "negative"),
    ("img", ":2:", "missing the box count"),
    ("other_image\n1\n1 2 3 4 0.5\n", ":1:", "does not match the file name"),
])
def test_malformed_file_names_file_and_line(tmp_path, content, where, what):
    path = write(tmp_path / "e" / "img.txt", content)
    for read in (lambda: read_prediction_file(path), lambda: read_predictions(tmp_path)):
        with pytest.raises(PredictionFileError) as info:
            read()
        message = str(info.value)
        assert f"{path}{where}" in message and what in message


def test_bad_number_in_a_batch_is_pinned_to_its_file(tmp_path):
    # Many plain files parsed together: the one bad token must still be traced to its line.
    rng = np.random.default_rng(0)
    write_predictions(tmp_path, {f"e/img_{i:03d}": rng.uniform(0, 9, (50, 5)) for i in range(80)})
    bad = tmp_path / "e" / "img_041.txt"
    lines = bad.read_text().splitlines()
    lines[7] = lines[7].replace(" ", " 1-", 1)
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(PredictionFileError, match=rf"{bad}:8: not a number"):
        read_predictions(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(PredictionFileError, match="prediction folder not found"):
        read_predictions(tmp_path / "nope")


def test_writer_rejects_bad_input(tmp_path):
    with pytest.raises(PredictionFileError, match="'<event>/<name>'"):
        write_predictions(tmp_path, {"no_event": np.zeros((0, 5))})
    with pytest.raises(PredictionFileError, match="shape"):
        write_predictions(tmp_path, {"e/a": np.zeros((2, 4))})
    with pytest.raises(PredictionFileError, match="NaN or infinity"):
        write_predictions(tmp_path, {"e/a": np.array([[1, 2, 3, 4, np.inf]])})


# --- command line ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gt_dir(asset_file):
    names = ["wider_face_val.mat", "wider_easy_val.mat", "wider_medium_val.mat",
             "wider_hard_val.mat"]
    return [asset_file(f"widerface/eval_tools/ground_truth/{name}") for name in names][0].parent


REAL_KEY = "0--Parade/0_Parade_marchingband_1_465"  # first image of the official list


def test_cli_subset_prints_json_last(tmp_path, gt_dir, capsys):
    # 0_Parade_Parade_0_628 has 29 faces: easy keeps none, medium faces 12, 14, 15 (0-based),
    # hard 16 faces including those three. Exact boxes on the three (scores 0.9, 0.8, 0.7)
    # plus a false positive (0.1): recall steps of 1/3 at precision 1 -> medium AP 1;
    # hard: 3 of 16 at precision 1 -> 3/16; easy has no face -> 0.
    faces = load_ground_truth(gt_dir).boxes["0--Parade/0_Parade_Parade_0_628"]
    rows = [f"{' '.join(map(str, faces[i]))} {score}" for i, score in ((12, 0.9), (14, 0.8),
                                                                        (15, 0.7))]
    rows.append("2000 2000 10 10 0.1")
    write(tmp_path / "0--Parade" / "0_Parade_Parade_0_628.txt",
          "0_Parade_Parade_0_628\n4\n" + "\n".join(rows) + "\n")
    assert main(["--pred-dir", str(tmp_path), "--gt-dir", str(gt_dir), "--subset"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "subset: 1 of 3226 images, 4 predictions" in out[0]
    assert json.loads(out[-1]) == pytest.approx({"easy": 0.0, "medium": 1.0, "hard": 3 / 16})


@pytest.mark.parametrize("case, expected", [
    ("missing", "prediction folder not found"),
    ("empty", "no prediction files"),
    ("unknown", "no image '0--Parade/not_a_val_image'"),
    ("malformed", ":3: 4 field(s) instead of 5"),
])
def test_cli_bad_input_exits_2_with_one_message(tmp_path, gt_dir, capsys, case, expected):
    pred_dir = tmp_path / "preds"
    if case == "empty":
        pred_dir.mkdir()
    elif case == "unknown":
        write(pred_dir / "0--Parade" / "not_a_val_image.txt", "not_a_val_image\n0\n")
    elif case == "malformed":
        write(pred_dir / f"{REAL_KEY}.txt", "0_Parade_marchingband_1_465\n1\n1 2 3 4\n")
    assert main(["--pred-dir", str(pred_dir), "--gt-dir", str(gt_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert expected in captured.err and captured.err.count("\n") == 1
    if case in ("unknown", "malformed"):
        assert str(pred_dir / "0--Parade") in captured.err


def test_cli_missing_ground_truth_exits_2(tmp_path, capsys):
    write(tmp_path / "preds" / f"{REAL_KEY}.txt", "0_Parade_marchingband_1_465\n0\n")
    code = main(["--pred-dir", str(tmp_path / "preds"), "--gt-dir", str(tmp_path / "gt")])
    assert code == 2
    assert "ground truth folder not found" in capsys.readouterr().err


def test_cli_runs_as_module(tmp_path, gt_dir):
    write(tmp_path / f"{REAL_KEY}.txt", "0_Parade_marchingband_1_465\n0\n")
    completed = subprocess.run(
        [sys.executable, "-m", "compbench.evaluation.widerface.cli", "--pred-dir", str(tmp_path),
         "--gt-dir", str(gt_dir), "--subset"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.splitlines()[-1]) == {"easy": 0.0, "medium": 0.0,
                                                              "hard": 0.0}


def test_cli_default_ground_truth_is_the_assets_copy(tmp_path, gt_dir, assets, monkeypatch, capsys):
    monkeypatch.setenv("COMPBENCH_ASSETS", str(assets.root))
    write(tmp_path / f"{REAL_KEY}.txt", "0_Parade_marchingband_1_465\n0\n")
    assert main(["--pred-dir", str(tmp_path), "--subset"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["hard"] == 0.0
