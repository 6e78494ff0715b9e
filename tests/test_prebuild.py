"""Parallel prebuild: one recipe build per group, cached steps reused, failures left to tests."""

from __future__ import annotations

from compbench.cache import ArtifactCache
from compbench.runner.matrix import get_variant
from compbench.runner.pipeline import VariantPipeline
from compbench.runner.prebuild import prebuild, recipe_groups


def prepared(ids, assets, cache):
    pipelines = [VariantPipeline(get_variant(i), assets, cache) for i in ids]
    for pipeline in pipelines:
        pipeline.prepare()
    return pipelines


def test_one_recipe_build_serves_every_engine_of_its_row(assets, tmp_path):
    ids = ["scrfd_500m_kps/fp32/torch", "scrfd_500m_kps/fp32/onnxruntime",
           "scrfd_500m_kps/fp16-ov/openvino", "scrfd_500m_kps/fp32/openvino",
           "scrfd_500m_kps/sparse/torch", "scrfd_500m_kps/sparse/openvino"]
    groups = recipe_groups(prepared(ids, assets, ArtifactCache(tmp_path)))
    assert [[p.variant.id for p in g] for g in groups] == [
        ["scrfd_500m_kps/fp32/torch", "scrfd_500m_kps/fp32/onnxruntime",
         "scrfd_500m_kps/fp32/openvino"],
        ["scrfd_500m_kps/fp16-ov/openvino"],
        ["scrfd_500m_kps/sparse/torch", "scrfd_500m_kps/sparse/openvino"]]


def test_workers_fill_the_cache_that_the_tests_then_reuse(assets, tmp_path):
    cache = ArtifactCache(tmp_path)
    ids = ["resnet20/fp32/torch", "resnet20/fp32/torchscript"]
    lines: list[str] = []
    prebuild(prepared(ids, assets, cache), jobs=2, log=lines.append)
    assert lines[0].startswith("compbench: preparing 2 variant(s) (1 recipe builds)")
    assert sorted(line.split("] ")[1].split(" (")[0] for line in lines[1:]) == [
        f"{i} ready" for i in ids]
    fresh = prepared(ids, assets, cache)[1]
    assert fresh.recipe_cached()
    assert fresh.accuracy() == {"top1": 0.8103}  # from the cache: no step process runs
    # the step timed its own evaluation: the whole 10 000-image test split, at a real rate
    assert fresh.evaluation["images"] == 10_000 and fresh.evaluation["seconds"] > 0
    assert fresh.evaluation_rate() == 10_000 / fresh.evaluation["seconds"]
    # the footprint (reported, not gated) is measured only when a session opts in
    assert not (tmp_path / "footprint").exists()
    prebuild(prepared(ids[:1], assets, cache), jobs=2, log=lines.append, footprint=True)
    assert len(list((tmp_path / "footprint").glob("*/*/*/.entry.json"))) == 1


def test_a_failing_step_is_left_to_the_test(assets, tmp_path):
    """Workers never raise: the test that needs the entry runs the step again and shows why."""
    pipeline = prepared(["resnet20/fp32/torch"], assets, ArtifactCache(tmp_path))[0]
    pipeline.variant = get_variant("resnet20/fp32/torch").__class__(
        **{**pipeline.variant.__dict__, "recipe": "compression.fp32:no_such_recipe"})
    lines: list[str] = []
    prebuild([pipeline], jobs=2, log=lines.append)
    assert "not prepared (StepFailed: compress of resnet20/fp32/torch failed: AttributeError" \
        in lines[-1]


def test_two_pipelines_build_side_by_side(assets, tmp_path):
    """The prebuild's threads must not wait for each other (functools.cached_property on
    Python 3.11 locks per attribute across instances and made the prebuild serial)."""
    import threading
    import time

    first, second = prepared(["resnet20/fp32/torch", "resnet20/int8-ptq/torch"], assets,
                             ArtifactCache(tmp_path))
    inside = []

    def slow():
        inside.append(time.monotonic())
        time.sleep(0.5)
        return len(inside)

    threads = [threading.Thread(target=p._once, args=("step", slow)) for p in (first, second)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started < 0.9 and len(inside) == 2


def test_a_crashed_step_shows_the_last_line_of_its_log():
    """The cause of a crash (here qemu's, which killed an evaluation with SIGSEGV) is the last
    line of the step's log, past any fixed length of the whole message."""
    from compbench.isolation import LOG_MARKER, StepFailed
    from compbench.runner.prebuild import one_line

    error = StepFailed("evaluate of scrfd_500m_kps/fp32/onnxruntime failed: StepFailed: the "
                       "evaluate process ended with exit code -11 and no result" + LOG_MARKER
                       + "\n".join(["x" * 120] * 5 + ["qemu: uncaught target signal 11 "
                                                      "(Segmentation fault) - core dumped", ""]))
    line = one_line(error)
    assert line.startswith("StepFailed: evaluate of scrfd_500m_kps/fp32/onnxruntime failed")
    assert line.endswith("its log ends: qemu: uncaught target signal 11 (Segmentation fault) - "
                         "core dumped") and "\n" not in line
    assert one_line(ValueError("bad\nsecond")) == "ValueError: bad"
