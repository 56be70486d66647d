"""Compiled solves (Numba objectives) and minimize_many, against scipy with the same objectives.

Usage: ``python benchmarks/bench_compiled.py [--quick]``.  Writes benchmarks/results/compiled.md.

Every ratio is measured in one run, as the median of repeats in blocks of consecutive calls
per side, sides alternating (``_common.block_times``), and, beside it, of single calls
alternating (ours, scipy, ours, ...), which times each of our calls right after a scipy call;
BLAS is pinned to one thread (threadpoolctl).  Numba compile time is reported
separately (cold cache: a subprocess with an empty ``NUMBA_CACHE_DIR``); the timed solves
use the warm on-disk cache.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numba
import numpy as np
import scipy.optimize as so

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _common import blas_threads, block_times, interleaved_times, md_table, write_section  # noqa: E402

import nsolve  # noqa: E402
from nsolve import problems  # noqa: E402

# The 2-D Rosenbrock objective used by both solvers: plain loops, one array per gradient.
OBJECTIVE_SOURCE = '''
import numba
import numpy as np


@numba.njit(cache=True)
def rosen(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


@numba.njit(cache=True)
def rosen_grad(x):
    n = x.shape[0]
    g = np.zeros(n)
    for i in range(n - 1):
        t = x[i + 1] - x[i] ** 2
        g[i] += -400.0 * t * x[i] - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * t
    return g


@numba.njit(cache=True)
def rosen_hess(x):
    n = x.shape[0]
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        H[i + 1, i + 1] += 200.0
        H[i, i + 1] = -400.0 * x[i]
        H[i + 1, i] = -400.0 * x[i]
    return H


@numba.njit(cache=True)
def add_one(v):
    return v + 1.0


@numba.njit(cache=True)
def bare_lbfgs(x0, m, gtol, maxiter):
    # A floor for section 1: L-BFGS with nothing but the arithmetic (two-loop recursion over
    # m pairs, Armijo backtracking by halving, the curvature test), no strong Wolfe search,
    # no finiteness checks, budgets, best point or counters.  Not a solver to use.
    n = x0.shape[0]
    x = x0.copy()
    S = np.zeros((m, n))
    Y = np.zeros((m, n))
    rho = np.zeros(m)
    al = np.zeros(m)
    q = np.empty(n)
    xn = np.empty(n)
    g = rosen_grad(x)
    f = rosen(x)
    nfev = 1
    k = 0
    it = 0
    while it < maxiter:
        gmax = 0.0
        for i in range(n):
            gmax = max(gmax, abs(g[i]))
        if gmax <= gtol:
            break
        for i in range(n):
            q[i] = g[i]
        cnt = min(k, m)
        for j in range(cnt):
            c = (k - 1 - j) % m
            t = 0.0
            for i in range(n):
                t += S[c, i] * q[i]
            al[c] = rho[c] * t
            for i in range(n):
                q[i] -= al[c] * Y[c, i]
        if k > 0:
            c = (k - 1) % m
            yy = 0.0
            for i in range(n):
                yy += Y[c, i] * Y[c, i]
            scale = 1.0 / (rho[c] * yy)
        else:
            g1 = 0.0
            for i in range(n):
                g1 += abs(g[i])
            scale = min(1.0, 1.0 / g1)
        for i in range(n):
            q[i] *= scale
        for j in range(cnt - 1, -1, -1):
            c = (k - 1 - j) % m
            b = 0.0
            for i in range(n):
                b += Y[c, i] * q[i]
            b *= rho[c]
            for i in range(n):
                q[i] += (al[c] - b) * S[c, i]
        slope = 0.0
        for i in range(n):
            slope -= g[i] * q[i]
        a = 1.0
        while True:
            for i in range(n):
                xn[i] = x[i] - a * q[i]
            fn = rosen(xn)
            nfev += 1
            if fn <= f + 1e-4 * a * slope:
                break
            a *= 0.5
        gn = rosen_grad(xn)
        c = k % m
        sy = 0.0
        for i in range(n):
            S[c, i] = xn[i] - x[i]
            Y[c, i] = gn[i] - g[i]
            sy += S[c, i] * Y[c, i]
        if sy > 1e-10:
            rho[c] = 1.0 / sy
            k += 1
        for i in range(n):
            x[i] = xn[i]
        g = gn
        f = fn
        it += 1
    return f, it, nfev


@numba.njit(cache=True)
def bare_lbfgs_many(X0, out):
    for k in range(X0.shape[0]):
        out[k] = bare_lbfgs(X0[k], 10, 1e-5, 1000)[0]
'''

OBJ_DIR = Path(tempfile.gettempdir()) / "nsolve_bench_compiled"
OBJ_DIR.mkdir(exist_ok=True)
(OBJ_DIR / "bench_objective.py").write_text(OBJECTIVE_SOURCE)
sys.path.insert(0, str(OBJ_DIR))
import bench_objective as OBJ  # noqa: E402

X0 = np.array([-1.2, 1.0])
us = 1e6


def fmt(t):
    return f"{t * us:.1f}"


def run_py(code: str, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh interpreter (sys.path set up); it prints one JSON line."""
    prelude = f"import sys; sys.path[:0] = [{str(HERE.parent)!r}, {str(OBJ_DIR)!r}]\n"
    full_env = {**os.environ, **(env or {})}
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, env=full_env,
                         check=True)
    wall = time.perf_counter() - t
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["process_wall"] = wall
    return data


# --------------------------------------------------------------------------- 1. Rosenbrock 2-D
def _solver_call_alone(f, g, x0, method: str):
    """``(call, (nit, nfev))``: the compiled solver ``minimize`` runs, called with the arguments
    ``minimize`` would pass, made once (a fresh start point and zeroed counters per call)."""
    from nsolve._api import _configure
    from nsolve.compiled import _dispatch

    _, _, _, _, rules, method_opts, search = _configure(method, x0.shape[0], {})
    fo, io, extra, x_out, g_out, hist, info, wf, wi = _dispatch.run_buffers(method, method_opts, search, rules,
                                                                            x0.shape[0], False)
    addresses = _dispatch.objective_addresses(f, g, None, False)
    solve = _dispatch._entry_points()[_dispatch.DRIVERS[method]][0]
    no_args = np.empty(0)

    def call():
        wi[:] = 0
        x = x0.copy()
        return solve(addresses, False, no_args, x, fo, io, x, g_out, hist, info, extra, wf, wi)

    call()
    ref = nsolve.minimize(f, g, x0, method=method)
    got = (int(info[_dispatch.L.INFO_NIT]), int(info[_dispatch.L.INFO_NFEV]))
    if got != (ref.nit, ref.nfev) or call() != ref.fun:
        raise RuntimeError(f"the solver called alone does not repeat minimize's run: {got} vs {(ref.nit, ref.nfev)}")
    return call, got


def rosenbrock_lbfgs(repeat: int) -> tuple[str, dict]:
    ours = lambda: nsolve.minimize(OBJ.rosen, OBJ.rosen_grad, X0, method="lbfgs")  # noqa: E731
    scipy = lambda: so.minimize(OBJ.rosen, X0, jac=OBJ.rosen_grad, method="L-BFGS-B")  # noqa: E731
    r_ours, r_sp = ours(), scipy()
    K = 20000
    starts = np.tile(X0, (K, 1))

    def batch():
        return nsolve.minimize_many(OBJ.rosen, OBJ.rosen_grad, starts, method="lbfgs", threads=1)

    bare = lambda: OBJ.bare_lbfgs(X0, 10, 1e-5, 1000)  # noqa: E731
    bare_out = np.empty(K)

    def bare_batch():
        OBJ.bare_lbfgs_many(starts, bare_out)

    solver_call, solver_info = _solver_call_alone(OBJ.rosen, OBJ.rosen_grad, X0, "lbfgs")
    batch(), bare(), bare_batch(), solver_call()
    fns = {"minimize": ours, "scipy": scipy, "bare": bare, "solver": solver_call}
    t = block_times(fns, rounds=max(3, repeat // 10), block=10)
    ta = interleaved_times(fns, repeat=repeat)
    tbs = interleaved_times({"batch": batch, "bare_batch": bare_batch}, repeat=3)
    tb = tbs["batch"] / K
    tbb = tbs["bare_batch"] / K
    f_bare, nit_bare, nfev_bare = bare()
    rows = [
        ["nsolve.minimize (compiled path)", fmt(t["minimize"]), r_ours.nit, r_ours.nfev,
         f"{t['scipy'] / t['minimize']:.1f}x", f"{fmt(ta['minimize'])}: {ta['scipy'] / ta['minimize']:.1f}x"],
        ["nsolve's compiled solver alone, one Python call (arguments prepared once)", fmt(t["solver"]),
         solver_info[0], solver_info[1], f"{t['scipy'] / t['solver']:.1f}x",
         f"{fmt(ta['solver'])}: {ta['scipy'] / ta['solver']:.1f}x"],
        ["nsolve.minimize_many, per problem (1 thread, K=20000)", fmt(tb), r_ours.nit, r_ours.nfev,
         f"{t['scipy'] / tb:.1f}x", f"{ta['scipy'] / tb:.1f}x"],
        ["scipy.optimize.minimize L-BFGS-B", fmt(t["scipy"]), r_sp.nit, r_sp.nfev, "1.0x", fmt(ta["scipy"])],
        ["floor: bare compiled L-BFGS loop (`bare_lbfgs`, no safeguards), one Python call", fmt(t["bare"]),
         nit_bare, nfev_bare, f"{t['scipy'] / t['bare']:.1f}x", f"{fmt(ta['bare'])}: {ta['scipy'] / ta['bare']:.1f}x"],
        ["floor: the same, per problem of a compiled loop (K=20000)", fmt(tbb), nit_bare, nfev_bare,
         f"{t['scipy'] / tbb:.1f}x", f"{ta['scipy'] / tbb:.1f}x"],
    ]
    md = md_table(["solver", "time per solve (µs)", "nit", "nfev", "speed-up vs scipy",
                   "alternating single calls: µs, speed-up"], rows)
    md += ("\n\nTimes: median over blocks of 10 consecutive calls per side, alternating sides "
           f"({max(3, repeat // 10)} rounds); the last column, single calls alternating (median of {repeat}).")
    md += (" The second row is `minimize`'s compiled solver called directly with its arguments made once "
           "(the options packed, the workspace allocated; its counters re-zeroed per call), the call `minimize` "
           "makes: what is left of a call without its Python (validation, packing, buffers, the OptimizeResult; "
           f"{fmt(t['minimize'] - t['solver'])} µs here). The third is the compiled solve with no Python call per "
           "problem at all: the speed-up a single call would reach if calling it cost nothing. "
           "The 100x target needs a whole solve in "
           f"{t['scipy'] / 100 * us:.1f} µs: {t['scipy'] / 100 / r_ours.nfev * 1e9:.0f} ns per evaluation of f and "
           f"the gradient ({r_ours.nfev} of them), everything included.")
    md += (" The floor rows measure what the arithmetic of L-BFGS alone costs here: `bare_lbfgs` (in this "
           "script) is the two-loop recursion over m = 10 pairs with Armijo backtracking by halving and the "
           "curvature test, and nothing else (no strong Wolfe search, finiteness checks, budgets, best point or "
           f"counters; it ends at f = {f_bare:.1e}). It calls the same objective, which allocates its gradient.")
    data = {"bare_s": t["bare"], "bare_batch_per_problem_s": tbb, "solver_call_s": t["solver"],
            "minimize_s": t["minimize"], "batch_per_problem_s": tb, "scipy_s": t["scipy"],
            "ratio_minimize": t["scipy"] / t["minimize"], "ratio_batch": t["scipy"] / tb,
            "alternating": {"minimize_s": ta["minimize"], "scipy_s": ta["scipy"]}}
    return md, data


# --------------------------------------------------------------------------- 2. problem library
def library(methods, repeat: int) -> tuple[str, dict]:
    sp_name = {"bfgs": "BFGS", "lbfgs": "L-BFGS-B"}
    rows, data = [], {}
    ratios = {m: [] for m in methods}
    ratios_alt = {m: [] for m in methods}
    for p in problems.library(max_n=100):
        pj = p.jit()
        x0 = p.x0
        row = [p.label]
        for m in methods:
            ours = lambda pj=pj, m=m, x0=x0: nsolve.minimize(pj.f, pj.grad, x0, method=m)  # noqa: E731
            theirs = lambda pj=pj, m=m, x0=x0: so.minimize(pj.f, x0, jac=pj.grad, method=sp_name[m])  # noqa: E731
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r_ours, r_sp = ours(), theirs()
                fns = {"ours": ours, "scipy": theirs}
                t = block_times(fns, rounds=max(2, repeat // 3), block=3)
                ta = interleaved_times(fns, repeat=repeat)
            ratio = t["scipy"] / t["ours"]
            ratio_alt = ta["scipy"] / ta["ours"]
            ratios[m].append(ratio)
            ratios_alt[m].append(ratio_alt)
            row += [fmt(t["ours"]), fmt(t["scipy"]), f"{ratio:.0f}x", f"{ratio_alt:.0f}x",
                    f"{r_ours.fun - p.f_star:.1e}"]
            data[f"{p.label}/{m}"] = {"ours_s": t["ours"], "scipy_s": t["scipy"], "ratio": ratio,
                                      "ratio_alternating": ratio_alt,
                                      "ours_nfev": int(r_ours.nfev), "scipy_nfev": int(r_sp.nfev)}
        rows.append(row)
    header = ["problem"]
    for m in methods:
        header += [f"{m} ours (µs)", f"scipy {sp_name[m]} (µs)", "speed-up", "alternating", "f - f*"]
    medians = {m: float(np.median(ratios[m])) for m in methods}
    medians_alt = {m: float(np.median(ratios_alt[m])) for m in methods}
    md = md_table(header, rows)
    md += ("\n\nTimes: median over blocks of 3 consecutive calls per side, alternating sides "
           f"({max(2, repeat // 3)} rounds); *alternating*: the speed-up from single calls alternating "
           f"(median of {repeat}), where each of our calls follows a scipy call.")
    md += "\n\nMedian speed-up: " + ", ".join(f"**{m}: {medians[m]:.0f}x**" for m in methods)
    md += " (alternating single calls: " + ", ".join(f"{m} {medians_alt[m]:.0f}x" for m in methods) + ")"
    md += " (target: at least 50x for bfgs and lbfgs)."
    data["median_ratio"] = medians
    data["median_ratio_alternating"] = medians_alt
    return md, data


# --------------------------------------------------------------------------- 3. fresh process
FRESH = textwrap.dedent('''
    import time
    t0 = time.perf_counter()
    import numpy as np
    import nsolve
    t1 = time.perf_counter()
    import bench_objective as O
    r = nsolve.minimize(O.rosen, O.rosen_grad, np.array([-1.2, 1.0]), method="lbfgs")
    t2 = time.perf_counter()
    import json
    print(json.dumps({"import_s": t1 - t0, "first_result_s": t2 - t1, "total_s": t2 - t0, "nit": int(r.nit)}))
''')


#: The floor under ``import nsolve``: results are scipy's OptimizeResult, so scipy.optimize
#: (and everything its package imports) is loaded with nsolve; and the floor under the first
#: result: Numba's first call of any function, even a one-line one from the on-disk cache.
SCIPY_ONLY = textwrap.dedent('''
    import time
    t0 = time.perf_counter()
    import numpy as np
    t1 = time.perf_counter()
    import scipy.optimize
    t2 = time.perf_counter()
    import numba
    t3 = time.perf_counter()
    import bench_objective as O
    O.add_one(1.0)  # Numba's first dispatch in a process: typing and target set-up, the cache load
    t4 = time.perf_counter()
    import json
    print(json.dumps({"numpy_s": t1 - t0, "scipy_optimize_s": t2 - t1, "numba_s": t3 - t2,
                      "numba_first_call_s": t4 - t3}))
''')


def fresh_process(repeat: int) -> tuple[str, dict]:
    run_py(FRESH)  # warm every cache (solver, kernels, objective)
    runs = [run_py(FRESH) for _ in range(repeat)]
    floor = [run_py(SCIPY_ONLY) for _ in range(repeat)]
    med = {k: float(np.median([r[k] for r in runs])) for k in ("import_s", "first_result_s", "total_s",
                                                                "process_wall")}
    med.update({k: float(np.median([r[k] for r in floor]))
                for k in ("numpy_s", "scipy_optimize_s", "numba_s", "numba_first_call_s")})
    med["floor_s"] = med["numpy_s"] + med["scipy_optimize_s"] + med["numba_s"] + med["numba_first_call_s"]
    rows = [["import nsolve", f"{med['import_s'] * 1e3:.0f}"],
            ["of which (separate fresh process): numpy / then scipy.optimize / then numba",
             f"{med['numpy_s'] * 1e3:.0f} / {med['scipy_optimize_s'] * 1e3:.0f} / {med['numba_s'] * 1e3:.0f}"],
            ["first compiled result after the import", f"{med['first_result_s'] * 1e3:.0f}"],
            ["of which (separate fresh process, after the imports above): Numba's first call of a cached "
             "one-line function", f"{med['numba_first_call_s'] * 1e3:.0f}"],
            ["floor: those four rows of the separate process together", f"{med['floor_s'] * 1e3:.0f}"],
            ["**import to first result**", f"**{med['total_s'] * 1e3:.0f}**"],
            ["whole process (interpreter start to exit)", f"{med['process_wall'] * 1e3:.0f}"]]
    md = md_table([f"fresh process, warm cache (median of {repeat})", "ms"], rows)
    md += ("\n\nTarget: import to first compiled result under 500 ms. The second row is the import floor: a result is "
           "scipy's `OptimizeResult` (issue 2), so `import nsolve` loads scipy.optimize, whose package import "
           "(scipy.linalg, scipy's array-API layer, which imports numpy.f2py, numpy.ma and numpy.testing, "
           "linprog, shgo, ...) takes most of it; `python -X importtime -c 'import nsolve'` shows the tree. "
           "The fourth row is Numba's own start-up: the first call of any jitted function in a process, even "
           "`v + 1.0` loaded from the on-disk cache, sets up Numba's typing and target contexts. The floor "
           "rows together exceed the target before nsolve runs any code of its own.")
    return md, med


# --------------------------------------------------------------------------- 4. many small solves
def many_small(K: int, n_scipy: int, repeat: int = 9) -> tuple[str, dict]:
    """Throughput of ``minimize_many`` on one and on two threads, against a Python loop over scipy.

    The one-to-two-thread scaling is the median of per-pair ratios: each two-thread run is timed
    right after a one-thread run, so a slow spell of the shared machine shows in one pair rather
    than in one side's median."""
    rng = np.random.default_rng(0)
    starts = rng.uniform(-2.0, 2.0, size=(K, 2))
    f, g = OBJ.rosen, OBJ.rosen_grad
    threads = min(2, numba.config.NUMBA_NUM_THREADS)
    rows, data = [], {"K": K, "throughput": {}, "scaling_1_to_2": {}, "pair_ratios": {}}
    sub = starts[:n_scipy]

    def scipy_loop(method):
        def loop():
            for x0 in sub:
                so.minimize(f, x0, jac=g, method=method)
        return loop

    ts = interleaved_times({"BFGS": scipy_loop("BFGS"), "L-BFGS-B": scipy_loop("L-BFGS-B")}, repeat=3, warmup=1)
    thr_sp = {k: n_scipy / v for k, v in ts.items()}
    best_sp = max(thr_sp.values())
    converged = {}
    for method in ("bfgs", "lbfgs"):
        run = {th: (lambda th=th, m=method: nsolve.minimize_many(f, g, starts, method=m, threads=th))
               for th in (1, threads)}
        converged[method] = run[1]().n_success
        run[threads]()
        samples = {1: [], threads: []}
        busy = []  # process CPU time / wall time of the multi-thread runs: the cores kept busy
        for _ in range(repeat):
            for th in (1, threads):
                c0, t0 = time.process_time(), time.perf_counter()
                run[th]()
                wall = time.perf_counter() - t0
                samples[th].append(wall)
                if th > 1:
                    busy.append((time.process_time() - c0) / wall)
        ratios = [a / b for a, b in zip(samples[1], samples[threads], strict=True)]
        data["pair_ratios"][method] = ratios
        data["scaling_1_to_2"][method] = float(np.median(ratios))
        data.setdefault("cores_busy", {})[method] = busy
        for th in (1, threads):
            v = K / float(np.median(samples[th]))
            data["throughput"][f"{method}, {th} thread{'s' if th > 1 else ''}"] = v
            rows.append([f"nsolve.minimize_many, {method}, {th} thread{'s' if th > 1 else ''}", f"{v:,.0f}",
                         f"{v / thr_sp['BFGS']:.0f}x", f"{v / best_sp:.0f}x"])
    rows += [[f"Python loop over scipy.optimize.minimize ({k})", f"{v:,.0f}", f"{v / thr_sp['BFGS']:.1f}x",
              f"{v / best_sp:.1f}x"] for k, v in thr_sp.items()]
    best = max(data["throughput"].values())
    data.update({"scipy_throughput": thr_sp, "best_ratio_vs_scipy_default": best / thr_sp["BFGS"]})
    md = md_table(["solver", "solves per second", "vs scipy default (BFGS)", "vs fastest scipy"], rows)
    scal = data["scaling_1_to_2"]
    md += (f"\n\n{K:,} problems (2-D Rosenbrock from uniform random starts in [-2, 2]^2; scipy timed on the first "
           f"{n_scipy} starts, {' / '.join(f'{m} {c:,}' for m, c in converged.items())} of {K:,} converged (gtol)). "
           f"Times: median of {repeat} runs, one thread and {threads} alternating. "
           f"One to {threads} threads (median of the {repeat} paired ratios): "
           + ", ".join(f"**{m} {v:.2f}x**" for m, v in scal.items())
           + " (target: close to 2x; the pairs ranged "
           + ", ".join(f"{m} {min(r):.2f}-{max(r):.2f}" for m, r in data["pair_ratios"].items())
           + f"). Cores kept busy during the {threads}-thread runs (process CPU time / wall time; "
           f"{threads} = no thread waits): "
           + ", ".join(f"{m} {min(b):.2f}-{max(b):.2f}" for m, b in data["cores_busy"].items())
           + ", so a ratio below 2 with every core busy is each thread running slower, not waiting"
           + ". Target: at least 1000x the throughput of the scipy loop "
           f"(best here: **{data['best_ratio_vs_scipy_default']:.0f}x** scipy's default BFGS).")
    return md, data


# --------------------------------------------------------------------------- 5. a new objective
NEW_OBJECTIVE = textwrap.dedent('''
    import time, json
    import numpy as np, numba
    import nsolve
    import bench_objective as O
    nsolve.minimize(O.rosen, O.rosen_grad, np.array([-1.2, 1.0]), method="lbfgs")  # solver loaded
    t0 = time.perf_counter()

    @numba.njit
    def f(x):  # a new objective, never compiled before
        s = 0.0
        for i in range(x.shape[0]):
            s += (x[i] - 0.5 * i) ** 2 + 0.1 * x[i] ** 4
        return s

    @numba.njit
    def g(x):
        out = np.empty(x.shape[0])
        for i in range(x.shape[0]):
            out[i] = 2.0 * (x[i] - 0.5 * i) + 0.4 * x[i] ** 3
        return out

    r = nsolve.minimize(f, g, np.zeros(5), method="lbfgs")
    t1 = time.perf_counter()

    @numba.njit
    def f2(x):
        return np.sum((x - 1.0) ** 2)

    @numba.njit
    def g2(x):
        return 2.0 * (x - 1.0)

    f2(np.zeros(5)); g2(np.zeros(5))  # the user compiled them already
    t2 = time.perf_counter()
    r2 = nsolve.minimize(f2, g2, np.zeros(5), method="lbfgs")
    t3 = time.perf_counter()
    from nsolve.compiled._driver import solve_lbfgs
    print(json.dumps({"with_compile_s": t1 - t0, "compiled_objective_s": t3 - t2,
                      "solver_signatures": len(solve_lbfgs.signatures), "ok": bool(r.success and r2.success)}))
''')


def new_objective(repeat: int) -> tuple[str, dict]:
    runs = [run_py(NEW_OBJECTIVE) for _ in range(repeat)]
    med = {k: float(np.median([r[k] for r in runs])) for k in ("with_compile_s", "compiled_objective_s")}
    sigs = {r["solver_signatures"] for r in runs}
    rows = [["new objective already compiled by the user (address lookup + solve)",
             f"{med['compiled_objective_s'] * 1e3:.1f}"],
            ["new objective never compiled (includes Numba compiling f and grad)",
             f"{med['with_compile_s'] * 1e3:.1f}"]]
    md = md_table([f"after a first solve in a fresh process, warm cache (median of {repeat})", "ms"], rows)
    counts = ", ".join(str(k) for k in sorted(sigs))
    md += (f"\n\nThe solver kept {counts} compiled signature(s) in every run: a new objective does not "
           "recompile it. "
           "Target: under 50 ms to the first result.")
    med["solver_signatures"] = sorted(sigs)
    return md, med


# --------------------------------------------------------------------------- 6. latency per method
LATENCY = textwrap.dedent('''
    import time, json
    t0 = time.perf_counter()
    import numpy as np
    import nsolve
    import bench_objective as O
    method, many = {method!r}, {many!r}
    kw = {{"hess": O.rosen_hess}} if method == "newton" else {{}}
    if method in ("gd", "adam"):
        kw["maxiter"] = 500
        kw["lr"] = 1e-3 if method == "gd" else 1e-2
    x0 = np.array([-1.2, 1.0])
    X0 = np.tile(x0, (64, 1))
    call = (lambda: nsolve.minimize_many(O.rosen, O.rosen_grad, X0, method=method, **kw)) if many else (
        lambda: nsolve.minimize(O.rosen, O.rosen_grad, x0, method=method, **kw))
    t1 = time.perf_counter()
    call()
    t2 = time.perf_counter()
    reps = []
    for _ in range(20):
        t = time.perf_counter(); call(); reps.append(time.perf_counter() - t)
    print(json.dumps({{"first_call_s": t2 - t1, "steady_s": float(np.median(reps))}}))
''')


def latency(methods, cold: bool) -> tuple[str, dict]:
    rows, data = [], {}
    for method in methods:
        for many in (False, True):
            code = LATENCY.format(method=method, many=many)
            run_py(code)  # makes sure the on-disk cache holds every piece
            warm = run_py(code)
            entry = {"warm_first_call_s": warm["first_call_s"], "steady_s": warm["steady_s"]}
            if cold:
                with tempfile.TemporaryDirectory() as d:
                    entry["cold_first_call_s"] = run_py(code, env={"NUMBA_CACHE_DIR": d})["first_call_s"]
            label = f"{method} ({'minimize_many, 64 problems' if many else 'minimize'})"
            data[label] = entry
            rows.append([label, f"{entry['cold_first_call_s']:.1f}" if cold else "not run",
                         f"{entry['warm_first_call_s'] * 1e3:.0f}", f"{entry['steady_s'] * 1e6:.0f}"])
    md = md_table(["method", "first call, cold cache (s)", "first call, warm cache (ms)",
                   "later calls (µs)"], rows)
    md += ("\n\nCold: a fresh process with an empty `NUMBA_CACHE_DIR`, so the first call compiles the solver, the "
           "kernels it uses and the objective. Warm: a fresh process loading all of them from the on-disk cache. "
           "2-D Rosenbrock from (-1.2, 1); gd and adam stop at 500 iterations.")
    return md, data


# --------------------------------------------------------------------------- 7. first-class function calls
def call_overhead() -> tuple[str, dict]:
    """ns per call of f and grad from compiled code: through the address (as the solvers call) vs direct."""
    from nsolve.compiled._dispatch import objective_addresses
    from nsolve.compiled._functions import make_f, make_grad

    f, g = OBJ.rosen, OBJ.rosen_grad

    @numba.njit
    def via_address(addr, x, n):
        fv = make_f(addr[0], addr[1])
        gv = make_grad(addr[2], addr[3])
        s = 0.0
        for _ in range(n):
            x[0] += 1e-15
            s += fv(x) + gv(x)[0]
        return s

    @numba.njit
    def direct(x, n):
        s = 0.0
        for _ in range(n):
            x[0] += 1e-15
            s += f(x) + g(x)[0]
        return s

    addr = objective_addresses(f, g, None, False)
    x = X0.copy()
    N = 2_000_000
    via_address(addr, x, 10)
    direct(x, 10)
    t = interleaved_times({"address": lambda: via_address(addr, x, N), "direct": lambda: direct(x, N)}, repeat=5)
    ns = {k: v / N * 1e9 for k, v in t.items()}
    md = md_table(["call of f(x) + grad(x) in a compiled loop", "ns"],
                  [["through the objective's addresses (first-class function, as in the solvers)",
                    f"{ns['address']:.1f}"],
                   ["direct call of the dispatcher (Numba may inline it)", f"{ns['direct']:.1f}"]])
    md += ("\n\nThe calls through a first-class function are not inlined; the difference is the price of a solver "
           "that is compiled once for every objective. Most of either time is the gradient's array allocation.")
    return md, ns


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repeats and problems, no cold-cache compiles")
    ap.add_argument("--only", nargs="+", metavar="SECTION",
                    help="run only these sections and print them (nothing is written): rosenbrock, library, "
                         "fresh_process, many, new_objective, latency, call_ns")
    args = ap.parse_args(argv)
    quick = args.quick
    load_before = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    section_names = ("rosenbrock", "library", "fresh_process", "many", "new_objective", "latency", "call_ns")
    only = set(args.only or section_names)
    unknown = only - set(section_names)
    if unknown:
        ap.error(f"--only: unknown section(s) {sorted(unknown)}; valid: {', '.join(section_names)}")
    methods = ["lbfgs"] if quick else ["lbfgs", "bfgs", "newton", "gd", "adam"]
    runs = {
        "rosenbrock": ("2-D Rosenbrock, L-BFGS, same Numba objective",
                       lambda: rosenbrock_lbfgs(repeat=50 if quick else 300)),
        "library": ("Problem library (n <= 100), same Numba objectives (`Problem.jit()`)",
                    lambda: library(["bfgs", "lbfgs"], repeat=5 if quick else 15)),
        "fresh_process": ("Fresh process: import to first compiled result",
                          lambda: fresh_process(repeat=3 if quick else 7)),
        "many": ("Many small solves", lambda: many_small(K=10_000 if quick else 100_000, n_scipy=50 if quick else 300,
                                                         repeat=5 if quick else 9)),
        "new_objective": ("A new objective after the first", lambda: new_objective(repeat=3 if quick else 5)),
        "latency": ("First-call and cached-call latency per method", lambda: latency(methods, cold=not quick)),
        "call_ns": ("Calling the objective through its address", call_overhead),
    }
    sections, data = [], {}
    with blas_threads(1):
        OBJ.rosen(X0), OBJ.rosen_grad(X0), OBJ.rosen_hess(X0)
        for name in section_names:
            if name in only:
                title, fn = runs[name]
                md, d = fn()
                sections.append((title, md))
                data[name] = d
    load_after = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    body = "\n\n".join(f"### {title}\n\n{md}" for title, md in sections)
    body += (f"\n\nLoad average (1, 5, 15 min) before: {' '.join(load_before)}, after: {' '.join(load_after)} "
             f"(2 cores, shared). BLAS pinned to one thread. Objective for 1, 3, 4, 6: loop-written 2-D Rosenbrock "
             f"(`numba.njit(cache=True)`, the gradient returns a new array), the same function for both solvers.")
    if only == set(section_names):
        write_section("compiled", "Compiled solves and minimize_many",
                      "python benchmarks/bench_compiled.py" + (" --quick" if quick else ""), body,
                      data={**data, "load_before": load_before, "load_after": load_after})
    else:
        print("(--only: results printed, not written)")
    print(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
