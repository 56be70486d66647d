"""minimize_many and multistart: per-problem results equal single solves, parallel == serial, clear errors.

Oracles: single-problem ``nsolve.minimize`` runs of the same functions (the batch must
reproduce each of them exactly), closed-form least-squares fits (numpy lstsq) and the
closed-form minima of a tilted double well.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numba_objectives import rosen, rosen_grad, rosen_hess  # noqa: F401  (shared test objectives)

import nsolve
from nsolve import Status
from nsolve.compiled._memory import data_pointer, fetch_add

# ---------------------------------------------------------------- objectives




# A linear least-squares fit per data row: a = (t_1..t_m, y_1..y_m), model y = c0 + c1 t + c2 t^2.
M = 12
T = np.linspace(-1.0, 1.0, M)


@numba.njit(cache=True)
def fit_f(c, a):
    m = a.shape[0] // 2
    s = 0.0
    for i in range(m):
        t = a[i]
        r = c[0] + c[1] * t + c[2] * t * t - a[m + i]
        s += 0.5 * r * r
    return s


@numba.njit(cache=True)
def fit_g(c, a):
    m = a.shape[0] // 2
    g = np.zeros(3)
    for i in range(m):
        t = a[i]
        r = c[0] + c[1] * t + c[2] * t * t - a[m + i]
        g[0] += r
        g[1] += r * t
        g[2] += r * t * t
    return g


@numba.njit(cache=True)
def well(x):
    """(x^2 - 1)^2 + 0.3 x: local minimum near +0.96, global near -1.04."""
    return (x[0] ** 2 - 1.0) ** 2 + 0.3 * x[0]


@numba.njit(cache=True)
def well_grad(x):
    return np.array([4.0 * x[0] * (x[0] ** 2 - 1.0) + 0.3])


@numba.njit(cache=True)
def log_barrier(x, a):
    """-log(a_0 - x_0) + x_0^2: not finite for x_0 >= a_0."""
    if x[0] >= a[0]:
        return np.inf
    return -np.log(a[0] - x[0]) + x[0] ** 2


@numba.njit(cache=True)
def log_barrier_grad(x, a):
    return np.array([1.0 / (a[0] - x[0]) + 2.0 * x[0]])


def _starts(K, n=2, seed=0):
    return np.random.default_rng(seed).uniform(-2.0, 2.0, size=(K, n))


def _fit_data(K, seed=1):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(K, 3))
    Y = C[:, [0]] + C[:, [1]] * T + C[:, [2]] * T**2 + 0.01 * rng.normal(size=(K, M))
    return np.hstack([np.broadcast_to(T, (K, M)), Y])


# ---------------------------------------------------------------- each problem = its single solve


@pytest.mark.parametrize(("method", "kw"), [("lbfgs", {}), ("bfgs", {}), ("newton", {"hess": rosen_hess}),
                                             ("newton", {}),
                                             ("gd", {"lr": 1e-3, "maxiter": 300}),
                                             ("adam", {"lr": 0.05, "maxiter": 300})])
def test_each_problem_equals_its_single_solve(method, kw):
    X0 = _starts(7)
    res = nsolve.minimize_many(rosen, rosen_grad, X0, method=method, **kw)
    for k in range(X0.shape[0]):
        ref = nsolve.minimize(rosen, rosen_grad, X0[k], method=method, **kw)
        np.testing.assert_array_equal(res.x[k], ref.x)
        np.testing.assert_array_equal(res.jac[k], ref.jac)
        assert res.fun[k] == ref.fun
        assert (res.nit[k], res.nfev[k], res.njev[k], res.nhev[k], res.status[k]) == (
            ref.nit, ref.nfev, ref.njev, ref.nhev, ref.status)
        assert res.success[k] == ref.success
    assert res.n_success == int(res.success.sum())
    assert res.x.shape == X0.shape and res.status.dtype == np.int64


def test_per_problem_args_fit_each_row_like_least_squares():
    K = 40
    data = _fit_data(K)
    res = nsolve.minimize_many(fit_f, fit_g, np.zeros((K, 3)), args=data, method="bfgs", gtol=1e-8)
    V = np.vander(T, 3, increasing=True)
    expected = np.linalg.lstsq(V, data[:, M:].T, rcond=None)[0].T
    assert np.all(res.status == Status.GTOL)
    np.testing.assert_allclose(res.x, expected, atol=1e-7)


def test_args_forms_agree_shared_vector_list_and_2d():
    data = _fit_data(5)
    X0 = np.zeros((5, 3))
    full = nsolve.minimize_many(fit_f, fit_g, X0, args=data)
    as_list = nsolve.minimize_many(fit_f, fit_g, X0, args=list(data))
    np.testing.assert_array_equal(full.x, as_list.x)
    shared = nsolve.minimize_many(fit_f, fit_g, X0, args=data[2])
    np.testing.assert_array_equal(shared.x, np.broadcast_to(full.x[2], (5, 3)))


def test_one_and_two_threads_give_identical_results():
    X0 = _starts(200, n=3, seed=4)
    one = nsolve.minimize_many(rosen, rosen_grad, X0, threads=1)
    two = nsolve.minimize_many(rosen, rosen_grad, X0, threads=min(2, numba.config.NUMBA_NUM_THREADS))
    for key in ("x", "fun", "jac", "nit", "nfev", "njev", "status"):
        np.testing.assert_array_equal(one[key], two[key])
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS  # restored


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thread_workspaces_share_no_cache_line(threads, monkeypatch):
    # each thread writes the start and the end of its row at every iteration: rows must start
    # on a 64-byte line and leave at least 128 bytes between one row's last used entry and
    # the next row's first, and each must hold a whole workspace (ints zeroed)
    from nsolve.compiled import _driver

    for nf, ni in ((1, 1), (7, 8), (8, 9), (33, 17), (1000, 3)):
        monkeypatch.setattr(_driver, "_workspace_sizes", lambda driver, n, io, s=(nf, ni): s)
        WF, WI = _driver.workspaces("lbfgs", 2, None, threads)
        assert WF.dtype == np.float64 and WI.dtype == np.int64 and not WI.any()
        for W, used in ((WF, nf), (WI, ni)):
            assert W.shape[0] == threads and W.shape[1] >= used and W.flags.c_contiguous
            for t in range(threads):
                assert W[t].ctypes.data % 64 == 0
                if t + 1 < threads:
                    assert W[t + 1].ctypes.data - (W[t].ctypes.data + 8 * used) >= 128


@numba.njit(parallel=True)
def _take_tickets(counter, n, taken):
    # the batch solvers' block queue (nsolve.compiled._driver.many_method): one task per
    # thread, each taking tickets from the shared counter until none is left
    for _ in numba.prange(numba.get_num_threads()):
        b = fetch_add(counter, 0, 1)
        while b < n:
            taken[b] += 1
            b = fetch_add(counter, 0, 1)


def test_the_block_queue_hands_out_every_block_exactly_once():
    # fetch_add is one atomic read-modify-write: from every thread at once, each of n tickets
    # is taken exactly once (a plain load-add-store would hand some out twice, or lose some),
    # and each thread's last call, the one that found the queue empty, still counts
    threads = numba.get_num_threads()
    for n in (0, 1, 7, 200_000):
        counter = np.zeros(1, dtype=np.int64)
        taken = np.zeros(n, dtype=np.int64)
        _take_tickets(counter, n, taken)
        np.testing.assert_array_equal(taken, np.ones(n, dtype=np.int64))
        assert counter[0] == n + threads
    start = np.array([5], dtype=np.int64)  # the value before the addition comes back
    assert _fetch_add_once(start, 3) == 5 and start[0] == 8


@numba.njit
def _fetch_add_once(counter, value):
    return fetch_add(counter, 0, value)


@numba.njit
def _through_pointer(a, i, value):
    p = data_pointer(a)
    old = p[i]
    p[i] = value
    return old


def test_data_pointer_reads_and_writes_the_array_it_points_into():
    # the evaluator's counters and the iterate's scalars are held this way in the solvers
    a = np.arange(5, dtype=np.int64)
    assert _through_pointer(a, 3, 40) == 3
    np.testing.assert_array_equal(a, [0, 1, 2, 40, 4])
    b = np.linspace(0.0, 1.0, 3)
    assert _through_pointer(b, 0, 7.5) == 0.0 and b[0] == 7.5
    with pytest.raises(numba.core.errors.TypingError):  # only C-contiguous arrays
        _through_pointer(np.zeros(6)[::2], 0, 1.0)


def test_a_batch_of_one_and_a_changed_thread_count_leave_numba_as_they_found_it():
    # one problem: one block, which one of the threads takes; the result is minimize's,
    # and a thread count the caller set stays set (whether or not the batch changes it)
    X0 = _starts(3, seed=6)
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        for threads in (None, 1, min(2, numba.config.NUMBA_NUM_THREADS)):
            for method in ("lbfgs", "bfgs"):
                res = nsolve.minimize_many(rosen, rosen_grad, X0[:1], method=method, threads=threads)
                ref = nsolve.minimize(rosen, rosen_grad, X0[0], method=method)
                np.testing.assert_array_equal(res.x[0], ref.x)
                assert (res.nit[0], res.nfev[0], res.status[0]) == (ref.nit, ref.nfev, ref.status)
                assert numba.get_num_threads() == 1
        # options are packed once per configuration and shared: a time limit in one batch
        # must not leak into the next
        limited = nsolve.minimize_many(rosen, rosen_grad, X0, time_limit=1e-9)
        assert (limited.status == int(nsolve.Status.TIME_LIMIT)).all()
        free = nsolve.minimize_many(rosen, rosen_grad, X0)
        assert free.success.all()
    finally:
        numba.set_num_threads(previous)


def test_each_problem_has_its_own_status():
    # problem 1 starts where f is not finite; problem 2 hits maxiter; the others converge
    A = np.array([[1.0], [0.5], [3.0]])
    X0 = np.array([[0.0], [0.7], [-50.0]])
    res = nsolve.minimize_many(log_barrier, log_barrier_grad, X0, args=A, method="gd", lr=1e-3, maxiter=50)
    assert res.status[1] == Status.NOT_FINITE
    np.testing.assert_array_equal(res.x[1], X0[1])
    assert res.status[2] == Status.MAXITER and res.nit[2] == 50
    # the batch's message counts the problems per stop reason, from the statuses themselves
    counts = {Status(c).name: int((res.status == c).sum()) for c in np.unique(res.status)}
    assert res.message == (f"{res.n_success} of 3 problems converged ("
                           + ", ".join(f"{name} {k}" for name, k in counts.items()) + ")")
    assert "NOT_FINITE 1" in res.message and "MAXITER" in res.message
    ok = nsolve.minimize_many(log_barrier, log_barrier_grad, X0[[0]], args=A[[0]])
    assert ok.status[0] == Status.GTOL
    assert ok.message == "1 of 1 problems converged (GTOL 1)"
    # f' = 1/(1 - x) + 2x = 0  <=>  2x^2 - 2x - 1 = 0: the root below 1 is x = (1 - sqrt 3) / 2
    np.testing.assert_allclose(ok.x[0, 0], (1.0 - np.sqrt(3.0)) / 2.0, atol=1e-6)


def test_the_batch_message_counts_statuses_and_never_fails():
    from nsolve.compiled._many import batch_message

    status = np.array([0] * 9990 + [1] * 8 + [3] * 2)
    assert batch_message(status) == "9,998 of 10,000 problems converged (GTOL 9,990, FTOL 8, MAXITER 2)"
    # a code outside nsolve.Status (a bug elsewhere) is shown, not raised: the results survive
    assert batch_message(np.array([0, -7, 8])) == "1 of 3 problems converged (-7 1, GTOL 1, NOT_FINITE 1)"


@numba.njit(cache=True)
def nan_regions(x):
    """(x0 - 1)^2 + x1^2, NaN for x0 > 5."""
    return np.nan if x[0] > 5.0 else (x[0] - 1.0) ** 2 + x[1] ** 2


@numba.njit(cache=True)
def nan_regions_grad(x):
    """The gradient, with a NaN entry for x0 < -5."""
    out = np.array([2.0 * (x[0] - 1.0), 2.0 * x[1]])
    if x[0] < -5.0:
        out[0] = np.nan
    return out


@numba.njit(cache=True)
def nan_regions_hess(x):
    """2 I, with a NaN entry for x1 > 5."""
    H = 2.0 * np.eye(2)
    if x[1] > 5.0:
        H[0, 0] = np.nan
    return H


@pytest.mark.parametrize("method", ["bfgs", "newton"])
def test_starts_failing_in_f_grad_or_hess_report_the_same_on_both_paths(method):
    """A start where f, the gradient or the Hessian is not finite: status NOT_FINITE, the start
    returned, fun NaN (nothing to rank) and the evaluations made so far, whether the batch ran
    compiled or problem by problem through minimize."""
    X0 = np.array([[0.0, 0.0], [6.0, 0.0], [-6.0, 0.0], [0.0, 6.0]])
    hess = nan_regions_hess if method == "newton" else None
    compiled = nsolve.minimize_many(nan_regions, nan_regions_grad, X0, method=method, hess=hess)
    python = nsolve.minimize_many(nan_regions.py_func, nan_regions_grad.py_func, X0, method=method,
                                  hess=hess.py_func if hess is not None else None)
    for key in ("x", "fun", "nit", "nfev", "njev", "nhev", "status"):
        np.testing.assert_array_equal(compiled[key], python[key], err_msg=key)
    failed = [1, 2, 3] if method == "newton" else [1, 2]
    assert (compiled.status[failed] == Status.NOT_FINITE).all()
    assert np.isnan(compiled.fun[failed]).all()
    np.testing.assert_array_equal(compiled.x[failed], X0[failed])
    np.testing.assert_array_equal(compiled.nfev[failed], 1)  # f was called once at each start
    np.testing.assert_array_equal(compiled.njev[[1, 2]], [0, 1])  # the gradient only where f was finite


def test_multistart_takes_a_list_as_the_one_shared_args_vector():
    def f(x, a):
        return (x[0] - a[0]) ** 2 + a[1]

    def g(x, a):
        return np.array([2.0 * (x[0] - a[0])])

    res = nsolve.multistart(f, g, np.zeros((3, 1)), args=[1.5, 2.0])
    np.testing.assert_allclose(res.x, [1.5], atol=1e-8)
    assert res.fun == pytest.approx(2.0) and res.n_starts == 3


def test_python_functions_run_one_after_the_other_with_the_same_answers():
    X0 = _starts(4)
    compiled = nsolve.minimize_many(rosen, rosen_grad, X0, method="bfgs")
    python = nsolve.minimize_many(lambda x: rosen(x), lambda x: rosen_grad(x), X0, method="bfgs")
    for key in ("x", "fun", "nit", "nfev", "status"):
        np.testing.assert_array_equal(compiled[key], python[key])


def test_method_without_compiled_driver_runs_sequentially():
    res = nsolve.minimize_many(rosen, rosen_grad, _starts(3), method="newton-cg")
    assert np.all(res.success)
    np.testing.assert_allclose(res.x, 1.0, atol=1e-4)


@numba.njit(cache=True)
def raises_far_out(x):
    if x[0] > 5.0:
        raise ValueError("x is too large")
    return (x[0] - 10.0) ** 2


@numba.njit(cache=True)
def raises_far_out_grad(x):
    return np.array([2.0 * (x[0] - 10.0)])


@numba.njit(cache=True)
def raises_far_out_hess(x):
    return np.array([[2.0]])


def test_an_exception_in_the_objective_reaches_the_caller():
    with pytest.raises(ValueError, match="x is too large"):
        nsolve.minimize_many(raises_far_out, raises_far_out_grad, np.zeros((8, 1)))
    with pytest.raises(ValueError, match="x is too large"):
        nsolve.minimize(raises_far_out, raises_far_out_grad, np.zeros(1))


@pytest.mark.parametrize("method", ["lbfgs", "bfgs", "newton", "adam"])
def test_a_raising_batch_leaves_no_compiled_allocation_behind(method):
    """Numba does not free what compiled code allocated when an exception unwinds it, so the
    batch solvers take their per-thread workspaces from Python.  Counted with Numba's own
    allocation statistics: every compiled allocation of three raising batches is freed.
    Before, with each block's workspace allocated inside the solver, this batch left 168
    allocations of 226 behind, and an L-BFGS batch of four problems at n = 10^6 about 240 MB."""
    from numba.core.runtime import _nrt_python, rtsys

    X0 = np.zeros((24, 1))  # every problem steps past x = 5, where f raises
    kw = {"newton": {"hess": raises_far_out_hess}, "adam": {"lr": 2.0}}.get(method, {})

    def raising_batch():
        with pytest.raises(ValueError, match="x is too large"):
            nsolve.minimize_many(raises_far_out, raises_far_out_grad, X0, method=method, **kw)

    raising_batch()  # compiled or loaded
    was_enabled = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    try:
        before = rtsys.get_allocation_stats()
        for _ in range(3):
            raising_batch()
        after = rtsys.get_allocation_stats()
    finally:
        if not was_enabled:
            _nrt_python.memsys_disable_stats()
    assert after.alloc - before.alloc > 0  # the user's gradients are counted: the check sees the solver
    assert after.alloc - before.alloc == after.free - before.free
    assert after.mi_alloc - before.mi_alloc == after.mi_free - before.mi_free


# ---------------------------------------------------------------- multistart


def test_multistart_returns_the_global_minimum_of_a_tilted_double_well():
    roots = np.roots([4.0, 0.0, -4.0, 0.3]).real  # stationary points of the well
    x_global = roots.min()
    best = nsolve.multistart(well, well_grad, np.linspace(-2.0, 2.0, 21).reshape(-1, 1))
    np.testing.assert_allclose(best.x[0], x_global, atol=1e-6)
    assert best.fun == best.all_fun.min()
    assert best.best_index == int(np.argmin(best.all_fun))
    assert best.n_starts == 21 and best.n_success == 21 and best.success
    assert best.total_nfev == int(np.sum(nsolve.minimize_many(well, well_grad, np.linspace(-2.0, 2.0, 21)
                                                                 .reshape(-1, 1)).nfev))
    # from the right-hand starts alone only the local minimum is found
    right = nsolve.multistart(well, well_grad, np.array([[0.5], [1.5]]))
    np.testing.assert_allclose(right.x[0], roots.max(), atol=1e-6)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("X0", "exc", "msg"),
    [
        (np.zeros(3), ValueError, r"X0 must be 2-D, one starting point per row .* shape \(3,\)"),
        (np.zeros((2, 2, 2)), ValueError, "X0 must be 2-D"),
        (np.zeros((0, 2)), ValueError, "at least one row"),
        (np.array([[1.0, np.nan]]), ValueError, "row 0 contains inf or NaN"),
        (np.zeros((2, 2), dtype=complex), TypeError, "X0 must be real"),
        ("abc", TypeError, "X0 must be a 2-D array of real numbers"),
        ([[1.0, 2.0], [1.0]], TypeError, "X0 must be a 2-D array of real numbers"),  # ragged rows
    ],
)
def test_bad_starts(X0, exc, msg):
    with pytest.raises(exc, match=msg):
        nsolve.minimize_many(rosen, rosen_grad, X0)


def test_bad_args():
    X0 = np.zeros((3, 3))
    with pytest.raises(ValueError, match="args has 2 rows but X0 has 3"):
        nsolve.minimize_many(fit_f, fit_g, X0, args=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"args\[1\] has 3 entries but args\[0\] has 4"):
        nsolve.minimize_many(fit_f, fit_g, X0, args=[np.zeros(4), np.zeros(3), np.zeros(4)])
    with pytest.raises(ValueError, match="args has 2 entries but X0 has 3 rows"):
        nsolve.minimize_many(fit_f, fit_g, X0, args=[np.zeros(4), np.zeros(4)])
    # minimize's args=(a,) habit: the message says how to share one vector
    with pytest.raises(ValueError, match=r"args has 1 entries but X0 has 3 rows.*args=a, not \(a,\)"):
        nsolve.minimize_many(fit_f, fit_g, X0, args=(np.zeros(4),))
    with pytest.raises(TypeError, match=r"args\[0\] must be a 1-D array"):
        nsolve.minimize_many(fit_f, fit_g, X0, args=[np.zeros((2, 2))] * 3)
    with pytest.raises(ValueError, match="args must be 1-D"):
        nsolve.minimize_many(fit_f, fit_g, X0, args=np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match="multistart: args must be one 1-D vector"):
        nsolve.multistart(fit_f, fit_g, X0, args=np.zeros((3, 4)))


def test_bad_threads_options_and_signatures():
    X0 = np.zeros((2, 2))
    with pytest.raises(ValueError, match="threads must be between 1 and"):
        nsolve.minimize_many(rosen, rosen_grad, X0, threads=0)
    with pytest.raises(TypeError, match="threads must be an int"):
        nsolve.minimize_many(rosen, rosen_grad, X0, threads=1.5)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['bogus'\]"):
        nsolve.minimize_many(rosen, rosen_grad, X0, bogus=1)
    with pytest.raises(ValueError, match="unknown method"):
        nsolve.minimize_many(rosen, rosen_grad, X0, method="nope")
    with pytest.raises(TypeError, match=r"f \(the Numba function 'rosen'\) must have the signature f\(x, a\)"):
        nsolve.minimize_many(rosen, rosen_grad, X0, args=np.zeros((2, 3)))
