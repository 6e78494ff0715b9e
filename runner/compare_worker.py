"""One side of ``compbench compare``: a process running *its own* checkout's code and Python.

Started by ``runner/compare.py`` as ``<side python> <this file> <side checkout>``; it answers
JSON lines on its stdin (prepare a variant, time one round, quit) with JSON lines on the
stdout it was started with. Everything else written to stdout (library chatter) goes to stderr,
which the controller keeps in a log. The file is run by path, so it imports nothing of the
checkout it lives in: the side's checkout is put first on ``sys.path``, and a ref from before
this file existed works as long as its ``VariantPipeline`` has ``prepare``/``convert``/
``accuracy``/``session``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import time
import traceback


def main() -> int:
    root = os.path.abspath(sys.argv[1])
    sys.path[:] = [root] + [p for p in sys.path[1:] if os.path.abspath(p or ".") != root]
    # An installed compbench (editable: a finder after the path) would fill in a package the
    # checkout lacks with other code, measured as if it were this side's: let that fail instead.
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if not getattr(finder, "__module__", "").startswith("__editable___compbench")]
    os.chdir(root)
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # from here on, prints of any library land in the log, not in the protocol

    try:
        from compbench.allocator import keep_freed_memory
        keep_freed_memory()
    except ImportError:  # a checkout from before compbench.allocator
        pass
    # A checkout from before the one namespace has its runner at the top level: the
    # worker runs by path against either side of a comparison or a bisection.
    runner = "compbench.runner" if importlib.util.find_spec("compbench.runner") else "runner"
    get_variant = importlib.import_module(f"{runner}.matrix").get_variant
    VariantPipeline = importlib.import_module(f"{runner}.pipeline").VariantPipeline

    from compbench.assets import Assets
    from compbench.cache import ArtifactCache

    assets, cache = Assets(), ArtifactCache()
    prepared: dict[str, tuple] = {}
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["cmd"] == "quit":
                break
            if request["cmd"] == "prepare":
                pipeline = VariantPipeline(get_variant(request["variant"]), assets, cache)
                pipeline.prepare()
                metrics = pipeline.accuracy()
                artifact = pipeline.convert()
                session, inputs = pipeline.session, pipeline.benchmark_input()
                session.run(inputs)
                prepared[request["variant"]] = (session, inputs)
                reply = {"metrics": metrics, "size_bytes": artifact.size_bytes,
                         "threads": pipeline.engine.threads}
            elif request["cmd"] == "time":
                session, inputs = prepared[request["variant"]]
                if request.get("cpus"):  # a one-thread engine runs on this very thread
                    os.sched_setaffinity(0, request["cpus"])
                began = time.perf_counter()
                session.run(inputs)
                reply = {"seconds": time.perf_counter() - began}
            else:
                reply = {"error": f"unknown request {request['cmd']!r}"}
        except Exception as exc:  # noqa: BLE001 - the controller reports it per variant
            traceback.print_exc()
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        protocol.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
