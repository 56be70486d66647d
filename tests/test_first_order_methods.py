"""The first-order methods through ``nsolve.minimize``: parity with the published rules,
evaluation counts, stopping rules, schedules, options and their errors.

The trajectory of every method and variant is compared over 100 steps with the independent
NumPy references of ``reference_first_order.py`` (each driven by the same gradient
function at its own iterates) to 1e-12.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import reference_first_order as ref
from test_first_order_kernels import CASES, case_id, hyper, make_reference

import nsolve
from nsolve import Status
from nsolve._kernels import first_order as fo
from nsolve._registry import get_method
from nsolve.schedules import Cosine, StepDecay

FIRST_ORDER = ["gd", "sgd", "momentum", "nesterov", "sgdw", "adagrad", "rmsprop", "adadelta",
               "adam", "amsgrad", "adamw", "adamax", "nadam", "radam"]
STEPS = 100
TOL = 1e-12


# ------------------------------------------------------------------------------------------
# A smooth, non-quadratic test function: 0.5 x'Qx + 0.25 sum x^4 - b'x  (n = 20)
# ------------------------------------------------------------------------------------------

N = 20
_rng = np.random.default_rng(3)
_U, _ = np.linalg.qr(_rng.standard_normal((N, N)))
Q = _U @ np.diag(np.geomspace(0.1, 10.0, N)) @ _U.T
B = _rng.standard_normal(N)
X0 = 2.0 * _rng.standard_normal(N)


def f_quartic(x):
    return float(0.5 * x @ Q @ x + 0.25 * np.sum(x**4) - B @ x)


def g_quartic(x):
    return Q @ x + x**3 - B


def method_options(rule, h):
    """Kernel-named hyperparameters -> minimize options (betas as a pair)."""
    opts = dict(h)
    if "beta1" in opts:
        opts["betas"] = (opts.pop("beta1"), opts.pop("beta2"))
    return opts


def trajectory(method, steps=STEPS, f=f_quartic, g=g_quartic, x0=X0, **options):
    xs = []
    res = nsolve.minimize(f, g, x0, method=method, maxiter=steps, gtol=0.0,
                          callback=lambda xk: xs.append(xk), **options)
    return res, np.array(xs)


# ------------------------------------------------------------------------------------------
# Parity with the published rules (the must-show: 1e-12 over 100 steps)
# ------------------------------------------------------------------------------------------

METHOD_CASES = [c for c in CASES if c[0] != "momentum_classic"]


@pytest.mark.parametrize("case", METHOD_CASES, ids=[case_id(c) for c in METHOD_CASES])
def test_trajectory_through_minimize_matches_reference(case):
    rule, overrides = case
    h = hyper(rule, overrides)
    res, xs = trajectory(rule, **method_options(rule, h))
    r = make_reference(rule, X0, h)
    want = np.array([r.step(g_quartic(r.params)) for _ in range(STEPS)])
    assert xs.shape == (STEPS, N)
    np.testing.assert_allclose(xs, want, rtol=TOL, atol=TOL)
    assert np.max(np.abs(xs[-1] - X0)) > 1e-3  # it moved: the comparison is not vacuous
    # one evaluation per step plus the one at x0, counted by the objective wrapper
    assert (res.nit, res.nfev, res.njev) == (STEPS, STEPS + 1, STEPS + 1)
    assert res.status == Status.MAXITER


def test_every_method_is_covered_by_the_parity_cases():
    assert {c[0] for c in METHOD_CASES} | {"gd"} == set(FIRST_ORDER)


def test_gd_fixed_step_is_x_minus_lr_g():
    lr = 0.02
    res, xs = trajectory("gd", lr=lr)
    x = X0.copy()
    want = []
    for _ in range(STEPS):
        x = x - lr * g_quartic(x)
        want.append(x)
    np.testing.assert_allclose(xs, want, rtol=TOL, atol=TOL)
    assert (res.nfev, res.njev) == (STEPS + 1, STEPS + 1)


@pytest.mark.parametrize("search", ["backtracking", "strong-wolfe"])
def test_gd_with_a_line_search_decreases_f_and_converges(search):
    res = nsolve.minimize(f_quartic, g_quartic, X0, method="gd", line_search=search, lr=1.0, gtol=1e-6,
                          maxiter=5000)
    assert res.success, res.message
    # the minimizer solves Qx + x^3 = b: check it independently
    np.testing.assert_allclose(Q @ res.x + res.x**3, B, atol=1e-5)
    hist = nsolve.minimize(f_quartic, g_quartic, X0, method="gd", line_search=search, lr=1.0,
                           maxiter=50, history=True).history["f"]
    assert np.all(np.diff(hist) <= 0)  # sufficient decrease: monotone


def test_gd_options_include_line_search_and_default_is_fixed():
    opts = nsolve.method_options("gd")
    assert opts["line_search"] == "fixed" and opts["lr"] == 1e-3
    assert "batch_size" not in opts


# ------------------------------------------------------------------------------------------
# Registry, defaults, options
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", FIRST_ORDER)
def test_registered_non_monotone_with_documented_defaults(method):
    spec = get_method(method)
    assert spec.monotone is False
    assert spec.summary and spec.reference
    opts = nsolve.method_options(method)
    if method == "gd":
        return
    assert spec.minibatch
    for key in ("batch_size", "epochs", "shuffle", "seed", "check_every", "schedule"):
        assert key in opts
    # the defaults are the kernel table's (torch.optim's, tested in test_first_order_kernels)
    want = method_options(method, fo.DEFAULTS[method])
    want.pop("initial_accumulator_value", None) if method != "adagrad" else None
    for key, value in want.items():
        assert opts[key] == value, (method, key)


@pytest.mark.parametrize(
    "method, options, match",
    [
        ("adam", {"lr": 0.0}, "lr must be > 0"),
        ("sgd", {"lr": -1.0}, "lr must be > 0"),
        ("adam", {"lr": math.inf}, "lr must be > 0"),
        ("adam", {"betas": (1.0, 0.999)}, r"betas\[0\] must lie in \[0.0, 1.0\)"),
        ("nadam", {"betas": (0.9, -0.1)}, r"betas\[1\] must lie in \[0.0, 1.0\)"),
        ("adam", {"betas": 0.9}, "betas must be a pair"),
        ("adam", {"eps": 0.0}, "eps must be > 0"),
        ("adagrad", {"eps": -1e-10}, "eps must be > 0"),
        ("adamw", {"weight_decay": -0.1}, "weight_decay must be >= 0"),
        ("sgd", {"weight_decay": -1.0}, "weight_decay must be >= 0"),
        ("momentum", {"momentum": 1.0}, r"momentum must lie in \[0.0, 1.0\)"),
        ("momentum", {"dampening": 1.5}, r"dampening must lie in \[0.0, 1.0\]"),
        ("momentum", {"nesterov": True, "dampening": 0.1}, "nesterov=True needs momentum > 0 and dampening == 0"),
        ("rmsprop", {"alpha": 1.0}, r"alpha must lie in \[0.0, 1.0\)"),
        ("rmsprop", {"centered": 1}, "centered must be a bool"),
        ("adadelta", {"rho": -0.5}, r"rho must lie in \[0.0, 1.0\)"),
        ("adagrad", {"lr_decay": -1.0}, "lr_decay must be >= 0"),
        ("nadam", {"momentum_decay": -1.0}, "momentum_decay must be >= 0"),
        ("adam", {"schedule": "warm"}, "unknown schedule 'warm'"),
        ("adam", {"schedule": 3}, "schedule must be None, a name, a Schedule or a callable"),
        ("adam", {"schedule": lambda t: -1.0}, "schedule.t. must return a finite factor >= 0"),
        ("adam", {"epochs": 0}, "epochs must be >= 1"),
        ("sgd", {"batch_size": 4}, "batch_size needs a data-set objective"),
        ("adam", {"patience": 0}, "patience must be >= 1"),
        ("adam", {"f_max": "big"}, "f_max must be a real number"),
        ("adam", {"beta1": 0.9}, r"unknown option\(s\) \['beta1'\]"),
        ("gd", {"batch_size": 4}, r"unknown option\(s\) \['batch_size'\]"),
        ("gd", {"line_search": "wolfe"}, "unknown line search 'wolfe'"),
    ],
)
def test_bad_hyperparameters_name_the_argument_before_any_evaluation(method, options, match):
    calls = []

    def f(x):
        calls.append(1)
        return f_quartic(x)

    with pytest.raises((ValueError, TypeError), match=match):
        nsolve.minimize(f, g_quartic, X0, method=method, **options)
    assert calls == []  # raised before f (and so before any kernel) ran


def test_options_are_converted_to_float_and_bool():
    res = nsolve.minimize(f_quartic, g_quartic, X0, method="adam", lr=1, betas=[0, 0], maxiter=3)
    assert res.nit == 3 and np.all(np.isfinite(res.x))


# ------------------------------------------------------------------------------------------
# Learning-rate schedules through minimize
# ------------------------------------------------------------------------------------------


def test_step_decay_schedule_on_sgd_matches_reference_with_decayed_lr():
    lr = 0.05
    _, xs = trajectory("sgd", steps=30, lr=lr, schedule=StepDecay(factor=0.5, every=7))
    r = ref.SGD(X0, lr=lr)
    want = []
    for t in range(30):
        r.lr = lr * 0.5 ** (t // 7)
        want.append(r.step(g_quartic(r.params)))
    np.testing.assert_allclose(xs, want, rtol=TOL, atol=TOL)


def test_callable_schedule_on_momentum_rescales_the_buffer_like_torch():
    lr = 0.02

    def sched(t):
        return 1.0 / (1.0 + 0.1 * t)

    res, xs = trajectory("momentum", steps=40, lr=lr, schedule=sched)
    r = ref.SGD(X0, lr=lr, momentum=0.9)
    want = []
    for t in range(40):
        r.lr = lr * sched(t)
        want.append(r.step(g_quartic(r.params)))
    np.testing.assert_allclose(xs, want, rtol=TOL, atol=TOL)
    # the history's step column is the learning rate of each step
    hist = nsolve.minimize(f_quartic, g_quartic, X0, method="momentum", lr=lr, schedule=sched, maxiter=5,
                           gtol=0.0, history=True).history
    np.testing.assert_allclose(hist["alpha"][1:], [lr * sched(t) for t in range(5)], rtol=1e-15)


def test_cosine_schedule_anneals_over_the_run_on_adam():
    lr = 0.01
    hist = nsolve.minimize(f_quartic, g_quartic, X0, method="adam", lr=lr, schedule="cosine", maxiter=10,
                           gtol=0.0, history=True).history
    want = [lr * 0.5 * (1 + math.cos(math.pi * t / 10)) for t in range(10)]
    np.testing.assert_allclose(hist["alpha"][1:], want, rtol=1e-14, atol=1e-18)
    hist = nsolve.minimize(f_quartic, g_quartic, X0, method="adam", lr=lr, schedule=Cosine(period=4), maxiter=8,
                           gtol=0.0, history=True).history
    assert hist["alpha"][-1] == 0.0 and hist["alpha"][1] == lr


def test_schedule_raising_mid_run_names_schedule():
    def sched(t):
        return 1.0 if t < 3 else math.nan

    with pytest.raises(ValueError, match="schedule.t. must return a finite factor"):
        nsolve.minimize(f_quartic, g_quartic, X0, method="sgd", schedule=sched, maxiter=10)


# ------------------------------------------------------------------------------------------
# Stopping rules and the best point
# ------------------------------------------------------------------------------------------


def test_adam_converges_to_gtol_on_the_quartic():
    res = nsolve.minimize(f_quartic, g_quartic, X0, method="adam", lr=0.05, gtol=1e-6, maxiter=20000)
    assert res.status == Status.GTOL and res.success
    assert np.max(np.abs(g_quartic(res.x))) <= 1e-6
    np.testing.assert_allclose(res.jac, g_quartic(res.x), rtol=1e-12, atol=1e-15)


def test_divergence_past_f_max_returns_the_best_point():
    # f = 0.5 x'Qx - b'x has L = 10: a fixed step 0.25 > 2/L diverges
    def f(x):
        return float(0.5 * x @ Q @ x - B @ x)

    def g(x):
        return Q @ x - B

    res = nsolve.minimize(f, g, X0, method="gd", lr=0.25, f_max=1e6, maxiter=1000, history=True)
    assert res.status == Status.DIVERGED and not res.success
    fs = res.history["f"]
    assert fs[-1] > 1e6 and np.all(fs[:-1] <= 1e6)
    assert res.fun == fs.min() == f(res.x)
    np.testing.assert_allclose(res.jac, g(res.x))


def test_non_finite_values_stop_with_the_best_finite_point():
    # x^4 with a huge step overflows to inf within a few steps
    def f(x):
        return float(np.sum(x**4))

    def g(x):
        return 4.0 * x**3

    with np.errstate(over="ignore", invalid="ignore"):
        res = nsolve.minimize(f, g, np.array([0.9, -0.5]), method="sgd", lr=10.0, maxiter=100)
    assert res.status == Status.NOT_FINITE
    assert np.all(np.isfinite(res.x)) and math.isfinite(res.fun)
    assert res.fun == f(res.x)


def test_no_progress_within_the_patience_window():
    # SGD with lr = 1 on x^2 jumps x -> -x: f never improves
    res = nsolve.minimize(lambda x: float(x @ x), lambda x: 2.0 * x, [1.5], method="sgd", lr=1.0, patience=5,
                          maxiter=100)
    assert res.status == Status.NO_PROGRESS and res.nit == 5
    assert res.fun == 2.25


def test_patience_resets_on_improvement_and_min_delta_counts_small_gains_as_none():
    kw = dict(method="sgd", lr=0.01, maxiter=1000, gtol=0.0)
    res = nsolve.minimize(lambda x: float(x @ x), lambda x: 2.0 * x, [1.0], patience=3, **kw)
    assert res.status == Status.MAXITER  # every step improves
    res = nsolve.minimize(lambda x: float(x @ x), lambda x: 2.0 * x, [1.0], patience=3, min_delta=0.5, **kw)
    assert res.status == Status.NO_PROGRESS and res.nit == 3  # gains of ~4% of f are below min_delta


def test_time_limit_stops_a_slow_run():
    def f(x):
        time.sleep(0.01)
        return f_quartic(x)

    res = nsolve.minimize(f, g_quartic, X0, method="adam", time_limit=0.05, maxiter=10**6)
    assert res.status == Status.TIME_LIMIT and 1 <= res.nit < 20


def test_xtol_is_measured_by_the_driver_for_first_order_methods():
    res = nsolve.minimize(f_quartic, g_quartic, X0, method="sgd", lr=0.05, xtol=1e-4, gtol=0.0, maxiter=10**5)
    assert res.status == Status.XTOL
    # independent check of the last step: it is x - lr g at the previous iterate
    res2 = nsolve.minimize(f_quartic, g_quartic, X0, method="sgd", lr=0.05, gtol=0.0, maxiter=res.nit - 1)
    step = np.max(np.abs(res.x - res2.x))
    assert step <= 1e-4 * (1 + np.max(np.abs(res.x)))


def test_epochs_on_a_plain_function_are_steps():
    res = nsolve.minimize(f_quartic, g_quartic, X0, method="adam", epochs=7, gtol=0.0)
    assert res.nit == 7 and res.status == Status.MAXITER
    res = nsolve.minimize(f_quartic, g_quartic, X0, method="adam", epochs=7, maxiter=3, gtol=0.0)
    assert res.nit == 3


def test_callback_stops_and_receives_the_iterate():
    seen = []

    def cb(intermediate_result):
        seen.append(intermediate_result.x)
        return len(seen) == 4

    res = nsolve.minimize(f_quartic, g_quartic, X0, method="rmsprop", callback=cb, maxiter=100)
    assert res.status == Status.CALLBACK and res.nit == 4


def test_history_rows_per_step_in_full_batch():
    res = nsolve.minimize(f_quartic, g_quartic, X0, method="adam", maxiter=12, gtol=0.0, history=True)
    h = res.history
    assert h["nit"].tolist() == list(range(13)) and "epoch" not in h
    np.testing.assert_allclose(h["f"][-1], f_quartic(nsolve.minimize(f_quartic, g_quartic, X0, method="adam",
                                                                        maxiter=12, gtol=0.0).x), rtol=1e-14)


@pytest.mark.parametrize("method", FIRST_ORDER)
def test_same_call_twice_is_bit_identical(method):
    a = nsolve.minimize(f_quartic, g_quartic, X0, method=method, maxiter=20)
    b = nsolve.minimize(f_quartic, g_quartic, X0, method=method, maxiter=20)
    assert np.array_equal(a.x, b.x) and a.fun == b.fun


def test_a_converged_run_returns_the_point_that_passed_the_test():
    """Adam's f is not monotone: it saw a lower f before the iterate whose gradient passed
    gtol.  A converged run returns that iterate (success, message and jac agree); only a run
    stopped early returns the lowest point seen."""
    def f(x):
        return 0.5 * (x[0] ** 2 + 100.0 * x[1] ** 2)

    def g(x):
        return np.array([x[0], 100.0 * x[1]])

    res = nsolve.minimize(f, g, [2.0, 1.0], method="adam", lr=0.05, gtol=0.01, history=True)
    assert res.status == nsolve.Status.GTOL and res.success
    assert np.abs(res.jac).max() <= 0.01
    assert res.fun == f(res.x) and np.array_equal(res.jac, g(res.x))
    assert res.fun > res.history["f"].min()  # a lower f was seen, and is not what converged
    stopped = nsolve.minimize(f, g, [2.0, 1.0], method="adam", lr=0.05, gtol=0.0, maxiter=res.nit, history=True)
    assert stopped.status == nsolve.Status.MAXITER and stopped.fun == stopped.history["f"].min()
