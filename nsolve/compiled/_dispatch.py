"""Python side of the compiled path: who goes compiled, option packing, results.

:func:`minimize_compiled` is called by :func:`nsolve.minimize` after its validation; it
returns None when the run needs the interpreted driver (see :func:`compiled_reason`), else
the same :class:`~scipy.optimize.OptimizeResult` the interpreted driver builds.
"""

from __future__ import annotations

import math
import time
import weakref

import numpy as np
from numba.core import types
from scipy.optimize import OptimizeResult

from nsolve._objective import NotFiniteAtStart
from nsolve._result import build_result
from nsolve._status import Status
from nsolve.compiled import _interrupt
from nsolve.compiled import _layout as L
from nsolve.compiled._evaluator import ADDRESS_SLOTS
from nsolve.compiled._functions import (
    CLOCK_ADDRESS,
    CLOCK_ID,
    function_addresses,
    function_type,
    is_numba_function,
    signature_text,
)
from nsolve.linesearch import Backtracking, FixedStep, StrongWolfe

#: First-order rules sharing one compiled step (see :mod:`nsolve.compiled._first_order`).
FIRST_ORDER_RULES = {
    "sgd": 0, "momentum": 1, "nesterov": 2, "sgdw": 3, "adagrad": 4, "rmsprop": 5, "adadelta": 6, "adam": 7,
    "amsgrad": 8, "adamw": 9, "adamax": 10, "nadam": 11, "radam": 12,
}
#: Method name -> the compiled driver it runs on.
DRIVERS = {"bfgs": "bfgs", "lbfgs": "lbfgs", "newton": "newton", "gd": "gd", **dict.fromkeys(FIRST_ORDER_RULES,
                                                                                           "first_order")}
#: Methods with a compiled driver.
COMPILED_METHODS = tuple(DRIVERS)

_LS_KIND = {StrongWolfe: L.LS_STRONG_WOLFE, Backtracking: L.LS_BACKTRACKING, FixedStep: L.LS_FIXED}
_NO_ARGS = np.empty(0)
#: The history buffer of a run without history: never written (the solvers keep
#: ``min(rows asked, rows given) = 0`` rows), so one array serves every such run.
_NO_HISTORY = np.empty((0, len(L.HISTORY_COLUMNS)))


_DRIVER: list = []


def _driver():
    """:mod:`nsolve.compiled._driver` (imported on first use: it defines the compiled solvers)."""
    if not _DRIVER:
        from nsolve.compiled import _driver as module

        _DRIVER.append(module)
    return _DRIVER[0]


def _entry_points():
    """The compiled driver's entry points, ``ENTRY_POINTS``."""
    return _driver().ENTRY_POINTS


# ------------------------------------------------------------------ eligibility
def args_vector(args) -> np.ndarray | None:
    """``args`` as the float64 vector a compiled objective takes, or None when it is not one.

    ``()`` gives an empty vector (functions called as ``f(x)``); ``(a,)`` with ``a`` a 1-D
    float64 array gives ``a``, C-contiguous (functions called as ``f(x, a)``).  An array of
    another dtype is not one: converted, the objective would compute with other numbers than
    the interpreted run, which passes it as given.
    """
    if len(args) == 0:
        return _NO_ARGS
    if len(args) != 1:
        return None
    a = args[0]
    if not isinstance(a, np.ndarray) or a.ndim != 1 or a.dtype != np.float64:
        return None
    return np.ascontiguousarray(a)


def _frozen_elsewhere(func, role: str, with_args: bool) -> bool:
    """True for a dispatcher compiled with explicit signatures that do not include the required one.

    Raises
    ------
    TypeError
        When none of those signatures takes ``x`` as a 1-D float64 array, so that the
        function cannot be called on either path (instead of Numba's "No matching
        definition" from the first call).
    """
    if getattr(func, "_can_compile", True):
        return False
    if function_type(role, with_args).signature.args in func.overloads:
        return False
    if not any(_takes_float_vector(sig) for sig in func.overloads):
        fname = getattr(func, "__name__", repr(func))
        sigs = ", ".join("(" + ", ".join(str(a) for a in sig) + ")" for sig in func.overloads)
        raise TypeError(
            f"{role} (the Numba function {fname!r}) was compiled with explicit signatures for the arguments "
            f"{sigs}, none taking x as a 1-D float64 array; compile it for {signature_text(role, with_args)} "
            "with float64 arrays, or without a signature"
        )
    return True


def _takes_float_vector(args) -> bool:
    """True when the first parameter of an overload accepts the 1-D float64 array ``x``."""
    return (len(args) >= 1 and isinstance(args[0], types.Array) and args[0].dtype == types.float64
            and args[0].ndim == 1)


def compiled_reason(method, f, grad, hess, hessp, callback, disp, args, rules, history,
                    method_opts=None) -> str | None:
    """Why a run cannot take the compiled path (None when it can); with ``method_opts``, its
    learning-rate schedule is checked too (:func:`schedule_reason`)."""
    if method not in COMPILED_METHODS:
        return f"method {method!r} has no compiled driver"
    if not is_numba_function(f):
        return "f is not a Numba function"
    if not is_numba_function(grad):
        return "grad is not a Numba function (grad=True and finite differences run interpreted)"
    if hessp is not None:
        return "hessp runs interpreted"
    if method == "newton" and hess is not None and not is_numba_function(hess):
        return "hess is not a Numba function"
    if callback is not None:
        return "a Python callback runs interpreted"
    if disp:
        return "disp=True runs interpreted"
    if args_vector(args) is None:
        return "args must be () or a single 1-D float64 array"
    with_args = len(args) == 1
    for func, role in ((f, "f"), (grad, "grad"), (hess, "hess")):
        if func is not None and _frozen_elsewhere(func, role, with_args):
            return (f"{role} was compiled with explicit signatures, none of them {signature_text(role, with_args)} "
                    "with C-contiguous float64 arrays")
    return history_reason(history, rules) or (
        schedule_reason(method_opts, rules.maxiter) if method_opts is not None else None)


#: The compiled solvers write the history into rows allocated before the run, one per
#: iteration up to ``maxiter``; a longer possible run records its history on the
#: interpreted driver, which appends rows as they come (2^22 rows: 256 MB, only touched
#: as written).
MAX_HISTORY_ROWS = 1 << 22


def history_reason(history, rules) -> str | None:
    """Why the history or time limit of a run keeps it interpreted (None when it does not)."""
    if (history or rules.time_limit > 0.0) and CLOCK_ADDRESS == 0:
        return "no monotonic clock for the time limit / history on this platform"
    if history and rules.maxiter + 1 > MAX_HISTORY_ROWS:
        return f"history with maxiter above {MAX_HISTORY_ROWS - 1} runs interpreted (rows are allocated up front)"
    return None


# ------------------------------------------------------------------ packing
def pack_options(method: str, opts, search, rules, history_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``fo`` / ``io`` arrays of :mod:`nsolve.compiled._layout` for a run."""
    fo = np.zeros(L.FO_METHOD + 2)
    io = np.zeros(L.IO_METHOD + 2, dtype=np.int64)
    fo[L.FO_GTOL] = rules.gtol
    fo[L.FO_FTOL] = rules.ftol
    fo[L.FO_XTOL] = rules.xtol
    fo[L.FO_TIME_LIMIT] = rules.time_limit
    fo[L.FO_MIN_DELTA] = getattr(rules, "min_delta", 0.0)
    fo[L.FO_F_MAX] = getattr(rules, "f_max", math.inf)
    io[L.IO_MAXITER] = rules.maxiter
    io[L.IO_MAXFEV] = rules.maxfev
    io[L.IO_PATIENCE] = getattr(rules, "patience", 0)
    io[L.IO_HISTORY] = history_rows
    io[L.IO_CLOCK] = CLOCK_ADDRESS
    io[L.IO_CLOCK_ID] = CLOCK_ID
    io[L.IO_TIMED] = 1 if (history_rows > 0 or rules.time_limit > 0.0) else 0
    io[L.IO_INTERRUPT] = _interrupt.BLOCK_ADDRESS
    if search is not None:
        io[L.IO_LS_KIND] = _LS_KIND[type(search)]
        params = search.params
        if params:
            *floats, max_evals = params
            fo[L.FO_LS : L.FO_LS + len(floats)] = floats
            io[L.IO_LS_MAX_EVALS] = max_evals
    if method == "lbfgs":
        fo[L.FO_METHOD] = opts.curvature_eps
        io[L.IO_METHOD] = opts.m
        io[L.IO_METHOD + 1] = opts.initial_step == "interpolate"
    elif method == "bfgs":
        fo[L.FO_METHOD] = opts.curvature_eps
        io[L.IO_METHOD] = opts.initial_step == "interpolate"
        io[L.IO_METHOD + 1] = opts.h0_rule
    elif method == "newton":
        fo[L.FO_METHOD] = opts.beta
    elif DRIVERS[method] in ("gd", "first_order"):
        from nsolve.compiled import _first_order as F1

        fo = np.concatenate([fo[: L.FO_METHOD], np.zeros(F1.FO_SLOTS - L.FO_METHOD)])
        io = np.concatenate([io[: L.IO_METHOD], np.zeros(F1.IO_SLOTS - L.IO_METHOD, dtype=np.int64)])
        io[F1.IO_RULE] = FIRST_ORDER_RULES.get(method, -1)
        betas = getattr(opts, "betas", None)
        if betas is not None:
            fo[F1.FO_BETA1], fo[F1.FO_BETA2] = betas
        for name, slot in F1.FLOAT_OPTIONS.items():
            if hasattr(opts, name):
                fo[slot] = getattr(opts, name)
        for name, slot in F1.BOOL_OPTIONS.items():
            if hasattr(opts, name):
                io[slot] = bool(getattr(opts, name))
    return fo, io


#: Most steps whose learning rates a compiled run precomputes (8 MB; about 0.3 s of Python for a
#: named schedule): beyond it a scheduled run takes the interpreted driver.
MAX_SCHEDULED_STEPS = 1_000_000


def schedule_reason(opts, maxiter: int) -> str | None:
    """Why a run's learning-rate schedule keeps it on the interpreted driver (None: it need not).

    A compiled run reads ``lr * s(t)`` precomputed for every step up to ``maxiter``
    (:func:`learning_rates`): a callable schedule would be called, and checked, at steps the
    run may never take, so it runs interpreted, called step by step; so does a schedule with
    more than :data:`MAX_SCHEDULED_STEPS` steps, whose table would cost more than the run.
    """
    sched = getattr(opts, "schedule", None)
    if sched is None:  # (before the import: this runs on every compiled call)
        return None
    from nsolve.schedules import BoundSchedule, Lambda

    base = sched.schedule if isinstance(sched, BoundSchedule) else sched
    if isinstance(base, Lambda):
        return "a callable schedule runs interpreted (called at the steps the run takes)"
    if maxiter > MAX_SCHEDULED_STEPS and not (isinstance(sched, BoundSchedule) and sched.constant):
        return f"a schedule over more than {MAX_SCHEDULED_STEPS} steps runs interpreted"
    return None


def learning_rates(opts, maxiter: int) -> np.ndarray | None:
    """``lr * s(t)`` for ``t = 0 .. maxiter - 1`` from the method's own schedule (None: constant)."""
    from nsolve.schedules import BoundSchedule

    sched = getattr(opts, "schedule", None)
    if sched is None:
        return None
    if not isinstance(sched, BoundSchedule):
        sched = sched.bind(1, 0)
    if sched.constant:
        return None
    return np.array([opts.lr * sched(t) for t in range(maxiter)], dtype=np.float64)


def method_extra(method: str, opts, rules, n: int, io: np.ndarray) -> np.ndarray:
    """The ``extra`` array of an entry point (see :mod:`nsolve.compiled._driver`)."""
    if method == "bfgs":
        return np.empty((n, n))
    if DRIVERS[method] in ("gd", "first_order"):
        from nsolve.compiled import _first_order as F1

        lrs = learning_rates(opts, rules.maxiter)
        if lrs is not None:
            io[F1.IO_SCHEDULED] = 1
            return lrs.reshape(1, -1)
        return np.empty((1, 0))
    return np.empty((0, 0))


_OBJECTIVES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def objective_addresses(f, grad, hess, with_args: bool) -> np.ndarray:
    """int64[ADDRESS_SLOTS]: the (cfunc, jit) addresses of f, grad and hess (zeros for no hess, and in the
    Python-mode slots); memoized, never written."""
    memo = _OBJECTIVES.get(f)
    if memo is None:
        memo = _OBJECTIVES[f] = {}
    key = (grad, hess, with_args)
    out = memo.get(key)
    if out is None:
        out = np.zeros(ADDRESS_SLOTS, dtype=np.int64)
        out[0:2] = function_addresses(f, "f", with_args)
        out[2:4] = function_addresses(grad, "grad", with_args)
        if hess is not None:
            out[4:6] = function_addresses(hess, "hess", with_args)
        memo[key] = out
    return out


_PACKED: dict = {}
#: The same memo by the identity of the option objects: repeated calls with the same options
#: get the very objects ``_configure`` memoized, and hashing them (frozen dataclasses hash
#: every field on each call) cost half a microsecond.  Entries hold the objects, so their
#: ids are not reused while the entry lives.  The by-value memo stays for options that
#: ``_configure`` builds anew on every call (a schedule object, say): equal ones still share
#: their packed arrays, and their learning rates are not recomputed.
_PACKED_BY_ID: dict = {}


def packed_options(name, method_opts, search, rules, rows, n):
    """``(fo, io, extra)`` of a run, memoized on the (hashable, frozen) options; the solvers never write them."""
    id_key = (name, id(method_opts), id(search), id(rules), rows)
    by_id = _PACKED_BY_ID.get(id_key)
    if by_id is not None and by_id[0] is method_opts and by_id[1] is search and by_id[2] is rules:
        return by_id[3]
    hit = _packed_by_value(name, method_opts, search, rules, rows, n)
    if len(_PACKED_BY_ID) > 256:
        _PACKED_BY_ID.clear()
    _PACKED_BY_ID[id_key] = (method_opts, search, rules, hit)
    return hit


def _packed_by_value(name, method_opts, search, rules, rows, n):
    try:
        key = (name, method_opts, search, rules, rows)
        hit = _PACKED.get(key)
    except TypeError:  # an unhashable option value
        key = hit = None
    if hit is None:
        fo, io = pack_options(name, method_opts, search, rules, rows)
        extra = method_extra(name, method_opts, rules, n, io)
        hit = (fo, io, extra)
        if key is not None:
            if len(_PACKED) > 256:
                _PACKED.clear()
            _PACKED[key] = hit
    return hit


# ------------------------------------------------------------------ errors
def raise_start_error(status: int, info: np.ndarray, fun: float, n: int) -> None:
    """Raise the error the interpreted path raises for a failed start or a bad shape."""
    if info[L.INFO_ERR] == 1:
        at = " at x0" if info[L.INFO_NIT] == 0 else ""
        raise ValueError(f"grad must return an array of shape ({n},); got shape ({info[L.INFO_ERR_SHAPE0]},){at}")
    if info[L.INFO_ERR] == 2:
        raise ValueError(f"hess must return an array of shape ({n}, {n}); got "
                         f"({info[L.INFO_ERR_SHAPE0]}, {info[L.INFO_ERR_SHAPE1]})")
    counts = (info[L.INFO_NFEV], info[L.INFO_NJEV], info[L.INFO_NHEV])
    if status == L.START_F_NOT_FINITE:
        raise NotFiniteAtStart("f", *counts, got=f"got {fun}", f=fun)
    if status == L.START_G_NOT_FINITE:
        raise NotFiniteAtStart("grad", *counts, f=fun)
    if status == L.START_H_NOT_FINITE:
        raise NotFiniteAtStart("hess", *counts, f=fun)


# ------------------------------------------------------------------ one problem
def minimize_compiled(spec, method_opts, search, rules, f, grad, hess, hessp, args, x, *, callback=None,
                      disp=False, history=False):
    """Run ``minimize`` compiled, or return None when the run needs the interpreted driver."""
    name = spec.name
    if compiled_reason(name, f, grad, hess, hessp, callback, disp, args, rules, history, method_opts) is not None:
        return None
    t0 = time.perf_counter()
    a = args_vector(args)
    with_args = len(args) == 1
    addresses = objective_addresses(f, grad, hess if spec.uses_hessian else None, with_args)
    # x is minimize's own copy of x0, read once at the start: it doubles as the returned point
    fo, io, extra, x_out, g_out, hist, info, wf, wi = run_buffers(name, method_opts, search, rules, x.shape[0],
                                                                  history, x_out=x)
    solve = _entry_points()[DRIVERS[name]][0]
    fun = _interrupt.run(solve, addresses, with_args, a, x, fo, io, x_out, g_out, hist, info, extra, wf, wi)
    return run_result(name, fun, x_out, g_out, hist, info, extra, history, t0)


# ------------------------------------------------------------------ shared by the single-run paths
def run_buffers(name: str, method_opts, search, rules, n: int, history: bool, x_out=None):
    """``(fo, io, extra, x_out, g_out, hist, info, wf, wi)``: the arrays of one solver call (see
    :mod:`._driver`; ``wf``, ``wi`` its workspace, :func:`nsolve.compiled._driver.workspace`).

    ``x_out`` may be the run's private copy of the start point: the solvers read ``x0`` once,
    before anything is written to ``x_out`` (one n-vector less at the run's peak).
    """
    rows = rules.maxiter + 1 if history else 0
    fo, io, extra = packed_options(name, method_opts, search, rules, rows, n)
    if name == "bfgs":
        extra = np.empty((n, n))  # hess_inv: the result's own array
    hist = np.empty((rows, len(L.HISTORY_COLUMNS))) if rows else _NO_HISTORY
    wf, wi = _driver().workspace(DRIVERS[name], n, io)
    return (fo, io, extra, np.empty(n) if x_out is None else x_out, np.empty(n), hist,
            np.zeros(L.INFO_SLOTS, dtype=np.int64), wf, wi)


def run_result(name: str, fun: float, x_out, g_out, hist, info, extra, history: bool, t0: float) -> OptimizeResult:
    """The OptimizeResult of a solver call (raising the interpreted path's error for a failed start)."""
    counts = info.tolist()  # Python ints, read once (indexing the array makes NumPy scalars)
    status = counts[L.INFO_STATUS]
    if status < 0 or counts[L.INFO_ERR] != 0:
        raise_start_error(status, info, fun, x_out.shape[0])
    history_dict = None
    if history:
        cols = hist[: counts[L.INFO_NHIST]].T
        history_dict = {k: c.copy() for k, c in zip(L.HISTORY_COLUMNS, cols, strict=True)}
        for k in ("nit", "nfev", "njev", "nhev"):
            history_dict[k] = history_dict[k].astype(np.int64)
    return build_result(x=x_out, fun=fun, jac=g_out, status=status, nit=counts[L.INFO_NIT],
                        nfev=counts[L.INFO_NFEV], njev=counts[L.INFO_NJEV], nhev=counts[L.INFO_NHEV],
                        method=name, elapsed=time.perf_counter() - t0,
                        extra={"hess_inv": extra} if name == "bfgs" else None, history=history_dict, fresh=True)


__all__ = ["COMPILED_METHODS", "Status", "minimize_compiled"]
