"""What every bench shares: CPU and resident memory of a process tree, peak memory, and a timed stage that records it."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import psutil


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and every process under it: PostgreSQL's backends are children of the postmaster, and a
    child that ended was reaped by its parent, whose `children_*` times then hold it. A JVM's threads are in its own times."""
    try:
        root = psutil.Process(pid)
        t = root.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in root.children(recursive=True):
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0.0


def process_age_s(pid: int) -> float | None:
    "Seconds since process `pid` started; None when there is no such process."
    try:
        return max(0.0, time.time() - psutil.Process(pid).create_time())
    except (psutil.Error, ValueError):
        return None


def own_cpu_seconds(pid: int) -> float:
    "CPU seconds of one process alone (the bench's own: the services it started are its children and counted apart)."
    try:
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except psutil.Error:
        return 0.0


def cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    "CPU seconds per named component: process trees, except a name starting with `bench` (the bench's own process)."
    return {name: sum((own_cpu_seconds if name.startswith("bench") else tree_cpu_seconds)(p) for p in ps) for name, ps in pids.items()}


def _tree_memory(pid: int, measure) -> int:
    "`measure(process)` summed over a process and everything under it; 0 if it is gone."
    try:
        root = psutil.Process(pid)
        total = measure(root)
        for child in root.children(recursive=True):
            try: total += measure(child)
            except psutil.Error: pass
        return total
    except psutil.Error:
        return 0


def tree_rss(pid: int) -> int:
    "Resident bytes of a process and everything under it (PostgreSQL's backends; a JVM is one process)."
    return _tree_memory(pid, lambda p: p.memory_info().rss)


def _pss(p: psutil.Process) -> int:
    try: return p.memory_full_info().pss
    except (psutil.AccessDenied, AttributeError): return p.memory_info().rss


def tree_pss(pid: int) -> int:
    """Proportional set size of a process and everything under it: each shared page divided among the processes that
    map it. PostgreSQL's shared buffers are mapped by every backend, so their RSS adds up once per backend that
    touched them, and a tree's RSS grows with no leak; its PSS does not. Falls back to RSS where PSS is not readable."""
    return _tree_memory(pid, _pss)


class PeakRss:
    "Samples the resident memory of this process and all its children (the Spark JVM included) in a thread."

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        return tree_rss(self._proc.pid)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())


@contextmanager
def frozen_gc():
    """No full collection walks what exists now: a load client's collector holds the GIL over every object it has (the
    articles it sends, the frames so far), and the frames that arrive meanwhile are stamped late by that long."""
    import gc
    gc.collect(); gc.freeze()
    try: yield
    finally: gc.unfreeze()


@contextmanager
def stage(rows: list, size: int, name: str):
    "Time a stage and record its wall time and peak RSS (process tree) in `rows`."
    t0 = time.perf_counter()
    with PeakRss() as mem:
        yield
    rows.append({"positions": size, "stage": name, "seconds": round(time.perf_counter() - t0, 3),
                 "peak_rss_mb": round(mem.peak / 2**20)})
    print(f"  {size:>12,}  {name:<22} {rows[-1]['seconds']:>9.2f} s  {rows[-1]['peak_rss_mb']:>8,} MB", flush=True)
