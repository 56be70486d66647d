"""``minimize_many``: K independent problems at once across cores; ``multistart``: the best of K starts."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from scipy.optimize import OptimizeResult

from nsolve._objective import NotFiniteAtStart
from nsolve._parallel import max_threads, parallel_allowed, parallel_region
from nsolve._result import result_message
from nsolve._status import NOT_FINITE, SUCCESS_CODES, Status
from nsolve.compiled import _interrupt
from nsolve.compiled import _layout as L
from nsolve.compiled._dispatch import (
    _NO_HISTORY,
    DRIVERS,
    _driver,
    _entry_points,
    compiled_reason,
    objective_addresses,
    packed_options,
    raise_start_error,
)

#: The convergence codes (``success``), as an array for :func:`numpy.isin`.
_SUCCESS_CODES = np.array(sorted(SUCCESS_CODES), dtype=np.int64)

#: Blocks per thread of a batch.  The threads take them one at a time from a shared counter as
#: they come free, so a thread held up by slower problems (or by the machine) takes fewer; at
#: the end a thread waits at most for the last block another one started.
BLOCKS_PER_THREAD = 64
#: ``extra`` of a BFGS batch: no inverse-Hessian output per problem (never written).
_NO_HESS_INV = np.empty((0, 0))


# ------------------------------------------------------------------ validation
def _as_starts(X0) -> np.ndarray:
    try:
        is_complex = np.iscomplexobj(X0)
    except (TypeError, ValueError):  # ragged rows: reported below
        is_complex = False
    if is_complex:
        raise TypeError("X0 must be real; got a complex array")
    try:
        X = np.array(X0, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"X0 must be a 2-D array of real numbers; got {type(X0).__name__}: {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"X0 must be 2-D, one starting point per row (shape (K, n)); got an array of shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X0 must have at least one row and one column; got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        bad = int(np.argmax(~np.all(np.isfinite(X), axis=1)))
        raise ValueError(f"X0 must be finite; row {bad} contains inf or NaN")
    return np.ascontiguousarray(X)


def _as_args(args, K: int) -> np.ndarray | None:
    """Per-problem args as a (K, p) or (1, p) float64 array; None for no args."""
    if args is None:
        return None
    if isinstance(args, np.ndarray):
        if np.iscomplexobj(args) or not np.issubdtype(args.dtype, np.number):
            raise TypeError(f"args must be an array of real numbers; got dtype {args.dtype}")
        a = np.asarray(args, dtype=np.float64)
        if a.ndim == 1:
            return np.ascontiguousarray(a.reshape(1, -1))
        if a.ndim != 2:
            raise ValueError(f"args must be 1-D (shared by every problem) or 2-D (one row per problem); got shape "
                             f"{a.shape}")
        if a.shape[0] != K:
            raise ValueError(f"args has {a.shape[0]} rows but X0 has {K}: one row of args per problem (or a 1-D "
                             f"array shared by all)")
        return np.ascontiguousarray(a)
    if isinstance(args, list | tuple):
        if len(args) != K:
            shared = " (args shared by every problem: the vector itself, args=a, not (a,))" if len(args) == 1 else ""
            raise ValueError(f"args has {len(args)} entries but X0 has {K} rows: one args vector per problem{shared}")
        rows = []
        for i, a in enumerate(args):
            v = np.asarray(a)
            if v.ndim != 1 or np.iscomplexobj(v) or not np.issubdtype(v.dtype, np.number):
                raise TypeError(f"args[{i}] must be a 1-D array of real numbers; got {type(a).__name__} of shape "
                                f"{np.shape(a)}")
            if rows and v.shape[0] != rows[0].shape[0]:
                raise ValueError(f"args[{i}] has {v.shape[0]} entries but args[0] has {rows[0].shape[0]}: "
                                 f"per-problem args must all have the same length")
            rows.append(v.astype(np.float64))
        return np.ascontiguousarray(np.stack(rows))
    raise TypeError(f"args must be None, an array or a list of arrays; got {type(args).__name__}")


def _check_threads(threads) -> int:
    if threads is None:
        return max_threads()
    if isinstance(threads, bool) or not isinstance(threads, int | np.integer):
        raise TypeError(f"threads must be an int or None; got {type(threads).__name__}")
    if not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads must be between 1 and {numba.config.NUMBA_NUM_THREADS}; got {threads}")
    return int(threads)


def _prepare(method, n, options, kwargs):
    """Validate the options as :func:`nsolve.minimize` does (the same code, and its cache of
    validated configurations); return (spec, method options, search, rules)."""
    from nsolve._api import _configure, _merge_options

    spec, _, n_samples, _, rules, method_opts, search = _configure(method, n, _merge_options(options, kwargs))
    if n_samples is not None:
        raise ValueError("minimize_many solves full-batch problems; n_samples is not supported")
    return spec, method_opts, search, rules


# ------------------------------------------------------------------ minimize_many
def minimize_many(
    f: Callable[..., float],
    grad: Callable[..., np.ndarray],
    X0,
    *,
    args=None,
    method: str = "lbfgs",
    hess: Callable[..., np.ndarray] | None = None,
    threads: int | None = None,
    options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> OptimizeResult:
    """Solve K independent problems :math:`\\min_x f(x, a_k)` from the starts ``X0[k]``, in parallel.

    With Numba functions the problems are spread over ``threads`` cores inside one compiled
    call (``prange`` over blocks of problems, one workspace per thread, the GIL released);
    each problem runs exactly the iteration :func:`nsolve.minimize` runs and gets its own
    status and counters.  With Python functions (or a method without a compiled driver) the
    problems are solved one after the other with :func:`nsolve.minimize`.

    Parameters
    ----------
    f, grad : callables
        ``f(x) -> float`` and ``grad(x) -> (n,) array``; with ``args``, ``f(x, a)`` and
        ``grad(x, a)`` where ``a`` is the problem's args vector (float64).  Numba
        functions (``numba.njit``) run compiled; see ``docs/compiled.md`` for the signatures.
    X0 : array_like, shape (K, n)
        One starting point per row.
    args : array_like, optional
        ``(K, p)`` (row ``k`` for problem ``k``), a list of K vectors of equal length, or a
        ``(p,)`` vector shared by every problem.
    method : str
        Any method of :func:`nsolve.minimize`; compiled: ``"bfgs"``, ``"lbfgs"``,
        ``"newton"`` (with ``hess``, or forward differences of ``grad`` without it), ``"gd"`` and
        the first-order methods.
    hess : callable, optional
        ``hess(x[, a]) -> (n, n)`` for ``"newton"``.
    threads : int, optional
        Cores to use (default: Numba's thread count, ``numba.get_num_threads()``).  One in
        a process forked after its parent ran Numba's GNU OpenMP threads, whatever is asked
        (Numba kills such a process if it starts them; see :mod:`nsolve._parallel`).
    options, **kwargs
        Options of :func:`nsolve.minimize` (``gtol``, ``maxiter``, ``m``, ...), applied to
        every problem.

    Returns
    -------
    OptimizeResult
        Arrays over the problems: ``x`` (K, n), ``fun`` (K,), ``jac`` (K, n), ``nit``,
        ``nfev``, ``njev``, ``nhev``, ``status`` (:class:`nsolve.Status` codes) and
        ``success`` (K,); plus ``method``, ``n_success``, ``elapsed`` (seconds) and
        ``message``, one line for the batch: how many problems converged and how many
        stopped for each reason (``nsolve.Status(res.status[k]).name`` names problem
        ``k``'s).  A problem whose f or gradient is not finite at its start gets status
        ``NOT_FINITE`` (its start returned) instead of an error.

    Examples
    --------
    >>> import numpy as np, numba, nsolve
    >>> @numba.njit
    ... def f(x, a):
    ...     return (x[0] - a[0]) ** 2 + 10.0 * (x[1] - a[1]) ** 2
    >>> @numba.njit
    ... def g(x, a):
    ...     return np.array([2.0 * (x[0] - a[0]), 20.0 * (x[1] - a[1])])
    >>> A = np.array([[1.0, 2.0], [3.0, -1.0]])
    >>> res = nsolve.minimize_many(f, g, np.zeros((2, 2)), args=A)
    >>> np.allclose(res.x, A), res.status.tolist()
    (True, [0, 0])
    """
    X = _as_starts(X0)
    K, n = X.shape
    A = _as_args(args, K)
    n_threads = _check_threads(threads)
    spec, method_opts, search, rules = _prepare(method, n, options, kwargs)
    if hess is not None and not spec.uses_hessian:
        warnings.warn(f"method {spec.name!r} does not use hess; it is ignored", RuntimeWarning, stacklevel=2)
        hess = None
    call_args = () if A is None else (A[0],)
    t0 = time.perf_counter()
    if compiled_reason(spec.name, f, grad, hess, None, None, False, call_args, rules, False, method_opts) is not None:
        out = _sequential(f, grad, X, A, spec.name, hess, options, kwargs)
    else:
        out = _compiled(f, grad, hess, X, A, spec, method_opts, search, rules, n_threads)
    out["method"] = spec.name
    out["elapsed"] = time.perf_counter() - t0
    return out


def _converged(status: np.ndarray) -> np.ndarray:
    """Per problem, True for a status of a convergence test (``nsolve._status.SUCCESS_CODES``,
    the codes of ``success`` in every result)."""
    return np.isin(status, _SUCCESS_CODES)


def batch_message(status: np.ndarray) -> str:
    """One line for a batch: the problems that converged, then the count per stop reason
    (:class:`nsolve.Status` names, in code order), e.g. ``"9,998 of 10,000 problems
    converged (GTOL 9,990, FTOL 8, MAXITER 2)"``."""
    codes, counts = np.unique(status, return_counts=True)
    ok = int(_converged(status).sum())
    names = {int(s): s.name for s in Status}  # a code outside Status (none is expected): its number
    by_reason = ", ".join(f"{names.get(c, c)} {int(k):,}" for c, k in zip(codes.tolist(), counts, strict=True))
    return f"{ok:,} of {status.shape[0]:,} problems converged ({by_reason})"


def _result(X, F, G, INFO) -> OptimizeResult:
    status = INFO[:, L.INFO_STATUS].copy()
    success = _converged(status)
    return OptimizeResult(
        x=X, fun=F, jac=G, nit=INFO[:, L.INFO_NIT].copy(), nfev=INFO[:, L.INFO_NFEV].copy(),
        njev=INFO[:, L.INFO_NJEV].copy(), nhev=INFO[:, L.INFO_NHEV].copy(), status=status, success=success,
        n_success=int(success.sum()), message=batch_message(status),
    )


def _compiled(f, grad, hess, X0, A, spec, method_opts, search, rules, n_threads) -> OptimizeResult:
    K, n = X0.shape
    with_args = A is not None
    ARGS = A if with_args else np.empty((1, 0))
    addresses = objective_addresses(f, grad, hess if spec.uses_hessian else None, with_args)
    # the options packed once per configuration (memoized; the solvers never write them)
    fo, io, extra = packed_options(spec.name, method_opts, search, rules, 0, n)
    if spec.name == "bfgs":
        extra = _NO_HESS_INV  # no hess_inv per problem
    X = np.empty((K, n))
    G = np.empty((K, n))
    F = np.empty(K)
    INFO = np.zeros((K, L.INFO_SLOTS), dtype=np.int64)
    INFO[:, L.INFO_STATUS] = L.NOT_RUN
    if not parallel_allowed():
        _one_by_one(addresses, with_args, ARGS, X0, fo, io, X, G, F, INFO, extra, spec.name)
        return _finish(X, F, G, INFO, n)
    many = _entry_points()[DRIVERS[spec.name]][1]
    n_blocks = min(K, n_threads * BLOCKS_PER_THREAD)
    # Numba's thread-count setter costs microseconds: skipped when it would change nothing
    previous = numba.get_num_threads()
    if n_threads != previous:
        numba.set_num_threads(n_threads)
    try:
        # one workspace per thread of the region (the solver picks its row by thread id, which
        # Numba keeps below get_num_threads()), allocated here so that a user's function
        # raising inside the batch leaves nothing behind
        WF, WI = _driver().workspaces(DRIVERS[spec.name], n, io, numba.get_num_threads())
        next_block = np.zeros(1, dtype=np.int64)  # the blocks' queue (see many_method)
        with parallel_region():
            # (Ctrl-C stops every problem within an iteration)
            _interrupt.run(many, addresses, with_args, ARGS, X0, fo, io, X, G, F, INFO, extra, n_blocks, WF, WI,
                           next_block)
    except SystemError as exc:
        # an exception raised by the user's function in a worker thread arrives wrapped
        if exc.__cause__ is not None:
            raise exc.__cause__ from None
        raise
    finally:
        if n_threads != previous:
            numba.set_num_threads(previous)
    unfinished = np.flatnonzero(INFO[:, L.INFO_STATUS] == L.NOT_RUN)
    if unfinished.size:
        # an exception raised in a worker thread that the threading layer dropped (Numba's
        # workqueue layer returns as if the block had finished): run those problems again on
        # this thread, where the user's exception comes out unchanged
        _one_by_one(addresses, with_args, ARGS, X0, fo, io, X, G, F, INFO, extra, spec.name, unfinished)
    return _finish(X, F, G, INFO, n)


def _one_by_one(addresses, with_args, ARGS, X0, fo, io, X, G, F, INFO, extra, name, problems=None) -> None:
    """The batch (or its ``problems``) with the single-problem solver, problem after problem,
    on this thread: for a process where Numba's thread pool must not start
    (:func:`nsolve._parallel.parallel_allowed`), and for the problems a dropped exception cut
    short.  Same solver code, same iterates as the threaded batch."""
    solve = _entry_points()[DRIVERS[name]][0]
    wf, wi = _driver().workspace(DRIVERS[name], X0.shape[1], io)  # one workspace, reused (the solver resets it)
    shared = ARGS.shape[0] == 1
    for k in range(X0.shape[0]) if problems is None else problems:
        a = ARGS[0] if shared else ARGS[k]
        F[k] = _interrupt.run(solve, addresses, with_args, a, X0[k], fo, io, X[k], G[k], _NO_HISTORY, INFO[k], extra,
                              wf, wi)


def _finish(X, F, G, INFO, n) -> OptimizeResult:
    """Raise a start error of the batch as the sequential path does; mark failed starts; the result."""
    errors = np.flatnonzero(INFO[:, L.INFO_ERR])
    if errors.size:
        k = int(errors[0])
        raise_start_error(int(INFO[k, L.INFO_STATUS]), INFO[k], F[k], n)
    start_failed = INFO[:, L.INFO_STATUS] < 0
    if start_failed.any():
        INFO[start_failed, L.INFO_STATUS] = NOT_FINITE
        G[start_failed] = np.nan
        F[start_failed] = np.nan  # as the sequential path: no value to rank (multistart)
    return _result(X, F, G, INFO)


def _sequential(f, grad, X0, A, method, hess, options, kwargs) -> OptimizeResult:
    from nsolve._api import minimize

    K, n = X0.shape
    X = np.empty((K, n))
    G = np.empty((K, n))
    F = np.empty(K)
    INFO = np.zeros((K, L.INFO_SLOTS), dtype=np.int64)
    for k in range(K):
        a = () if A is None else (A[0] if A.shape[0] == 1 else A[k],)
        try:
            r = minimize(f, grad, X0[k], method=method, hess=hess, args=a, options=options, **kwargs)
        except NotFiniteAtStart as exc:
            X[k] = X0[k]
            G[k] = np.nan
            F[k] = math.nan
            INFO[k, L.INFO_NFEV] = exc.nfev
            INFO[k, L.INFO_NJEV] = exc.njev
            INFO[k, L.INFO_NHEV] = exc.nhev
            INFO[k, L.INFO_STATUS] = NOT_FINITE
            continue
        X[k] = r.x
        G[k] = r.jac
        F[k] = r.fun
        INFO[k, L.INFO_NIT] = r.nit
        INFO[k, L.INFO_NFEV] = r.nfev
        INFO[k, L.INFO_NJEV] = r.njev
        INFO[k, L.INFO_NHEV] = r.nhev
        INFO[k, L.INFO_STATUS] = r.status
    return _result(X, F, G, INFO)


# ------------------------------------------------------------------ multistart
def multistart(
    f: Callable[..., float],
    grad: Callable[..., np.ndarray],
    X0,
    *,
    args=None,
    method: str = "lbfgs",
    hess: Callable[..., np.ndarray] | None = None,
    threads: int | None = None,
    options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> OptimizeResult:
    """Minimize one function from every start in ``X0`` (in parallel) and return the best run.

    Parameters are those of :func:`minimize_many`, except ``args``: one vector shared by
    every start (or None).

    Returns
    -------
    OptimizeResult
        The run with the lowest finite ``fun`` (the first on ties): ``x, fun, jac, nit,
        nfev, njev, nhev, status, success, message`` of that run, plus ``best_index``,
        ``n_starts``, ``n_success`` (runs that converged), ``all_fun`` (K,) and
        ``all_status`` (K,), ``total_nfev`` and ``elapsed``.  When no run has a finite value
        the first start is returned with status ``NOT_FINITE``.

    Examples
    --------
    >>> import numpy as np, numba, nsolve
    >>> @numba.njit
    ... def f(x):  # a double well tilted to the left: local minimum near +0.96, global near -1.04
    ...     return (x[0] ** 2 - 1.0) ** 2 + 0.3 * x[0]
    >>> @numba.njit
    ... def g(x):
    ...     return np.array([4.0 * x[0] * (x[0] ** 2 - 1.0) + 0.3])
    >>> best = nsolve.multistart(f, g, np.linspace(-2, 2, 9).reshape(-1, 1))
    >>> round(float(best.x[0]), 3), best.n_starts
    (-1.036, 9)
    """
    if args is not None:
        try:
            args = np.asarray(args, dtype=np.float64)  # a list is the one vector too
        except (TypeError, ValueError) as exc:
            raise TypeError(f"multistart: args must be one 1-D vector of real numbers shared by every start: {exc}"
                            ) from None
        if args.ndim != 1:
            raise ValueError(f"multistart: args must be one 1-D vector shared by every start; got shape {args.shape}")
    res = minimize_many(f, grad, X0, args=args, method=method, hess=hess, threads=threads, options=options,
                        **kwargs)
    fun = res.fun
    finite = np.isfinite(fun)
    k = int(np.argmin(np.where(finite, fun, np.inf))) if finite.any() else 0
    status = int(res.status[k])
    st = Status(status)
    return OptimizeResult(
        x=res.x[k].copy(), fun=float(fun[k]), jac=res.jac[k].copy(), nit=int(res.nit[k]), nfev=int(res.nfev[k]),
        njev=int(res.njev[k]), nhev=int(res.nhev[k]), status=status, success=st.success,
        message=result_message(status, float(fun[k])),
        method=res.method, best_index=k, n_starts=int(fun.shape[0]), n_success=res.n_success, all_fun=fun.copy(),
        all_status=res.status.copy(), total_nfev=int(res.nfev.sum()), elapsed=res.elapsed,
    )
