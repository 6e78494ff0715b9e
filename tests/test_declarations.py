"""The declarations (engine modules, bench/suite.py, conversion edges) against the two files
written by hand beside them: pyproject.toml (which extra installs a distribution) and tox.ini
(which env runs which engines, with which extras). When they drift, the failure names the file
to fix, instead of a tox env that skips half its variants for a missing package.
"""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass

from packaging.requirements import Requirement

from compbench.bench.suite import MATRIX, MODELS
from compbench.dependencies import normalize_name
from compbench.engines.registry import ENGINES, families
from compbench.extras import NOT_DECLARABLE, extras_of_distributions
from compbench.runner.matrix import VARIANTS
from compbench.settings import REPO_ROOT

PYPROJECT = REPO_ROOT / "pyproject.toml"
TOX_INI = REPO_ROOT / "tox.ini"


def pyproject_extras() -> dict[str, set[str]]:
    """Extra → the distributions it installs (``compbench[...]`` umbrellas expanded)."""
    raw = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]

    def installs(extra: str) -> set[str]:
        found: set[str] = set()
        for line in raw[extra]:
            requirement = Requirement(line)
            if normalize_name(requirement.name) == "compbench":
                for inner in requirement.extras:
                    found |= installs(inner)
            else:
                found.add(normalize_name(requirement.name))
        return found

    return {extra: installs(extra) for extra in raw}


def base_dependencies() -> set[str]:
    return {normalize_name(Requirement(line).name)
            for line in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]}


def extras_installing(distribution: str) -> set[str]:
    return {extra for extra, names in pyproject_extras().items()
            if extra not in NOT_DECLARABLE and normalize_name(distribution) in names}


@dataclass
class ToxEnv:
    name: str
    extras: set[str]
    families: set[str]
    engine_names: list[str]


def tox_envs() -> dict[str, ToxEnv]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(TOX_INI, encoding="utf-8")
    envs = {}
    for section in parser.sections():
        if not section.startswith("testenv:"):
            continue
        name = section.removeprefix("testenv:")
        commands = parser.get(section, "commands", fallback="")
        extras = {e for e in re.split(r"[,\s]+", parser.get(section, "extras", fallback="")) if e}
        chosen = {f for value in re.findall(r"--engine-family[= ](\S+)", commands)
                  for f in value.split(",")}
        envs[name] = ToxEnv(name, extras, chosen, re.findall(r"--engine[= ](\S+)", commands))
    return envs


def source_of(engine: str) -> str:
    return f"engines/{ENGINES[engine].module.rpartition('.')[2]}.py"


def declared_distributions() -> dict[str, set[str]]:
    """Distribution → where it is declared (the file to fix)."""
    where: dict[str, set[str]] = {}
    for spec in ENGINES.values():
        for name in spec.requires:
            where.setdefault(name, set()).add(f"{source_of(spec.name)} ({spec.name})")
    for model in MODELS.values():
        for name in model.requires:
            where.setdefault(name, set()).add(f"bench/suite.py (model {model.name})")
    for row in MATRIX:
        for name in row.requires:
            where.setdefault(name, set()).add(f"bench/suite.py (row {row.model}/{row.compression})")
    for variant in VARIANTS.values():  # what the route's conversion edges add (formats/)
        for name in set(variant.requires) - set(variant.model.requires) - set().union(
                *(row.requires for row in MATRIX
                  if (row.model, row.compression) == (variant.model.name, variant.compression))):
            where.setdefault(name, set()).add(f"formats/ (a conversion edge on {variant.id})")
    return where


def test_every_declared_distribution_is_installed_by_an_extra():
    orphans = [f"{name!r}, declared in {', '.join(sorted(places))}"
               for name, places in sorted(declared_distributions().items())
               if not extras_installing(name)]
    assert not orphans, (
        "no extra of pyproject.toml [project.optional-dependencies] installs:\n  "
        + "\n  ".join(orphans) + "\nAdd each to its framework's extra in pyproject.toml, or fix "
        "the declaration: requirements are distribution names (onnxruntime, tf_keras, "
        "optimum-onnx), not import names.")


def test_the_installed_metadata_is_pyproject_toml():
    """Skip messages read the extras from the installed metadata; a stale install lies."""
    base = base_dependencies()
    expected = {}
    for extra, names in pyproject_extras().items():
        if extra in NOT_DECLARABLE:
            continue
        for name in names - base:
            expected.setdefault(name, set()).add(extra)
    installed = {name: set(extras) for name, extras in extras_of_distributions().items()}
    assert installed == expected, (
        "compbench's installed metadata differs from pyproject.toml's extras: reinstall it "
        "(pip install -e '.[all,dev]' -c constraints/known-good.txt)")


def test_every_engine_is_run_by_exactly_one_family_env():
    envs = tox_envs()
    known = families()
    unknown = {env.name: env.families - set(known) for env in envs.values()
               if env.families - set(known)}
    assert not unknown, (f"tox.ini selects engine families no engine declares: {unknown}; "
                         f"declared families: {', '.join(sorted(known))}")
    for spec in ENGINES.values():
        running = [env.name for env in envs.values() if spec.family in env.families]
        assert running == [spec.family], (
            f"engine {spec.name!r} (family {spec.family!r}, {source_of(spec.name)}) is run by tox "
            f"env(s) {running or 'none'}: tox.ini needs exactly one [testenv:{spec.family}] "
            f"running `pytest bench --engine-family {spec.family} {{posargs}}` (skip messages "
            f"say `tox -e {spec.family}`)")
    for env in envs.values():
        assert not (env.families and env.engine_names), (
            f"tox.ini [testenv:{env.name}] names engines ({env.engine_names}); select them by "
            "--engine-family only, so a new engine in the family needs no tox.ini edit")


def test_each_family_env_installs_what_its_engines_and_variants_need():
    defined = pyproject_extras()
    for env in tox_envs().values():
        if not env.families:
            continue
        undefined = env.extras - set(defined)
        assert not undefined, (f"tox.ini [testenv:{env.name}] installs extras {sorted(undefined)}, "
                               "which pyproject.toml does not define")
        installed = set().union(*(defined[extra] for extra in env.extras))
        engines = {name for family in env.families for name in families()[family]}
        needs: dict[str, list[str]] = {}
        for name in engines:
            for distribution in ENGINES[name].requires:
                needs.setdefault(distribution, []).append(f"engine {name}")
        for variant in VARIANTS.values():
            if variant.engine in engines:
                for distribution in variant.requires:
                    needs.setdefault(distribution, []).append(variant.id)
        lacking = {distribution: users for distribution, users in needs.items()
                   if normalize_name(distribution) not in installed}
        assert not lacking, (
            f"tox.ini [testenv:{env.name}] extras = {', '.join(sorted(env.extras))} do not install "
            + "; ".join(f"{name} (extra {', '.join(sorted(extras_installing(name))) or '?'}; "
                        f"needed by {', '.join(users[:3])}{', ...' if len(users) > 3 else ''})"
                        for name, users in sorted(lacking.items()))
            + ": add those extras to the env in tox.ini")


def test_declarations_are_readable_without_any_framework():
    """The registry imports every engine module (and the matrix, every conversion edge) just to
    read declarations; on a machine with one framework that must import none of the others."""
    heavy = ("torch", "tensorflow", "onnxruntime", "openvino", "onnx", "tf_keras", "nncf",
             "transformers", "optimum")
    code = ("import sys\nfrom compbench.engines.registry import ENGINES\n"
            "from compbench.runner.matrix import variants\n"
            "variants()\n"
            f"print(sorted(set({heavy!r}) & {{m.partition('.')[0] for m in sys.modules}}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == "[]", (
        f"reading the declarations imported {result.stdout.strip()}: move that import inside the "
        "function using it (engines/*.py, formats/*.py)")
