"""Durations and shards (runner/durations.py, runner/shards.py): the cold cost of a variant read
from a real cache's manifests, the committed file, and ``--shard K/N``'s balanced split."""

from __future__ import annotations

import argparse
import itertools
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from compbench import project
from compbench.cache import ArtifactCache
from compbench.engines.registry import engine_config
from compbench.hardware import current
from compbench.runner import durations, shards
from compbench.runner.cli import main as compbench
from compbench.runner.distributed import build_group
from compbench.runner.durations import DurationsError, StepTimes
from compbench.runner.matrix import VARIANTS
from compbench.settings import REPO_ROOT

OV = VARIANTS["resnet20/int8-ort/openvino"]
ORT = VARIANTS["resnet20/int8-ort/onnxruntime"]


def step(value: dict, filename: str, payload: bytes = b"artifact"):
    """A step runner that stores one file and returns ``value``: the cache records its time."""
    def run(out_dir: Path):
        (out_dir / filename).write_bytes(payload)
        return value, {}
    return run


def recipe_inputs(variant, **extra) -> dict:
    return {"model": {"name": variant.model.name}, "compression": variant.compression,
            "recipe": variant.recipe, "hardware_class": current().hardware_class, **extra}


def build_chain(cache: ArtifactCache, variant) -> dict[str, float]:
    """The recipe, conversion, accuracy and footprint entries of ``variant`` in ``cache``, as
    the pipeline keys them; returns each step's name → the build_seconds its manifest holds."""
    recipe = cache.get_or_build("recipes", recipe_inputs(variant), step({"format": "onnx"}, "model.onnx"))
    converted = cache.get_or_build("converted", {"from": recipe.digest, "from_format": "onnx",
                                                 "to": "openvino"},
                                   step({"format": "openvino"}, "model.xml"))
    module = engine_config(variant.engine).key
    entries = {"recipes:resnet20/int8-ort": recipe, "converted:resnet20/int8-ort:openvino": converted}
    for kind in ("accuracy", "footprint"):
        entries[f"{kind}:resnet20/int8-ort:{module}:openvino"] = cache.get_or_build(
            kind, {"artifact": converted.digest, "engine": module, "format": "openvino"},
            step({"metrics": {"top1": 0.9}}, "result.json"))
    return {name: json.loads((entry.path / ".entry.json").read_text())["build_seconds"]
            for name, entry in entries.items()}


def test_a_variants_steps_are_read_from_the_manifests_it_was_built_into(tmp_path):
    cache = ArtifactCache(tmp_path)
    recorded = build_chain(cache, OV)
    times = StepTimes.from_cache(tmp_path)
    assert times.formats == {"resnet20/int8-ort": "onnx"}
    assert {name: times.seconds[name] for name in recorded} == recorded
    assert sorted(times.steps(OV)) == sorted(recorded)
    assert times.total(times.steps(OV)) == pytest.approx(sum(recorded.values()))
    # onnxruntime runs the recipe's ONNX as it is: no conversion, its own evaluations, which
    # nothing built, estimated by the kind's median for the model
    ort = times.steps(ORT)
    assert ort == ["recipes:resnet20/int8-ort",
                   "accuracy:resnet20/int8-ort:engines.onnxruntime_cpu:onnx",
                   "footprint:resnet20/int8-ort:engines.onnxruntime_cpu:onnx"]
    assert times.measured(ORT) == 1
    accuracy = recorded["accuracy:resnet20/int8-ort:engines.openvino_cpu:openvino"]
    assert times.of(ort[1]) == accuracy


def test_a_row_built_twice_is_read_from_the_build_of_its_current_recipe(tmp_path):
    cache = ArtifactCache(tmp_path)
    build_chain(cache, OV)
    # built later, but with other parameters (an older row): not this row's time or format
    cache.get_or_build("recipes", recipe_inputs(OV, params={"steps": 1}),
                       step({"format": "torch"}, "model.pt"))
    assert StepTimes.from_cache(tmp_path).formats["resnet20/int8-ort"] == "onnx"


def test_a_chain_counts_the_recipes_it_starts_from_and_shares_them():
    times = StepTimes()
    chain = VARIANTS["scrfd_500m_kps/pruned-20+int8-ort/onnxruntime"]
    assert {"recipes:scrfd_500m_kps/pruned-20", "recipes:scrfd_500m_kps/pruned-20+int8-ort"} \
        <= set(times.steps(chain))
    base = VARIANTS["scrfd_500m_kps/pruned-20/torch"]
    both = times.steps(chain) + times.steps(base)
    assert times.total(both) == len(set(both)) < len(both)   # the base's recipe counted once


def test_the_durations_file_round_trips_and_a_damaged_one_is_one_error(tmp_path):
    path = tmp_path / "durations.json"
    times = StepTimes({"recipes:resnet20/fp32": 12.3}, {"resnet20/fp32": "torch"})
    times.write(path)
    assert StepTimes.read(path) == times
    assert StepTimes.read(tmp_path / "absent.json") == StepTimes()
    for damaged in ('{"version": 1, "formats": {}, "seconds": {"x": -1}}',
                    '{"version": 1, "formats": {}, "seconds": {"x": NaN}}',
                    '{"version": 2, "formats": {}, "seconds": {}}', "[1]", "{"):
        path.write_text(damaged)
        with pytest.raises(DurationsError) as info:
            StepTimes.read(path)
        assert str(path) in str(info.value) and durations.WRITE_COMMAND in str(info.value)


def test_the_committed_durations_file_is_valid_and_names_only_current_steps():
    file = project.current().durations_file
    committed = StepTimes.read(file)
    assert committed.seconds, f"{file} is missing or empty: {durations.WRITE_COMMAND}"
    assert committed.kept_for(VARIANTS.values()) == committed, \
        f"{file} names steps no variant has: {durations.WRITE_COMMAND}"


def test_compbench_durations_write_takes_the_caches_times_and_keeps_the_others(tmp_path, capsys):
    cache = tmp_path / "cache"
    recorded = build_chain(ArtifactCache(cache), OV)
    file = tmp_path / "durations.json"
    kept = "recipes:scrfd_500m_kps/fp32"
    StepTimes({kept: 7.0, "recipes:gone/row": 3.0}, {}).write(file)
    assert compbench(["durations", "--write", "--cache-dir", str(cache), "--file", str(file)]) == 0
    written = StepTimes.read(file)
    assert written.seconds == {**recorded, kept: 7.0}   # a removed row's step is dropped
    assert compbench(["durations", "resnet20/int8-ort", "--cache-dir", str(cache),
                      "--file", str(file)]) == 0
    assert "resnet20/int8-ort" in capsys.readouterr().out


# -- the split ---------------------------------------------------------------------------
def additive(costs: dict[str, float]):
    """Units whose only step is themselves: LPT's classic setting."""
    return {name: {name} for name in costs}, costs.__getitem__


def test_every_unit_lands_in_exactly_one_shard_within_the_lpt_bound():
    rng = random.Random(0)
    for count in (2, 3):
        for _ in range(20):
            costs = {f"u{i}": float(rng.randint(1, 100)) for i in range(8)}
            units, seconds = additive(costs)
            split = shards.partition(units, seconds, count)
            assert len(split) == count
            assert sorted(itertools.chain(*split)) == sorted(costs)
            longest = max(sum(costs[n] for n in shard) for shard in split)
            optimal = min(max(sum(costs[n] for n, s in zip(costs, assignment, strict=True) if s == k)
                              for k in range(count))
                          for assignment in itertools.product(range(count), repeat=len(costs)))
            assert longest <= (4 / 3 - 1 / (3 * count)) * optimal + 1e-9


def test_the_split_balances_seconds_not_counts():
    # one long unit and many short ones: by count, shard 1 would get the long one and half
    # the short ones
    costs = {"long": 100.0, **{f"short{i}": 10.0 for i in range(10)}}
    units, seconds = additive(costs)
    long_shard, other = shards.partition(units, seconds, 2)
    assert long_shard == ["long"] and len(other) == 10


def test_a_step_shared_in_a_shard_is_paid_once():
    # r and s share their reference (the fp32 build a floor and a speed-up test also need)
    units = {"p": {"p"}, "q": {"q"}, "r": {"ref", "r"}, "s": {"ref", "s"}}
    seconds = {"p": 100.0, "q": 60.0, "ref": 50.0, "r": 10.0, "s": 10.0}.__getitem__
    split = shards.partition(units, seconds, 2)
    # s joins r (+10 s: 130) rather than p (+60 s: 160), though r's shard holds more
    assert split == [["p"], ["q", "r", "s"]]
    assert [shards.shard_cost(units, names, seconds) for names in split] == [100.0, 130.0]
    # never worse than greedy list scheduling's bound on the standalone costs
    standalone = [sum(map(seconds, steps)) for steps in units.values()]
    assert max(shards.shard_cost(units, names, seconds) for names in split) \
        <= sum(standalone) / 2 + max(standalone)


def test_the_split_does_not_depend_on_the_order_units_come_in():
    costs = {f"u{i}": float(i % 4) for i in range(12)}   # many ties
    units, seconds = additive(costs)
    reordered = dict(reversed(list(units.items())))
    assert shards.partition(units, seconds, 3) == shards.partition(reordered, seconds, 3)


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "2", "a/b", "1/2/3", "-1/2", " /2"])
def test_a_bad_shard_is_refused_by_the_option_type(text):
    with pytest.raises(argparse.ArgumentTypeError, match="expected K/N"):
        shards.parse_shard(text)
    assert shards.parse_shard("2/3") == (2, 3)


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/2/3"])
def test_a_bad_shard_is_one_usage_error(text):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "tests/test_quiet.py",
         "--shard", text], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout[-2000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert f"error: argument --shard: expected K/N, shard K of N with 1 <= K <= N (e.g. 2/4), " \
           f"got {text!r}" in result.stderr


def collected(*args: str) -> list[str]:
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                             "-p", "no:randomly", "bench", *args],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_the_shards_of_a_session_cover_it_once_and_keep_build_groups_whole():
    selection = ("-k", "scrfd or resnet20")
    everything = collected(*selection)
    parts = [collected(*selection, "--shard", f"{k}/3") for k in (1, 2, 3)]
    assert sorted(itertools.chain(*parts)) == sorted(everything)   # each test exactly once
    owners: dict[str, int] = {}
    for index, part in enumerate(parts):
        assert part, f"shard {index + 1} is empty"
        for nodeid in part:
            group = build_group(VARIANTS[nodeid.rpartition("[")[2].rstrip("]")])
            assert owners.setdefault(group, index) == index, f"{group} split across shards"
