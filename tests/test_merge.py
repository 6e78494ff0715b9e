"""``compbench merge``: the results files of CI shards folded into one report."""

from __future__ import annotations

import json

import pytest

from compbench.provenance import provenance
from compbench.runner import results_file
from compbench.runner.cli import main
from compbench.runner.matrix import VARIANTS
from compbench.runner.results import LatencySummary, Ledger

FP32, INT8 = "resnet20/fp32/onnxruntime", "resnet20/int8-ort/onnxruntime"
NOTES = {"resnet20": "CIFAR-10 test split (a note from the shard)"}


def shard(tmp_path, name: str, variant_id: str, top1: float, commit: str | None = None):
    ledger = Ledger()
    result = ledger[VARIANTS[variant_id]]
    result.metrics, result.size_bytes, result.gzip_size_bytes = {"top1": top1}, 1000, 900
    result.latency = LatencySummary(1.0, 1.1, 1.2, 1.3, 0.1)
    origin = provenance() | ({"git_commit": commit} if commit else {})
    return results_file.write(results_file.payload(ledger, NOTES, None, origin),
                              tmp_path / name, "s")


def test_two_shards_make_one_report(tmp_path, capsys):
    files = [shard(tmp_path, "torch", FP32, 0.8103), shard(tmp_path, "ort", INT8, 0.8126)]
    assert main(["merge", *map(str, files), "--report-dir", str(tmp_path / "out")]) == 0
    markdown = capsys.readouterr().out
    assert "Merged from 2 results file(s)" in markdown and NOTES["resnet20"] in markdown
    assert "| fp32/onnxruntime " in markdown and "| int8-ort/onnxruntime " in markdown
    assert "0.8103" in markdown and "0.8126" in markdown
    assert "Different commits" not in markdown
    assert len(list((tmp_path / "out").glob("report-merged-*.md"))) == 1
    assert len(list((tmp_path / "out").glob("report-merged-*.html"))) == 1
    bencher = json.loads((tmp_path / "out" / "latest-bmf.json").read_text(encoding="utf-8"))
    assert bencher[FP32]["top1"] == {"value": 0.8103} and bencher[INT8]["top1"] == {"value": 0.8126}


def test_shards_of_different_commits_or_overlapping_say_so(tmp_path, capsys):
    files = [shard(tmp_path, "a", FP32, 0.8103, "aaaa"), shard(tmp_path, "b", FP32, 0.8103, "bbbb")]
    assert main(["merge", *map(str, files), "--report-dir", str(tmp_path / "out")]) == 0
    markdown = capsys.readouterr().out
    assert "Different commits" in markdown
    assert f"In more than one file (the later file's values win): {FP32}" in markdown


def test_each_shard_writes_json_beside_its_report(tmp_path):
    path = shard(tmp_path, "torch", FP32, 0.8103)
    assert path.name == "results-s.json" and (path.parent / "latest-results.json").is_file()
    assert path.read_text(encoding="utf-8").startswith("{")


@pytest.mark.parametrize("content", [b"", b"not json", b"\x80\x04K\x01.", b'{"a": 1}'])
def test_a_file_that_is_not_a_results_file_is_one_clear_error(tmp_path, capsys, content):
    bad = tmp_path / "results.json"
    bad.write_bytes(content)
    assert main(["merge", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"compbench: error: {bad}: not a compbench results file")
    assert "Traceback" not in err


def test_a_missing_file_is_one_clear_error(tmp_path, capsys):
    assert main(["merge", str(tmp_path / "nope.json")]) == 2
    assert "cannot read results file" in capsys.readouterr().err
