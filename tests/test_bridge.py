"""Python objectives on the compiled solvers (nsolve.compiled._bridge).

The oracle is the interpreted driver on the same Python functions (the bridge switched off):
a bridged run must reproduce its iterates to the last bit, with the same counts, status,
history and errors.  Exceptions raised by the user's functions must come out unchanged,
with no evaluation after the one that raised.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
from unittest import mock

import numpy as np
import pytest
from same_run import as_python, assert_same_run

import nsolve
from nsolve import Status, problems
from nsolve._driver import StopRules
from nsolve.compiled import _bridge


@pytest.fixture(scope="module", autouse=True)
def _solvers_compiled():
    """The bridge runs only on compiled solvers: compile (or load) them once."""
    nsolve.precompile(many=False)




def _interpreted(f, grad, x0, **kw):
    with mock.patch.object(_bridge, "ENABLED", False), \
            mock.patch.object(_bridge, "minimize_bridged", side_effect=AssertionError("bridged")):
        return nsolve.minimize(f, grad, x0, **kw)


def _bridged(f, grad, x0, **kw):
    """A run that must go through the bridge (the interpreted driver is never entered)."""
    with mock.patch("nsolve._api.run", side_effect=AssertionError("took the interpreted driver")):
        return nsolve.minimize(f, grad, x0, **kw)




LIBRARY = [p for p in problems.library(max_n=20)]


@pytest.mark.parametrize("method", ["bfgs", "lbfgs", "newton"])
@pytest.mark.parametrize("p", LIBRARY, ids=[f"{p.name}-{p.n}" for p in LIBRARY])
def test_library_runs_match_the_interpreted_driver_bit_for_bit(p, method):
    kw = {"method": method, "maxiter": 300}
    if method == "newton":
        kw["hess"] = as_python(p.hess)
    res = _bridged(as_python(p.f), as_python(p.grad), p.x0, **kw)
    ref = _interpreted(as_python(p.f), as_python(p.grad), p.x0, **kw)
    assert_same_run(res, ref)


@pytest.mark.parametrize(
    ("method", "opts"),
    [("gd", {"lr": 1e-3}), ("gd", {"line_search": "backtracking", "lr": 1.0}), ("adam", {"lr": 1e-2}),
     ("rmsprop", {"lr": 1e-3, "centered": True}), ("nesterov", {"lr": 1e-4}),
     ("sgd", {"lr": 1e-3, "schedule": "cosine"})],
)
def test_first_order_runs_match_the_interpreted_driver(method, opts):
    p = problems.get("rosenbrock", 2)
    kw = {"method": method, "maxiter": 150, **opts}
    f, grad = as_python(p.f), as_python(p.grad)
    assert_same_run(_bridged(f, grad, p.x0, **kw), _interpreted(f, grad, p.x0, **kw))


@pytest.mark.parametrize("method", ["bfgs", "lbfgs", "newton", "adam"])
@pytest.mark.parametrize("kind", ["fused", "forward", "central"])
def test_fused_and_finite_difference_gradients_match(kind, method):
    p = problems.get("extended_rosenbrock", 4)
    f, grad, kw = as_python(p.f), as_python(p.grad), {"method": method, "maxiter": 60}
    if kind == "fused":
        f, grad = (lambda x: (p.f(x), p.grad(x))), True
    else:
        grad = None
        kw["fd_scheme"] = kind
    if method == "adam":
        kw["lr"] = 1e-2
    if method == "newton" and grad is None:
        # its Hessian differences a difference gradient with a step of its own: interpreted
        reason = _bridge.bridge_reason("newton", p.n, None, None, None, None, False, None,
                                       StopRules(), False)
        assert "finite-difference gradients runs interpreted" in reason
        return
    assert_same_run(_bridged(f, grad, p.x0, **kw), _interpreted(f, grad, p.x0, **kw))


def test_newton_with_finite_difference_hessian_matches_with_counts():
    p = problems.get("wood", 4)
    res = _bridged(as_python(p.f), as_python(p.grad), p.x0, method="newton")
    ref = _interpreted(as_python(p.f), as_python(p.grad), p.x0, method="newton")
    assert_same_run(res, ref)
    assert res.success and res.njev > res.nit  # the differences' gradients are counted


def test_args_history_and_stopping_rules_match():
    p = problems.get("rosenbrock", 2)
    scale = 3.0

    def f(x, s):
        return s * p.f(x)

    def g(x, s):
        return s * p.grad(x)

    for opts in ({"maxfev": 12}, {"maxiter": 5}, {"ftol": 1e-4}, {"xtol": 1e-3}, {"m": 3},
                 {"line_search": "backtracking"}):
        kw = {"method": "lbfgs", "args": (scale,), "history": True, **opts}
        res = _bridged(f, g, p.x0, **kw)
        ref = _interpreted(f, g, p.x0, **kw)
        assert_same_run(res, ref)
        for key in ("nit", "f", "gnorm", "alpha", "nfev", "njev", "nhev"):
            np.testing.assert_array_equal(res.history[key], ref.history[key], err_msg=key)


class Boom(Exception):
    pass


@pytest.mark.parametrize("where", ["f", "grad", "hess"])
@pytest.mark.parametrize("exc_type", [Boom, KeyboardInterrupt])
def test_an_exception_in_the_users_function_propagates_unchanged_and_stops_at_once(where, exc_type):
    p = problems.get("rosenbrock", 2)
    calls = {"f": 0, "grad": 0, "hess": 0}
    raised = exc_type("from the user")

    def counted(name, func, k):
        def wrapper(x):
            calls[name] += 1
            if calls[name] == k:
                raise raised
            return func(x)
        return wrapper

    f = counted("f", p.f, 6 if where == "f" else -1)
    grad = counted("grad", p.grad, 6 if where == "grad" else -1)
    hess = counted("hess", p.hess, 4 if where == "hess" else -1)
    with pytest.raises(exc_type) as info:
        _bridged(f, grad, p.x0, method="newton", hess=hess)
    assert info.value is raised
    after = dict(calls)
    assert after[where] == (4 if where == "hess" else 6)  # nothing was evaluated after the exception


def test_stop_iteration_from_f_propagates():
    # unlike a callback's StopIteration (which stops the run), f's is an error like any other
    def f(x):
        if x[0] > 0.5:
            raise StopIteration
        return float((x - 1.0) @ (x - 1.0))

    with pytest.raises(StopIteration):
        _bridged(f, lambda x: 2.0 * (x - 1.0), np.zeros(2), method="bfgs")


def test_bad_values_raise_the_interpreted_errors():
    p = problems.get("rosenbrock", 2)
    good_f, good_g = as_python(p.f), as_python(p.grad)
    cases = [
        (lambda x: np.ones(2), good_g, TypeError, "f must return a scalar"),
        (lambda x: math.nan, good_g, ValueError, "f must be finite at x0"),
        (good_f, lambda x: np.ones(3), ValueError,
         r"grad must return an array of shape \(2,\); got shape \(3,\) at x0"),
        (good_f, lambda x: np.array([np.inf, 0.0]), ValueError, "grad must be finite at x0"),
        (lambda x: "a", good_g, TypeError, "f must return a real scalar"),
    ]
    for f, g, exc, msg in cases:
        for run in (_bridged, _interpreted):
            with pytest.raises(exc, match=msg):
                run(f, g, p.x0, method="lbfgs")


def test_a_wrong_gradient_shape_after_the_start_raises_the_interpreted_error():
    p = problems.get("rosenbrock", 2)
    seen = {"k": 0}

    def grad(x):
        seen["k"] += 1
        return p.grad(x) if seen["k"] < 4 else np.ones(5)

    for run in (_bridged, _interpreted):
        seen["k"] = 0
        with pytest.raises(ValueError, match=r"grad must return an array of shape \(2,\); got shape \(5,\)$"):
            run(as_python(p.f), grad, p.x0, method="bfgs")


def test_the_user_gets_a_fresh_copy_of_x_each_call():
    kept = []

    def f(x):
        kept.append(x)
        val = float((x - 2.0) @ (x - 2.0))
        x[:] = 1e300  # vandalism: must not reach the solver
        return val

    res = _bridged(f, lambda x: 2.0 * (x - 2.0), np.zeros(3), method="lbfgs")
    np.testing.assert_allclose(res.x, 2.0, atol=1e-8)
    assert len({id(x) for x in kept}) == len(kept)


def test_nested_minimize_inside_the_objective():
    def inner_min(a):
        return nsolve.minimize(lambda y: float((y[0] - a) ** 2), lambda y: 2.0 * (y - a), np.zeros(1),
                               method="bfgs").x[0]

    def f(x):
        return float((x[0] - inner_min(1.5)) ** 2 + x[1] ** 2)

    def g(x):
        return np.array([2.0 * (x[0] - inner_min(1.5)), 2.0 * x[1]])

    res = _bridged(f, g, np.array([5.0, 5.0]), method="bfgs")
    np.testing.assert_allclose(res.x, [1.5, 0.0], atol=1e-6)


def test_concurrent_runs_in_threads_each_get_their_own_objective():
    out = {}

    def work(k):
        target = float(k)
        res = nsolve.minimize(lambda x: float((x - target) @ (x - target)), lambda x: 2.0 * (x - target),
                              np.zeros(3), method="lbfgs")
        out[k] = res.x

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(6):
        np.testing.assert_allclose(out[k], float(k), atol=1e-6)


def test_non_finite_trial_values_shrink_the_step_like_the_interpreted_path():
    def f(x):
        return math.inf if x[0] > 3.0 else float((x[0] - 2.0) ** 2 + x[1] ** 2)

    def g(x):
        return np.array([2.0 * (x[0] - 2.0), 2.0 * x[1]])

    x0 = np.array([-20.0, 1.0])
    for method in ("bfgs", "lbfgs", "newton"):
        kw = {"method": method}
        if method == "newton":
            kw["hess"] = lambda x: 2.0 * np.eye(2)
        res = _bridged(f, g, x0, **kw)
        assert_same_run(res, _interpreted(f, g, x0, **kw))
        assert res.status == Status.GTOL


def test_a_python_int_too_large_for_float64_counts_as_inf_as_on_the_interpreted_path():
    """f returns an int beyond float64's range after x0: the interpreted wrapper makes it inf
    (the trial is not finite, the search shrinks); the bridge's fast path must do the same."""
    def f(x):
        return float((x[0] - 1.0) ** 2) if x[0] == 5.0 else 10**400

    def g(x):
        return np.array([2.0 * (x[0] - 1.0)])

    for method in ("bfgs", "lbfgs", "gd", "adam"):
        res = _bridged(f, g, np.array([5.0]), method=method, maxiter=5)
        ref = _interpreted(f, g, np.array([5.0]), method=method, maxiter=5)
        assert_same_run(res, ref)
        assert res.x[0] == 5.0 and res.fun == 16.0


def test_runs_the_bridge_cannot_take_stay_interpreted():
    p = problems.get("rosenbrock", 2)
    rules = nsolve._api.StopRules()
    reason = _bridge.bridge_reason
    assert "callback" in reason("lbfgs", 2, p.grad, None, None, print, False, None, rules, False)
    assert "disp" in reason("lbfgs", 2, p.grad, None, None, None, True, None, rules, False)
    assert "newton-cg" in reason("newton-cg", 2, p.grad, None, None, None, False, None, rules, False)
    assert "n_samples" in reason("adam", 2, p.grad, None, None, None, False, 10, rules, False)
    assert "hessp" in reason("newton", 2, p.grad, None, p.hessp, None, False, None, rules, False)
    assert "n >" in reason("lbfgs", _bridge.MAX_N + 1, p.grad, None, None, None, False, None, rules, False)
    assert "Hessian" in reason("newton", _bridge.MAX_N_HESSIAN + 1, p.grad, None, None, None, False, None, rules,
                               False)
    assert reason("lbfgs", 2, p.grad, None, None, None, False, None, rules, False) is None
    seen = []
    res = nsolve.minimize(as_python(p.f), as_python(p.grad), p.x0, method="lbfgs", callback=lambda xk: seen.append(1))
    assert res.success and len(seen) == res.nit


def test_a_cold_solver_is_not_compiled_on_the_spot(monkeypatch):
    p = problems.get("rosenbrock", 2)
    monkeypatch.setattr(_bridge, "solver_ready", lambda name, call: False)
    res = nsolve.minimize(as_python(p.f), as_python(p.grad), p.x0, method="bfgs")
    ref = _interpreted(as_python(p.f), as_python(p.grad), p.x0, method="bfgs")
    assert_same_run(res, ref)


def test_precompile_reports_each_driver_and_rejects_unknown_methods():
    done = nsolve.precompile(["lbfgs", "adam", "rmsprop"], many=False)
    assert set(done) == {"lbfgs", "first_order"}
    # with the minimize_many solvers (the default): their machine code is in this process
    from nsolve.compiled._driver import many_lbfgs

    done = nsolve.precompile(["lbfgs"])
    assert set(done) == {"lbfgs", "lbfgs (many)"} and many_lbfgs.overloads
    with pytest.raises(ValueError, match="no compiled solver for method"):
        nsolve.precompile(["newton-cg"])


@pytest.mark.parametrize("jobs", [0, -1, 1.5, "2", True, None])
def test_precompile_rejects_a_bad_jobs_count(jobs):
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        nsolve.precompile(["lbfgs"], jobs=jobs)


def test_precompile_in_separate_processes_fills_the_cache_this_process_loads(tmp_path):
    """``jobs=2`` with an empty cache: two other processes compile the adaptive first-order
    solvers (``minimize`` and ``minimize_many``), and this process only loads them.

    Run in a fresh interpreter with its own empty ``NUMBA_CACHE_DIR``: the dispatchers'
    statistics there show cache hits and no cache misses, that is nothing compiled in that
    process (a miss is a compile), and each driver's time comes from its own process."""
    code = (
        "import json, nsolve\n"
        "from nsolve.compiled._driver import solve_first_order, many_first_order\n"
        "done = nsolve.precompile(['adam'], jobs=2)\n"
        "stats = {d.__name__: (sum(d.stats.cache_hits.values()), sum(d.stats.cache_misses.values()))\n"
        "         for d in (solve_first_order, many_first_order)}\n"
        "again = nsolve.precompile(['adam'], jobs=2)\n"
        "print(json.dumps({'done': done, 'stats': stats, 'again': again}))\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900,
                         check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(data["done"]) == {"first_order", "first_order (many)"}
    for name, (hits, misses) in data["stats"].items():
        assert hits >= 1 and misses == 0, (name, hits, misses)
    # everything cached now: the minimize solver is loaded here and gets no process
    assert set(data["again"]) == {"first_order", "first_order (many)"}
    assert any(p.name.startswith("_driver.many_first_order") for p in tmp_path.rglob("*.nbi"))


def test_a_fresh_process_solves_once_interpreted_then_loads_the_cached_solver():
    """The first run of a method in a process does not pay the cache load; the second uses it."""
    code = (
        "import numpy as np, nsolve\n"
        "from nsolve.compiled import _bridge\n"
        "f = lambda x: float((x - 1.0) @ (x - 1.0))\n"
        "g = lambda x: 2.0 * (x - 1.0)\n"
        "a = nsolve.minimize(f, g, np.zeros(3), method='lbfgs')\n"
        "first = _bridge.ran_compiled('lbfgs')\n"
        "b = nsolve.minimize(f, g, np.zeros(3), method='lbfgs')\n"
        "print(first, _bridge.ran_compiled('lbfgs'), np.array_equal(a.x, b.x), a.nfev == b.nfev)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["False", "True", "True", "True"], out.stdout + out.stderr
