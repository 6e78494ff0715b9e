"""Overlap input preparation with inference: a bounded read-ahead thread over any iterator.

The detector's evaluation decodes and letterboxes a JPEG (OpenCV, which releases the GIL) and
then runs the network on one pinned thread; done in turn, the second core idles. One producer
thread keeping ``depth`` items ready lets the two overlap without changing what is computed:
items arrive in their order, and an error raised while preparing an item is raised by the
consumer at that item, so a corrupt image still fails with its own message.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def prefetched(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """``items`` in order, prepared up to ``depth`` ahead on a daemon thread.

    Leaving the loop early (break, an exception in the consumer, garbage collection of the
    generator) stops the producer at its next item, so no thread outlives the evaluation.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value) -> bool:
        while not stop.is_set():
            try:
                ready.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Failure(error))
            return
        put(_DONE)

    producer = threading.Thread(target=produce, name="compbench-prefetch", daemon=True)
    producer.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        producer.join(timeout=5)
