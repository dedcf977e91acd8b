"""The checkpoint's files on disk for benchmarks.load_time: which they are, how fast the disk
reads them, and evicting them from the page cache (checked with mincore) for a cold load.

Standard library only: the parent, which never imports torch, uses it as the children do."""

from __future__ import annotations

import ctypes
import logging
import mmap
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger("load_time")

GB = 1e9
CHUNK = 64 * 2**20  # bytes per read, for the disk test and the stream load
COLD, WARM = "cold", "warm"
COLD_RESIDENT = 0.02  # a dropped cache may keep at most this fraction of the files' pages


def shard_paths(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.safetensors"))


def resident_fraction(paths: list[Path]) -> float | None:
    """The fraction of the files' pages in the page cache (mincore), None where it can't tell."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t] + [ctypes.c_int] * 3
        libc.mmap.argtypes += [ctypes.c_long]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        page = os.sysconf("SC_PAGE_SIZE")
        resident = total = 0
        for path in paths:
            size = path.stat().st_size
            pages = -(-size // page)
            fd = os.open(path, os.O_RDONLY)
            try:
                address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
                if address in (None, ctypes.c_void_p(-1).value):
                    return None
                vector = (ctypes.c_ubyte * pages)()
                failed = libc.mincore(address, size, vector)
                libc.munmap(address, size)
            finally:
                os.close(fd)
            if failed:
                return None
            resident += pages - bytes(vector).count(0)
            total += pages
        return resident / total if total else None
    except (OSError, AttributeError):
        return None


def drop_cache(paths: list[Path]) -> dict[str, Any]:
    """Evict the files from the page cache and check it with mincore.

    ``posix_fadvise(DONTNEED)`` on each file first: it evicts the checkpoint alone and leaves
    the libraries that a child imports lazily while it loads cached, as they are in a run.
    Where that does not take (some container filesystems), ``drop_caches`` (root only)."""
    os.sync()
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    method, note, resident = "fadvise", None, resident_fraction(paths)
    if resident is None or resident > COLD_RESIDENT:
        try:
            Path("/proc/sys/vm/drop_caches").write_text("1\n")
            method = "drop_caches"
        except OSError as error:
            note = f"fadvise left {resident}; drop_caches: {error}"
        resident = resident_fraction(paths)
    cold = None if resident is None else resident <= COLD_RESIDENT
    state = {"dropped_by": method, "resident": resident, "cold": cold, "note": note}
    if not cold:
        log.warning("page cache not verified dropped: %s", state)
    return state


def read_files(paths: list[Path], readers: int) -> float:
    """Seconds to read every byte of ``paths`` with ``readers`` threads, one file each at a
    time, in CHUNK-sized reads into one buffer per thread."""

    def read(path: Path) -> None:
        buffer = memoryview(bytearray(CHUNK))
        with path.open("rb", buffering=0) as file:
            while file.readinto(buffer):
                pass

    start = time.perf_counter()
    with ThreadPoolExecutor(readers) as pool:
        list(pool.map(read, paths))
    return time.perf_counter() - start


def measure_disk(paths: list[Path]) -> dict[str, Any]:
    """Cold and page-cache read speed of the files, with one reader and one per file."""
    size = sum(path.stat().st_size for path in paths)
    reads = []
    for readers in sorted({1, len(paths)}):
        state = drop_cache(paths)
        for cache in (COLD, WARM):
            seconds = read_files(paths, readers)
            reads.append(
                {"readers": readers, "cache": cache, "s": seconds, "gbps": size / GB / seconds}
            )
            reads[-1].update(state if cache == COLD else {"resident": resident_fraction(paths)})
            log.info("disk: %s", reads[-1])
    cold = [r["gbps"] for r in reads if r["cache"] == COLD and r["cold"]]
    return {
        "reads": reads,
        "disk_gbps": max(cold) if cold else None,  # None: no read was verified cold
        "page_cache_gbps": max(r["gbps"] for r in reads if r["cache"] == WARM),
    }
