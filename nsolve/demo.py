"""The main job: solve the built-in problems with each core method, next to scipy.optimize.

Run it as ``nsolve demo`` (or ``python -m nsolve demo``).  For every problem of the demo set
and every method it prints f - f*, iterations, evaluations and the median wall time of
nsolve and of its scipy counterpart (BFGS -> BFGS, L-BFGS -> L-BFGS-B, Newton and Newton-CG
-> Newton-CG), both started from the problem's standard point with the same gradient
tolerance.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from scipy import optimize

import nsolve
from nsolve import problems

#: nsolve method -> (scipy method, uses hess, uses hessp)
SCIPY_COUNTERPART = {
    "bfgs": ("BFGS", False),
    "lbfgs": ("L-BFGS-B", False),
    "newton": ("Newton-CG", True),
    "newton-cg": ("Newton-CG", False),
}

DEMO_SET = [
    ("rosenbrock", 2),
    ("beale", 2),
    ("brown_badly_scaled", 2),
    ("helical_valley", 3),
    ("powell_singular", 4),
    ("wood", 4),
    ("extended_rosenbrock", 100),
    ("quadratic", 50),
]


def _scipy_solve(p, method, gtol):
    sp_method, use_hess = SCIPY_COUNTERPART[method]
    opts = {"gtol": gtol} if sp_method != "Newton-CG" else {"xtol": 1e-10}
    kw = {"hess": p.hess} if use_hess else {}
    if sp_method == "Newton-CG" and not use_hess:
        kw = {"hessp": p.hessp}
    if sp_method == "L-BFGS-B":
        opts = {"gtol": gtol, "ftol": 0.0, "maxiter": 15000}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optimize.minimize(p.f, p.x0, jac=p.grad, method=sp_method, options=opts, **kw)


def _nsolve_solve(p, method, gtol):
    kw = {}
    if method == "newton":
        kw["hess"] = p.hess
    elif method == "newton-cg":
        kw["hessp"] = p.hessp
    return nsolve.minimize(p.f, p.grad, p.x0, method=method, gtol=gtol, **kw)


def _median_time(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


def run_demo(methods=("bfgs", "lbfgs", "newton", "newton-cg"), gtol: float = 1e-5, repeat: int = 5,
             out=print) -> list[dict]:
    """Solve the demo set with each method and scipy's counterpart; print and return the rows."""
    rows = []
    # Each method's kernels (and compiled solver) loaded once up front, so the timings are of
    # solving, not of compiling or loading.
    warm = problems.get("rosenbrock", 2)
    for method in methods:
        _nsolve_solve(warm, method, gtol)
        _nsolve_solve(warm, method, gtol)  # the second run of a method takes its compiled solver
    header = (f"{'problem':<22} {'n':>4} {'method':<10} {'f-f* nsolve':>12} {'f-f* scipy':>11} "
              f"{'nit':>9} {'nfev':>11} {'time nsolve':>12} {'time scipy':>11} {'speed-up':>8}")
    out(header)
    out("-" * len(header))
    for name, n in DEMO_SET:
        p = problems.get(name, n)
        for method in methods:
            ours, t_ours = _median_time(lambda p=p, m=method: _nsolve_solve(p, m, gtol), repeat)
            ref, t_ref = _median_time(lambda p=p, m=method: _scipy_solve(p, m, gtol), repeat)
            row = {
                "problem": name, "n": p.n, "method": method,
                "scipy_method": SCIPY_COUNTERPART[method][0],
                "gap_nsolve": ours.fun - p.f_star, "gap_scipy": ref.fun - p.f_star,
                "nit_nsolve": ours.nit, "nit_scipy": ref.nit,
                "nfev_nsolve": ours.nfev, "nfev_scipy": ref.nfev,
                "time_nsolve": t_ours, "time_scipy": t_ref,
                "success_nsolve": bool(ours.success),
            }
            rows.append(row)
            out(f"{name:<22} {p.n:>4} {method:<10} {row['gap_nsolve']:>12.2e} {row['gap_scipy']:>11.2e} "
                f"{ours.nit:>4}/{ref.nit:<4} {ours.nfev:>5}/{ref.nfev:<5} "
                f"{t_ours * 1e3:>10.2f}ms {t_ref * 1e3:>9.2f}ms {t_ref / t_ours:>7.1f}x")
    out("")
    out("nit and nfev: nsolve/scipy.  Times are medians of repeated solves (compile excluded).")
    out("scipy counterparts: bfgs->BFGS, lbfgs->L-BFGS-B, newton->Newton-CG(hess), "
        "newton-cg->Newton-CG(hessp).")
    from nsolve.compiled._bridge import ran_compiled

    fast = [m for m in methods if ran_compiled(m)]
    slow = [m for m in methods if m not in fast and m != "newton-cg"]
    if fast:
        out(f"{', '.join(fast)}: the loop ran compiled, calling the Python f and grad back.")
    if slow:
        out(f"{', '.join(slow)}: the loop ran interpreted; `nsolve precompile` (once per machine) compiles "
            "the solvers so that Python objectives run on them.")
    return rows
