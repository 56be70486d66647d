"""L-BFGS at n = 10^7: time per iteration outside f and grad against the memory-traffic bound of
the two-loop recursion, and the memory a full run needs.

Objective: extended Rosenbrock written as two Numba loops (``f`` and ``grad``, compiled and
cached here), so the objective is cheap and timed separately (perf_counter wrappers).  They
reach ``minimize`` through plain-Python wrappers, so the run takes the interpreted driver
(the core of issue 2), not the fully compiled path ``minimize`` picks for Numba objectives.

*Time.*  The bound is the traffic of the two-loop recursion written as vector passes: one
store pass (reads x, x_new, g, g_new; writes s, y: 6 vectors) and 2m passes, each fusing a
dot product into the preceding axpy (reads two history vectors and d, writes d: 4 vectors).
With a full history that is at least

    bytes = (8 m + 6) * 8 n

and the bound is ``bytes / bw``, with ``bw`` the single-core bandwidth of the in-place
``a += c b`` stream (``_common.measure_bandwidths``, which reads two arrays and writes one,
the mix of these passes) on a DRAM-sized working set.  Target: (wall - time in f and grad)
/ nit at most 1.5x the bound.  The kernel alone (full history, repeated calls) is also
timed against the same bound, to separate the kernel from the rest of the iteration (line
search, objective wrapper, driver).  At this size the kernel
(``nsolve._kernels.quasi_newton.lbfgs_gram_update_direction_inplace``) is the Gram form, which
computes the same direction reading each history vector twice instead of four times: about
(4m + 10) 8n bytes, so it can beat the recursion's bound.

*Memory.*  A fresh child process allocates x0, warms the compiled functions, resets its
peak-RSS counter (``/proc/self/clear_refs``), runs ``nsolve.minimize`` and reports the
growth of the peak resident set (VmHWM - VmRSS before the run) and tracemalloc's peak of
the NumPy allocations.  Target: at most (2m + 8) n 8 bytes.

Usage: ``python benchmarks/bench_lbfgs_huge.py [--quick] [--n N] [--m M] [--iters K] [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import md_table, measure_bandwidths, write_section  # noqa: E402

import nsolve  # noqa: E402
from nsolve._kernels.quasi_newton import lbfgs_kernel, lbfgs_workspace  # noqa: E402


@numba.njit(cache=True, nogil=True)
def ext_rosen_f(x):
    """Extended Rosenbrock, sum over pairs of 100 (x2 - x1^2)^2 + (1 - x1)^2."""
    s = 0.0
    for k in range(x.shape[0] // 2):
        a = x[2 * k]
        t = x[2 * k + 1] - a * a
        s += 100.0 * t * t + (1.0 - a) * (1.0 - a)
    return s


@numba.njit(cache=True, nogil=True)
def ext_rosen_g(x):
    """Gradient of :func:`ext_rosen_f` (a fresh array)."""
    g = np.empty(x.shape[0])
    for k in range(x.shape[0] // 2):
        a = x[2 * k]
        t = x[2 * k + 1] - a * a
        g[2 * k] = -400.0 * a * t - 2.0 * (1.0 - a)
        g[2 * k + 1] = 200.0 * t
    return g


def start(n: int) -> np.ndarray:
    x0 = np.ones(n)
    x0[0::2] = -1.2
    return x0


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(n: int, m: int, iters: int, compiled: bool = False) -> dict:
    """Run in a fresh process: peak-RSS growth and tracemalloc peak of one minimize run.

    ``compiled``: pass the Numba functions themselves (minimize takes the compiled path);
    otherwise plain-Python wrappers (the interpreted driver).
    """
    import tracemalloc

    x0 = start(n)
    small = start(10)

    def f(x):
        return ext_rosen_f(x)

    def grad(x):
        return ext_rosen_g(x)

    if compiled:
        f, grad = ext_rosen_f, ext_rosen_g

    nsolve.minimize(f, grad, small, method="lbfgs", m=m, maxiter=5)
    reset = True
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        reset = False
    rss0 = _status_kb("VmRSS")
    hwm0 = _status_kb("VmHWM")
    tracemalloc.start()
    r = nsolve.minimize(f, grad, x0, method="lbfgs", m=m, maxiter=iters)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hwm1 = _status_kb("VmHWM")
    base = rss0 if reset else max(rss0, hwm0)
    return {"rss_before_kb": rss0, "hwm_before_kb": hwm0, "hwm_after_kb": hwm1, "peak_reset": reset,
            "growth_bytes": (hwm1 - base) * 1024, "tracemalloc_peak_bytes": traced_peak,
            "nit": int(r.nit), "nfev": int(r.nfev)}


class Timed:
    """f and grad with perf_counter wrappers that log (start, duration) of every call."""

    def __init__(self):
        self.calls: list[tuple[float, float]] = []

    def f(self, x):
        t = time.perf_counter()
        v = ext_rosen_f(x)
        self.calls.append((t, time.perf_counter() - t))
        return v

    def grad(self, x):
        t = time.perf_counter()
        v = ext_rosen_g(x)
        self.calls.append((t, time.perf_counter() - t))
        return v


def timed_run(n: int, m: int, iters: int) -> dict:
    """One run; per-iteration time outside f and grad from the run's history.

    ``history["time"]`` gives the end of each iteration (seconds since the run's start,
    which is within microseconds of the first call of f); the f and grad calls that start
    inside an iteration are subtracted from it.  Iterations after the first m + 1 are the
    steady state (the first m + 1 also first-touch the history rows).
    """
    x0 = start(n)
    tm = Timed()
    t = time.perf_counter()
    r = nsolve.minimize(tm.f, tm.grad, x0, method="lbfgs", m=m, maxiter=iters, history=True)
    wall = time.perf_counter() - t
    nit = max(int(r.nit), 1)
    t0 = tm.calls[0][0]
    ends = t0 + np.asarray(r.history["time"], dtype=float)
    starts = np.array([c[0] for c in tm.calls])
    durs = np.array([c[1] for c in tm.calls])
    per_iter = []
    for k in range(1, len(ends)):
        inside = durs[(starts >= ends[k - 1]) & (starts < ends[k])].sum()
        per_iter.append((ends[k] - ends[k - 1]) - inside)
    per_iter = np.array(per_iter)
    steady = per_iter[m + 1:] if per_iter.size > m + 2 else per_iter
    total_fg = float(durs.sum())
    return {"wall": wall, "t_fg": total_fg, "nit": nit, "nfev": int(r.nfev), "njev": int(r.njev),
            "per_iter_outside": (wall - total_fg) / nit, "steady_outside": float(np.median(steady)),
            "steady_iters": int(steady.size), "per_iter_list": per_iter.tolist(), "fun": float(r.fun),
            "fg_per_iter": total_fg / nit}


def compiled_run(n: int, m: int, iters: int) -> dict:
    """One run on the compiled path (Numba f and grad passed directly).

    f and grad cannot be timed from inside compiled code, so their share is nfev times the
    median time of one f + grad call at the same size, measured right after the run.
    """
    x0 = start(n)
    t = time.perf_counter()
    r = nsolve.minimize(ext_rosen_f, ext_rosen_g, x0, method="lbfgs", m=m, maxiter=iters)
    wall = time.perf_counter() - t
    x = r.x
    fg_times = []
    for _ in range(3):
        t = time.perf_counter()
        ext_rosen_f(x)
        ext_rosen_g(x)
        fg_times.append(time.perf_counter() - t)
    t_fg = float(np.median(fg_times)) * int(r.nfev)
    nit = max(int(r.nit), 1)
    return {"wall": wall, "nit": nit, "nfev": int(r.nfev), "t_fg": t_fg, "per_iter_outside": (wall - t_fg) / nit}


def probe_bw(n: int) -> float:
    """axpy (a += c b) bandwidth on a working set of 4 vectors of n doubles (bytes/s)."""
    return measure_bandwidths(4 * 8 * n, repeat=3)["axpy"]


def kernel_alone(n: int, m: int, repeat: int) -> tuple[list[float], list[float]]:
    """Kernel time with a full history of m pairs (new pair accepted), interleaved with probes.

    Returns the kernel times and the axpy bandwidths measured between them.
    """
    rng = np.random.default_rng(1)
    S = np.zeros((m + 1, n))
    Y = np.zeros((m + 1, n))
    gram, work, ring, state = lbfgs_workspace(n, m)
    lbfgs_update_direction_inplace = lbfgs_kernel(state)  # the form the solvers take at this n
    x = rng.standard_normal(n)
    s = 1e-3 * rng.standard_normal(n)
    x_new = x + s
    g = rng.standard_normal(n)
    g_new = g + 2.0 * s
    d = np.empty(n)
    x0, g0 = x.copy(), g.copy()  # the kernel accepts the step (x, g <- x_new, g_new): reset them, untimed
    for _ in range(m + 1):
        x[:], g[:] = x0, g0
        lbfgs_update_direction_inplace(S, Y, gram, work, ring, state, x, x_new, g, g_new, d, 1e-10)
    assert state[0] == m
    times, bws = [], []
    for _ in range(repeat):
        x[:], g[:] = x0, g0
        bws.append(probe_bw(n))
        t = time.perf_counter()
        lbfgs_update_direction_inplace(S, Y, gram, work, ring, state, x, x_new, g, g_new, d, 1e-10)
        times.append(time.perf_counter() - t)
    bws.append(probe_bw(n))
    return times, bws


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="n = 10^5")
    ap.add_argument("--n", type=int, default=None, help="problem size (even; default 10^7, quick 10^5)")
    ap.add_argument("--m", type=int, default=10, help="L-BFGS memory (default 10)")
    ap.add_argument("--iters", type=int, default=None, help="iterations per run (default 25, quick 15)")
    ap.add_argument("--runs", type=int, default=None, help="timed runs (default 2, quick 3)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write results/")
    ap.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--compiled-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    n = args.n or (10**5 if args.quick else 10**7)
    m = args.m
    iters = args.iters or (15 if args.quick else 25)
    nruns = args.runs or (3 if args.quick else 2)
    if args.memory_child:
        print(json.dumps(memory_child(n, m, iters, compiled=args.compiled_child)))
        return 0

    loads = [Path("/proc/loadavg").read_text().split()[0]]
    # Memory first, in a fresh process (before this process holds large arrays).
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", "--n", str(n), "--m", str(m),
           "--iters", str(iters)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=dict(os.environ)).stdout
    mem = json.loads(out.strip().splitlines()[-1])
    out = subprocess.run(cmd + ["--compiled-child"], check=True, capture_output=True, text=True,
                         env=dict(os.environ)).stdout
    mem_c = json.loads(out.strip().splitlines()[-1])

    # Warm the compiled functions on a small problem, then timed runs with bandwidth probes around each.
    timed_run(10, m, 5)
    probe_bw(1000)
    run_bws = [probe_bw(n)]
    runs = []
    for _ in range(nruns):
        runs.append(timed_run(n, m, iters))
        run_bws.append(probe_bw(n))
    nsolve.minimize(ext_rosen_f, ext_rosen_g, start(10), method="lbfgs", m=m, maxiter=5)  # load the solver
    cruns = []
    for _ in range(nruns):
        cruns.append(compiled_run(n, m, iters))
        run_bws.append(probe_bw(n))
    crun = min(cruns, key=lambda r: r["per_iter_outside"])
    k_times, k_bws = kernel_alone(n, m, repeat=5 if not args.quick else 11)
    bw_all = measure_bandwidths(4 * 8 * n, repeat=3)
    loads.append(Path("/proc/loadavg").read_text().split()[0])

    vec = 8 * n
    nbytes = (8 * m + 6) * vec
    bw_run = float(np.median(run_bws))
    bw_k = float(np.median(k_bws))
    run = min(runs, key=lambda r: r["steady_outside"])
    t_bound_run = nbytes / bw_run
    t_bound_k = nbytes / bw_k
    t_kernel = float(np.median(k_times))
    ratio = run["steady_outside"] / t_bound_run
    ratio_all = run["per_iter_outside"] / t_bound_run
    k_ratio = t_kernel / t_bound_k
    mem_bound = (2 * m + 8) * n * 8
    mem_ratio = mem["growth_bytes"] / mem_bound
    mem_c_ratio = mem_c["growth_bytes"] / mem_bound
    c_ratio = crun["per_iter_outside"] / t_bound_run
    gb = 1e9
    ms = 1e3
    t1 = md_table(
        ["quantity", "value"],
        [
            ["bytes per iteration, (8m + 6) 8n", f"{nbytes / gb:.3g} GB"],
            ["axpy bandwidth around the runs (median of " + str(len(run_bws)) + " probes, range)",
             f"{bw_run / gb:.1f} GB/s ({min(run_bws) / gb:.1f} - {max(run_bws) / gb:.1f})"],
            ["bound = bytes / bw_axpy", f"{t_bound_run * ms:.1f} ms"],
            ["wall per iteration (whole run, incl. f and grad)", f"{run['wall'] / run['nit'] * ms:.1f} ms"],
            ["f + grad per iteration", f"{run['fg_per_iter'] * ms:.1f} ms (nfev {run['nfev']}, njev {run['njev']}, "
                                       f"nit {run['nit']})"],
            [f"**outside f and grad, steady state** (median of iterations {m + 2}..{run['nit']})",
             f"**{run['steady_outside'] * ms:.1f} ms**"],
            ["**steady state / bound** (target <= 1.5)",
             f"**{ratio:.2f}** " + ("met" if ratio <= 1.5 else "**NOT met**")],
            ["outside f and grad, mean over the whole run (first m + 1 iterations first-touch the history)",
             f"{run['per_iter_outside'] * ms:.1f} ms = {ratio_all:.2f} x bound"],
            ["kernel alone, full history (median of " + str(len(k_times)) + "), and / bound at the axpy bandwidth "
             f"measured between its calls ({bw_k / gb:.1f} GB/s)", f"{t_kernel * ms:.1f} ms, {k_ratio:.2f}"],
            ["rest of a steady iteration (outside f, grad and the kernel)",
             f"{(run['steady_outside'] - t_kernel) * ms:.1f} ms = "
             f"{(run['steady_outside'] - t_kernel) * bw_run / vec:.0f} vector passes of 8n bytes at bw_axpy"],
            ["**compiled path** (Numba f and grad passed directly): outside f and grad per iteration, "
             "mean over the whole run (f + grad = nfev x one timed call)",
             f"**{crun['per_iter_outside'] * ms:.1f} ms = {c_ratio:.2f} x bound** "
             + ("met" if c_ratio <= 1.5 else "**NOT met**") + f" (nit {crun['nit']}, nfev {crun['nfev']})"],
            ["other probes at the end: read / in-place / copy",
             f"{bw_all['read'] / gb:.1f} / {bw_all['inplace'] / gb:.1f} / {bw_all['copy'] / gb:.1f} GB/s"],
        ],
    )
    t2 = md_table(
        ["quantity", "value"],
        [
            ["bound (2m + 8) n 8 bytes", f"{mem_bound / gb:.3g} GB"],
            ["peak RSS growth of the run (VmHWM - VmRSS before; peak reset: " + str(mem["peak_reset"]) + ")",
             f"{mem['growth_bytes'] / gb:.3g} GB = {mem['growth_bytes'] / vec:.1f} n doubles"],
            ["**growth / bound** (target <= 1)",
             f"**{mem_ratio:.2f}** " + ("met" if mem_ratio <= 1 else "**NOT met**")],
            ["tracemalloc peak (NumPy allocations only, including untouched np.empty)",
             f"{mem['tracemalloc_peak_bytes'] / gb:.3g} GB = {mem['tracemalloc_peak_bytes'] / vec:.1f} n doubles"],
            ["run", f"{mem['nit']} iterations, nfev {mem['nfev']}"],
            ["**compiled path**: peak RSS growth, and / bound",
             f"{mem_c['growth_bytes'] / gb:.3g} GB = {mem_c['growth_bytes'] / vec:.1f} n doubles, "
             f"**{mem_c_ratio:.2f}** " + ("met" if mem_c_ratio <= 1 else "**NOT met**")],
        ],
    )
    body = (
        f"n = {n:.3g}, m = {m}, extended Rosenbrock (Numba f and grad; the interpreted driver gets them in Python "
        f"wrappers timed with perf_counter, the compiled path gets them directly), {iters} iterations "
        f"per run (maxiter), best of {len(runs)} runs by steady-state time.  Memory bandwidth on this shared "
        f"machine varies by 2x with other jobs' load, so the bound uses axpy probes taken right before and after "
        f"each run (and between the kernel calls).  Load average {loads[0]} at start, {loads[1]} at end.\n\n"
        f"### Time per iteration outside f and grad\n\n{t1}\n\n### Memory\n\n{t2}\n"
    )
    print(body)
    data = {"n": n, "m": m, "iters": iters, "run_bandwidths": run_bws, "kernel_bandwidths": k_bws,
            "other_bandwidths": bw_all, "runs": runs, "kernel_times": k_times, "bytes_per_iter": nbytes,
            "bound_run": t_bound_run, "ratio": ratio, "ratio_whole_run": ratio_all, "kernel_ratio": k_ratio,
            "memory": mem, "memory_bound": mem_bound, "memory_ratio": mem_ratio, "loadavg": loads,
            "compiled_runs": cruns, "compiled_ratio": c_ratio, "compiled_memory": mem_c,
            "compiled_memory_ratio": mem_c_ratio}
    cmdline = "python benchmarks/bench_lbfgs_huge.py" + (" --quick" if args.quick else "") + (
        f" --n {args.n}" if args.n else "") + (f" --m {m}" if m != 10 else "")
    if not args.no_write:
        write_section("lbfgs_huge", f"L-BFGS at n = {n:.0e}: time per iteration and memory", cmdline, body, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
