"""Correctness and evaluation counts of bfgs, lbfgs and newton against scipy.optimize.

On every problem of ``nsolve.problems.library()`` each nsolve method and its scipy
counterpart start from the problem's ``x0`` with the same gradient tolerance
(``gtol = 1e-5``, gradient inf-norm on both sides):

* ``bfgs``   vs ``BFGS`` (scipy's ``norm=inf``, the default);
* ``lbfgs``  vs ``L-BFGS-B`` at scipy's defaults (``ftol = 2.2e-9`` relative reduction, a
  test that often stops before ``gtol`` holds) and with ``ftol = 0`` (``gtol`` only); both
  with ``m = maxcor = 10``;
* ``newton`` (user ``hess``) vs ``Newton-CG`` (with ``hess``); scipy's Newton-CG has no
  gradient test, only ``xtol`` (mean absolute step), reported at its default ``1e-5`` and
  at ``1e-10``.

A run *reaches* the minimum when :math:`f - f^* \\le 10^{-8} \\max(1, |f^*|)`.  The target:
each nsolve method reaches it wherever scipy does, with a median evaluation count (nfev,
calls of f) at most 10% above scipy's.  On problems flagged ``has_local_minima`` a run that
stops at the same local value as scipy is reported but not counted as a failure.

Usage: ``python benchmarks/bench_core_correctness.py [--quick] [--max-n N] [--no-write]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy
import scipy.optimize as so

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import blas_threads, md_table, write_section  # noqa: E402

import nsolve  # noqa: E402
from nsolve import problems  # noqa: E402

GTOL = 1e-5
REACH_TOL = 1e-8
SAME_LOCAL_TOL = 1e-6

#: (key, nsolve method, scipy method, scipy options, title)
COMPARISONS = [
    ("bfgs", "bfgs", "BFGS", {"gtol": GTOL}, "bfgs vs scipy BFGS (gtol=1e-5 both)"),
    ("lbfgs", "lbfgs", "L-BFGS-B", {"gtol": GTOL},
     "lbfgs vs scipy L-BFGS-B at scipy's defaults (gtol=1e-5, ftol=2.2e-9, maxcor=10)"),
    ("lbfgs-ftol0", "lbfgs", "L-BFGS-B", {"gtol": GTOL, "ftol": 0.0},
     "lbfgs vs scipy L-BFGS-B with ftol=0 (gtol=1e-5 only, maxcor=10)"),
    ("newton", "newton", "Newton-CG", {},
     "newton (hess) vs scipy Newton-CG (hess) at scipy's default xtol=1e-5 (nsolve gtol=1e-5)"),
    ("newton-xtol", "newton", "Newton-CG", {"xtol": 1e-10},
     "newton (hess) vs scipy Newton-CG (hess) with xtol=1e-10 (nsolve gtol=1e-5)"),
]


def reached(f: float, p) -> bool:
    return bool(f - p.f_star <= REACH_TOL * max(1.0, abs(p.f_star)))


def run_nsolve(p, method: str):
    t = time.perf_counter()
    kw = {"hess": p.hess} if method == "newton" else {}
    r = nsolve.minimize(p.f, p.grad, p.x0, method=method, gtol=GTOL, **kw)
    return {"fun": float(r.fun), "nfev": int(r.nfev), "njev": int(r.njev), "nhev": int(r.nhev),
            "nit": int(r.nit), "status": int(r.status), "time": time.perf_counter() - t}


def run_scipy(p, method: str, options: dict):
    kw = {"hess": p.hess} if method == "Newton-CG" else {}
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = so.minimize(p.f, p.x0, jac=p.grad, method=method, options=dict(options), **kw)
    return {"fun": float(r.fun), "nfev": int(r.nfev), "njev": int(getattr(r, "njev", 0)),
            "nhev": int(getattr(r, "nhev", 0)), "nit": int(r.nit), "status": int(r.status),
            "time": time.perf_counter() - t}


def classify(p, ours: dict, theirs: dict) -> str:
    """One of ok, fail, local-same, both-miss, scipy-miss (scipy missed, we reached)."""
    a, b = reached(ours["fun"], p), reached(theirs["fun"], p)
    if a and b:
        return "ok"
    if a and not b:
        return "scipy-miss"
    if b:
        return "fail"
    if p.has_local_minima and abs(ours["fun"] - theirs["fun"]) <= SAME_LOCAL_TOL * max(1.0, abs(theirs["fun"])):
        return "local-same"
    return "both-miss"


def _fmt_gap(f, p) -> str:
    gap = f - p.f_star
    mark = "yes" if reached(f, p) else "**no**"
    return f"{mark} ({gap:.1e})"


def summarize(rows: list[dict]) -> dict:
    scipy_reached = [r for r in rows if r["scipy_reached"]]
    fails = [r["problem"] for r in rows if r["verdict"] == "fail"]
    both = [r for r in rows if r["verdict"] == "ok"]
    ratios = [r["ours"]["nfev"] / r["scipy"]["nfev"] for r in both]
    med_ours = float(np.median([r["ours"]["nfev"] for r in both])) if both else float("nan")
    med_theirs = float(np.median([r["scipy"]["nfev"] for r in both])) if both else float("nan")
    ratios_all = [r["ours"]["nfev"] / r["scipy"]["nfev"] for r in rows]
    return {
        "problems": len(rows),
        "scipy_reached": len(scipy_reached),
        "ours_reached_where_scipy_reached": sum(r["ours_reached"] for r in scipy_reached),
        "ours_reached": sum(r["ours_reached"] for r in rows),
        "failures": fails,
        "local_same": [r["problem"] for r in rows if r["verdict"] == "local-same"],
        "median_nfev_ratio_both_reached": float(np.median(ratios)) if ratios else float("nan"),
        "ratio_of_median_nfev_both_reached": med_ours / med_theirs if both else float("nan"),
        "median_nfev_ratio_all": float(np.median(ratios_all)) if ratios_all else float("nan"),
        "met": (not fails) and bool(ratios) and float(np.median(ratios)) <= 1.10,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only problems with n <= 4")
    ap.add_argument("--max-n", type=int, default=None, help="leave out problems with more variables")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write results/")
    ap.add_argument("--gtol", type=float, default=None,
                    help="common gradient tolerance (default 1e-5; another value writes its own section)")
    args = ap.parse_args(argv)
    global GTOL, COMPARISONS
    if args.gtol is not None and args.gtol != GTOL:
        GTOL = args.gtol
        COMPARISONS = [(key, ours, theirs, {**opts, "gtol": GTOL} if "gtol" in opts else opts,
                        title.replace("gtol=1e-5", f"gtol={GTOL:g}"))
                       for key, ours, theirs, opts, title in COMPARISONS]
    max_n = args.max_n if args.max_n is not None else (4 if args.quick else None)
    probs = problems.library(max_n=max_n)

    results: dict[str, list[dict]] = {key: [] for key, *_ in COMPARISONS}
    with blas_threads(1):
        for p in probs:
            ours_cache: dict[str, dict] = {}
            for key, ours_m, theirs_m, opts, _ in COMPARISONS:
                if ours_m not in ours_cache:
                    ours_cache[ours_m] = run_nsolve(p, ours_m)
                ours = ours_cache[ours_m]
                theirs = run_scipy(p, theirs_m, opts)
                results[key].append({
                    "problem": p.label, "n": p.n, "f_star": p.f_star, "has_local_minima": p.has_local_minima,
                    "ours": ours, "scipy": theirs,
                    "ours_reached": reached(ours["fun"], p), "scipy_reached": reached(theirs["fun"], p),
                    "verdict": classify(p, ours, theirs),
                })

    by_label = {p.label: p for p in probs}
    parts = [
        f"nsolve {nsolve.__version__ if hasattr(nsolve, '__version__') else ''} vs scipy {scipy.__version__}; "
        f"{len(probs)} problems of `nsolve.problems.library()`"
        + (f" with n <= {max_n}" if max_n else "") + ", each from its standard x0.  "
        "*Reached*: f - f* <= 1e-8 max(1, |f*|); the gap f - f* is in brackets.  nfev counts "
        "calls of f (njev, calls of the gradient, in brackets; nhev for the Newton methods).  "
        "Target: every nsolve method reaches the minimum wherever scipy does, and the median "
        "of the per-problem ratios nfev(nsolve)/nfev(scipy), over the problems both reach, is "
        "at most 1.10.  Verdicts: *ok* both reach; *FAIL* scipy reaches, nsolve does not; "
        "*scipy misses* nsolve reaches, scipy does not; *both miss*; *same local* both stop at "
        "the same local value of a `has_local_minima` problem (not a failure).  BLAS pinned to "
        "one thread (evaluation counts do not depend on it).",
        "",
    ]
    summary_rows = []
    summaries = {}
    for key, ours_m, theirs_m, _, title in COMPARISONS:
        rows = results[key]
        s = summarize(rows)
        summaries[key] = s
        summary_rows.append([
            f"{ours_m} vs {theirs_m}" + {"lbfgs": " (defaults)", "lbfgs-ftol0": " (ftol=0)",
                                         "newton": " (xtol=1e-5)", "newton-xtol": " (xtol=1e-10)"}.get(key, ""),
            f"{s['ours_reached_where_scipy_reached']}/{s['scipy_reached']}",
            f"{s['ours_reached']}/{s['problems']}",
            f"{s['median_nfev_ratio_both_reached']:.2f}",
            f"{s['ratio_of_median_nfev_both_reached']:.2f}",
            ", ".join(s["failures"]) or "none",
            "met" if s["met"] else "**NOT met**",
        ])
        table = []
        for r in rows:
            p = by_label[r["problem"]]
            o, t = r["ours"], r["scipy"]
            hev = ours_m == "newton"
            o_ev = f"{o['nfev']} ({o['njev']}" + (f", {o['nhev']})" if hev else ")")
            t_ev = f"{t['nfev']} ({t['njev']}" + (f", {t['nhev']})" if hev else ")")
            verdict = {"ok": "ok", "fail": "**FAIL**", "scipy-miss": "scipy misses", "both-miss": "both miss",
                       "local-same": "same local"}[r["verdict"]]
            if r["verdict"] == "fail" and p.has_local_minima:
                verdict += f" (nsolve at local f={o['fun']:.4g})"
            table.append([r["problem"], _fmt_gap(o["fun"], p), o_ev, _fmt_gap(t["fun"], p), t_ev,
                          f"{o['nfev'] / t['nfev']:.2f}", verdict])
        parts += [f"### {title}", "",
                  md_table(["problem", "nsolve reached", "nsolve nfev (njev)", "scipy reached", "scipy nfev (njev)",
                            "nfev ratio", "verdict"], table), ""]
    head = ["comparison", "reached where scipy reached", "nsolve reached (all)", "median nfev ratio",
            "ratio of median nfev", "failures", "target"]
    body = "\n".join(["### Summary", "", md_table(head, summary_rows), ""] + parts)
    print(body)
    cmd = "python benchmarks/bench_core_correctness.py" + (" --quick" if args.quick else "") + (
        f" --max-n {args.max_n}" if args.max_n is not None else "") + (
        f" --gtol {GTOL:g}" if GTOL != 1e-5 else "")
    name = "core_correctness" if GTOL == 1e-5 else f"core_correctness_gtol{GTOL:g}"
    if not args.no_write:
        write_section(name, f"Core correctness: bfgs, lbfgs, newton vs scipy (gtol = {GTOL:g})", cmd, body,
                      data={"summary": summaries, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
