"""Shared helpers for the benchmark scripts (timings only; never imported by the tests).

Conventions
-----------
* Every speed claim is a ratio against the competitor measured in the same run, as the
  median of interleaved repeats (ours, theirs, ours, theirs, ...), so machine load hits both;
  where one side is far heavier, also in blocks of consecutive calls per side
  (:func:`block_times`), and the tables say which protocol a target is judged on.
* Small problems are timed with BLAS pinned to one thread (threadpoolctl) and, where the
  issue asks, also at the library defaults; each table says which.
* Each script writes its section to ``benchmarks/results/<name>.md`` (and ``.json``);
  ``python benchmarks/run_all.py`` (``nsolve bench``) assembles ``docs/benchmarks.md``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def blas_threads(n: int | None):
    """Context manager limiting BLAS threads to ``n`` (None: library default)."""
    if n is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


def median_time(fn, repeat: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeat`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def interleaved_times(fns: dict, repeat: int = 7, warmup: int = 1) -> dict:
    """Median times of several callables measured round-robin in the same loop."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            samples[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in samples.items()}


def block_times(fns: dict, rounds: int = 7, block: int = 5, warmup: int = 1) -> dict:
    """Median times of several callables measured in blocks: ``block`` consecutive calls of
    one, then ``block`` of the next, ..., for ``rounds`` rounds; the median is over every call
    (the first of each block, right after another callable ran, included).

    Use it beside :func:`interleaved_times` when one callable is much heavier than the other:
    alternating single calls then time the light one right after the heavy one has filled the
    caches and branch predictors with its own code, which a user calling one solver in a loop
    does not pay.  Likewise after a multi-threaded BLAS call: OpenBLAS's worker threads keep
    spinning for work for about 0.1 s, so the next library's call runs with a core taken.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            for _ in range(block):
                t = time.perf_counter()
                fn()
                samples[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in samples.items()}


def measure_bandwidth(nbytes: int, repeat: int = 7) -> float:
    """Sustained memory bandwidth in bytes/s of this machine, one core.

    A compiled read-modify-write stream ``a[i] = a[i] + s * b[i]`` over two float64 arrays
    of ``nbytes`` each moves ``3 * nbytes`` (read a, read b, write a) per pass; the median
    pass time gives the bandwidth for working sets of that size (pass a size comparable to
    the benchmarked kernel's so cache effects match).
    """
    from nsolve._kernels.vector import axpy_into

    n = max(nbytes // 8, 1)
    a = np.ones(n)
    b = np.ones(n)
    t = median_time(lambda: axpy_into(a, a, 1e-9, b), repeat=repeat, warmup=2)
    return 3 * n * 8 / t


_PROBES = None


def _stream_probes():
    """Compiled stream kernels (cached) for :func:`measure_bandwidths`.

    The read probe is compiled with ``fastmath`` so that LLVM vectorizes the sum with
    several accumulators: it is then limited by memory, not by the latency of one
    floating-point add chain; the others have no loop-carried dependence.  Stores are
    ordinary (no non-temporal hints), like the kernels they are compared with.
    """
    global _PROBES
    if _PROBES is None:
        import numba

        jit = numba.njit(cache=True, nogil=True)

        @numba.njit(cache=True, nogil=True, fastmath=True)
        def read_sum(a):
            s = 0.0
            for i in range(a.shape[0]):
                s += a[i]
            return s

        @jit
        def scale_copy(b, a, c):
            for i in range(a.shape[0]):
                b[i] = c * a[i]

        @jit
        def scale_inplace(a, c):
            for i in range(a.shape[0]):
                a[i] = c * a[i]

        @jit
        def axpy_inplace(a, c, b):
            for i in range(a.shape[0]):
                a[i] += c * b[i]

        _PROBES = (read_sum, scale_copy, scale_inplace, axpy_inplace)
    return _PROBES


def measure_bandwidths(nbytes: int, repeat: int = 7) -> dict[str, float]:
    """Single-core stream bandwidths in bytes/s, each probe touching ``nbytes`` in total.

    Probes (float64, compiled, median of ``repeat`` passes after two warm-up passes):

    * ``read``: ``sum(a)``, one array of ``nbytes``; moves ``nbytes``;
    * ``copy``: ``b = c a``, two arrays of ``nbytes / 2``; moves ``nbytes`` (read a, write b;
      the read-for-ownership of ``b`` is not counted);
    * ``inplace``: ``a = c a``, one array of ``nbytes``; moves ``2 nbytes`` (read, write);
    * ``axpy``: ``a += c b``, two arrays of ``nbytes / 2``; moves ``1.5 nbytes``.

    Pass the working-set size of the kernel under test so cache effects match (a 4 MB set
    runs from L3, a 1 GB set from DRAM).
    """
    read_sum, scale_copy, scale_inplace, axpy_inplace = _stream_probes()
    n = max(nbytes // 8, 16)
    h = max(n // 2, 8)
    a = np.ones(n)
    a2 = np.ones(h)
    b2 = np.ones(h)
    c = 1.0 - 1e-12
    out = {}
    t = median_time(lambda: read_sum(a), repeat=repeat, warmup=2)
    out["read"] = 8 * n / t
    t = median_time(lambda: scale_copy(b2, a2, c), repeat=repeat, warmup=2)
    out["copy"] = 2 * 8 * h / t
    t = median_time(lambda: scale_inplace(a, c), repeat=repeat, warmup=2)
    out["inplace"] = 2 * 8 * n / t
    t = median_time(lambda: axpy_inplace(a2, 1e-12, b2), repeat=repeat, warmup=2)
    out["axpy"] = 3 * 8 * h / t
    return out


_PAR_READ = None


def measure_read_bandwidth_parallel(nbytes: int, threads: int, repeat: int = 7) -> float:
    """Read bandwidth in bytes/s of ``threads`` cores together: ``sum(a)`` over one array of
    ``nbytes``, split into ``threads`` contiguous chunks summed in a ``prange`` (Numba's
    thread count set to ``threads`` for the probe and restored after)."""
    global _PAR_READ
    import numba

    if _PAR_READ is None:
        read_sum = _stream_probes()[0]  # vectorised; a loop written inside the prange is not

        @numba.njit(cache=True, nogil=True, parallel=True)
        def par_read(a, nc):
            n = a.shape[0]
            part = np.zeros(nc)
            for c in numba.prange(nc):
                part[c] = read_sum(a[c * n // nc : (c + 1) * n // nc])
            return part.sum()

        _PAR_READ = par_read
    before = numba.get_num_threads()
    threads = min(threads, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(threads)
    try:
        a = np.ones(max(nbytes // 8, 16))
        t = median_time(lambda: _PAR_READ(a, threads), repeat=repeat, warmup=2)
    finally:
        numba.set_num_threads(before)
    return 8 * a.shape[0] / t


def read_probe(nbytes: int, threads: int):
    """A zero-argument callable that reads a fresh buffer of ``nbytes`` once with ``threads``
    cores (the probes of :func:`measure_bandwidths` and
    :func:`measure_read_bandwidth_parallel`), for timing it *paired* with the kernel it bounds:
    on a shared machine the attainable bandwidth drifts within seconds, so a ratio of two
    medians measured apart can be off by a fifth.  The caller sets Numba's thread count."""
    a = np.ones(max(nbytes // 8, 16))
    if threads <= 1:
        read_sum = _stream_probes()[0]
        return lambda: read_sum(a)
    measure_read_bandwidth_parallel(8 * 16, threads, repeat=1)  # compiles the probe once
    return lambda: _PAR_READ(a, threads)


def paired_ratio(kernel, probe, repeat: int = 15, warmup: int = 2) -> dict:
    """Time ``probe`` and ``kernel`` alternately ``repeat`` times; return the medians of each
    and the median of the per-pair ratios ``kernel / probe``."""
    for _ in range(warmup):
        probe()
        kernel()
    tp, tk = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        probe()
        tp.append(time.perf_counter() - t)
        t = time.perf_counter()
        kernel()
        tk.append(time.perf_counter() - t)
    ratios = [k / p for k, p in zip(tk, tp, strict=True)]
    return {"kernel": float(np.median(tk)), "probe": float(np.median(tp)), "ratio": float(np.median(ratios)),
            "ratio_range": (float(min(ratios)), float(max(ratios)))}


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(Exception):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(name: str, title: str, command: str, body_md: str, data=None) -> Path:
    """Write ``results/<name>.md`` (title, command, machine, body) and ``<name>.json``."""
    RESULTS.mkdir(exist_ok=True)
    text = (f"## {title}\n\nCommand: `{command}`\n\nMachine: {machine_line()}; "
            f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n{body_md.strip()}\n")
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    if data is not None:
        (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, default=float))
    return path


def md_table(header: list[str], rows: list[list]) -> str:
    """A Markdown table from a header and rows (values formatted with str())."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(out)
