"""Mini-batch training through ``nsolve.minimize``: the batch order, reproducibility, the
full-batch and classic-SGD limits, per-epoch history, evaluation counts, stopping on the
full objective, the logistic objective and a two-layer network through the same interface,
and the errors for bad mini-batch input.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import check_grad
from scipy.optimize import minimize as sp_minimize

import nsolve
from nsolve import Status
from nsolve._minibatch import BatchSampler
from nsolve.models import logistic_objective

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from digits_mlp import TwoLayerNet  # noqa: E402

# ------------------------------------------------------------------------------------------
# Data: a small binary logistic problem and a least-squares problem that interpolates
# ------------------------------------------------------------------------------------------

_rng = np.random.default_rng(11)
N_LOG = 240
X_LOG = _rng.standard_normal((N_LOG, 4))
Y_LOG = (X_LOG @ [1.0, -2.0, 0.5, 0.0] + 0.3 + 0.8 * _rng.standard_normal(N_LOG) > 0).astype(int)
LOGI = logistic_objective(X_LOG, Y_LOG, C=1.0)


def logistic_optimum():
    res = sp_minimize(LOGI.fg, LOGI.x0(), jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 1e-15})
    return res.fun


N_LS = 50
A_LS = _rng.standard_normal((N_LS, 3))
X_TRUE = np.array([1.0, -2.0, 3.0])
Y_LS = A_LS @ X_TRUE  # consistent: every sample's residual vanishes at X_TRUE


def ls_fg(x, idx):
    """Mean squared residual over the samples idx (an unbiased estimate of the full mean)."""
    r = A_LS[idx] @ x - Y_LS[idx]
    return 0.5 * float(r @ r) / idx.shape[0], A_LS[idx].T @ r / idx.shape[0]


class Counted:
    """Wraps a data-set f(x, idx) and records every call's index array."""

    def __init__(self, fg):
        self.fg = fg
        self.calls = []
        self.values = []

    def __call__(self, x, idx):
        self.calls.append(np.array(idx))
        out = self.fg(x, idx)
        self.values.append(out[0])
        return out


# ------------------------------------------------------------------------------------------
# The sampler
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, b", [(10, 3), (10, 10), (7, 1), (12, 4)])
def test_each_epoch_visits_every_sample_once(n, b):
    s = BatchSampler(n, b, shuffle=True, seed=5)
    assert s.steps_per_epoch == math.ceil(n / b)
    for _ in range(3):
        batches = [s.next_batch() for _ in range(s.steps_per_epoch)]
        assert [len(x) for x in batches] == [b] * (n // b) + ([n % b] if n % b else [])
        assert sorted(np.concatenate(batches).tolist()) == list(range(n))
        assert all(x.dtype == np.int64 for x in batches)


def test_shuffle_order_is_numpy_default_rng_permutation_per_epoch():
    s = BatchSampler(9, 4, shuffle=True, seed=3)
    rng = np.random.default_rng(3)
    order = np.arange(9)
    for _ in range(3):
        rng.shuffle(order)
        got = np.concatenate([s.next_batch() for _ in range(3)])
        np.testing.assert_array_equal(got, order)
    s = BatchSampler(9, 4, shuffle=False)
    np.testing.assert_array_equal(np.concatenate([s.next_batch() for _ in range(6)]), np.tile(np.arange(9), 2))


def test_batches_are_fresh_arrays():
    s = BatchSampler(8, 4, seed=0)
    a = s.next_batch()
    a[:] = -1
    b = s.next_batch()
    assert np.all(b >= 0) and not np.shares_memory(a, b)


# ------------------------------------------------------------------------------------------
# Reproducibility, limits, counts
# ------------------------------------------------------------------------------------------


def run_logistic(method="adam", **kw):
    opts = dict(n_samples=N_LOG, batch_size=16, epochs=3, gtol=0.0, lr=0.01)
    opts.update(kw)
    return nsolve.minimize(LOGI.batch_fg, True, LOGI.x0(), method=method, **opts)


@pytest.mark.parametrize("method", ["sgd", "momentum", "adagrad", "rmsprop", "adam", "nadam"])
def test_same_seed_is_bit_identical_and_another_seed_differs(method):
    a = run_logistic(method, seed=1, history=True)
    b = run_logistic(method, seed=1, history=True)
    c = run_logistic(method, seed=2)
    assert np.array_equal(a.x, b.x) and a.fun == b.fun
    for k in a.history:
        assert np.array_equal(a.history[k], b.history[k], equal_nan=True) or k == "time"
    assert not np.array_equal(a.x, c.x)


def test_batch_size_n_is_the_full_batch_run():
    full = nsolve.minimize(LOGI.batch_fg, True, LOGI.x0(), method="adam", n_samples=N_LOG, maxiter=30, lr=0.05,
                           gtol=0.0)
    same = run_logistic(batch_size=N_LOG, epochs=30, lr=0.05, seed=9)
    assert np.array_equal(full.x, same.x) and full.nit == same.nit == 30
    # and the full batch of the data-set objective is the objective: agrees with obj.fg
    plain = nsolve.minimize(LOGI.fg, True, LOGI.x0(), method="adam", maxiter=30, lr=0.05, gtol=0.0)
    np.testing.assert_allclose(full.x, plain.x, rtol=1e-10, atol=1e-12)


def test_batch_size_one_is_classic_sgd():
    """Independent loop: x <- x - lr * grad_i(x), i over default_rng(seed) permutations."""
    lr, epochs, seed = 0.05, 2, 4
    res = nsolve.minimize(ls_fg, True, np.zeros(3), method="sgd", n_samples=N_LS, batch_size=1, epochs=epochs,
                          seed=seed, lr=lr, gtol=0.0)
    x = np.zeros(3)
    rng = np.random.default_rng(seed)
    order = np.arange(N_LS)
    for _ in range(epochs):
        rng.shuffle(order)
        for i in order:
            r = A_LS[i] @ x - Y_LS[i]
            x = x - lr * A_LS[i] * r
    assert res.nit == epochs * N_LS
    # the result is the best exactly evaluated point: the final one here (f decreases)
    np.testing.assert_allclose(res.x, x, rtol=1e-12, atol=1e-14)


def test_history_has_a_row_per_epoch_with_the_full_loss_at_that_point():
    xs = []
    spe = math.ceil(N_LOG / 16)
    res = run_logistic(epochs=4, history=True, callback=lambda xk: xs.append(xk))
    h = res.history
    assert h["epoch"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert h["nit"].tolist() == [0, spe, 2 * spe, 3 * spe, 4 * spe]
    full = [LOGI.f(LOGI.x0())] + [LOGI.f(xs[k * spe - 1]) for k in range(1, 5)]
    np.testing.assert_allclose(h["f"], full, rtol=1e-12)
    assert np.isnan(h["batch_f"][0]) and np.all(np.isfinite(h["batch_f"][1:]))
    assert res.epochs == 4.0 and res.fun == h["f"].min()


def test_batch_f_is_the_mean_loss_of_the_batches_each_epoch_stepped_on():
    f = Counted(LOGI.batch_fg)
    res = nsolve.minimize(f, True, LOGI.x0(), method="adam", n_samples=N_LOG, batch_size=16, epochs=3, lr=0.01,
                          gtol=0.0, history=True)
    spe = math.ceil(N_LOG / 16)
    batch_values = [v for idx, v in zip(f.calls, f.values, strict=True) if len(idx) != N_LOG]
    assert len(batch_values) == 3 * spe + 1  # the last one is the look-ahead no step used
    want = [np.mean(batch_values[k * spe:(k + 1) * spe]) for k in range(3)]
    np.testing.assert_allclose(res.history["batch_f"][1:], want, rtol=1e-14)


def test_evaluation_counts_are_the_true_counts():
    f = Counted(LOGI.batch_fg)
    res = nsolve.minimize(f, True, LOGI.x0(), method="adam", n_samples=N_LOG, batch_size=50, epochs=3, lr=0.01,
                          gtol=0.0)
    spe = math.ceil(N_LOG / 50)
    sizes = [len(c) for c in f.calls]
    n_full = sizes.count(N_LOG)
    # x0 + one full evaluation per epoch; one batch per step plus the first one
    assert n_full == 1 + 3 and len(sizes) - n_full == res.nit + 1 == 3 * spe + 1
    assert res.nfev == res.njev == len(f.calls)


def test_check_every_and_final_evaluation():
    res = run_logistic(epochs=2, check_every=5, history=True)
    spe = math.ceil(N_LOG / 16)
    want = list(range(0, 2 * spe + 1, 5))
    if want[-1] != 2 * spe:
        want.append(2 * spe)  # the final point is always evaluated exactly
    assert res.history["nit"].tolist() == want
    res0 = run_logistic(epochs=2, check_every=0, history=True)
    assert res0.history["nit"].tolist() == [0, 2 * spe]
    assert res0.fun == pytest.approx(LOGI.f(res0.x), rel=1e-13)


def test_result_is_the_best_exactly_evaluated_point():
    res = run_logistic(method="sgd", lr=0.02, epochs=6, history=True)
    assert res.fun == res.history["f"].min()
    assert res.fun == pytest.approx(LOGI.f(res.x), rel=1e-13)
    np.testing.assert_allclose(res.jac, LOGI.grad(res.x), rtol=1e-12, atol=1e-12)


def test_minibatch_adam_approaches_the_logistic_optimum():
    fstar = logistic_optimum()
    res = run_logistic(method="adam", lr=0.05, batch_size=20, epochs=40, schedule="cosine")
    assert res.fun - fstar < 1e-3 * abs(fstar)


def test_interpolating_least_squares_stops_on_the_full_gradient():
    res = nsolve.minimize(ls_fg, True, np.zeros(3), method="sgd", n_samples=N_LS, batch_size=5, epochs=500,
                          lr=0.1, gtol=1e-8)
    assert res.status == Status.GTOL and res.success
    _, g = ls_fg(res.x, np.arange(N_LS))
    assert np.max(np.abs(g)) <= 1e-8
    np.testing.assert_allclose(res.x, X_TRUE, atol=1e-6)
    assert res.nit % 10 == 0  # checked at an epoch end (10 steps per epoch)


def test_non_finite_batch_stops_with_the_best_exact_point():
    with np.errstate(all="ignore"):
        res = nsolve.minimize(ls_fg, True, np.zeros(3), method="sgd", n_samples=N_LS, batch_size=5, epochs=50,
                              lr=50.0, history=True)
    assert res.status == Status.NOT_FINITE
    assert np.all(np.isfinite(res.x)) and res.fun == ls_fg(res.x, np.arange(N_LS))[0]
    assert res.fun == np.nanmin(res.history["f"])


def test_divergence_bound_on_the_checked_loss():
    with np.errstate(all="ignore"):
        res = nsolve.minimize(ls_fg, True, np.zeros(3), method="sgd", n_samples=N_LS, batch_size=25, epochs=50,
                              lr=2.5, f_max=1e3)
    assert res.status in (Status.DIVERGED, Status.NOT_FINITE)
    assert res.fun <= ls_fg(np.zeros(3), np.arange(N_LS))[0]


def test_patience_counts_epochs():
    res = nsolve.minimize(ls_fg, True, np.zeros(3), method="sgd", n_samples=N_LS, batch_size=5, epochs=100,
                          lr=0.1, patience=2, min_delta=100.0, gtol=0.0)
    assert res.status == Status.NO_PROGRESS and res.nit == 2 * 10


def test_separate_grad_callable_and_args():
    def f(x, idx, scale):
        return scale * ls_fg(x, idx)[0]

    def g(x, idx, scale):
        return scale * ls_fg(x, idx)[1]

    a = nsolve.minimize(f, g, np.zeros(3), args=(2.0,), method="adam", n_samples=N_LS, batch_size=7, epochs=2)
    b = nsolve.minimize(lambda x, i: tuple(2.0 * v for v in ls_fg(x, i)), True, np.zeros(3), method="adam",
                        n_samples=N_LS, batch_size=7, epochs=2)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-14)


# ------------------------------------------------------------------------------------------
# A two-layer neural network through the same interface
# ------------------------------------------------------------------------------------------


def small_net():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 5))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
    return TwoLayerNet(X, y, hidden=6), X


def test_network_gradient_matches_finite_differences():
    net, _ = small_net()
    w = net.init_params(1)
    idx = np.array([3, 7, 7, 21, 40])
    err = check_grad(lambda v: net.batch_fg(v, idx)[0], lambda v: net.batch_fg(v, idx)[1], w)
    assert err < 1e-6 * max(1.0, np.linalg.norm(net.batch_fg(w, idx)[1]))


def test_network_reads_the_data_in_place_and_trains():
    net, X = small_net()
    assert np.shares_memory(net.X, X)
    w0 = net.init_params(0)
    f0 = net.batch_fg(w0, np.arange(60))[0]
    res = nsolve.minimize(net.batch_fg, True, w0, method="adam", n_samples=60, batch_size=8, epochs=60,
                          lr=0.02, gtol=0.0, history=True)
    assert res.fun < 0.2 * f0
    assert net.accuracy(res.x) > 0.9
    assert np.all(np.diff(res.history["epoch"]) == 1.0)


# ------------------------------------------------------------------------------------------
# Bad mini-batch input
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, exc, match",
    [
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1"),
        ({"batch_size": N_LS + 1}, ValueError, r"batch_size must lie in \[1, n_samples=50\]"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an integer"),
        ({"batch_size": 5, "epochs": 0}, ValueError, "epochs must be >= 1"),
        ({"batch_size": 5, "seed": -1}, ValueError, "seed must be >= 0"),
        ({"batch_size": 5, "shuffle": "yes"}, TypeError, "shuffle must be a bool"),
        ({"batch_size": 5, "check_every": -1}, ValueError, "check_every must be >= 0"),
        ({"n_samples": 0}, ValueError, "n_samples must be >= 1"),
    ],
)
def test_bad_minibatch_options(options, exc, match):
    f = Counted(ls_fg)
    opts = {"n_samples": N_LS, **options}
    with pytest.raises(exc, match=match):
        nsolve.minimize(f, True, np.zeros(3), method="sgd", **opts)
    assert f.calls == []


def test_data_set_objective_needs_a_gradient():
    with pytest.raises(ValueError, match="needs its gradient"):
        nsolve.minimize(lambda x, idx: 0.0, None, np.zeros(3), method="sgd", n_samples=10)


def test_batch_gradient_of_the_wrong_shape_is_named_before_any_step():
    def fg(x, idx):
        f, g = ls_fg(x, idx)
        return f, (g if idx.shape[0] == N_LS else g[:2])

    with pytest.raises(ValueError, match=r"mini-batch gradient \(grad\(x, idx\)\) must have shape \(3,\)"):
        nsolve.minimize(fg, True, np.zeros(3), method="adam", n_samples=N_LS, batch_size=5)
    with pytest.raises(ValueError, match=r"grad must return an array of shape \(3,\)"):
        nsolve.minimize(lambda x, idx: (0.0, np.zeros(4)), True, np.zeros(3), method="adam", n_samples=N_LS,
                        batch_size=5)
    with pytest.raises(TypeError, match=r"f\(x, idx\) must return a pair"):
        nsolve.minimize(lambda x, idx: ls_fg(x, idx) if idx.shape[0] == N_LS else 1.0, True, np.zeros(3),
                        method="adam", n_samples=N_LS, batch_size=5)


# ---------------------------------------------------------------- found by review


def _quad_on_rows(values_at_first_call):
    """f(x, idx) = mean over rows of 0.5 |x - 1|^2, returning ``values_at_first_call`` on the
    very first (mini-batch) call only."""
    calls = []

    def f(x, idx):
        calls.append(x.copy())
        if len(calls) == 1 and values_at_first_call is not None:
            return values_at_first_call
        return float(0.5 * np.sum((x - 1.0) ** 2)) * len(idx)

    def g(x, idx):
        if len(calls) == 1 and values_at_first_call is not None:
            return np.full(x.shape, values_at_first_call)
        return (x - 1.0) * len(idx)

    return f, g, calls


def test_a_non_finite_first_mini_batch_stops_before_any_step():
    """The first batch is evaluated when the run starts; a non-finite one stops the run at x0
    (NOT_FINITE) instead of stepping to a non-finite point and calling f there."""
    x0 = np.zeros(2)
    full = float(0.5 * np.sum((x0 - 1.0) ** 2)) * 10
    f, g, calls = _quad_on_rows(None)
    # the driver checks the full objective at x0 first (call 1), then the state takes batch 1
    f_calls = []

    def f_bad(x, idx):
        f_calls.append(x.copy())
        if len(f_calls) == 2:  # the first mini-batch
            return math.inf
        return f(x, idx)

    res = nsolve.minimize(f_bad, g, x0, method="adam", n_samples=10, batch_size=3, lr=0.1, maxiter=20)
    assert res.status == Status.NOT_FINITE and res.nit == 0
    np.testing.assert_array_equal(res.x, x0)
    assert res.fun == full
    assert all(np.all(np.isfinite(x)) for x in f_calls)  # f was never called at a non-finite x


def test_history_alpha_of_the_final_exact_row_is_the_last_learning_rate():
    f, g, _ = _quad_on_rows(None)
    for check_every in (None, 0):
        kw = {} if check_every is None else {"check_every": check_every}
        res = nsolve.minimize(f, g, np.zeros(3), method="adam", n_samples=20, batch_size=4, epochs=3, maxiter=7,
                              lr=0.1, history=True, **kw)
        alpha = np.asarray(res.history["alpha"])
        assert res.history["nit"][-1] == 7
        assert alpha[0] == 0.0 and np.all(alpha[1:] == 0.1), alpha


def _least_squares_on_rows():
    rng = np.random.default_rng(0)
    n = 200
    X = rng.normal(size=(n, 5))
    y = rng.normal(size=n)

    def fg(w, idx):
        r = X[idx] @ w - y[idx]
        return 0.5 * np.mean(r * r), X[idx].T @ r / len(idx)

    return fg, n


@pytest.mark.parametrize("limit", [{"maxiter": 0}, {"maxfev": 1}])
def test_a_mini_batch_run_stopped_before_its_first_step_returns_the_exact_start(limit):
    """The state holds the first step's batch estimate at x0; a run stopped before that step
    returns the exact value and gradient at x0, not the batch ones."""
    fg, n = _least_squares_on_rows()
    res = nsolve.minimize(fg, True, np.zeros(5), method="adam", n_samples=n, batch_size=10, epochs=3, **limit)
    f_full, g_full = fg(np.zeros(5), np.arange(n))
    assert res.nit == 0
    assert res.fun == f_full
    np.testing.assert_allclose(res.jac, g_full, rtol=1e-15, atol=0)


def test_disp_prints_the_final_exact_row_of_a_mini_batch_run(capsys):
    fg, n = _least_squares_on_rows()
    res = nsolve.minimize(fg, True, np.zeros(5), method="adam", n_samples=n, batch_size=8, maxiter=10,
                          history=True, disp=True)
    out = capsys.readouterr().out
    printed = [int(line.split()[0]) for line in out.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert printed == list(res.history["nit"])  # every history row is printed, the last one included


def test_a_converged_minibatch_run_returns_the_checked_point():
    """Mini-batch Adam on a data set whose mean is 0.5 (x1^2 + 100 x2^2): the full check that
    passes gtol comes after a lower full f; the result is the checked point, with its exact
    f and full gradient."""
    n = 20
    A = np.zeros((n, 2))
    A[: n // 2, 0] = np.sqrt(2.0)
    A[n // 2 :, 1] = 10.0 * np.sqrt(2.0)

    def fg(x, idx):
        r = A[idx] @ x
        return 0.5 * float(r @ r) / idx.shape[0], A[idx].T @ r / idx.shape[0]

    res = nsolve.minimize(fg, True, np.array([2.0, 1.0]), method="adam", n_samples=n, batch_size=4, epochs=400,
                          lr=0.1, gtol=0.01, check_every=1, seed=0, history=True)
    assert res.status == Status.GTOL and res.success
    f_full, g_full = fg(res.x, np.arange(n))
    assert res.fun == f_full and np.array_equal(res.jac, g_full) and np.abs(g_full).max() <= 0.01
    assert res.fun > res.history["f"].min()
