"""The one iteration loop shared by every method.

``run`` evaluates f and g at x0 (checking what the user's functions return), then repeats:
check the budgets, let the method take one step, keep the best point, run the convergence
tests, record history, print a row, call the callback.  It never names a method: what
differs reaches it through the :class:`~nsolve.methods._base.MethodSpec`.

A step may report that ``state.f`` / ``state.g`` are estimates (``StepInfo.exact`` False: a
mini-batch).  Then the tests, the best point and the history use the full objective, which
the driver evaluates every ``check_every`` steps and at the end; the best point returned is
the best of those exact evaluations.  A converged run returns the point that passed the
test instead (the same point for a monotone method).
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeResult

from nsolve._kernels.vector import copy_into, norm_inf, step_stats
from nsolve._result import build_result, result_message
from nsolve._status import CALLBACK, CONTINUE, DIVERGED, GTOL, NO_PROGRESS, NOT_FINITE
from nsolve._stopping import converged, convergence_status, gtol_test, limit_status, progress_update


@dataclass(frozen=True)
class StopRules:
    """The stopping tests' parameters (see :mod:`nsolve._stopping`)."""

    gtol: float = 1e-5
    ftol: float = 0.0
    xtol: float = 0.0
    maxiter: int = 1000
    maxfev: int = 0
    time_limit: float = 0.0
    #: Steps between full evaluations when steps only estimate f (mini-batches); 0: at the end only.
    check_every: int = 1
    #: Stop (NO_PROGRESS) after this many checks without improving the best f by > min_delta; 0: off.
    patience: int = 0
    min_delta: float = 0.0
    #: Stop (DIVERGED) when a checked f exceeds this bound.
    f_max: float = math.inf


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
        return out is True or (isinstance(out, np.bool_) and bool(out))


class _History:
    """Per-iteration record: f, gradient inf-norm, step length, evaluations, time.

    Mini-batch runs record a row per full evaluation (by default per epoch) with two more
    columns: ``epoch`` (passes over the data) and ``batch_f`` (mean of the mini-batch
    losses of the steps since the previous row, each on its batch at the step's starting
    point: the running training loss that Keras and the articles report).
    """

    def __init__(self, minibatch: bool = False):
        self.rows = []
        self.names = ("nit", "f", "gnorm", "alpha", "nfev", "njev", "nhev", "time")
        if minibatch:
            self.names += ("epoch", "batch_f")

    def add(self, nit, f, gnorm, alpha, obj, elapsed, *extra):
        self.rows.append((nit, f, gnorm, alpha, obj.nfev, obj.njev, obj.nhev, elapsed, *extra))

    def as_dict(self) -> dict:
        names = self.names
        cols = np.array(self.rows, dtype=np.float64).reshape(-1, len(names)).T
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
    # a fixed step does not ensure that f decreases: keep the best point seen, as for a method
    # that is not monotone
    monotone = spec.monotone and (search is None or search.decreases)
    best_x = None if monotone else x0.copy()
    best_f = f0
    best_g = None if monotone else g0.copy()
    gnorm = norm_inf(g0)
    state = spec.init(obj, x0, f0, g0, opts)
    cb = _Callback(callback) if callback is not None else None
    minibatch = obj.stochastic
    hist = _History(minibatch) if history else None
    epoch_extra = (0.0, math.nan) if minibatch else ()

    nit = 0
    if hist is not None:
        hist.add(0, f0, gnorm, 0.0, obj, time.perf_counter() - t0, *epoch_extra)
    if disp:
        _print_header(spec.name)
        _print_row(0, f0, gnorm, 0.0, obj)
    status = GTOL if gtol_test(gnorm, rules.gtol) else CONTINUE
    # Methods that do not measure their steps: measured here, only when the xtol test is on.
    x_before = np.empty_like(x0) if (rules.xtol > 0.0 and not spec.reports_step) else None
    # Estimated steps (mini-batches): the last exactly evaluated f, its step, the batch mean.
    g_full = None
    f_checked = f0
    checked_nit = 0
    # a mini-batch run holds a batch estimate at x0 (the first step's): not a result
    inexact = minibatch
    batch_sum = 0.0
    batch_count = 0
    # The no-progress and divergence tests.
    f_record = f0
    stale = 0

    while status == CONTINUE:
        status = limit_status(nit, rules.maxiter, obj.nfev, rules.maxfev,
                              time.perf_counter() - t0, rules.time_limit)
        if status != CONTINUE:
            break
        f_prev = state.f
        if x_before is not None:
            copy_into(x_before, state.x)
        info = spec.step(obj, state, opts, search)
        if info.status != CONTINUE:
            status = info.status
            break
        nit += 1
        f = state.f
        g = state.g
        gnorm = norm_inf(g)
        if not (math.isfinite(f) and math.isfinite(gnorm)):
            status = NOT_FINITE
            break
        if x_before is not None:
            step_inf, x_inf = step_stats(state.x, x_before)
        else:
            step_inf, x_inf = info.step_inf, info.x_inf
        checked = info.exact
        if not checked:
            inexact = True
            batch_sum += f_prev  # the estimate this step used (its batch, at its starting point)
            batch_count += 1
            if rules.check_every > 0 and nit % rules.check_every == 0:
                checked = True
                if g_full is None:
                    g_full = np.empty_like(g)
                f_prev = f_checked
                f = obj.fg(state.x, g_full)
                g = g_full
                gnorm = norm_inf(g)
                if not (math.isfinite(f) and math.isfinite(gnorm)):
                    status = NOT_FINITE
                    break
        if checked:
            f_checked = f
            checked_nit = nit
            if not monotone and f < best_f:
                best_f = f
                copy_into(best_x, state.x)
                copy_into(best_g, g)
            status = convergence_status(gnorm, f_prev, f, step_inf, x_inf, rules.gtol, rules.ftol, rules.xtol)
            if status == CONTINUE:
                if f > rules.f_max:
                    status = DIVERGED
                elif rules.patience > 0:
                    f_record, stale = progress_update(f, f_record, stale, rules.min_delta)
                    if stale >= rules.patience:
                        status = NO_PROGRESS
            if hist is not None:
                if minibatch:
                    epoch_extra = (nit / obj.steps_per_epoch, batch_sum / max(batch_count, 1))
                hist.add(nit, f, gnorm, info.alpha, obj, time.perf_counter() - t0, *epoch_extra)
            batch_sum = 0.0
            batch_count = 0
            if disp:
                _print_row(nit, f, gnorm, info.alpha, obj)
        if cb is not None and cb(state.x, state.f, state.g, nit) and status == CONTINUE:
            status = CALLBACK

    if inexact and checked_nit != nit and status != NOT_FINITE:
        # the last point was only estimated: evaluate it, so the result is an exact best point
        if g_full is None:
            g_full = np.empty_like(state.g)
        f = obj.fg(state.x, g_full)
        gnorm = norm_inf(g_full)
        if math.isfinite(f) and math.isfinite(gnorm):
            if not monotone and f < best_f:
                best_f = f
                copy_into(best_x, state.x)
                copy_into(best_g, g_full)
            if hist is not None:
                epoch_extra = (nit / obj.steps_per_epoch, batch_sum / max(batch_count, 1)) if minibatch else ()
                hist.add(nit, f, gnorm, info.alpha, obj, time.perf_counter() - t0, *epoch_extra)  # the last step's
            if disp:
                _print_row(nit, f, gnorm, info.alpha, obj)
    # a converged run returns the point that passed the test, even when a non-monotone method
    # saw a lower f before (its gradient there may exceed gtol); a stopped one the best point
    if monotone or (not inexact and (converged(status) or (status != NOT_FINITE and state.f <= best_f))):
        x, fun, jac = state.x, state.f, state.g
    elif converged(status):
        x, fun, jac = state.x, f, g  # mini-batch: the checked point, with its exact f and gradient
    else:
        x, fun, jac = best_x, best_f, best_g
    elapsed = time.perf_counter() - t0
    if disp:
        print(result_message(status, fun))
        print(f"f = {fun:.10e}, iterations = {nit}, nfev = {obj.nfev}, njev = {obj.njev}, "
              f"nhev = {obj.nhev}, time = {elapsed:.3g} s")
    extra = spec.finalize(state) if spec.finalize is not None else None
    obj.release()  # the evaluation buffers go before the result's copies are made
    return build_result(x=x, fun=fun, jac=jac, status=status, nit=nit, nfev=obj.nfev, njev=obj.njev,
                        nhev=obj.nhev, method=spec.name, elapsed=elapsed, extra=extra,
                        history=hist.as_dict() if hist is not None else None)
