"""A project outside this checkout declares its own matrix through the public hook, and the
runner (CLI and pytest alike) benchmarks that matrix instead of the built-in suite.

Each case is a real folder with a pyproject.toml and plugin modules, run as a user runs it: the
``compbench`` command or pytest in a subprocess started in that folder.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from compbench.settings import REPO_ROOT

TEAM_PLUGIN = '''
from compbench.specs import ModelSpec, Row
from compbench.runner.hookspec import hookimpl

@hookimpl
def compbench_declare(matrix):
    matrix.add_model(ModelSpec(
        name="team_resnet", task="cifar10", source="models.cifar.sources:resnet20",
        weights=("cifar10/models/resnet20-12fca82f.th",), input_shape=(1, 3, 32, 32),
        reference_engine="torch", description="a team's CIFAR-10 model",
        preprocess="models.cifar.sources:resnet20_preprocessor", eval_batch=100))
    matrix.add_row(Row(model="team_resnet", compression="fp32", recipe="compression.fp32:fp32",
                       engines=("torch", "onnxruntime")))
    matrix.add_row(Row(model="team_resnet", compression="int8-ort", after="",
                       recipe="compression.int8_ort:int8_ort", engines=("onnxruntime",),
                       requires=("onnxruntime",), cpu_dependent_accuracy=True))
'''
TEAM_IDS = ["team_resnet/fp32/torch", "team_resnet/fp32/onnxruntime",
            "team_resnet/int8-ort/onnxruntime"]


def project(root: Path, table: str = 'plugins = ["teambench"]', plugin: str = TEAM_PLUGIN,
            name: str = "teambench") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "team"\n\n[tool.compbench]\n{table}\n')
    (root / f"{name}.py").write_text(textwrap.dedent(plugin))
    return root


def run(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("COMPBENCH_")}
    environment["COMPBENCH_ASSETS"] = str(REPO_ROOT / ".." / "shared" / "assets")
    environment.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          env=environment, timeout=300)


def compbench(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run(cwd, "-m", "compbench.runner.cli", *args, env=env)


def test_the_projects_own_matrix_replaces_the_built_in_suite(tmp_path):
    team = project(tmp_path / "team")
    (team / "sub").mkdir()
    done = compbench(team / "sub", "variants", "--ids")   # found from a subfolder, as pytest does
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == TEAM_IDS


def test_pytest_started_in_the_project_parametrizes_its_variants(tmp_path):
    team = project(tmp_path / "team")
    done = run(team, "-m", "pytest", str(REPO_ROOT / "bench" / "test_size.py"), "--co", "-q",
               "-p", "no:randomly", f"--rootdir={REPO_ROOT}")
    assert done.returncode == 0, done.stdout + done.stderr
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert collected == [f"bench/test_size.py::test_size[{vid}]" for vid in TEAM_IDS]


def test_matrix_option_replaces_the_configured_plugins(tmp_path):
    team = project(tmp_path / "team")
    (team / "other.py").write_text(TEAM_PLUGIN.replace("team_resnet", "other_resnet"))
    done = compbench(team, "--matrix", "other", "variants", "--ids")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [vid.replace("team_", "other_") for vid in TEAM_IDS]
    by_env = compbench(team, "variants", "--ids", env={"COMPBENCH_MATRIX": "other"})
    assert by_env.stdout == done.stdout


def test_an_installed_package_declares_through_its_entry_point(tmp_path):
    """Entry points are read from real distribution metadata on the path (importlib.metadata)."""
    site = tmp_path / "site"
    (site / "teamplug-0.1.dist-info").mkdir(parents=True)
    (site / "teamplug-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: teamplug\nVersion: 0.1\n")
    (site / "teamplug-0.1.dist-info" / "entry_points.txt").write_text("[compbench]\nteam = teamplug\n")
    (site / "teamplug.py").write_text(TEAM_PLUGIN)
    team = project(tmp_path / "team", table="plugins = []")
    done = compbench(team, "variants", "--ids", env={"PYTHONPATH": str(site)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == TEAM_IDS


@pytest.mark.parametrize(("table", "plugin", "complaint"), [
    ('plugins = ["missing_module"]', TEAM_PLUGIN,
     "plugin 'missing_module' (from {config} [tool.compbench] plugins) cannot be imported"),
    ('plugins = "teambench"', TEAM_PLUGIN,
     "{config}: [tool.compbench] plugins must be a list of module names, got 'teambench'"),
    ('plugins = ["teambench"]\nbaselines = "b"', TEAM_PLUGIN,
     "{config}: [tool.compbench] has unknown key(s) baselines"),
    ('plugins = ["teambench"]', "def helper():\n    pass\n",
     "plugin 'teambench' (from {config} [tool.compbench] plugins) implements no compbench hook"),
    ('plugins = ["teambench"]', TEAM_PLUGIN + "\n    matrix.add_model(matrix.models['team_resnet'])\n",
     "model 'team_resnet' is declared twice"),
    ('plugins = ["teambench"]', TEAM_PLUGIN.replace('"int8-ort", after=""', '"int8-ort", after="pruned"'),
     "row team_resnet/int8-ort follows 'pruned', which is no row of team_resnet"),
    ('plugins = ["teambench"]', TEAM_PLUGIN + "\n    {}['x']\n",
     "a compbench plugin failed while declaring its matrix: KeyError: 'x' ({plugin}:"),
    ('plugins = ["teambench"]', TEAM_PLUGIN.replace('task="cifar10"', 'task="teambench:TASK"'),
     "model 'team_resnet': task 'teambench:TASK' cannot be found (module 'teambench' has no "
     "attribute 'TASK')"),
    ('plugins = ["teambench"]', TEAM_PLUGIN.replace('task="cifar10"', 'task="teambench:hookimpl"'),
     "model 'team_resnet': task 'teambench:hookimpl' is HookimplMarker, not a "
     "compbench.tasks.base.TaskDeclaration"),
    ('plugins = ["teambench"]', "def broken(:\n",
     "plugin 'teambench' (from {config} [tool.compbench] plugins) failed to import: SyntaxError: "),
    ('plugins = ["teambench"]', "from compbench.runner.hookspec import hookimpl\n\n@hookimpl\n"
                                "def compbench_declare(matrix):\n    pass\n",
     "declared no rows"),
])
def test_a_broken_project_is_one_error_naming_the_file_and_the_fix(tmp_path, table, plugin, complaint):
    team = project(tmp_path / "team", table=table, plugin=plugin)
    done = compbench(team, "variants")
    message = complaint.format(config=team / "pyproject.toml", plugin=team / "teambench.py")
    assert done.returncode == 2, done.stdout
    assert done.stderr.startswith("compbench: error: ") and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    in_pytest = run(team, "-m", "pytest", str(REPO_ROOT / "bench" / "test_size.py"), "--co", "-q",
                    "-p", "no:randomly", f"--rootdir={REPO_ROOT}")
    assert in_pytest.returncode == 4, in_pytest.stdout + in_pytest.stderr
    assert message in in_pytest.stderr and "Traceback" not in in_pytest.stderr


def test_a_step_imports_the_projects_own_modules(tmp_path, monkeypatch):
    """A team's recipe or model module lives in its project folder, not in this checkout: the
    step processes get that folder on their import path."""
    from compbench import project as projects
    from compbench.isolation import step_environment

    team = project(tmp_path / "team")
    monkeypatch.chdir(team)
    projects.current.cache_clear()
    try:
        search = step_environment(uses_tensorflow=False)["PYTHONPATH"].split(":")
    finally:
        projects.current.cache_clear()
    assert search[:2] == [str(REPO_ROOT), str(team)]


def test_plugins_declare_in_the_order_the_configuration_lists_them(tmp_path):
    """The report's rows follow the declarations: the first plugin's rows first."""
    team = project(tmp_path / "team", table='plugins = ["teambench", "later"]')
    (team / "later.py").write_text(textwrap.dedent('''
        from compbench.specs import Row
        from compbench.runner.hookspec import hookimpl

        @hookimpl
        def compbench_declare(matrix):
            matrix.add_row(Row(model="team_resnet", compression="int8-nncf",
                               recipe="compression.int8_nncf:int8_nncf", engines=("openvino",),
                               requires=("nncf",)))
        '''))
    done = compbench(team, "variants", "--ids")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [*TEAM_IDS, "team_resnet/int8-nncf/openvino"]
