"""What every bench shares: peak memory of a process tree, and a timed stage that records it."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import psutil


class PeakRss:
    "Samples the resident memory of this process and all its children (the Spark JVM included) in a thread."

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = self._proc.memory_info().rss
        for child in self._proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

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
def stage(rows: list, size: int, name: str):
    "Time a stage and record its wall time and peak RSS (process tree) in `rows`."
    t0 = time.perf_counter()
    with PeakRss() as mem:
        yield
    rows.append({"positions": size, "stage": name, "seconds": round(time.perf_counter() - t0, 3),
                 "peak_rss_mb": round(mem.peak / 2**20)})
    print(f"  {size:>12,}  {name:<22} {rows[-1]['seconds']:>9.2f} s  {rows[-1]['peak_rss_mb']:>8,} MB", flush=True)
