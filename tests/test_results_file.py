"""Results files are data (docs/results-schema.md): what a session writes reads back equal, and a
crafted, damaged, foreign or future file is one clear error that executes nothing."""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import fields
from pathlib import Path

import pytest

from compbench import hardware
from compbench.errors import CompbenchError
from compbench.machine_drift import MachineDrift
from compbench.paired_statistics import RatioInterval
from compbench.provenance import provenance
from compbench.runner import results_file
from compbench.runner.accuracy_floor import Floor, FloorVerdict
from compbench.runner.cli import main
from compbench.runner.matrix import VARIANTS
from compbench.runner.results import LatencySummary, Ledger, VariantResult
from compbench.settings import REPO_ROOT

FP32, INT8 = "resnet20/fp32/onnxruntime", "resnet20/int8-ort/onnxruntime"


def full_result(result: VariantResult) -> None:
    """Every field away from its default, nested values included."""
    result.threads = 2
    result.latency = LatencySummary(1.25, 1.5, 1.75, 2.0, 0.125)
    result.paired_speedup = 1.8125
    result.speedup_interval = RatioInterval(1.8125, 1.75, 1.875, 20, 0.95)
    result.size_bytes, result.gzip_size_bytes = 1_234_567, 1_000_001
    result.metrics = {"top1": 0.8126, "top5": 0.99}
    result.baseline_deltas = {"top1": -0.0012}
    result.baseline_basis = {"top1": "shared", "speedup": "x86_64-avx2 (nearest)"}
    result.verdicts = {"top1": "ok", "speedup": "inconclusive"}
    result.footprint = {"rss_before_mb": 80.5, "peak_rss_mb": 120.25, "startup_s": 0.75}
    result.throughput = {1: 900.5, 8: 2100.0}
    result.eval_images_per_s = 1500.5
    result.floor = FloorVerdict(result.variant.id, Floor("resnet20", "top1", 0.99, "MLPerf"),
                                0.8126, FP32, 0.8103, "known: a reason")
    result.census = {"int8_convs": 19, "float_convs": 0, "zero_fraction": 0.5}
    result.not_gated = "openvino is not installed"
    result.inconclusive = ["speedup: interval too wide"]


@pytest.fixture
def ledger() -> Ledger:
    ledger = Ledger()
    for variant_id in (FP32, INT8):
        full_result(ledger[VARIANTS[variant_id]])
    return ledger


def written(tmp_path: Path, ledger: Ledger) -> Path:
    drift = MachineDrift(0.0125, [0.013, 0.0128], "at the first timing test")
    return results_file.write(results_file.payload(ledger, {"resnet20": "CIFAR-10 test split"},
                                                   drift, provenance("pytest bench")),
                              tmp_path, "s")


def test_the_fixture_sets_every_field():
    result = VariantResult(VARIANTS[INT8])
    full_result(result)
    unset = [f.name for f in fields(result) if getattr(result, f.name) in (None, {}, [])]
    assert not unset, f"full_result leaves {unset} at its default: the round trip would not see it"


def test_every_field_of_every_class_is_written():
    """A field added to one of these classes must be added to its conversions (and the schema)."""
    result = VariantResult(VARIANTS[INT8])
    full_result(result)
    written_keys = result.to_dict()
    expect = {
        VariantResult: set(written_keys) | {"variant"},
        LatencySummary: written_keys["latency"],
        RatioInterval: written_keys["speedup_interval"],
        FloorVerdict: written_keys["floor"],
        Floor: written_keys["floor"]["floor"],
        MachineDrift: MachineDrift(1.0).to_dict(),
    }
    for cls, keys in expect.items():
        assert {f.name for f in fields(cls)} == set(keys), cls.__name__


def test_a_ledger_reads_back_equal(tmp_path, ledger):
    path = written(tmp_path, ledger)
    assert path.name == "results-s.json"
    for name in (path, tmp_path / "latest-results.json"):
        found = results_file.read(name)
        assert found.results == ledger.results
        assert found.drift == MachineDrift(0.0125, [0.013, 0.0128], "at the first timing test")
        assert found.machine == hardware.current()
        assert found.notes == {"resnet20": "CIFAR-10 test split"}
        assert found.origin["command"] == "pytest bench" and found.origin["git_commit"]
        assert found.version == results_file.VERSION


def test_the_xdist_payload_is_text_and_reads_back_equal(ledger):
    sent = results_file.payload(ledger, {}, None, {"git_commit": "abc"})
    assert isinstance(sent, str)   # what execnet carries from a worker
    found = results_file.parse(sent, "xdist worker gw0")
    assert found.results == ledger.results and found.drift is None


def test_the_file_is_the_documented_json(tmp_path, ledger):
    document = json.loads(written(tmp_path, ledger).read_text(encoding="utf-8"))
    assert document["format"] == "compbench-results" and document["version"] == "1.0"
    assert document["results"][INT8]["throughput"] == {"1": 900.5, "8": 2100.0}
    schema = (REPO_ROOT / "docs" / "results-schema.md").read_text(encoding="utf-8")
    keys = {*document, *document["results"][INT8], *document["results"][INT8]["floor"],
            *document["results"][INT8]["floor"]["floor"], *document["drift"], *document["machine"],
            *document["results"][INT8]["speedup_interval"], *document["results"][INT8]["latency"]}
    undocumented = sorted(key for key in keys if f"`{key}`" not in schema)
    assert not undocumented, f"docs/results-schema.md does not describe {undocumented}"


class Pwn:
    """What an attacker pickles: unpickling it runs a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
def test_the_crafted_pickle_is_live(tmp_path, protocol):
    """The payload of the next test does run its command when unpickled (so that test is not
    passing because the attack is a dud)."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Pwn(marker), protocol))  # noqa: S301 - the point of this test
    assert marker.exists()


@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
@pytest.mark.parametrize("name", ["results-x.pkl", "results-x.json", "latest-results.json"])
def test_a_crafted_file_executes_nothing(tmp_path, capsys, name, protocol):
    marker = tmp_path / "pwned"
    crafted = tmp_path / name
    crafted.write_bytes(pickle.dumps(Pwn(marker), protocol))
    assert main(["merge", str(crafted), "--report-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"compbench: error: {crafted}: not a compbench results file")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not marker.exists()
    with pytest.raises(CompbenchError, match="not a compbench results file"):
        results_file.parse(pickle.dumps(Pwn(marker), protocol), "xdist worker gw0")
    assert not marker.exists()


def edit(document: dict, path: tuple[str, ...], value) -> None:
    """Set ``document`` at ``path``; a value of ``KeyError`` deletes the key."""
    *parents, last = path
    for key in parents:
        document = document[key]
    if value is KeyError:
        del document[last]
    else:
        document[last] = value


DAMAGE = [
    # (path in the document, new value, what the message must say)
    (("version",), "2.0", "format 2.0, this compbench reads 1.x only: merge it with the newer"),
    (("version",), "0.3", "format 0.3, this compbench reads 1.x only: write it again"),
    (("version",), KeyError, "without a valid \"version\""),
    (("version",), 1, "without a valid \"version\""),
    (("format",), "something-else", "not a compbench results file (JSON without \"format\""),
    (("results",), KeyError, "malformed compbench results file (results: missing)"),
    (("results",), [], "malformed compbench results file (results: expected an object, found a list)"),
    (("machine", "cores"), "two", "(machine.cores: expected a whole number, found a string)"),
    (("machine", "flags"), [1], "(machine.flags[0]: expected a string, found a number)"),
    (("notes", "resnet20"), 3, "(notes['resnet20']: expected a string, found a number)"),
    (("origin",), "yesterday", "(origin: expected an object, found a string)"),
    (("drift", "start_s"), -1, "(drift.start_s: expected a positive number of seconds"),
    (("drift", "later_s"), "0.1", "(drift.later_s: expected a list of seconds)"),
    (("results", INT8, "latency", "min_ms"), "fast",
     f"(results['{INT8}'].latency.min_ms: expected a number, found a string)"),
    (("results", INT8, "latency", "p99_ms"), KeyError, f"(results['{INT8}'].latency.p99_ms: missing)"),
    (("results", INT8, "threads"), 2.5, f"(results['{INT8}'].threads: expected a whole number"),
    (("results", INT8, "metrics"), {"top1": True},
     f"(results['{INT8}'].metrics['top1']: expected a number, found a boolean)"),
    (("results", INT8, "throughput"), {"eight": 1.0},
     f"(results['{INT8}'].throughput: batch size 'eight' is not a whole number)"),
    (("results", INT8, "floor", "floor", "fraction"), None,
     f"(results['{INT8}'].floor.floor.fraction: expected a number, found null)"),
    (("results", INT8, "speedup_interval"), [1, 2],
     f"(results['{INT8}'].speedup_interval: expected an object, found a list)"),
    (("results", INT8, "inconclusive"), "one", f"(results['{INT8}'].inconclusive: expected a list"),
    (("results", INT8), 7, f"(results['{INT8}']: expected an object, found a number)"),
    (("results", "resnet20/fp8/quantum"), {}, "variants this commit does not know "
                                         "(resnet20/fp8/quantum): merge results of the commit"),
]


@pytest.mark.parametrize(("where", "value", "message"), DAMAGE, ids=[".".join(d[0]) for d in DAMAGE])
def test_a_damaged_file_is_one_clear_error(tmp_path, capsys, ledger, where, value, message):
    path = written(tmp_path, ledger)
    document = json.loads(path.read_text(encoding="utf-8"))
    edit(document, where, value)
    path.write_text(json.dumps(document), encoding="utf-8")
    assert main(["merge", str(path), "--report-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"compbench: error: {path}: ") and err.count("\n") == 1
    assert message in err, err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("cut", [1, 2, 10, 1000])
def test_a_truncated_file_is_one_clear_error(tmp_path, capsys, ledger, cut):
    path = written(tmp_path, ledger)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[:len(text) * (cut - 1) // cut] if cut > 1 else "", encoding="utf-8")
    assert main(["merge", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"compbench: error: {path}: not a compbench results file (")
    assert ("(empty)" if cut == 1 else "not JSON, or truncated") in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("content", [b"[1, 2]", b'"results"', b"null", b"\xff\xfe{}",
                                     b"[" * 100_000, b"<html>404</html>"])
def test_a_foreign_file_is_one_clear_error(tmp_path, capsys, content):
    path = tmp_path / "latest-results.json"
    path.write_bytes(content)
    assert main(["merge", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"compbench: error: {path}: not a compbench results file")
    assert err.count("\n") == 1


def test_a_newer_minor_version_is_read_without_its_new_fields(tmp_path, ledger):
    path = written(tmp_path, ledger)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["version"] = "1.7"
    document["energy"] = {"joules": 3}
    document["results"][INT8]["energy_j"] = 0.5
    del document["results"][INT8]["footprint"]   # a field a writer may leave out
    path.write_text(json.dumps(document), encoding="utf-8")
    found = results_file.read(path)
    assert found.version == (1, 7) and found.results[FP32] == ledger.results[FP32]
    assert found.results[INT8].footprint == {}


def test_bencher_metrics_carry_speed_accuracy_and_size(tmp_path, ledger):
    ledger[VARIANTS["resnet20/fp32/torch"]]   # touched, nothing measured: no benchmark
    path = results_file.write_bencher(ledger.results, tmp_path)
    assert path.name == "latest-bmf.json"
    bencher = json.loads(path.read_text(encoding="utf-8"))
    assert set(bencher) == {FP32, INT8}
    assert bencher[INT8] == {
        "top1": {"value": 0.8126}, "top5": {"value": 0.99},
        "latency": {"value": 1.5e6, "lower_value": 1.25e6, "upper_value": 2.0e6},
        "speedup": {"value": 1.8125, "lower_value": 1.75, "upper_value": 1.875},
        "file-size": {"value": 1_234_567},
    }
