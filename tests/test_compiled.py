"""The compiled path of minimize(): same iterates as the interpreted path, no recompiles, clear errors.

The oracle for every compiled run is the interpreted run of the same functions (their
``py_func``): the compiled solver must reproduce its iterates to the last bit, with the
same counts, status and history.  Answers are also checked against known minima.
"""

from __future__ import annotations

import gc
import os
from unittest import mock

import numba
import numpy as np
import pytest
from numba_objectives import rosen, rosen_grad, rosen_hess  # noqa: F401  (shared test objectives)
from same_run import as_python, assert_same_run

import nsolve
from nsolve import Status
from nsolve.compiled import _bridge, _dispatch
from nsolve.compiled._cache import _SaltedCache, source_salt
from nsolve.compiled._functions import function_addresses

# ---------------------------------------------------------------- objectives (loop-written, cached)




@numba.njit(cache=True)
def quad(x, a):
    """sum_i a_i (x_i - i)^2: minimum 0 at x_i = i."""
    s = 0.0
    for i in range(x.shape[0]):
        s += a[i] * (x[i] - i) ** 2
    return s


@numba.njit(cache=True)
def quad_grad(x, a):
    g = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        g[i] = 2.0 * a[i] * (x[i] - i)
    return g


@numba.njit(cache=True)
def quad_hess(x, a):
    H = np.zeros((x.shape[0], x.shape[0]))
    for i in range(x.shape[0]):
        H[i, i] = 2.0 * a[i]
    return H


X0 = np.array([-1.2, 1.0, -1.2, 1.0])
A = np.array([1.0, 10.0, 100.0])

QUASI_NEWTON = ["bfgs", "lbfgs", "newton"]
FIRST_ORDER = [
    ("gd", {"lr": 1e-3}),
    ("gd", {"lr": 1.0, "line_search": "backtracking"}),
    ("gd", {"lr": 1.0, "line_search": "strong-wolfe"}),
    ("sgd", {"lr": 1e-3, "weight_decay": 1e-3, "schedule": "cosine"}),
    ("momentum", {"lr": 1e-4, "nesterov": True, "momentum": 0.8}),
    ("nesterov", {"lr": 1e-4}),
    ("sgdw", {"lr": 1e-4, "dampening": 0.1}),
    ("adagrad", {"lr": 0.1, "initial_accumulator_value": 0.1, "lr_decay": 0.01}),
    ("rmsprop", {"lr": 1e-3, "centered": True, "momentum": 0.5}),
    ("adadelta", {"lr": 1.0}),
    ("adam", {"lr": 1e-2, "schedule": "step"}),
    ("amsgrad", {"lr": 1e-2, "decoupled_weight_decay": True, "weight_decay": 1e-3}),
    ("adamw", {"lr": 1e-2}),
    ("adamax", {"lr": 1e-2}),
    ("nadam", {"lr": 1e-2}),
    ("radam", {"lr": 1e-2, "decoupled_weight_decay": True, "weight_decay": 1e-3}),
]




def _interpreted(f, grad, x0, hess=None, **kw):
    """The same run through the interpreted driver (Python functions kept off the compiled solvers)."""
    with mock.patch.object(_bridge, "ENABLED", False):
        return nsolve.minimize(as_python(f), as_python(grad), x0, hess=as_python(hess), **kw)


def _compiled(f, grad, x0, **kw):
    """A run that must take the compiled path: the interpreted Objective is never built."""
    with mock.patch("nsolve._api.Objective", side_effect=AssertionError("took the interpreted path")):
        return nsolve.minimize(f, grad, x0, **kw)




# ---------------------------------------------------------------- same iterates as the interpreted path


@pytest.mark.parametrize("method", QUASI_NEWTON)
def test_quasi_newton_matches_interpreted_and_finds_minimum(method):
    hess = rosen_hess if method == "newton" else None
    res = _compiled(rosen, rosen_grad, X0, method=method, hess=hess)
    ref = _interpreted(rosen, rosen_grad, X0, method=method, hess=hess)
    assert_same_run(res, ref)
    assert res.status == Status.GTOL
    np.testing.assert_allclose(res.x, np.ones(4), atol=1e-5)


def test_lbfgs_gram_form_runs_match_interpreted_and_scipy():
    """At n = 24 000 (m = 10) the L-BFGS kernel takes its Gram form: the compiled path, the
    bridge and the interpreted driver agree bit for bit, and the run reaches the minimum in
    about as many evaluations as scipy's L-BFGS-B."""
    import scipy.optimize as so

    from nsolve import problems
    from nsolve._kernels.quasi_newton import lbfgs_gram_form

    p = problems.get("extended_rosenbrock", 24_000)
    assert lbfgs_gram_form(p.n, 10) == 1
    pj = p.jit()
    res = _compiled(pj.f, pj.grad, p.x0, method="lbfgs")
    ref = _interpreted(pj.f, pj.grad, p.x0, method="lbfgs")
    assert_same_run(res, ref)
    nsolve.precompile(["lbfgs"])
    assert_same_run(nsolve.minimize(as_python(pj.f), as_python(pj.grad), p.x0, method="lbfgs"), ref)  # the bridge
    assert _bridge.ran_compiled("lbfgs")
    assert res.status == Status.GTOL
    assert res.fun <= 1e-8
    sp = so.minimize(p.f, p.x0, jac=p.grad, method="L-BFGS-B", options={"ftol": 0.0, "gtol": 1e-5, "maxcor": 10})
    assert sp.fun <= 1e-8
    assert res.nfev <= 1.1 * sp.nfev


@pytest.mark.parametrize(("method", "opts"), FIRST_ORDER, ids=[f"{m}-{i}" for i, (m, _) in enumerate(FIRST_ORDER)])
def test_first_order_matches_interpreted(method, opts):
    kw = {"method": method, "maxiter": 200, **opts}
    res = _compiled(rosen, rosen_grad, X0[:2], **kw)
    ref = _interpreted(rosen, rosen_grad, X0[:2], **kw)
    assert_same_run(res, ref)


@pytest.mark.parametrize(
    "opts",
    [
        {"m": 3, "initial_step": "interpolate"},
        {"line_search": "backtracking", "c1": 1e-3, "shrink": 0.3},
        {"line_search": "strong-wolfe", "c2": 0.5, "max_ls": 5},
        {"maxiter": 7},
        {"maxfev": 10},
        {"ftol": 1e-3},
        {"xtol": 1e-2},
        {"gtol": 0.0, "patience": 2, "min_delta": 1e-3},
        {"f_max": 1.0},
    ],
)
def test_options_and_stopping_rules_match_interpreted(opts):
    res = _compiled(rosen, rosen_grad, X0, method="lbfgs", **opts)
    ref = _interpreted(rosen, rosen_grad, X0, method="lbfgs", **opts)
    assert_same_run(res, ref)


@pytest.mark.parametrize(
    ("name", "n", "opts"),
    [("wood", 4, {"m": 10}), ("wood", 4, {"m": 5}), ("penalty1", 4, {"m": 2}),
     ("penalty1", 10, {"m": 5, "initial_step": "interpolate"})],
)
def test_lbfgs_runs_with_rejected_pairs_match_interpreted(name, n, opts):
    """Backtracking does not ensure s'y > 0, so these runs meet the curvature guard's rejection
    branch of the two-loop kernel (counted on the interpreted run); compiled and interpreted
    runs must still agree to the last bit.  (They parted after the first rejected pair while
    that branch fused a copy with a dot product, vectorised differently in the solver.)"""
    from nsolve import problems
    from nsolve.methods import lbfgs as lbfgs_module

    pj = problems.get(name, n).jit()
    kw = {"method": "lbfgs", "line_search": "backtracking", **opts}
    rejected = []
    kernel_of = lbfgs_module.lbfgs_kernel

    def counting_kernel(state):
        update = kernel_of(state)

        def run(*a):
            out = update(*a)
            rejected.append(not out[0])
            return out
        return run

    with mock.patch.object(lbfgs_module, "lbfgs_kernel", counting_kernel):
        ref = _interpreted(pj.f, pj.grad, pj.x0, **kw)
    assert any(rejected), "the run must exercise the rejection branch"
    res = _compiled(pj.f, pj.grad, pj.x0, **kw)
    assert_same_run(res, ref)


@pytest.mark.parametrize("method", QUASI_NEWTON)
def test_fixed_step_runs_keep_the_best_point_like_the_interpreted_path(method):
    """A fixed step can raise f: the compiled driver keeps the best point seen, as the
    interpreted one does, though the method is otherwise monotone."""
    hess = rosen_hess if method == "newton" else None
    kw = {"method": method, "hess": hess, "line_search": "fixed", "maxiter": 30}
    res = _compiled(rosen, rosen_grad, X0[:2], history=True, **kw)
    ref = _interpreted(rosen, rosen_grad, X0[:2], **kw)
    assert_same_run(res, ref)
    assert res.fun == min(res.history["f"])


@numba.njit(cache=True)
def rosen_noisy_grad(x):
    """The 2-D Rosenbrock gradient plus a deterministic wobble of 3e-5: near the minimum it
    disagrees with f, as a finite-difference gradient does at its noise floor."""
    t = x[1] - x[0] ** 2
    e = 3e-5 * np.sin(1e7 * x[0] + 3e7 * x[1])
    return np.array([-400.0 * t * x[0] - 2.0 * (1.0 - x[0]) + e, 200.0 * t - e])


def test_two_budget_exhausted_searches_in_a_row_fail_like_the_interpreted_path():
    """A second search in a row that runs out of evaluations counts as a failure (reset, then
    LINE_SEARCH_FAILED): the compiled solver follows the interpreted rule to the last bit."""
    from nsolve._status import LS_MAXEVAL
    from nsolve.methods import _quasi_newton as qn

    kw = {"method": "lbfgs", "gtol": 1e-7}
    seen = []
    outcome_of = qn.search_outcome

    def counting(ls_status, fresh, spent):
        seen.append(ls_status == LS_MAXEVAL and spent)
        return outcome_of(ls_status, fresh, spent)

    with mock.patch.object(qn, "search_outcome", counting):
        ref = _interpreted(rosen, rosen_noisy_grad, X0[:2], **kw)
    assert any(seen), "the run must meet two budget-exhausted searches in a row"
    assert ref.status == Status.LINE_SEARCH_FAILED
    res = _compiled(rosen, rosen_noisy_grad, X0[:2], **kw)
    assert_same_run(res, ref)


def test_memoized_configurations_never_mix_runs_with_different_options():
    """The option memos (by value in ``_configure``, by identity in ``packed_options``) and the
    shared no-history buffer: runs alternating between option sets each give their own result,
    equal to the interpreted run of the same options, after the memos are emptied or not."""
    from nsolve import _api

    sets = [{}, {"maxiter": 3}, {"gtol": 1e-2}, {"m": 2}, {}, {"maxiter": 3}, {"m": 2, "gtol": 1e-2}]
    refs = [_interpreted(rosen, rosen_grad, X0, method="lbfgs", **o) for o in sets]
    assert len({(r.nit, r.nfev) for r in refs}) >= 4  # the option sets give different runs
    for clear in (False, True, False):
        if clear:
            _api._CONFIGURED.clear()
            _dispatch._PACKED.clear()
            _dispatch._PACKED_BY_ID.clear()
        for opts, ref in zip(sets, refs, strict=True):
            res = _compiled(rosen, rosen_grad, X0, method="lbfgs", **opts)
            assert_same_run(res, ref)
            assert "history" not in res
    hist = _compiled(rosen, rosen_grad, X0, method="lbfgs", history=True)
    assert hist.history["nit"].shape == (hist.nit + 1,)


@pytest.mark.parametrize("opts", [{"initial_step": "interpolate", "scale_h0": False}, {"curvature_eps": 0.1},
                                  {"scale_h0": "bb2"}, {"scale_h0": "bb1"}])
def test_bfgs_options_and_hess_inv_match_interpreted(opts):
    res = _compiled(rosen, rosen_grad, X0, method="bfgs", **opts)
    ref = _interpreted(rosen, rosen_grad, X0, method="bfgs", **opts)
    assert_same_run(res, ref)
    np.testing.assert_array_equal(res.hess_inv, ref.hess_inv)


def test_bfgs_reproduces_scipys_iteration_and_hess_inv():
    """With scale_h0=False and the interpolated first step, BFGS is scipy's BFGS iteration."""
    from scipy.optimize import minimize as sp_minimize

    x0 = np.array([3.0, -2.0, 5.0])
    res = _compiled(quad, quad_grad, x0, method="bfgs", args=(A,), scale_h0=False, initial_step="interpolate")
    ref = sp_minimize(quad.py_func, x0, jac=quad_grad.py_func, args=(A,), method="BFGS")
    assert (res.nit, res.nfev) == (ref.nit, ref.nfev)
    np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.hess_inv, ref.hess_inv, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("method", ["bfgs", "lbfgs", "newton", "gd", "adam"])
def test_args_vector_reaches_the_objective(method):
    kw = {"method": method, "args": (A,)}
    if method == "newton":
        kw["hess"] = quad_hess
    if method in ("gd", "adam"):
        kw.update(lr=1e-3 if method == "gd" else 0.1, maxiter=3000)
    res = _compiled(quad, quad_grad, np.zeros(3), **kw)
    ref = _interpreted(quad, quad_grad, np.zeros(3), **kw)
    assert_same_run(res, ref)
    np.testing.assert_allclose(res.x, [0.0, 1.0, 2.0], atol=1e-3)


def test_history_matches_interpreted_except_time():
    res = _compiled(rosen, rosen_grad, X0, method="lbfgs", history=True)
    ref = _interpreted(rosen, rosen_grad, X0, method="lbfgs", history=True)
    assert set(res.history) == set(ref.history)
    for key in ("nit", "f", "gnorm", "alpha", "nfev", "njev", "nhev"):
        np.testing.assert_array_equal(res.history[key], ref.history[key])
        assert res.history[key].dtype == ref.history[key].dtype
    t = res.history["time"]
    assert t.shape == ref.history["time"].shape and np.all(np.diff(t) >= 0.0) and t[0] >= 0.0


def test_time_limit_is_checked_compiled():
    res = _compiled(rosen, rosen_grad, X0, method="lbfgs", time_limit=1e-12)
    assert res.status == Status.TIME_LIMIT and res.nit == 0


# ---------------------------------------------------------------- failures: best point, same status


@numba.njit(cache=True)
def cliff(x):
    """A descent direction into a region where f is NaN (x_0 > 1)."""
    if x[0] > 1.0:
        return np.nan
    return -x[0] + 0.5 * x[1] ** 2


@numba.njit(cache=True)
def cliff_grad(x):
    return np.array([-1.0, x[1]])


@pytest.mark.parametrize(("method", "opts"), [("lbfgs", {}), ("gd", {"lr": 0.6}), ("adam", {"lr": 0.5})])
def test_non_finite_values_stop_like_the_interpreted_path(method, opts):
    res = _compiled(cliff, cliff_grad, np.array([0.0, 1.0]), method=method, maxiter=50, **opts)
    ref = _interpreted(cliff, cliff_grad, np.array([0.0, 1.0]), method=method, maxiter=50, **opts)
    assert_same_run(res, ref)
    assert np.isfinite(res.fun) and res.x[0] <= 1.0


# ---------------------------------------------------------------- which path runs


def test_python_callback_history_and_disp_fall_back_to_the_interpreted_path(capsys):
    seen = []
    res = nsolve.minimize(rosen, rosen_grad, X0, method="lbfgs", callback=lambda xk: seen.append(xk.copy()))
    ref = _compiled(rosen, rosen_grad, X0, method="lbfgs")
    assert_same_run(res, ref)
    assert len(seen) == res.nit
    nsolve.minimize(rosen, rosen_grad, X0, method="lbfgs", disp=True)
    assert "iter" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"grad": None}, "grad is not a Numba function"),
        ({"method": "newton-cg"}, "no compiled driver"),
        ({"method": "newton", "hess": lambda x: np.eye(2)}, "hess is not a Numba function"),
        ({"args": (1.0, 2.0)}, "args must be"),
        ({"args": (np.ones(3, dtype=np.float32),)}, "float64"),
        ({"args": (np.arange(3),)}, "float64"),
    ],
)
def test_compiled_reason_names_what_needs_the_interpreted_path(kw, reason):
    from nsolve._driver import StopRules

    call = {"method": "lbfgs", "f": rosen, "grad": rosen_grad, "hess": None, "hessp": None, "callback": None,
            "disp": False, "args": (), "rules": StopRules(), "history": False, **kw}
    assert reason in _dispatch.compiled_reason(**call)


def test_args_of_another_dtype_reach_the_objective_as_given():
    """float32 args run interpreted, so a Numba objective computes with the float32 numbers it
    was given, whatever the path (converted to float64 they gave another answer)."""
    a32 = np.array([1.0, 10.0, 100.0], dtype=np.float32) * np.float32(0.1)
    res = nsolve.minimize(quad, quad_grad, X0[:3], args=(a32,), method="bfgs")
    ref = nsolve.minimize(quad, quad_grad, X0[:3], args=(a32,), method="bfgs", callback=lambda x: None)
    assert_same_run(res, ref)
    assert res.success


@pytest.mark.parametrize("with_args", [False, True])
def test_newton_without_hess_runs_compiled_with_the_interpreted_difference_hessian(with_args):
    """No hess: forward differences of the gradient in compiled code, the interpreted rule and counts."""
    if with_args:
        res = _compiled(quad, quad_grad, X0[:3], method="newton", args=(A,))
        ref = _interpreted(quad, quad_grad, X0[:3], method="newton", args=(A,))
    else:
        res = _compiled(rosen, rosen_grad, X0, method="newton")
        ref = _interpreted(rosen, rosen_grad, X0, method="newton")
    assert_same_run(res, ref)
    assert res.success and res.nhev == 0 and res.njev > res.nit  # the differences' gradients are counted


@numba.njit(cache=True)
def rosen_fused(x):
    return rosen(x), rosen_grad(x)


def test_fused_and_finite_difference_gradients_of_numba_functions_give_the_same_answer():
    ref = _compiled(rosen, rosen_grad, X0, method="bfgs")
    fused = nsolve.minimize(rosen_fused, True, X0, method="bfgs")
    assert_same_run(fused, ref)
    fd = nsolve.minimize(rosen, None, X0, method="bfgs")
    assert fd.success
    np.testing.assert_allclose(fd.x, np.ones(4), atol=1e-4)


# ---------------------------------------------------------------- compile once, share across objectives


def test_a_new_objective_does_not_recompile_the_solver():
    from nsolve.compiled._driver import solve_lbfgs

    _compiled(rosen, rosen_grad, X0, method="lbfgs")
    signatures = list(solve_lbfgs.signatures)
    misses = sum(solve_lbfgs.stats.cache_misses.values())

    @numba.njit
    def f_new(x):
        return np.sum((x - 3.0) ** 2)

    @numba.njit
    def g_new(x):
        return 2.0 * (x - 3.0)

    res = _compiled(f_new, g_new, np.zeros(5), method="lbfgs")
    np.testing.assert_allclose(res.x, 3.0)
    assert solve_lbfgs.signatures == signatures and len(signatures) == 1
    assert sum(solve_lbfgs.stats.cache_misses.values()) == misses


def test_solver_cache_key_is_salted_with_the_sources():
    from nsolve.compiled._driver import solve_lbfgs

    assert isinstance(solve_lbfgs._cache, _SaltedCache)
    assert len(source_salt()) == 64
    sig = solve_lbfgs.signatures[0] if solve_lbfgs.signatures else None
    if sig is not None:
        key = solve_lbfgs._cache._index_key(sig, solve_lbfgs.targetctx.codegen())
        assert key[-1] == source_salt()


# Helpers inlined at the Numba IR level, as the solvers' are: each call copies its arguments.
@numba.njit(inline="always")
def _pick(state, k):
    if k % 2 == 0:
        return state[0]
    return state[1]


@numba.njit
def _dot_loop(a, b):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@numba.njit(inline="always")
def _inlined_step(state, k, total):
    a = _pick(state, k)
    b = _pick(state, k + 1)
    if not np.isfinite(total):
        return total
    return total + _dot_loop(a, b) * k


def _loop_through_inlined(x, y):
    state = (x, y)
    total = 0.0
    k = 0
    while k < 50:
        total = _inlined_step(state, k, total)
        k += 1
    return total


def _refcount_sites(dispatcher) -> int:
    ir = "\n".join(dispatcher.inspect_llvm().values())
    return ir.count("@NRT_incref(") + ir.count("@NRT_decref(")


def test_serial_solvers_propagate_copies():
    """The serial entry points compile with copy propagation (``_SolverPipeline``): the same
    result, bit for bit, with fewer reference-count operations than Numba's default pipeline
    emits for IR-inlined helpers (the parallel entry points get this from Numba's parallel
    pipeline)."""
    from nsolve.compiled import _driver
    from nsolve.compiled._cache import _SolverPipeline

    for name in ("solve_lbfgs", "solve_bfgs", "solve_newton", "solve_gd", "solve_first_order"):
        assert getattr(_driver, name)._compiler.pipeline_class is _SolverPipeline, name
    for name in ("many_lbfgs", "many_bfgs"):
        assert getattr(_driver, name)._compiler.pipeline_class is not _SolverPipeline, name

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(7), rng.standard_normal(7)
    plain = numba.njit(_loop_through_inlined)
    simplified = numba.njit(pipeline_class=_SolverPipeline)(_loop_through_inlined)
    assert simplified(x, y) == plain(x, y) == _loop_through_inlined(x, y)
    assert _refcount_sites(simplified) < _refcount_sites(plain)


@numba.njit
def _half_square(x):
    return 0.5 * (x @ x)


@numba.njit
def _raises_below_half(x):
    if x[0] < 0.5:
        raise ValueError("boom")
    return x.copy()


def _resident_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the resident set from /proc")
@pytest.mark.parametrize("method", ["lbfgs", "bfgs"])
def test_a_raising_objective_leaves_no_workspace_behind(method):
    """Numba does not free what compiled code allocated, or release the references it took,
    when an exception unwinds it; so the single-run solvers take their workspace from Python
    (``_driver.workspace``) and hold only unreferenced views of the caller's arrays: runs
    whose gradient raises give everything back.  Before, every such L-BFGS run at n = 10^6
    kept about 50 MB (the workspace pages it had touched), and a BFGS run its ``hess_inv``
    array; here five of them may add at most 25 MB in all."""
    n = 10**6 if method == "lbfgs" else 1500  # (BFGS: the n x n matrix, 18 MB)
    x0 = np.full(n, 0.6)  # the first step crosses x[0] = 0.5, where the gradient raises

    def failing_run():
        with pytest.raises(ValueError, match="^boom$"):
            nsolve.minimize(_half_square, _raises_below_half, x0, method=method)

    failing_run()  # the solver and the objective compiled or loaded
    gc.collect()
    before = _resident_mb()
    for _ in range(5):
        failing_run()
    gc.collect()
    assert _resident_mb() - before < 25.0


# ---------------------------------------------------------------- bad input


@numba.njit
def two_params(x, a):
    return x[0] * a[0]


@numba.njit
def returns_array(x):
    return x * 2.0


@numba.njit
def grad_wrong_length(x):
    return np.zeros(x.shape[0] + 1)


@numba.njit
def grad_2d(x):
    return np.zeros((2, 2))


@numba.njit
def nan_at_start(x):
    return np.nan


@numba.njit
def grad_inf(x):
    return np.full(x.shape[0], np.inf)


@numba.njit
def hess_nan(x):
    return np.full((x.shape[0], x.shape[0]), np.nan)


@numba.njit
def hess_wrong_shape(x):
    return np.zeros((x.shape[0], 1))


def test_wrong_signature_is_a_clear_type_error_naming_the_function():
    with pytest.raises(TypeError, match=r"f \(the Numba function 'two_params'\) must have the signature f\(x\)"):
        nsolve.minimize(two_params, rosen_grad, X0)
    with pytest.raises(TypeError, match=r"f \(the Numba function 'returns_array'\).*-> float"):
        nsolve.minimize(returns_array, rosen_grad, X0)
    with pytest.raises(TypeError, match=r"grad \(the Numba function 'grad_2d'\).*\(n,\) float64 array"):
        nsolve.minimize(rosen, grad_2d, X0)
    with pytest.raises(TypeError, match=r"f \(the Numba function 'rosen'\) must have the signature f\(x, a\)"):
        nsolve.minimize(rosen, rosen_grad, X0, args=(A,))


@numba.njit
def indexes_its_args(x, a):
    return ((x - a[0]) ** 2).sum()


@numba.njit
def unknown_attribute(x):
    return x.no_such_attribute


@numba.njit
def hessp_without_p(x):
    return x


def _numba_message_free(text: str) -> bool:
    return "\x1b[" not in text and "Failed in" not in text


def test_numba_functions_that_do_not_compile_on_the_interpreted_path_are_named_type_errors():
    # args the function cannot take (an int where it indexes an array): the interpreted path
    # (args is not one float64 vector), where the first call compiles the function
    with pytest.raises(TypeError, match=r"f \(the Numba function 'indexes_its_args'\) does not compile for the "
                                        r"arguments it is called with, f\(x, \*args\) with types "
                                        r"\(array\(float64, 1d, C\), int64\)") as info:
        nsolve.minimize(indexes_its_args, indexes_its_args, X0, args=(3,))
    assert _numba_message_free(str(info.value)) and "getitem" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # a body that does not type, on methods and options that keep the run interpreted
    for kw in ({"method": "newton-cg"}, {"callback": lambda xk: None}):
        with pytest.raises(TypeError, match=r"f \(the Numba function 'unknown_attribute'\) does not compile") as info:
            nsolve.minimize(unknown_attribute, rosen_grad, X0, **kw)
        assert "no_such_attribute" in str(info.value) and _numba_message_free(str(info.value))
    with pytest.raises(TypeError, match=r"f \(the Numba function 'unknown_attribute'\) does not compile"):
        nsolve.minimize(unknown_attribute, None, X0)  # finite differences
    with pytest.raises(TypeError, match=r"grad \(the Numba function 'unknown_attribute'\) does not compile"):
        nsolve.minimize(rosen, unknown_attribute, X0, method="newton-cg")
    with pytest.raises(TypeError, match=r"hess \(the Numba function 'unknown_attribute'\) does not compile"):
        nsolve.minimize(rosen, rosen_grad, X0, method="newton-cg", hess=unknown_attribute)
    # a number of parameters the call does not match
    with pytest.raises(TypeError, match=r"hessp \(the Numba function 'hessp_without_p'\) cannot be called as "
                                        r"hessp\(x, p\) with 2 argument\(s\)"):
        nsolve.minimize(rosen, rosen_grad, X0, method="newton-cg", hessp=hessp_without_p)
    with pytest.raises(TypeError, match=r"f \(the Numba function 'rosen'\) cannot be called as f\(x, idx\)"):
        nsolve.minimize(rosen, rosen_grad, X0, method="adam", n_samples=10, batch_size=5, maxiter=3)


def test_errors_that_are_not_a_numba_functions_own_compilation_pass_through_unchanged():
    # a Python f calling a Numba function that does not type: the user's own exception
    def python_f(x):
        return unknown_attribute(x)

    with pytest.raises(numba.core.errors.TypingError):
        nsolve.minimize(python_f, None, X0, method="newton-cg")

    # a Numba function raising while it runs (compiled fine)
    @numba.njit
    def raises_later(x):
        if x[0] > 0.0:
            raise ValueError("from the user's function")
        return (x ** 2).sum()

    with pytest.raises(ValueError, match="from the user's function"):
        nsolve.minimize(raises_later, None, np.ones(3), method="newton-cg")


def test_wrong_shapes_and_non_finite_starts_raise_the_interpreted_errors():
    cases = [
        ({"f": rosen, "grad": grad_wrong_length}, ValueError,
         r"grad must return an array of shape \(4,\); got shape \(5,\)"),
        ({"f": nan_at_start, "grad": rosen_grad}, ValueError, "f must be finite at x0"),
        ({"f": rosen, "grad": grad_inf}, ValueError, "grad must be finite at x0"),
        ({"f": rosen, "grad": rosen_grad, "method": "newton", "hess": hess_nan}, ValueError,
         "hess must be finite at x0"),
        ({"f": rosen, "grad": rosen_grad, "method": "newton", "hess": hess_wrong_shape}, ValueError,
         r"hess must return an array of shape \(4, 4\)"),
    ]
    for kw, exc, msg in cases:
        f, g = kw.pop("f"), kw.pop("grad")
        with pytest.raises(exc, match=msg):
            nsolve.minimize(f, g, X0, **kw)
        with pytest.raises(exc, match=msg.split(";")[0]):
            py_kw = {k: (as_python(v) if k == "hess" else v) for k, v in kw.items()}
            nsolve.minimize(as_python(f), as_python(g), X0, **py_kw)


@numba.njit("f8(f8[:])")
def f_explicit_any_layout(x):
    return (x[0] - 1.0) ** 2 + (x[1] + 2.0) ** 2


@numba.njit("f8[:](f8[:])")
def g_explicit_any_layout(x):
    return np.array([2.0 * (x[0] - 1.0), 2.0 * (x[1] + 2.0)])


@numba.njit("f8(f8[::1])")
def f_explicit_c(x):
    return (x[0] - 1.0) ** 2 + (x[1] + 2.0) ** 2


@numba.njit("f8[:](f8[::1])")
def g_explicit_c(x):
    return np.array([2.0 * (x[0] - 1.0), 2.0 * (x[1] + 2.0)])


def test_explicit_signatures_run_compiled_when_they_match_else_interpreted():
    res = _compiled(f_explicit_c, g_explicit_c, np.zeros(2), method="bfgs")
    np.testing.assert_allclose(res.x, [1.0, -2.0], atol=1e-6)
    res2 = nsolve.minimize(f_explicit_any_layout, g_explicit_any_layout, np.zeros(2), method="bfgs")
    assert_same_run(res2, res)
    from nsolve._driver import StopRules

    reason = _dispatch.compiled_reason("bfgs", f_explicit_any_layout, g_explicit_any_layout, None, None, None, False,
                                       (), StopRules(), False)
    assert "explicit signatures" in reason


def test_function_addresses_are_memoized_per_signature():
    a1 = function_addresses(rosen, "f", False)
    assert function_addresses(rosen, "f", False) == a1
    assert all(isinstance(v, int) and v > 0 for v in a1)


@pytest.mark.parametrize("method", ["bfgs", "lbfgs"])
@pytest.mark.parametrize("search", ["strong-wolfe", "backtracking"])
def test_steps_below_rounding_match_the_interpreted_path(method, search):
    # 1e-30 x^2 from x = 1: the first trial steps leave x unchanged (strong Wolfe grows them
    # without evaluating; backtracking gives up); both paths share the searches' code
    a = np.array([1e-30])
    kw = {"method": method, "args": (a,), "gtol": 1e-40, "line_search": search}
    ref = _interpreted(quad, quad_grad, np.array([1.0]), **kw)
    res = _compiled(quad, quad_grad, np.array([1.0]), **kw)
    assert (res.nit, res.nfev, res.status) == (ref.nit, ref.nfev, ref.status)
    assert res.x[0] == ref.x[0]
    if search == "strong-wolfe":
        assert res.success and abs(res.x[0]) < 1e-6


# ---------------------------------------------------------------- from a differential fuzzing review
def test_history_with_a_huge_maxiter_records_like_the_interpreted_driver():
    """The compiled solvers allocate their history rows up front (one per iteration up to
    maxiter): a maxiter too large for that runs interpreted, where rows are appended."""
    x0 = np.array([-1.2, 1.0])
    for maxiter in (1000, 10**9):
        res = nsolve.minimize(rosen, rosen_grad, x0, method="bfgs", maxiter=maxiter, history=True)
        ref = _interpreted(rosen, rosen_grad, x0, method="bfgs", maxiter=maxiter, history=True)
        assert_same_run(res, ref)
        assert len(res.history["f"]) == res.nit + 1
    rules = nsolve._api.StopRules(maxiter=10**9)
    reason = _dispatch.compiled_reason("bfgs", rosen, rosen_grad, None, None, None, False, (), rules, True)
    assert "history with maxiter above" in reason
    assert _dispatch.compiled_reason("bfgs", rosen, rosen_grad, None, None, None, False, (), rules, False) is None


@numba.njit("f8(i8[::1])")
def f_int_only(x):
    return float(x[0] ** 2)


def test_explicit_signatures_that_cannot_take_x_name_the_function():
    for call in (lambda: nsolve.minimize(f_int_only, rosen_grad, [3.0, 1.0]),
                 lambda: nsolve.minimize_many(f_int_only, rosen_grad, [[3.0, 1.0]])):
        with pytest.raises(TypeError, match=r"f \(the Numba function 'f_int_only'\) .*explicit signatures.*"
                                            r"array\(int64, 1d, C\).*f\(x\) -> float"):
            call()


@numba.njit(cache=True)
def _bowl_up(x):
    return -(x @ x)


@numba.njit(cache=True)
def _bowl_up_grad(x):
    return -2.0 * x


@pytest.mark.parametrize("method", ["bfgs", "lbfgs"])
def test_an_f_unbounded_below_says_so_in_the_message_compiled(method):
    """The compiled path builds the same message as the interpreted one for f = -x'x, and so
    does multistart."""
    x0 = np.array([1.0, 2.0])
    res = _compiled(_bowl_up, _bowl_up_grad, x0, method=method)
    ref = _interpreted(_bowl_up, _bowl_up_grad, x0, method=method)
    assert_same_run(res, ref)
    assert res.status == ref.status == Status.LINE_SEARCH_FAILED and res.fun < -1e20
    assert res.message == ref.message and "check that f is bounded below" in res.message
    best = nsolve.multistart(_bowl_up, _bowl_up_grad, np.array([[1.0, 2.0], [0.5, -1.0]]), method=method)
    assert best.status == Status.LINE_SEARCH_FAILED and "check that f is bounded below" in best.message
