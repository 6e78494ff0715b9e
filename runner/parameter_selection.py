"""What the parameter-selection scripts share: the grid, its candidates, and the written result.

Each script (``scripts/select_*.py``) owns only its held-out data and its criterion; how a grid
is read, which variants it makes of a row, and where and how the outcome is kept are the same
for all of them, so a selection reads the same whichever row it was for.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from compbench import hardware
from compbench.settings import REPO_ROOT
from compbench.specs import Variant, frozen_params

SELECTION_DIR = REPO_ROOT / "compression" / "selection"


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["lr=2e-5,3e-5", "blocks=a,b"]`` → ``{"lr": [2e-05, 3e-05], "blocks": ["a", "b"]}``."""
    grid: dict[str, list] = {}
    for item in items:
        name, _, values = item.partition("=")
        grid[name] = [json.loads(v) if v[:1] in "0123456789.-" else v for v in values.split(",")]
    return grid


def candidates(row: Variant, grid: dict[str, list]) -> Iterator[tuple[dict, Variant]]:
    """(parameters, variant) for each combination of the grid's values over the row's own."""
    unknown = set(grid) - set(dict(row.params))
    if unknown:
        raise SystemExit(f"{row.recipe} has no parameter {', '.join(sorted(unknown))} "
                         f"(it has {', '.join(k for k, _ in row.params)})")
    names = sorted(grid)
    for values in itertools.product(*(grid[n] for n in names)):
        params = {**dict(row.params), **dict(zip(names, values, strict=True))}
        yield params, dataclasses.replace(row, params=frozen_params(params, row.id))


def choose(within: list[dict]) -> dict:
    """Among the candidates scoring as well as the best (``within``): the fewer steps, then
    the smaller learning rate (whichever name the recipe gives it)."""
    def rate(c: dict) -> float:
        return c["params"].get("learning_rate", c["params"].get("lr", 0))
    return min(within, key=lambda c: (c["params"].get("steps", 0), rate(c)))


def write_selection(result: dict, out: Path | None, grid: dict[str, list], score: str,
                    footer: str = "") -> Path:
    """``result`` (with ``candidates`` and ``choice``) as JSON under ``SELECTION_DIR`` (or
    ``out``), and the table of candidates on stdout."""
    out = out or SELECTION_DIR / f"{result['row'].replace('/', '-')}.json"
    # the scores of a fine-tune depend on the CPU (README "Hardware classes"): say which one
    result = {**result, "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
              "machine": hardware.current().describe()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"| candidate | {score.replace('_', ' ')} |", "|---|---|"]
    for c in result["candidates"]:
        label = ", ".join(f"{n}={c['params'][n]}" for n in sorted(grid))
        mark = " ← choice" if c["params"] == result["choice"] else ""
        lines.append(f"| {label} | {c[score]:.6g}{mark} |")
    print("\n".join(lines) + f"\n\n{footer}written to {out}")
    return out
