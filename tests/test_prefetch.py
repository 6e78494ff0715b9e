"""compbench/prefetch.py: read-ahead keeps order, bounds memory, fails at the failing item and
leaves no thread behind."""

from __future__ import annotations

import threading
import time

import pytest

from compbench.prefetch import prefetched


def producer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "compbench-prefetch" and t.is_alive()]


def test_items_arrive_in_order():
    assert list(prefetched(iter(range(100)), depth=3)) == list(range(100))


def test_read_ahead_is_bounded_by_depth():
    produced = []

    def source():
        for i in range(50):
            produced.append(i)
            yield i

    stream = prefetched(source(), depth=4)
    assert next(stream) == 0
    time.sleep(0.3)   # let the producer run as far ahead as it may
    # one handed out, ``depth`` queued, and at most one more made and waiting for a free slot
    assert len(produced) <= 1 + 4 + 1, produced
    assert list(stream) == list(range(1, 50))


def test_an_error_is_raised_at_its_item_after_the_items_before_it():
    def source():
        yield "a"
        yield "b"
        raise OSError("image 3 is unreadable")

    seen = []
    with pytest.raises(OSError, match="image 3"):
        for item in prefetched(source(), depth=8):
            seen.append(item)
    assert seen == ["a", "b"]


def test_leaving_early_stops_the_producer():
    stream = prefetched(iter(range(10_000)), depth=2)
    for item in stream:
        if item == 3:
            break
    stream.close()
    deadline = time.monotonic() + 5
    while producer_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not producer_threads()


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        next(prefetched([1], depth=0))
