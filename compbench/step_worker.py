"""Entry point of a step's interpreter: ``python -m compbench.step_worker OUT_DIR``.

Reads ``OUT_DIR/.request.json``, runs the step it names (``"module:function"``), and writes
``OUT_DIR/.outcome.json`` with the result and the dependencies this interpreter loaded
(``compbench.dependencies``). It imports as little of the project as it can, because whatever
it imports is recorded as a dependency of every step.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from pathlib import Path

REQUEST_FILE = ".request.json"
OUTCOME_FILE = ".outcome.json"


def main(out_dir: Path) -> int:
    start_path = list(sys.path)  # before any library adds its own folders to it
    request = json.loads((out_dir / REQUEST_FILE).read_text(encoding="utf-8"))
    try:
        module_name, _, function = request["step"].partition(":")
        step = getattr(importlib.import_module(module_name), function)
        outcome = {"ok": True, "result": step(request, out_dir)}
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which re-raises it
        traceback.print_exc()
        outcome = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
    from compbench.dependencies import loaded_dependencies

    outcome["dependencies"] = loaded_dependencies(start_path)
    partial = out_dir / (OUTCOME_FILE + ".part")
    partial.write_text(json.dumps(outcome, default=str), encoding="utf-8")
    os.replace(partial, out_dir / OUTCOME_FILE)
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
