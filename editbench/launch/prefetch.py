"""Run the CPU side of the next batch while the accelerator works on this one.

A judge's batch starts with CPU work (decoding PNGs, the processor's resize and patching,
pinning the result) that leaves the GPU idle if it runs in turn with the model. A background
thread pulls and prepares one batch ahead, so that work overlaps the model's.

Standard library only: the worker imports this before it restores another interpreter's path.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

Batch = TypeVar("Batch")

_END = object()


def prefetched(
    batches: Iterable[Batch], prepare: Callable[[Batch], Any]
) -> Iterator[tuple[Batch, Any]]:
    """Each batch with ``prepare(batch)``, the next one pulled and prepared on a background
    thread while the caller works on the current one.

    The thread starts at once, on the first batch: the caller can do other work (a judge
    fitting its batch size) before it takes that batch. Pulling the next batch happens on that
    thread too, so a blocking source (a queue fed by another process) waits there. At most one
    batch is held ahead. An exception raised while pulling or preparing is raised here, at the
    batch it belongs to. The thread is a daemon: a caller that stops early (an error in the
    model) never waits on a pull that may not end.
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=1)
    wanted = threading.Semaphore(1)  # one batch ahead of the caller

    def work() -> None:
        pulled = iter(batches)
        try:
            while True:
                wanted.acquire()  # pull only once the caller has taken the batch before
                batch = next(pulled, _END)
                if batch is _END:
                    ready.put(_END)
                    return
                ready.put((batch, prepare(batch)))
        except BaseException as error:  # handed to the caller, which decides
            ready.put(error)

    threading.Thread(target=work, name="prefetch", daemon=True).start()

    def handed() -> Iterator[tuple[Batch, Any]]:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            wanted.release()  # start on the next batch while the caller runs this one
            yield item

    return handed()
