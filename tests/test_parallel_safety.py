"""nsolve's parallel work in forked processes and from concurrent Python threads.

Two limits of Numba's threading layers reached users:

* a process forked after its parent ran a GNU OpenMP parallel region is killed (SIGTERM)
  when it starts one itself: a ``LogisticRegression`` fit or a ``minimize_many`` batch in
  the parent, then the same in ``multiprocessing.Pool`` workers (fork is the default start
  method on Linux), killed every worker and left the pool waiting forever;
* the workqueue layer aborts the process when two Python threads launch parallel work at
  once.

Oracles: the same computations in the parent process, or run one thread at a time.  The
scenarios run in fresh interpreters (the test process must not fork from, or abort in, a
process with the thread pool started).  The single-threaded fallback itself is checked in
process: a batch solved problem by problem equals the threaded batch exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numba
import numpy as np
import pytest
from numba_objectives import rosen, rosen_grad, rosen_hess

import nsolve
from nsolve import _parallel
from nsolve.models import logistic as lg
from nsolve.models import logistic_objective

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two Numba threads")

# Data large enough that the logistic passes run in two chunks on two threads (the
# chunking threshold is 2^20 multiply-adds per chunk).
SETUP = textwrap.dedent(f"""
    import sys
    sys.path[:0] = [{str(ROOT)!r}, {str(TESTS)!r}]
    import numpy as np
    import nsolve
    from numba_objectives import rosen, rosen_grad

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 30))
    y = (X[:, 0] + 0.5 * rng.standard_normal(20000) > 0).astype(int)
    X0 = rng.uniform(-2.0, 2.0, (64, 2))

    def work(_=None):
        coef = nsolve.LogisticRegression().fit(X, y).coef_
        many = nsolve.minimize_many(rosen, rosen_grad, X0, method="lbfgs", threads=2)
        return coef, many.x, many.nfev
""")


def _run(code: str, env_extra: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-c", SETUP + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env)


@two_threads
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork-after-OpenMP is the Linux (GNU) case")
def test_fit_and_batch_in_the_parent_then_in_forked_pool_workers():
    proc = _run("""
        import multiprocessing as mp
        import numba
        from nsolve import _parallel

        ref = work()  # starts the thread pool in the parent
        layer = numba.threading_layer()
        with mp.get_context("fork").Pool(2) as pool:
            results = [r.get(timeout=240) for r in [pool.apply_async(work) for _ in range(3)]]
        for coef, x, nfev in results:
            assert np.allclose(coef, ref[0], rtol=1e-10, atol=1e-12), np.abs(coef - ref[0]).max()
            assert np.array_equal(x, ref[1]) and np.array_equal(nfev, ref[2])
        assert _parallel.parallel_allowed()  # the parent keeps its threads
        print("ok", layer)
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok"), proc.stdout


@two_threads
def test_concurrent_threads_on_the_workqueue_layer():
    proc = _run("""
        from concurrent.futures import ThreadPoolExecutor
        import numba

        ref = work()
        assert numba.threading_layer() == "workqueue"
        with ThreadPoolExecutor(4) as ex:
            results = list(ex.map(work, range(8)))
        for coef, x, nfev in results:
            assert np.array_equal(coef, ref[0]) and np.array_equal(x, ref[1]) and np.array_equal(nfev, ref[2])
        print("ok")
    """, env_extra={"NUMBA_THREADING_LAYER": "workqueue"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok"), proc.stdout


def test_an_exception_in_a_worker_thread_reaches_the_caller_on_the_workqueue_layer():
    """Numba's workqueue layer drops an exception raised in a worker thread and returns as
    if the block had finished: the batch came back with uninitialised x and status 0
    (success) for every problem the exception cut short.  Such problems are now run again on
    the calling thread, where the user's exception comes out unchanged."""
    proc = _run("""
        import numba

        @numba.njit
        def f(x, a):
            if a[0] > 0.0 and x[0] > 0.5:
                raise ValueError("past the wall")
            return (x[0] - 1.0) ** 2 + 10.0 * (x[1] - x[0]) ** 2

        @numba.njit
        def g(x, a):
            return np.array([2.0 * (x[0] - 1.0) - 20.0 * (x[1] - x[0]), 20.0 * (x[1] - x[0])])

        starts = np.zeros((32, 2))
        A = np.zeros((32, 1))
        both = min(2, numba.config.NUMBA_NUM_THREADS)
        clean = nsolve.minimize_many(f, g, starts, args=A, threads=both)
        assert numba.threading_layer() == "workqueue"
        assert clean.success.all() and np.allclose(clean.x, 1.0, atol=1e-4)
        A[13, 0] = 1.0  # problem 13 steps past x = 0.5, where f raises
        for threads in (1, both):
            try:
                nsolve.minimize_many(f, g, starts, args=A, threads=threads)
            except ValueError as exc:
                assert str(exc) == "past the wall", exc
            else:
                raise AssertionError("the exception was lost")
        print("ok")
    """, env_extra={"NUMBA_THREADING_LAYER": "workqueue"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok"), proc.stdout


# ---------------------------------------------------------------- the single-threaded fallback, in process


@pytest.fixture
def forked_from_openmp(monkeypatch):
    """This process as a child forked after GNU OpenMP started (what the fork hook records)."""
    monkeypatch.setattr(_parallel, "_FORKED_FROM_GNU_OPENMP", True)


@pytest.mark.parametrize(("method", "kw"), [("lbfgs", {}), ("bfgs", {}), ("newton", {"hess": rosen_hess}),
                                             ("adam", {"lr": 0.05, "maxiter": 200})])
def test_a_batch_solved_problem_by_problem_equals_the_threaded_batch(method, kw, monkeypatch):
    X0 = np.random.default_rng(3).uniform(-2.0, 2.0, (40, 3))
    threaded = nsolve.minimize_many(rosen, rosen_grad, X0, method=method, **kw)
    monkeypatch.setattr(_parallel, "_FORKED_FROM_GNU_OPENMP", True)
    assert not _parallel.parallel_allowed() and _parallel.max_threads() == 1
    one_by_one = nsolve.minimize_many(rosen, rosen_grad, X0, method=method, threads=numba.config.NUMBA_NUM_THREADS,
                                      **kw)
    for key in ("x", "jac", "fun", "nit", "nfev", "njev", "nhev", "status", "success"):
        np.testing.assert_array_equal(one_by_one[key], threaded[key], err_msg=key)


def test_a_batch_problem_by_problem_keeps_per_problem_args_and_start_errors(forked_from_openmp):
    @numba.njit(cache=False)
    def f(x, a):
        return np.inf if a[1] > 0.0 else (x[0] - a[0]) ** 2

    @numba.njit(cache=False)
    def g(x, a):
        return np.array([2.0 * (x[0] - a[0])])

    A = np.array([[1.0, 0.0], [-2.0, 1.0], [3.0, 0.0]])
    res = nsolve.minimize_many(f, g, np.zeros((3, 1)), args=A)
    np.testing.assert_allclose(res.x[[0, 2], 0], [1.0, 3.0], atol=1e-8)
    assert res.status[1] == nsolve.Status.NOT_FINITE and np.isnan(res.fun[1])


def test_logistic_passes_stay_in_one_chunk(forked_from_openmp):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20000, 30))
    y = (X[:, 0] > 0).astype(float)
    obj = logistic_objective(X, y)
    assert lg._n_chunks(20000 * 30 * 8, 20000) == 1
    w = 0.01 * rng.standard_normal(X.shape[1] + 1)
    f, g = obj.fg(w)
    z = X @ w[:-1] + w[-1]
    f_ref = np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * w[:-1] @ w[:-1]
    assert f == pytest.approx(f_ref, rel=1e-12)
    r = 1.0 / (1.0 + np.exp(-z)) - y
    np.testing.assert_allclose(g, np.r_[X.T @ r + w[:-1], r.sum()], rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- Numba's debugging switch


def _method_kw(p):
    return {"lbfgs": {}, "bfgs": {}, "newton": {"hess": p.hess}, "newton-cg": {"hess": p.hess},
            "adam": {"lr": 0.01, "maxiter": 300}}


def test_everything_runs_with_numba_jit_disabled():
    """NUMBA_DISABLE_JIT=1 (Numba's switch for debugging one's own jitted code) turns every
    kernel into plain Python: nsolve must still run, interpreted, with the same answers."""
    code = """
        import numba
        from nsolve import problems
        assert numba.config.DISABLE_JIT
        assert nsolve.precompile() == {}  # nothing to compile
        p = problems.get("rosenbrock")
        KW = {"lbfgs": {}, "bfgs": {}, "newton": {"hess": p.hess}, "newton-cg": {"hess": p.hess},
              "adam": {"lr": 0.01, "maxiter": 300}}
        out = {}
        for m in ("lbfgs", "bfgs", "newton", "newton-cg", "adam"):
            r = nsolve.minimize(p.f, p.grad, p.x0, method=m, **KW[m])
            out[m] = (r.status, r.nit, r.nfev, r.x.tolist())

        @numba.njit
        def f(x):
            return ((x - 1.0) ** 2).sum()

        @numba.njit
        def g(x):
            return 2.0 * (x - 1.0)

        many = nsolve.minimize_many(f, g, X0[:4, :])
        from sklearn.datasets import load_breast_cancer
        Xb, yb = load_breast_cancer(return_X_y=True)
        Xb = (Xb - Xb.mean(0)) / Xb.std(0)
        coef = nsolve.LogisticRegression().fit(Xb, yb).coef_
        print(repr((out, many.x.tolist(), many.status.tolist(), coef.tolist())))
    """
    proc = _run(code, env_extra={"NUMBA_DISABLE_JIT": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out, many_x, many_status, coef = eval(proc.stdout.strip().splitlines()[-1])  # noqa: S307 - our own repr
    from nsolve import problems

    p = problems.get("rosenbrock")
    for m, (status, nit, _, x) in out.items():
        ref = nsolve.minimize(p.f, p.grad, p.x0, method=m, **_method_kw(p)[m])
        assert status == ref.status, m
        # the compiled kernels sum some dot products in another order: rounding may differ
        assert abs(nit - ref.nit) <= 2, (m, nit, ref.nit)
        np.testing.assert_allclose(x, ref.x, rtol=1e-6, atol=1e-8, err_msg=m)
    np.testing.assert_allclose(many_x, 1.0, atol=1e-6)
    assert many_status == [0, 0, 0, 0]
    from sklearn.datasets import load_breast_cancer

    Xb, yb = load_breast_cancer(return_X_y=True)
    Xb = (Xb - Xb.mean(0)) / Xb.std(0)
    np.testing.assert_allclose(coef, nsolve.LogisticRegression().fit(Xb, yb).coef_, rtol=1e-7, atol=1e-9)
