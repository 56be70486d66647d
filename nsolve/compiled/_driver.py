"""The compiled driver loop and the cached solver entry points.

:func:`drive` is the compiled twin of :func:`nsolve._driver.run` for a full-batch run without
a callback: the first evaluation with the same checks, then per iteration the budgets
(``limit_status``), one method step, the best point, the convergence tests
(``convergence_status``), the no-progress and divergence tests (``progress_update``) and
a history row; the tests are the functions of :mod:`nsolve._stopping` themselves.  It never
names a method: the method's ``init`` and ``step`` arrive as arguments.

The entry points (``solve_<method>`` for one problem, ``many_<method>`` for a batch spread
over threads with ``prange``) take only integers, floats and arrays: the user's functions
arrive as addresses (:mod:`nsolve.compiled._functions`), so each entry point is compiled
once, cached on disk, and shared by every objective.
"""

from __future__ import annotations

import math

import numpy as np
from numba import get_thread_id, prange

from nsolve._kernels.vector import all_finite, copy_into, norm_inf, step_stats
from nsolve._status import CONTINUE, DIVERGED, GTOL, INTERRUPTED, NO_PROGRESS, NOT_FINITE
from nsolve._stopping import converged, convergence_status, gtol_test, limit_status, progress_update
from nsolve.compiled._cache import inner, solver
from nsolve.compiled._evaluator import (
    ERR,
    ERR_SHAPE0,
    ERR_SHAPE1,
    INT_SLOTS,
    call_f,
    gradient_into,
    new_evaluator,
    with_problem_args,
)
from nsolve.compiled._evaluator import counts as ev_counts
from nsolve.compiled._first_order import (
    first_order_init,
    first_order_memory,
    first_order_sizes,
    first_order_step,
    gd_init,
    gd_memory,
    gd_sizes,
    gd_step,
)
from nsolve.compiled._functions import monotonic_seconds
from nsolve.compiled._interrupt import interrupt_requested, watch_begin, watch_end
from nsolve.compiled._layout import (
    EVALUATION_ERROR,
    FO_F_MAX,
    FO_FTOL,
    FO_GTOL,
    FO_MIN_DELTA,
    FO_TIME_LIMIT,
    FO_XTOL,
    INFO_ERR,
    INFO_ERR_SHAPE0,
    INFO_ERR_SHAPE1,
    INFO_NFEV,
    INFO_NHEV,
    INFO_NHIST,
    INFO_NIT,
    INFO_NJEV,
    INFO_STATUS,
    IO_CLOCK,
    IO_CLOCK_ID,
    IO_HISTORY,
    IO_INTERRUPT,
    IO_LS_KIND,
    IO_MAXFEV,
    IO_MAXITER,
    IO_PATIENCE,
    IO_TIMED,
    LS_FIXED,
    START_F_NOT_FINITE,
    START_G_NOT_FINITE,
)
from nsolve.compiled._memory import fetch_add, unmanaged
from nsolve.compiled._quasi_newton import (
    bfgs_init,
    bfgs_memory,
    bfgs_sizes,
    bfgs_step,
    lbfgs_init,
    lbfgs_memory,
    lbfgs_sizes,
    lbfgs_step,
    newton_init,
    newton_memory,
    newton_sizes,
    newton_step,
)
from nsolve.compiled._shared import SHARED  # noqa: F401 - makes the shared rules callable here
from nsolve.compiled._state import F, g_of, iterate_sizes, new_iterate, start, x_of


@inner
def _now(io):
    if io[IO_TIMED] != 0:
        return monotonic_seconds(io[IO_CLOCK], io[IO_CLOCK_ID])
    return 0.0


@inner
def _history_row(hist, row, nit, f, gnorm, alpha, ev, elapsed):
    nfev, njev, nhev = ev_counts(ev)
    hist[row, 0] = nit
    hist[row, 1] = f
    hist[row, 2] = gnorm
    hist[row, 3] = alpha
    hist[row, 4] = nfev
    hist[row, 5] = njev
    hist[row, 6] = nhev
    hist[row, 7] = elapsed


@inner(inline=True)
def drive(init, step, monotone, reports_step, ev, it, mem, x0, fo, io, x_out, g_out, hist):
    """Minimize from ``x0``; write the returned point and gradient into ``x_out``, ``g_out``.

    Returns
    -------
    status, nit, fun, n_history_rows
        ``status`` is a :class:`nsolve.Status` code, or a start failure of
        :mod:`nsolve.compiled._layout` (``START_*``, ``EVALUATION_ERROR``).
    """
    t0 = _now(io)
    x = x_of(it)
    g = g_of(it)
    copy_into(x, x0)
    f0 = call_f(ev, x)
    # x_out is written only when the run returns (x0 after a failed start): an output
    # touched early would count in the run's peak memory, and x_out may be x0 itself (x0 is
    # read only above)
    if not math.isfinite(f0):
        copy_into(x_out, x0)
        return START_F_NOT_FINITE, 0, f0, 0
    gradient_into(ev, x, g)
    if ev.ints[ERR] != 0:
        copy_into(x_out, x0)
        return EVALUATION_ERROR, 0, f0, 0
    if not all_finite(g):
        copy_into(x_out, x0)
        return START_G_NOT_FINITE, 0, f0, 0
    start(it, f0)
    best_f = f0
    # a fixed step does not ensure that f decreases: the best point seen is then kept, as for
    # a method that is not monotone
    keeps_best = not monotone or io[IO_LS_KIND] == LS_FIXED
    if keeps_best:
        copy_into(it.best_x, x)
        copy_into(it.best_g, g)
    gnorm = norm_inf(g)
    status = init(ev, it, mem, fo, io)
    if status != CONTINUE:
        copy_into(x_out, x0)
        return status, 0, f0, 0

    gtol = fo[FO_GTOL]
    ftol = fo[FO_FTOL]
    xtol = fo[FO_XTOL]
    time_limit = fo[FO_TIME_LIMIT]
    min_delta = fo[FO_MIN_DELTA]
    f_max = fo[FO_F_MAX]
    maxiter = io[IO_MAXITER]
    maxfev = io[IO_MAXFEV]
    patience = io[IO_PATIENCE]
    capacity = min(io[IO_HISTORY], hist.shape[0])

    nit = 0
    rows = 0
    if capacity > 0:
        _history_row(hist, 0, 0, f0, gnorm, 0.0, ev, _now(io) - t0)
        rows = 1
    status = GTOL if gtol_test(gnorm, gtol) else CONTINUE
    measure = xtol > 0.0 and not reports_step
    f_record = f0
    stale = 0

    interrupt = io[IO_INTERRUPT]
    while status == CONTINUE:
        if interrupt_requested(interrupt):
            status = INTERRUPTED  # Ctrl-C (see nsolve.compiled._interrupt)
            break
        nfev = ev_counts(ev)[0]
        status = limit_status(nit, maxiter, nfev, maxfev, _now(io) - t0, time_limit)
        if status != CONTINUE:
            break
        f_prev = it.sc[F]
        if measure:
            copy_into(it.x_before, x_of(it))
        st, alpha, step_inf, x_inf = step(ev, it, mem, fo, io)
        if ev.ints[ERR] != 0:
            # a Python objective raised, or a Numba one returned a wrong shape: stop now
            status = EVALUATION_ERROR
            break
        if st != CONTINUE:
            status = st
            break
        nit += 1
        f = it.sc[F]
        g = g_of(it)
        gnorm = norm_inf(g)
        if not (math.isfinite(f) and math.isfinite(gnorm)):
            status = NOT_FINITE
            break
        if measure:
            step_inf, x_inf = step_stats(x_of(it), it.x_before)
        if keeps_best and f < best_f:
            best_f = f
            copy_into(it.best_x, x_of(it))
            copy_into(it.best_g, g)
        status = convergence_status(gnorm, f_prev, f, step_inf, x_inf, gtol, ftol, xtol)
        if status == CONTINUE:
            f_record, stale = progress_update(f, f_record, stale, min_delta)
            if f > f_max:
                status = DIVERGED
            elif patience > 0 and stale >= patience:
                status = NO_PROGRESS
        if rows < capacity:
            _history_row(hist, rows, nit, f, gnorm, alpha, ev, _now(io) - t0)
            rows += 1

    if not keeps_best or converged(status) or (status != NOT_FINITE and it.sc[F] <= best_f):
        copy_into(x_out, x_of(it))
        copy_into(g_out, g_of(it))
        return status, nit, it.sc[F], rows
    copy_into(x_out, it.best_x)
    copy_into(g_out, it.best_g)
    return status, nit, best_f, rows


@inner
def _report(info, ev, status, nit, rows):
    nfev, njev, nhev = ev_counts(ev)
    info[INFO_NIT] = nit
    info[INFO_NFEV] = nfev
    info[INFO_NJEV] = njev
    info[INFO_NHEV] = nhev
    info[INFO_ERR] = ev.ints[ERR]
    info[INFO_ERR_SHAPE0] = ev.ints[ERR_SHAPE0]
    info[INFO_ERR_SHAPE1] = ev.ints[ERR_SHAPE1]
    info[INFO_NHIST] = rows
    info[INFO_STATUS] = status


@inner(inline=True)
def run_views(n, addresses, with_args, args, wf, wi):
    """The evaluator and the iterate of a run, laid out at the start of its workspace (``wf``,
    ``wi``, unmanaged): the iterate's :func:`~nsolve.compiled._state.iterate_sizes` entries,
    then the evaluator's last point and value (floats) and its counters (ints), as
    :func:`run_sizes` counts them.  Returns ``(ev, it)``."""
    nf, ni = iterate_sizes(n)
    ev = new_evaluator(addresses, with_args, args, wi[ni : ni + INT_SLOTS], wf[nf : nf + n], wf[nf + n : nf + n + 1])
    return ev, new_iterate(n, (wf[:nf], wi[:ni]))


@inner(inline=True)
def solve_one(init, step, monotone, reports_step, mem, addresses, with_args, args, x0, fo, io, x_out, g_out, hist,
              info, wf, wi):
    """One problem: the evaluator and the iterate in ``wf``, ``wi`` (:func:`run_views`),
    :func:`drive`, fill ``info``; returns fun."""
    n = x0.shape[0]
    x0 = unmanaged(x0)
    fo = unmanaged(fo)
    io = unmanaged(io)
    x_out = unmanaged(x_out)
    g_out = unmanaged(g_out)
    hist = unmanaged(hist)
    info = unmanaged(info)
    ev, it = run_views(n, addresses, with_args, unmanaged(args), wf, wi)
    status, nit, fun, rows = drive(init, step, monotone, reports_step, ev, it, mem, x0, fo, io, x_out, g_out, hist)
    _report(info, ev, status, nit, rows)
    return fun


@inner(inline=True)
def solve_block(init, step, monotone, reports_step, mem, addresses, with_args, ARGS, X0, fo, io, X, G, F_out, INFO,
                wf, wi, lo, hi):
    """Problems ``lo .. hi-1`` of a batch, one after the other, in one workspace (``wf``,
    ``wi``: the caller's unmanaged views, laid out by :func:`run_views`)."""
    n = X0.shape[1]
    ARGS = unmanaged(ARGS)
    X0 = unmanaged(X0)
    fo = unmanaged(fo)
    io = unmanaged(io)
    X = unmanaged(X)
    G = unmanaged(G)
    F_out = unmanaged(F_out)
    INFO = unmanaged(INFO)
    ev0, it = run_views(n, addresses, with_args, unmanaged(ARGS[0]), wf, wi)
    hist = wf[:0].reshape((0, 8))  # no history in a batch
    shared = ARGS.shape[0] == 1
    for k in range(lo, hi):
        ev = with_problem_args(ev0, unmanaged(ARGS[0] if shared else ARGS[k]))
        status, nit, fun, rows = drive(init, step, monotone, reports_step, ev, it, mem, X0[k], fo, io, X[k], G[k],
                                       hist)
        F_out[k] = fun
        _report(INFO[k], ev, status, nit, rows)


# ------------------------------------------------------------------ entry points
@inner
def run_sizes(n, iterate_floats, iterate_ints):
    """Floats and ints of a single run's own storage: the iterate (its
    :func:`~nsolve.compiled._state.iterate_sizes`), then the evaluator's last point and value
    (floats) and its counters (ints).  The method's state (``<method>_sizes``) follows them
    in the run's workspace (:func:`workspace`)."""
    return iterate_floats + n + 1, iterate_ints + INT_SLOTS


@inner(inline=True)
def solve_method(memory, init, step, finalize, monotone, reports_step, addresses, with_args, args, x0, fo, io, x_out,
                 g_out, hist, info, extra, wf, wi):
    """One problem with a method's hooks in the caller's workspace (``wf`` float64 and ``wi``
    int64, from :func:`workspace`): :func:`solve_one`, ``finalize``.

    The caller allocates the workspace so that it is freed when the user's function raises:
    Numba does not release what compiled code allocated when an exception unwinds it.
    """
    n = x0.shape[0]
    # everything the run holds is unmanaged from here on: a reference taken on a caller's
    # array inside the loop would never be released if the user's function raised
    io = unmanaged(io)
    extra = unmanaged(extra)
    wf = unmanaged(wf)
    wi = unmanaged(wi)
    rf, ri = run_sizes(n, *iterate_sizes(n))
    mem = memory(n, io, wf[rf:], wi[ri:], extra)
    watched = watch_begin(io[IO_INTERRUPT])  # Ctrl-C stops the loop (nsolve.compiled._interrupt)
    fun = solve_one(init, step, monotone, reports_step, mem, addresses, with_args, args, x0, fo, io, x_out, g_out,
                    hist, info, wf, wi)
    if watched:
        watch_end(io[IO_INTERRUPT])
    finalize(mem, extra)
    return fun


@inner(inline=True)
def many_method(memory, init, step, monotone, reports_step, addresses, with_args, ARGS, X0, fo, io, X, G, F_out, INFO,
                extra, n_blocks, WF, WI, next_block):
    """Problems in ``n_blocks`` blocks handed out to the threads as they come free: one task
    per thread of the parallel region (``prange`` over the rows of ``WF``), which takes the
    next block from the shared counter ``next_block[0]`` (:func:`fetch_add`) until none is
    left.  A thread that meets slower problems, or that the machine runs more slowly, takes
    fewer blocks, whatever schedule the threading layer gives ``prange`` (GNU OpenMP's is
    static).  Its blocks run in its own workspace, row ``get_thread_id()`` of ``WF``, ``WI``
    (from :func:`workspaces`)."""
    K, n = X0.shape
    size = (K + n_blocks - 1) // n_blocks
    rf, ri = run_sizes(n, *iterate_sizes(n))
    WF = unmanaged(WF)
    WI = unmanaged(WI)
    extra = unmanaged(extra)
    next_block = unmanaged(next_block)
    watched = watch_begin(io[IO_INTERRUPT])
    for _ in prange(WF.shape[0]):
        t = get_thread_id()
        wf = WF[t]
        wi = WI[t]
        mem = memory(n, io, wf[rf:], wi[ri:], extra)
        b = fetch_add(next_block, 0, 1)
        while b < n_blocks:
            solve_block(init, step, monotone, reports_step, mem, addresses, with_args, ARGS, X0, fo, io, X, G, F_out,
                        INFO, wf, wi, b * size, min(K, (b + 1) * size))
            b = fetch_add(next_block, 0, 1)
    if watched:
        watch_end(io[IO_INTERRUPT])


@inner
def no_finalize(mem, extra):
    pass


@inner
def bfgs_finalize(mem, extra):
    """``hess_inv``: the symmetric inverse-Hessian approximation (when ``extra`` is (n, n))."""
    H = mem[0]
    n = H.shape[0]
    if extra.shape[0] == n and extra.shape[1] == n:
        for i in range(n):
            for j in range(i, n):
                extra[i, j] = H[i, j]
                extra[j, i] = H[i, j]


# Every entry point has the same signature.  ``extra``: BFGS writes its inverse-Hessian
# approximation there (n, n); the first-order methods read their learning-rate schedule from
# its first row; otherwise (0, 0).  Methods whose memory does not need ``extra`` ignore it.
@inner
def lbfgs_memory_x(n, io, wf, wi, extra):
    return lbfgs_memory(n, io, wf, wi)


@inner
def bfgs_memory_x(n, io, wf, wi, extra):
    return bfgs_memory(n, io, wf, wi)


@inner
def newton_memory_x(n, io, wf, wi, extra):
    return newton_memory(n, io, wf, wi)


@inner
def first_order_memory_x(n, io, wf, wi, extra):
    return first_order_memory(n, io, wf, wi, extra[0])


@inner
def gd_memory_x(n, io, wf, wi, extra):
    return gd_memory(n, io, wf, wi, extra[0])


@solver
def solve_lbfgs(addresses, with_args, args, x0, fo, io, x_out, g_out, hist, info, extra, wf, wi):
    return solve_method(lbfgs_memory_x, lbfgs_init, lbfgs_step, no_finalize, True, True, addresses,
                        with_args, args, x0, fo, io, x_out, g_out, hist, info, extra, wf, wi)


@solver
def solve_bfgs(addresses, with_args, args, x0, fo, io, x_out, g_out, hist, info, extra, wf, wi):
    return solve_method(bfgs_memory_x, bfgs_init, bfgs_step, bfgs_finalize, True, True, addresses,
                        with_args, args, x0, fo, io, x_out, g_out, hist, info, extra, wf, wi)


@solver
def solve_newton(addresses, with_args, args, x0, fo, io, x_out, g_out, hist, info, extra, wf, wi):
    return solve_method(newton_memory_x, newton_init, newton_step, no_finalize, True, True, addresses,
                        with_args, args, x0, fo, io, x_out, g_out, hist, info, extra, wf, wi)


@solver
def solve_gd(addresses, with_args, args, x0, fo, io, x_out, g_out, hist, info, extra, wf, wi):
    return solve_method(gd_memory_x, gd_init, gd_step, no_finalize, False, True, addresses, with_args,
                        args, x0, fo, io, x_out, g_out, hist, info, extra, wf, wi)


@solver
def solve_first_order(addresses, with_args, args, x0, fo, io, x_out, g_out, hist, info, extra, wf, wi):
    return solve_method(first_order_memory_x, first_order_init, first_order_step, no_finalize,
                        False, False, addresses, with_args, args, x0, fo, io, x_out, g_out, hist, info, extra, wf, wi)


@solver(parallel=True)
def many_lbfgs(addresses, with_args, ARGS, X0, fo, io, X, G, F_out, INFO, extra, n_blocks, WF, WI, next_block):
    many_method(lbfgs_memory_x, lbfgs_init, lbfgs_step, True, True, addresses, with_args, ARGS, X0, fo,
                io, X, G, F_out, INFO, extra, n_blocks, WF, WI, next_block)


@solver(parallel=True)
def many_bfgs(addresses, with_args, ARGS, X0, fo, io, X, G, F_out, INFO, extra, n_blocks, WF, WI, next_block):
    many_method(bfgs_memory_x, bfgs_init, bfgs_step, True, True, addresses, with_args, ARGS, X0, fo, io,
                X, G, F_out, INFO, extra, n_blocks, WF, WI, next_block)


@solver(parallel=True)
def many_newton(addresses, with_args, ARGS, X0, fo, io, X, G, F_out, INFO, extra, n_blocks, WF, WI, next_block):
    many_method(newton_memory_x, newton_init, newton_step, True, True, addresses, with_args, ARGS, X0,
                fo, io, X, G, F_out, INFO, extra, n_blocks, WF, WI, next_block)


@solver(parallel=True)
def many_gd(addresses, with_args, ARGS, X0, fo, io, X, G, F_out, INFO, extra, n_blocks, WF, WI, next_block):
    many_method(gd_memory_x, gd_init, gd_step, False, True, addresses, with_args, ARGS, X0, fo, io, X, G,
                F_out, INFO, extra, n_blocks, WF, WI, next_block)


@solver(parallel=True)
def many_first_order(addresses, with_args, ARGS, X0, fo, io, X, G, F_out, INFO, extra, n_blocks, WF, WI, next_block):
    many_method(first_order_memory_x, first_order_init, first_order_step, False, False, addresses,
                with_args, ARGS, X0, fo, io, X, G, F_out, INFO, extra, n_blocks, WF, WI, next_block)


#: driver name -> the method's workspace sizes, ``sizes(n, io) -> (floats, ints)``.
METHOD_SIZES = {"lbfgs": lbfgs_sizes, "bfgs": bfgs_sizes, "newton": newton_sizes, "gd": gd_sizes,
                "first_order": first_order_sizes}
_WORKSPACE_SIZES: dict = {}


def _workspace_sizes(driver: str, n: int, io: np.ndarray) -> tuple[int, int]:
    """Floats and ints of one run's workspace: :func:`run_sizes` then the method's own
    (``METHOD_SIZES``), from the compiled size functions run interpreted (``py_func``:
    plain arithmetic, one source), memoized on the packed options ``io`` (never written)."""
    key = (driver, n, id(io))
    hit = _WORKSPACE_SIZES.get(key)
    if hit is None or hit[0] is not io:
        rf, ri = run_sizes.py_func(n, *iterate_sizes.py_func(n))
        mf, mi = METHOD_SIZES[driver].py_func(n, io)
        if len(_WORKSPACE_SIZES) > 256:
            _WORKSPACE_SIZES.clear()
        hit = _WORKSPACE_SIZES[key] = (io, int(rf + mf), int(ri + mi))
    return hit[1], hit[2]


def workspace(driver: str, n: int, io: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``(wf, wi)`` workspace of a ``solve_<driver>`` call (float64, int64; ints zeroed).

    Allocated here, in Python, so that it is freed when the user's function raises inside
    the solver (compiled code leaves what it allocated behind when an exception unwinds
    it: about 50 MB per failed L-BFGS run at n = 10^6).
    """
    nf, ni = _workspace_sizes(driver, n, io)
    return np.empty(nf), np.zeros(ni, dtype=np.int64)


#: Entries (float64 or int64, 8 bytes each) of the gap between two threads' workspace rows.
ROW_GAP = 16
_LINE = 64  # bytes in a cache line


def _thread_rows(size: int, threads: int, dtype) -> np.ndarray:
    """``threads`` rows of ``size`` entries that share no cache line: each row starts on a
    64-byte boundary and is followed by :data:`ROW_GAP` unused entries (128 bytes, so that
    the prefetcher's pairs of lines are not shared either).  The int rows are zeroed."""
    stride = -(-size // (_LINE // 8)) * (_LINE // 8) + ROW_GAP
    buf = (np.zeros if dtype == np.int64 else np.empty)(threads * stride + _LINE // 8, dtype=dtype)
    first = (-buf.ctypes.data % _LINE) // 8
    return buf[first : first + threads * stride].reshape((threads, stride))


def workspaces(driver: str, n: int, io: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(WF, WI)`` workspaces of a ``many_<driver>`` call: one :func:`workspace` per
    thread of its parallel region, as the rows of two arrays (allocated in Python for the
    same reason).

    The rows are padded apart (:func:`_thread_rows`): a thread writes its iterate and
    counters (the start of its row) and its method's state (the end) at every iteration,
    and rows packed end to end put one thread's end in the same cache line as the next
    thread's start, which the two cores then pass back and forth.  Measured on 10^5 2-D
    Rosenbrock problems on two threads, packed against padded rows alternating in one
    process: BFGS 1.34x, L-BFGS 1.43x the time."""
    nf, ni = _workspace_sizes(driver, n, io)
    return _thread_rows(nf, threads, np.float64), _thread_rows(ni, threads, np.int64)


#: driver name -> (single-problem entry point, batch entry point).
ENTRY_POINTS = {
    "lbfgs": (solve_lbfgs, many_lbfgs),
    "bfgs": (solve_bfgs, many_bfgs),
    "newton": (solve_newton, many_newton),
    "gd": (solve_gd, many_gd),
    "first_order": (solve_first_order, many_first_order),
}
