"""tests/conftest.py hands the longest unit-test files to the xdist workers first: a renamed or
removed file would silently fall back to collection order and unbalance them again."""

from __future__ import annotations

from compbench.settings import REPO_ROOT
from tests.conftest import LONGEST_FIRST


def test_every_file_of_the_longest_first_order_exists():
    missing = [name for name in LONGEST_FIRST if not (REPO_ROOT / "tests" / name).is_file()]
    assert not missing, f"tests/conftest.py LONGEST_FIRST names files that are gone: {missing}"
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
