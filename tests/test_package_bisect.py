"""``compbench bisect --package NAME==A..B``: the releases of a real dependency from the package
index, each in its own overlay, probed against GOOD's as compare does (runner/package_bisect.py).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from compbench.runner.bisect import BisectError
from compbench.runner.package_bisect import PackageRange, releases
from compbench.settings import REPO_ROOT

pytestmark = pytest.mark.timing   # alone on the machine (Makefile: after the parallel tests)

OFFERED = ["1.33.0rc1", "1.32.0", "1.31.1", "1.31.0", "1.30.0", "1.29.0"]


def test_the_range_is_the_releases_after_good_up_to_bad_without_prereleases():
    spec = PackageRange.parse("onnxruntime==1.29.0..1.32.0")
    assert (spec.name, spec.good, spec.bad) == ("onnxruntime", "1.29.0", "1.32.0")
    assert releases(spec, OFFERED) == ["1.30.0", "1.31.0", "1.31.1", "1.32.0"]


@pytest.mark.parametrize(("text", "complaint"), [
    ("onnxruntime", "write NAME==GOOD..BAD"),
    ("onnxruntime==1.32.0..1.29.0", "GOOD must be an earlier release than BAD"),
    ("onnxruntime==1.29.0..banana", "Invalid version"),
])
def test_a_malformed_range_is_one_error(text, complaint):
    with pytest.raises(BisectError, match=complaint):
        PackageRange.parse(text)


def test_a_release_the_index_does_not_offer_is_named():
    with pytest.raises(BisectError, match="the index offers no onnxruntime 1.28.5"):
        releases(PackageRange.parse("onnxruntime==1.28.5..1.32.0"), OFFERED)


def test_a_real_release_range_is_bisected_in_overlays(tmp_path):
    """Two onnxruntime releases from the index, installed, verified and timed against GOOD's."""
    done = subprocess.run(
        [sys.executable, "-m", "compbench.runner.cli", "bisect", "--select", "resnet20/fp32/onnxruntime-1t",
         "--package", "onnxruntime==1.31.0..1.32.0", "--speed-budget", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    out = done.stdout
    assert out.startswith("# compbench bisect: resnet20/fp32/onnxruntime-1t, 2 release(s) after "
                          "onnxruntime==1.31.0"), out
    answered = ("no first bad release in the range" in out or "First bad release: " in out
                or "the first bad release is one of" in out)
    assert answered, out
    probes = re.findall(r"^- (1\.3[12]\.\d) 'onnxruntime==\1': speed vs GOOD ", out, re.M)
    assert probes and probes[0] == "1.32.0" and len(probes) <= 2, out   # BAD first, <= log2(2)+1
    assert "Traceback" not in done.stderr
