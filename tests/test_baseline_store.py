"""The baseline store on its own: an update that changes nothing leaves the file as its author
formatted it, and an update that fails leaves the file as it was."""

from __future__ import annotations

import json

import pytest

from compbench.errors import BaselineError
from compbench.runner import baseline_store


def recorded(tmp_path):
    data = baseline_store.empty("p")
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))   # one line: not how the store itself would write it
    return path, path.read_text()


def test_an_update_that_changes_nothing_does_not_rewrite_the_file(tmp_path):
    path, text = recorded(tmp_path)
    assert baseline_store.update(path, "p", lambda data: (data, [])) == []
    assert path.read_text() == text
    changes = baseline_store.update(path, "p", lambda data: ({**data, "profile": "q"}, ["renamed"]))
    assert changes == ["renamed"] and json.loads(path.read_text())["profile"] == "q"
    assert path.read_text().endswith("}\n") and "\n  " in path.read_text()   # the store's layout


def test_a_failing_update_loses_nothing(tmp_path):
    path, text = recorded(tmp_path)

    def refuse(data):
        raise BaselineError("refused")

    with pytest.raises(BaselineError, match="refused"):
        baseline_store.update(path, "p", refuse)
    assert path.read_text() == text
    assert baseline_store.update(path, "p", lambda data: ({**data, "profile": "q"}, ["ok"])) == ["ok"]


def test_a_new_profile_reads_as_empty_and_the_update_creates_it(tmp_path):
    path = tmp_path / "new.json"
    assert baseline_store.read("new", path) == baseline_store.empty("new")
    baseline_store.update(path, "new", lambda data: (data, ["created"]))
    assert baseline_store.read("new", path) == baseline_store.empty("new")
