"""The small shared thread pool for resizing strips and encoding (Pillow releases the GIL in both)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def worker_count() -> int:
    """Threads in the pool: the CPUs this process may run on, at most 4 (Lambda gives 1-6 vCPUs by memory size)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def get_executor() -> ThreadPoolExecutor:
    """The process-wide pool, created on first use and kept across warm Lambda invocations.

    Only the caller's thread submits work and waits; tasks never submit to the pool themselves, so it cannot deadlock.
    """
    global _executor
    if _executor is None:
        with _lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=worker_count(), thread_name_prefix="imaging")
    return _executor
