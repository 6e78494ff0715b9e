"""A fresh machine: several step processes start at once on a cache folder that does not exist yet.

The prebuild runs its steps side by side from the first second of a cold session, so the cache
root is created by whichever process gets there first; the others must find it made, not fail.
Real OS processes (spawned interpreters), released together by a barrier, over many fresh
folders, because a check-then-create race only shows when the processes really overlap.
"""

from __future__ import annotations

import multiprocessing

PROCESSES = 4
ROUNDS = 30


def _use_fresh_caches(base: str, barrier, outcomes) -> None:
    from compbench.cache import ArtifactCache
    from compbench.dependencies import loaded_dependencies

    def build(out):
        (out / "model.bin").write_bytes(b"m")
        return {"built": True}, loaded_dependencies()

    for round_number in range(ROUNDS):
        barrier.wait()
        try:
            root = f"{base}/round-{round_number}/nested/cache"   # no part of it exists yet
            entry = ArtifactCache(root).get_or_build("recipes", {"round": round_number}, build)
            outcomes.put((round_number, entry.value == {"built": True}, ""))
        except Exception as exc:  # noqa: BLE001 - reported to the test, which shows it
            outcomes.put((round_number, False, f"{type(exc).__name__}: {exc}"))


def test_parallel_processes_create_one_missing_cache_folder_without_failing(tmp_path):
    context = multiprocessing.get_context("spawn")
    barrier, outcomes = context.Barrier(PROCESSES), context.Queue()
    workers = [context.Process(target=_use_fresh_caches, args=(str(tmp_path), barrier, outcomes))
               for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    results = [outcomes.get(timeout=300) for _ in range(PROCESSES * ROUNDS)]
    for worker in workers:
        worker.join(timeout=60)
    failures = sorted({problem for _, ok, problem in results if not ok})
    assert not failures, f"{len([r for r in results if not r[1]])} failed uses: {failures}"
    assert all(worker.exitcode == 0 for worker in workers)
