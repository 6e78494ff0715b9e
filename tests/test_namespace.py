"""One installed namespace: an installed compbench puts nothing but ``compbench`` into
site-packages, so a team's own ``models`` (or ``runner``) package and ours never collide, while
the repository keeps its folders at the top (compbench.layout).

The installed side is a real wheel built from this checkout and installed with
``pip --target`` into a folder of its own; each check runs in a fresh interpreter whose working
directory is outside the repository, so nothing of the checkout is importable by accident.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from compbench.settings import REPO_ROOT
from tests.tracked_copy import copy_tracked_files

# A pickle made with the code from before the rename (d651d7c): the function an int8 artifact's
# pickle names (compression.torch_int8_ptq.restore_quantized_conv) and a tasks.base.Metric.
OLD_PICKLE = Path(__file__).with_name("old_module_paths.pickle")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """This checkout as a wheel, installed (without dependencies) into a folder of its own.

    Built from a copy of the tracked files: setuptools reuses a build/ folder it finds, and one
    left by an earlier build would put its files into this wheel."""
    out = tmp_path_factory.mktemp("wheel")
    source = copy_tracked_files(out / "source")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                            "--no-build-isolation", "-w", str(out), str(source)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = out.glob("compbench-*.whl")
    site = out / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                           "--target", str(site), str(wheel)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return site


def run_installed(site: Path, code: str, cwd: Path, *, path: tuple[Path, ...] = (),
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -c code`` importing compbench from ``site`` only (``path`` first, if given)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, [*path, site]))}
    environment.pop("COMPBENCH_PROJECT", None)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-s", "-c", code], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=600)


def test_the_wheel_installs_one_top_level_package(installed):
    # --target also makes a bin/ folder for the console script: not an importable name
    entries = sorted(p.name for p in installed.iterdir() if p.name not in ("bin", "__pycache__"))
    assert [e for e in entries if not e.endswith(".dist-info")] == ["compbench"], entries
    assert [e for e in entries if e.endswith(".dist-info")] == ["compbench-0.1.0.dist-info"]


def test_the_installed_package_runs_from_its_own_files(installed, tmp_path):
    code = """
import json, sys
import compbench, compbench.runner.matrix, compbench.models.cifar.sources
from compbench.models.cifar import WEIGHTS_DIR
from compbench.settings import REPO_ROOT
print(json.dumps({
    "files": [compbench.__file__, compbench.runner.matrix.__file__,
              compbench.models.cifar.sources.__file__],
    "weights": sorted(p.name for p in WEIGHTS_DIR.iterdir()),
    "root": str(REPO_ROOT),
    "bench": sorted(p.name for p in (REPO_ROOT / "bench").glob("test_*.py")),
    "old_names": sorted(n for n in sys.modules if n.split(".")[0] in ("runner", "models")),
}))
"""
    done = run_installed(installed, code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert all(Path(f).is_relative_to(installed) for f in seen["files"]), seen["files"]
    assert "mobilenetv2_cifar10.h5" in seen["weights"] and "vit_cifar10" in seen["weights"]
    assert Path(seen["root"]) == installed / "compbench"
    assert seen["bench"] == sorted(p.name for p in (REPO_ROOT / "bench").glob("test_*.py"))
    assert seen["old_names"] == []


def test_the_installed_package_lists_the_built_in_suite(installed, tmp_path):
    """The checkout as the project (its pyproject names ``bench.suite``): the installed package
    resolves that to its own ``compbench.bench.suite``."""
    code = """
import sys
from compbench.runner.cli import main
code = main(["variants", "--ids"])
print("SUITE", sys.modules["compbench.bench.suite"].__file__, file=sys.stderr)
sys.exit(code)
"""
    done = run_installed(installed, code, tmp_path, env={"COMPBENCH_PROJECT": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    suite = done.stderr.rpartition("SUITE ")[2].strip()
    assert Path(suite).is_relative_to(installed), suite
    ids = done.stdout.split()
    here = subprocess.run([sys.executable, "-m", "compbench.runner.cli", "variants", "--ids"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert here.returncode == 0, here.stderr[-3000:]
    assert ids == here.stdout.split() and len(ids) == 83


def test_an_old_pickle_loads_without_the_checkout(installed, tmp_path):
    """A pickle naming the pre-namespace module paths (the cache keeps artifacts pickled before
    the rename) loads with only the installed package on the path, as the very compbench.*
    objects (one module per file)."""
    code = f"""
import json, pickle, sys
import compbench  # what loads an artifact is compbench code: the aliases exist from here on
restore, metric = pickle.loads(open({str(OLD_PICKLE)!r}, "rb").read())
import compbench.compression.torch_int8_ptq as ptq
from compbench.tasks.base import Metric
print(json.dumps({{
    "restore": restore is ptq.restore_quantized_conv,
    "metric": isinstance(metric, Metric) and metric.name == "top1",
    "one_module": sys.modules["compression.torch_int8_ptq"] is ptq,
    "spec": ptq.__spec__.name,
    "checkout_on_path": any(p and __import__("os").path.samefile(p, {str(REPO_ROOT)!r})
                            for p in sys.path if __import__("os").path.isdir(p)),
}}))
"""
    done = run_installed(installed, code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == {"restore": True, "metric": True, "one_module": True,
                                       "spec": "compbench.compression.torch_int8_ptq",
                                       "checkout_on_path": False}


def test_an_old_pickle_loads_in_the_checkout_as_the_same_objects():
    """In a checkout the root is on sys.path (pytest's rootdir), so the old name is the same
    folder: it must still be the compbench.* module, not a second copy of the file."""
    from compbench.compression import torch_int8_ptq
    from compbench.tasks.base import Metric

    restore, metric = pickle.loads(OLD_PICKLE.read_bytes())
    assert restore is torch_int8_ptq.restore_quantized_conv
    assert type(metric) is Metric
    assert sys.modules["compression.torch_int8_ptq"] is torch_int8_ptq


def test_a_team_package_named_models_and_ours_do_not_shadow_each_other(installed, tmp_path):
    team = tmp_path / "team"
    (team / "models").mkdir(parents=True)
    (team / "models" / "__init__.py").write_text("MINE = True\n")
    (team / "models" / "mine.py").write_text("def source(assets):\n    return 'team'\n")
    code = """
import json
import compbench.models.cifar.sources as ours  # first: the old-name aliases are in place
import models, models.mine
from compbench.specs import resolve
print(json.dumps({
    "team": models.__file__, "ours": ours.__file__,
    "team_reference": resolve("models.mine:source")(None),
    "our_reference": resolve("models.cifar.sources:resnet20") is ours.resnet20,
    "mine": getattr(models, "MINE", False),
}))
"""
    done = run_installed(installed, code, tmp_path, path=(team,))
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert Path(seen["team"]).is_relative_to(team)
    assert Path(seen["ours"]).is_relative_to(installed)
    assert seen["team_reference"] == "team" and seen["our_reference"] is True and seen["mine"]


def test_the_compare_worker_starts_in_a_checkout_from_before_the_rename(tmp_path):
    """``compbench compare`` and ``bisect`` run this checkout's worker against the other side's
    code: a side from before the one namespace has its runner at the top level."""
    from compbench.runner.compare import WORKER

    before = "d651d7c"   # the last commit with top-level imports only
    known = subprocess.run(["git", "-C", str(REPO_ROOT), "cat-file", "-e", f"{before}^{{commit}}"],
                           capture_output=True)
    if known.returncode != 0:
        pytest.skip(f"{before} is not in this clone's history (a shallow clone)")
    tree = tmp_path / "before"
    subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(tree), before],
                   check=True, capture_output=True)
    try:
        done = subprocess.run([sys.executable, str(WORKER), str(tree)], input='{"cmd": "quit"}\n',
                              capture_output=True, text=True, timeout=600)
    finally:
        subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(tree)],
                       capture_output=True)
    assert done.returncode == 0, done.stderr[-3000:]


def test_compbench_bench_collects_the_installed_packages_bench_folder(installed, tmp_path):
    """``compbench bench`` of an installed package: its own bench/ (no checkout, no root
    conftest: the plugins come with -p). Collection only, nothing is built or timed."""
    code = "import sys\nfrom compbench.runner.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    environment = {**os.environ, "PYTHONPATH": str(installed), "COMPBENCH_PROJECT": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-s", "-c", code, "bench", "--co", "-q", "-p",
                           "no:randomly", "-k", "resnet20 and fp32 and torchscript"],
                          cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert collected and all("compbench/bench/test_" in line for line in collected), done.stdout
    # the checkout's pytest configuration does not reach site-packages: compbench passes it
    header = subprocess.run([sys.executable, "-s", "-c", code, "bench", "--co", "-p", "no:randomly",
                             "-k", "resnet20 and fp32 and torchscript"],
                            cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600)
    assert header.returncode == 0, header.stdout[-3000:] + header.stderr[-3000:]
    assert "max_time=0.5" in header.stdout and "min_rounds=10" in header.stdout, header.stdout[:2000]


def test_the_installed_defaults_are_the_checkouts_pytest_configuration():
    """One set of session defaults whichever way compbench is run (bench_session.INSTALLED_DEFAULTS
    restates pyproject.toml's, which an installed package cannot read)."""
    import tomllib

    from compbench.runner.bench_session import INSTALLED_DEFAULTS

    options = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    warnings = [arg for rule in options["filterwarnings"] for arg in ("-W", rule)]
    assert list(INSTALLED_DEFAULTS) == [*options["addopts"], *warnings]
