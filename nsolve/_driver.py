"""The one iteration loop shared by every method.

``run`` evaluates f and g at x0 (checking what the user's functions return), then repeats:
check the budgets, let the method take one step, keep the best point, run the convergence
tests, record history, print a row, call the callback.  It never names a method: what
differs reaches it through the :class:`~nsolve.methods._base.MethodSpec`.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeResult

from nsolve._kernels.vector import norm_inf
from nsolve._result import build_result
from nsolve._status import CALLBACK, CONTINUE, GTOL, NOT_FINITE, Status
from nsolve._stopping import convergence_status, gtol_test, limit_status


@dataclass(frozen=True)
class StopRules:
    """The stopping tests' parameters (see :mod:`nsolve._stopping`)."""

    gtol: float = 1e-5
    ftol: float = 0.0
    xtol: float = 0.0
    maxiter: int = 1000
    maxfev: int = 0
    time_limit: float = 0.0


class _Callback:
    """Calls the user's callback with scipy's conventions.

    A callback whose only parameter is named ``intermediate_result`` receives an
    :class:`OptimizeResult` with ``x`` and ``fun`` (and ``jac``, ``nit``); any other
    receives ``xk``.  Returning True or raising :class:`StopIteration` stops the run.
    """

    def __init__(self, func):
        self.func = func
        try:
            params = inspect.signature(func).parameters
            self.new_style = set(params) == {"intermediate_result"}
        except (TypeError, ValueError):
            self.new_style = False

    def __call__(self, x, f, g, nit) -> bool:
        xc = x.copy()
        try:
            if self.new_style:
                out = self.func(intermediate_result=OptimizeResult(x=xc, fun=f, jac=g.copy(), nit=nit))
            else:
                out = self.func(xc)
        except StopIteration:
            return True
        return out is True


class _History:
    """Per-iteration record: f, gradient inf-norm, step length, evaluations, time."""

    def __init__(self):
        self.rows = []

    def add(self, nit, f, gnorm, alpha, obj, elapsed):
        self.rows.append((nit, f, gnorm, alpha, obj.nfev, obj.njev, obj.nhev, elapsed))

    def as_dict(self) -> dict:
        cols = np.array(self.rows, dtype=np.float64).reshape(-1, 8).T
        names = ("nit", "f", "gnorm", "alpha", "nfev", "njev", "nhev", "time")
        out = {k: c for k, c in zip(names, cols, strict=True)}
        for k in ("nit", "nfev", "njev", "nhev"):
            out[k] = out[k].astype(np.int64)
        return out


def _print_header(method):
    print(f"nsolve {method}")
    print(f"{'iter':>6} {'f':>15} {'|g|_inf':>11} {'step':>10} {'nfev':>6} {'njev':>6}")


def _print_row(nit, f, gnorm, alpha, obj):
    print(f"{nit:6d} {f:15.8e} {gnorm:11.4e} {alpha:10.3e} {obj.nfev:6d} {obj.njev:6d}")


def run(spec, opts, obj, x0, *, search, rules: StopRules, callback=None, history: bool = False,
        disp: bool = False) -> OptimizeResult:
    """Minimize from ``x0`` with the method ``spec`` and return the result.

    Parameters
    ----------
    spec : MethodSpec
    opts : the method's options dataclass
    obj : Objective
    x0 : float64 array (owned by the run)
    search : a bound line search (see :mod:`nsolve.linesearch`), or None
    rules : StopRules
    callback : callable or None
    history : bool
        Record one row per iteration in ``result.history``.
    disp : bool
        Print a row per iteration and the stop reason.
    """
    t0 = time.perf_counter()
    f0, g0 = obj.first_evaluation(x0)
    state = spec.init(obj, x0, f0, g0, opts)
    cb = _Callback(callback) if callback is not None else None
    hist = _History() if history else None
    monotone = spec.monotone
    best_x = None if monotone else state.x.copy()
    best_f = state.f
    best_g = None if monotone else state.g.copy()

    gnorm = norm_inf(state.g)
    nit = 0
    if hist is not None:
        hist.add(0, state.f, gnorm, 0.0, obj, time.perf_counter() - t0)
    if disp:
        _print_header(spec.name)
        _print_row(0, state.f, gnorm, 0.0, obj)
    status = GTOL if gtol_test(gnorm, rules.gtol) else CONTINUE

    while status == CONTINUE:
        status = limit_status(nit, rules.maxiter, obj.nfev, rules.maxfev,
                              time.perf_counter() - t0, rules.time_limit)
        if status != CONTINUE:
            break
        f_prev = state.f
        info = spec.step(obj, state, opts, search)
        if info.status != CONTINUE:
            status = info.status
            break
        nit += 1
        f = state.f
        gnorm = norm_inf(state.g)
        if not (math.isfinite(f) and math.isfinite(gnorm)):
            status = NOT_FINITE
            break
        if not monotone and f < best_f:
            best_f = f
            best_x[:] = state.x
            best_g[:] = state.g
        status = convergence_status(gnorm, f_prev, f, info.step_inf, info.x_inf,
                                    rules.gtol, rules.ftol, rules.xtol)
        if hist is not None:
            hist.add(nit, f, gnorm, info.alpha, obj, time.perf_counter() - t0)
        if disp:
            _print_row(nit, f, gnorm, info.alpha, obj)
        if cb is not None and cb(state.x, f, state.g, nit) and status == CONTINUE:
            status = CALLBACK

    if monotone or state.f <= best_f:
        x, fun, jac = state.x, state.f, state.g
    else:
        x, fun, jac = best_x, best_f, best_g
    elapsed = time.perf_counter() - t0
    if disp:
        print(Status(status).message)
        print(f"f = {fun:.10e}, iterations = {nit}, nfev = {obj.nfev}, njev = {obj.njev}, "
              f"nhev = {obj.nhev}, time = {elapsed:.3g} s")
    extra = spec.finalize(state) if spec.finalize is not None else None
    return build_result(x=x, fun=fun, jac=jac, status=status, nit=nit, obj=obj, method=spec.name,
                        elapsed=elapsed, extra=extra, history=hist.as_dict() if hist is not None else None)
