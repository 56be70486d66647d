"""The first-order update kernels against independent references and closed forms.

* every rule and variant: 100 steps of a random gradient sequence (n = 50, float64, mixed
  magnitudes and exact zeros) give the same trajectory and final state as the NumPy
  reference of ``reference_first_order.py`` to 1e-12;
* hand-computed single steps and constant-gradient closed forms;
* the documented equivalences and differences (heavy-ball vs torch momentum, Sutskever's
  Nesterov vs torch's, the Adam paper's ``lr_t`` form, AMSGrad's maximum of the raw vs the
  bias-corrected moment);
* the kernels update the caller's arrays in place and allocate nothing.
"""

from __future__ import annotations

import inspect
import math
import zlib

import numba
import numpy as np
import pytest
import reference_first_order as ref
from hypothesis import given, settings
from hypothesis import strategies as st
from numba.core.runtime import _nrt_python, rtsys

from nsolve._kernels import first_order as fo

N = 50
STEPS = 100
RTOL = 1e-12
ATOL = 1e-12


def gradient_sequence(seed, n=N, steps=STEPS):
    """Random gradients whose coordinates span 1e-6..1e1 in magnitude, with some exact zeros."""
    rng = np.random.default_rng(seed)
    scale = 10.0 ** rng.uniform(-6, 1, size=n)
    grads = rng.standard_normal((steps, n)) * scale
    grads[rng.random((steps, n)) < 0.1] = 0.0
    return grads


# ------------------------------------------------------------------------------------------
# Kernel drivers: state arrays allocated once, the kernel called once per step
# ------------------------------------------------------------------------------------------

STATE_NAMES = {
    "sgd": (),
    "momentum": ("buf",),
    "nesterov": ("buf",),
    "momentum_classic": ("vel",),
    "sgdw": ("buf",),
    "adagrad": ("s",),
    "rmsprop": ("v", "gavg", "buf"),
    "adadelta": ("v", "u"),
    "adam": ("m", "v"),
    "amsgrad": ("m", "v", "vmax"),
    "adamw": ("m", "v"),
    "adamax": ("m", "u"),
    "nadam": ("m", "v"),
    "radam": ("m", "v"),
}


class KernelRunner:
    """Holds ``x`` and the state arrays of one rule and calls its kernel."""

    def __init__(self, rule, x0, hp):
        self.rule, self.hp = rule, hp
        self.x = np.array(x0, dtype=np.float64, copy=True)
        self.t = 0
        self.mu_product = 1.0
        self.state = {name: np.zeros_like(self.x) for name in STATE_NAMES[rule]}
        if rule == "adagrad":
            self.state["s"][:] = hp["initial_accumulator_value"]
        self.ids = {name: (id(a), a.ctypes.data) for name, a in self.state.items()}
        self.ids["x"] = (id(self.x), self.x.ctypes.data)

    def step(self, g):
        self.t += 1
        r, h, s, x, t = self.rule, self.hp, self.state, self.x, self.t
        if r == "sgd":
            fo.sgd_step_inplace(x, g, h["lr"], h["weight_decay"])
        elif r == "momentum":
            fo.momentum_step_inplace(
                x, g, s["buf"], t, h["lr"], h["momentum"], h["dampening"], h["weight_decay"], h["nesterov"]
            )
        elif r == "nesterov":
            fo.nesterov_step_inplace(x, g, s["buf"], t, h["lr"], h["momentum"], h["weight_decay"])
        elif r == "momentum_classic":
            fo.momentum_classic_step_inplace(x, g, s["vel"], h["lr"], h["momentum"], h["weight_decay"])
        elif r == "sgdw":
            fo.sgdw_step_inplace(
                x, g, s["buf"], t, h["lr"], h["momentum"], h["dampening"], h["weight_decay"], h["nesterov"]
            )
        elif r == "adagrad":
            fo.adagrad_step_inplace(x, g, s["s"], t, h["lr"], h["lr_decay"], h["eps"], h["weight_decay"])
        elif r == "rmsprop":
            fo.rmsprop_step_inplace(
                x,
                g,
                s["v"],
                s["gavg"],
                s["buf"],
                h["lr"],
                h["alpha"],
                h["eps"],
                h["weight_decay"],
                h["momentum"],
                h["centered"],
            )
        elif r == "adadelta":
            fo.adadelta_step_inplace(x, g, s["v"], s["u"], h["lr"], h["rho"], h["eps"], h["weight_decay"])
        elif r == "adam":
            fo.adam_step_inplace(
                x, g, s["m"], s["v"], t, h["lr"], h["beta1"], h["beta2"], h["eps"], h["weight_decay"]
            )
        elif r == "amsgrad":
            fo.amsgrad_step_inplace(
                x,
                g,
                s["m"],
                s["v"],
                s["vmax"],
                t,
                h["lr"],
                h["beta1"],
                h["beta2"],
                h["eps"],
                h["weight_decay"],
                h["decoupled_weight_decay"],
            )
        elif r == "adamw":
            fo.adamw_step_inplace(
                x, g, s["m"], s["v"], t, h["lr"], h["beta1"], h["beta2"], h["eps"], h["weight_decay"]
            )
        elif r == "adamax":
            fo.adamax_step_inplace(
                x, g, s["m"], s["u"], t, h["lr"], h["beta1"], h["beta2"], h["eps"], h["weight_decay"]
            )
        elif r == "nadam":
            self.mu_product = fo.nadam_step_inplace(
                x,
                g,
                s["m"],
                s["v"],
                self.mu_product,
                t,
                h["lr"],
                h["beta1"],
                h["beta2"],
                h["eps"],
                h["weight_decay"],
                h["momentum_decay"],
                h["decoupled_weight_decay"],
            )
        elif r == "radam":
            fo.radam_step_inplace(
                x,
                g,
                s["m"],
                s["v"],
                t,
                h["lr"],
                h["beta1"],
                h["beta2"],
                h["eps"],
                h["weight_decay"],
                h["decoupled_weight_decay"],
            )
        else:  # pragma: no cover
            raise KeyError(r)
        return x.copy()


def make_reference(rule, x0, h):
    """The reference optimizer for ``rule`` with the kernel-named hyperparameters ``h``."""
    betas = (h.get("beta1"), h.get("beta2"))
    if rule == "sgd":
        return ref.SGD(x0, lr=h["lr"], weight_decay=h["weight_decay"])
    if rule == "momentum":
        return ref.SGD(
            x0,
            lr=h["lr"],
            momentum=h["momentum"],
            dampening=h["dampening"],
            weight_decay=h["weight_decay"],
            nesterov=h["nesterov"],
        )
    if rule == "nesterov":
        return ref.SGD(x0, lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"], nesterov=True)
    if rule == "momentum_classic":
        return ref.HeavyBall(x0, lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"])
    if rule == "sgdw":
        return ref.SGDW(
            x0,
            lr=h["lr"],
            momentum=h["momentum"],
            dampening=h["dampening"],
            weight_decay=h["weight_decay"],
            nesterov=h["nesterov"],
        )
    if rule == "adagrad":
        return ref.Adagrad(
            x0,
            lr=h["lr"],
            lr_decay=h["lr_decay"],
            weight_decay=h["weight_decay"],
            initial_accumulator_value=h["initial_accumulator_value"],
            eps=h["eps"],
        )
    if rule == "rmsprop":
        return ref.RMSprop(
            x0,
            lr=h["lr"],
            alpha=h["alpha"],
            eps=h["eps"],
            weight_decay=h["weight_decay"],
            momentum=h["momentum"],
            centered=h["centered"],
        )
    if rule == "adadelta":
        return ref.Adadelta(x0, lr=h["lr"], rho=h["rho"], eps=h["eps"], weight_decay=h["weight_decay"])
    if rule == "adam":
        return ref.Adam(x0, lr=h["lr"], betas=betas, eps=h["eps"], weight_decay=h["weight_decay"])
    if rule == "amsgrad":
        return ref.Adam(
            x0,
            lr=h["lr"],
            betas=betas,
            eps=h["eps"],
            weight_decay=h["weight_decay"],
            amsgrad=True,
            decoupled=h["decoupled_weight_decay"],
        )
    if rule == "adamw":
        return ref.Adam(
            x0, lr=h["lr"], betas=betas, eps=h["eps"], weight_decay=h["weight_decay"], decoupled=True
        )
    if rule == "adamax":
        return ref.Adamax(x0, lr=h["lr"], betas=betas, eps=h["eps"], weight_decay=h["weight_decay"])
    if rule == "nadam":
        return ref.NAdam(
            x0,
            lr=h["lr"],
            betas=betas,
            eps=h["eps"],
            weight_decay=h["weight_decay"],
            momentum_decay=h["momentum_decay"],
            decoupled_weight_decay=h["decoupled_weight_decay"],
        )
    if rule == "radam":
        return ref.RAdam(
            x0,
            lr=h["lr"],
            betas=betas,
            eps=h["eps"],
            weight_decay=h["weight_decay"],
            decoupled_weight_decay=h["decoupled_weight_decay"],
        )
    raise KeyError(rule)  # pragma: no cover


def reference_state(rule, h, opt):
    """The reference's state under the kernel's state-array names (only the arrays in use)."""
    if rule in ("momentum", "nesterov", "sgdw"):
        return {"buf": opt.b} if h["momentum"] != 0 else {}
    if rule == "momentum_classic":
        return {"vel": opt.v}
    if rule == "adagrad":
        return {"s": opt.state_sum}
    if rule == "rmsprop":
        out = {"v": opt.square_avg}
        if h["centered"]:
            out["gavg"] = opt.grad_avg
        if h["momentum"] > 0:
            out["buf"] = opt.b
        return out
    if rule == "adadelta":
        return {"v": opt.Eg2, "u": opt.Edx2}
    if rule == "amsgrad":
        return {"m": opt.m, "v": opt.v, "vmax": opt.v_max}
    if rule == "adamax":
        return {"m": opt.m, "u": opt.u}
    if rule in ("adam", "adamw", "nadam", "radam"):
        return {"m": opt.m, "v": opt.v}
    return {}


# (rule, overrides of DEFAULTS): every variant of every rule, with and without weight decay;
# learning rates are raised where the default barely moves x, and a few cases use a large
# eps so that eps placement changes the result by far more than the tolerance.
CASES = [
    ("sgd", {"lr": 0.05}),
    ("sgd", {"lr": 0.05, "weight_decay": 0.1}),
    ("momentum", {"lr": 0.02}),
    ("momentum", {"lr": 0.02, "dampening": 0.3, "weight_decay": 0.1}),
    ("momentum", {"lr": 0.02, "nesterov": True, "weight_decay": 0.1}),
    ("momentum", {"lr": 0.02, "momentum": 0.0, "dampening": 0.5}),
    ("nesterov", {"lr": 0.02}),
    ("nesterov", {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.1}),
    ("momentum_classic", {"lr": 0.02}),
    ("momentum_classic", {"lr": 0.02, "weight_decay": 0.1}),
    ("sgdw", {"lr": 0.02}),
    ("sgdw", {"lr": 0.02, "weight_decay": 0.5, "dampening": 0.2}),
    ("sgdw", {"lr": 0.02, "weight_decay": 0.5, "nesterov": True}),
    ("sgdw", {"lr": 0.02, "weight_decay": 0.5, "momentum": 0.0}),
    ("adagrad", {}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.1}),
    ("adagrad", {"lr": 0.1, "eps": 1e-3}),
    ("rmsprop", {}),
    ("rmsprop", {"centered": True}),
    ("rmsprop", {"momentum": 0.9, "weight_decay": 0.1}),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1, "eps": 1e-3}),
    ("adadelta", {}),
    ("adadelta", {"lr": 0.5, "rho": 0.95, "weight_decay": 0.1}),
    ("adam", {}),
    ("adam", {"lr": 1e-2, "weight_decay": 0.1}),
    ("adam", {"lr": 1e-2, "beta1": 0.8, "beta2": 0.99, "eps": 1e-3}),
    ("amsgrad", {"lr": 1e-2}),
    ("amsgrad", {"lr": 1e-2, "weight_decay": 0.1}),
    ("amsgrad", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("adamw", {}),
    ("adamw", {"lr": 1e-2, "weight_decay": 0.5, "eps": 1e-3}),
    ("adamax", {}),
    ("adamax", {"lr": 1e-2, "weight_decay": 0.1, "eps": 1e-3}),
    ("nadam", {}),
    ("nadam", {"weight_decay": 0.1}),
    ("nadam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "momentum_decay": 1e-2}),
    ("radam", {}),
    ("radam", {"lr": 1e-2, "weight_decay": 0.1, "eps": 1e-3}),
    ("radam", {"lr": 1e-2, "weight_decay": 0.1, "decoupled_weight_decay": True, "beta2": 0.99}),
]


def hyper(rule, overrides):
    return {**fo.DEFAULTS[rule], **overrides}


def case_id(case):
    rule, over = case
    return rule + ("" if not over else "-" + "-".join(f"{k}={v}" for k, v in over.items()))


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_trajectory_matches_reference(case):
    rule, overrides = case
    h = hyper(rule, overrides)
    grads = gradient_sequence(seed=zlib.crc32(case_id(case).encode()))
    x0 = np.random.default_rng(7).standard_normal(N)
    k = KernelRunner(rule, x0, h)
    r = make_reference(rule, x0, h)
    for step, g in enumerate(grads, start=1):
        xk = k.step(g)
        xr = r.step(g)
        np.testing.assert_allclose(xk, xr, rtol=RTOL, atol=ATOL, err_msg=f"{rule} step {step}")
    assert np.all(np.isfinite(k.x))
    # the trajectory really moved (so the comparison is not vacuous)
    assert np.max(np.abs(k.x - x0)) > 1e-4
    # the state arrays are the caller's: same objects, same buffers, reference values
    for name, arr in k.state.items():
        assert (id(arr), arr.ctypes.data) == k.ids[name]
    assert (id(k.x), k.x.ctypes.data) == k.ids["x"]
    for name, want in reference_state(rule, h, r).items():
        np.testing.assert_allclose(k.state[name], want, rtol=RTOL, atol=ATOL, err_msg=f"{rule} state {name}")
    if rule == "nadam":
        assert k.mu_product == pytest.approx(r.mu_product, rel=1e-14)


def test_every_kernel_has_a_case_and_defaults_name_its_arguments():
    rules = {rule for rule, _ in CASES}
    assert rules == set(fo.DEFAULTS) == set(STATE_NAMES)
    for rule, defaults in fo.DEFAULTS.items():
        fn = getattr(fo, f"{rule}_step_inplace")
        params = set(inspect.signature(fn.py_func).parameters)
        assert set(defaults) - {"initial_accumulator_value"} <= params, rule
        assert set(STATE_NAMES[rule]) <= params, rule


# torch.optim's documented defaults (PyTorch 2.x), typed independently of fo.DEFAULTS.
TORCH_DEFAULTS = {
    "sgd": {"lr": 1e-3, "weight_decay": 0.0},
    "adagrad": {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
        "eps": 1e-10,
    },
    "rmsprop": {
        "lr": 1e-2,
        "alpha": 0.99,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.0,
        "centered": False,
    },
    "adadelta": {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0},
    "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
    "adamw": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 1e-2},
    "adamax": {"lr": 2e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
    "nadam": {
        "lr": 2e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum_decay": 4e-3,
        "decoupled_weight_decay": False,
    },
    "radam": {
        "lr": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "decoupled_weight_decay": False,
    },
}


@pytest.mark.parametrize("rule", sorted(TORCH_DEFAULTS))
def test_defaults_are_torchs(rule):
    assert fo.DEFAULTS[rule] == TORCH_DEFAULTS[rule]


def test_momentum_rule_defaults():
    # torch SGD's dampening 0 / nesterov False / lr 1e-3; the momentum value is nsolve's 0.9
    for rule in ("momentum", "nesterov", "momentum_classic", "sgdw"):
        assert fo.DEFAULTS[rule]["lr"] == 1e-3
        assert fo.DEFAULTS[rule]["momentum"] == 0.9
    assert fo.DEFAULTS["momentum"]["dampening"] == 0.0 and fo.DEFAULTS["momentum"]["nesterov"] is False
    assert fo.DEFAULTS["amsgrad"] == {**TORCH_DEFAULTS["adam"], "decoupled_weight_decay": False}


# ------------------------------------------------------------------------------------------
# Hand-computed steps and closed forms
# ------------------------------------------------------------------------------------------


def first_step(rule, g, x0=None, **overrides):
    h = hyper(rule, overrides)
    x0 = np.zeros_like(g) if x0 is None else x0
    k = KernelRunner(rule, x0, h)
    return k.step(g), k


G1 = np.array([3.0, -0.5, 1e-3, -2e-7, 0.0, 40.0])


def test_adam_first_step_is_lr_sign_g():
    lr, eps = 1e-3, 1e-8
    x1, k = first_step("adam", G1)
    # m_hat = g, v_hat = g^2 exactly on step 1
    np.testing.assert_allclose(x1, -lr * G1 / (np.abs(G1) + eps), rtol=1e-15, atol=0)
    # hence |x1 + lr sign(g)| = lr eps / (|g| + eps): -lr sign(g) up to a relative eps/|g|
    nz = G1 != 0
    gap = np.abs(x1[nz] + lr * np.sign(G1[nz]))  # computed with cancellation: 1e-18 slack
    assert np.all(gap <= lr * eps / np.abs(G1[nz]) + 1e-18)
    np.testing.assert_allclose(x1[np.abs(G1) > 1.0], -lr * np.sign(G1[np.abs(G1) > 1.0]), rtol=1e-8)
    np.testing.assert_allclose(k.state["m"], 0.1 * G1, rtol=1e-15)
    np.testing.assert_allclose(k.state["v"], 1e-3 * G1**2, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    g=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=8),
    lr=st.floats(1e-5, 1.0),
    beta1=st.floats(0.0, 0.99),
    beta2=st.floats(0.5, 0.9999),
)
def test_adam_first_step_property(g, lr, beta1, beta2):
    g = np.array(g)
    x1, _ = first_step("adam", g, lr=lr, beta1=beta1, beta2=beta2)
    assert np.all(np.abs(x1) <= lr * (1 + 1e-12))
    assert np.all(x1 * g <= 0)
    np.testing.assert_allclose(x1, -lr * g / (np.abs(g) + 1e-8), rtol=1e-12, atol=1e-300)


@settings(max_examples=60, deadline=None)
@given(g=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=8), lr=st.floats(1e-5, 1.0))
def test_adagrad_first_step_magnitude(g, lr):
    g = np.array(g)
    x1, k = first_step("adagrad", g, lr=lr)
    np.testing.assert_allclose(np.abs(x1), lr * np.abs(g) / (np.abs(g) + 1e-10), rtol=1e-14, atol=0)
    np.testing.assert_array_equal(k.state["s"], g * g)


def test_adagrad_constant_gradient_with_lr_decay_and_initial_accumulator():
    g, lr, decay, tau, eps = 0.7, 0.3, 0.05, 0.2, 1e-10
    k = KernelRunner(
        "adagrad",
        np.zeros(1),
        hyper("adagrad", {"lr": lr, "lr_decay": decay, "initial_accumulator_value": tau}),
    )
    expected = 0.0
    for t in range(1, 21):
        k.step(np.array([g]))
        expected -= lr / (1 + (t - 1) * decay) * g / (math.sqrt(tau + t * g * g) + eps)
    assert k.x[0] == pytest.approx(expected, rel=1e-14)


def test_rmsprop_first_steps():
    lr, alpha, eps = 1e-2, 0.99, 1e-8
    x1, _ = first_step("rmsprop", G1)
    np.testing.assert_allclose(x1, -lr * G1 / (math.sqrt(1 - alpha) * np.abs(G1) + eps), rtol=1e-14, atol=0)
    # centered: v - gbar^2 = (1-a) g^2 - (1-a)^2 g^2 = a (1-a) g^2
    x1c, _ = first_step("rmsprop", G1, centered=True)
    np.testing.assert_allclose(
        x1c, -lr * G1 / (math.sqrt(alpha * (1 - alpha)) * np.abs(G1) + eps), rtol=1e-12, atol=0
    )
    # with momentum the buffer starts at zero, so step 1 is the same as without
    x1m, k = first_step("rmsprop", G1, momentum=0.9)
    np.testing.assert_allclose(x1m, x1, rtol=1e-15, atol=0)
    np.testing.assert_allclose(k.state["buf"], -x1 / lr, rtol=1e-15)


def test_adadelta_first_step():
    rho, eps = 0.9, 1e-6
    x1, k = first_step("adadelta", G1)
    delta = math.sqrt(eps) / np.sqrt((1 - rho) * G1**2 + eps) * G1
    np.testing.assert_allclose(x1, -delta, rtol=1e-14, atol=0)
    np.testing.assert_allclose(k.state["u"], (1 - rho) * delta**2, rtol=1e-14)


def test_adamax_first_step():
    x1, k = first_step("adamax", G1)
    np.testing.assert_allclose(x1, -2e-3 * G1 / (np.abs(G1) + 1e-8), rtol=1e-14, atol=0)
    np.testing.assert_array_equal(k.state["u"], np.abs(G1) + 1e-8)


def test_adamw_and_sgdw_first_steps_decay_the_previous_iterate():
    x0 = np.linspace(-2.0, 3.0, G1.size)
    lr, wd = 0.05, 0.3
    x1, _ = first_step("adamw", G1, x0=x0, lr=lr, weight_decay=wd)
    np.testing.assert_allclose(x1, x0 * (1 - lr * wd) - lr * G1 / (np.abs(G1) + 1e-8), rtol=1e-14, atol=1e-16)
    x1, _ = first_step("sgdw", G1, x0=x0, lr=lr, weight_decay=wd)
    np.testing.assert_allclose(x1, x0 - lr * G1 - lr * wd * x0, rtol=1e-14, atol=1e-16)
    # the gradient statistics never see the decay
    x2, k = first_step("adamw", G1, x0=x0 + 5.0, lr=lr, weight_decay=wd)
    np.testing.assert_allclose(k.state["m"], 0.1 * G1, rtol=1e-15)


def test_sgdw_second_step_decay_order():
    """theta_2 = (1 - lr wd) theta_1 - lr b_2, not (theta_1 - lr b_2)(1 - lr wd)."""
    x0 = np.array([1.0, -2.0])
    g = np.array([0.5, 0.25])
    lr, mu, wd = 0.1, 0.9, 0.4
    k = KernelRunner("sgdw", x0, hyper("sgdw", {"lr": lr, "momentum": mu, "weight_decay": wd}))
    x1 = k.step(g)
    x2 = k.step(g)
    b2 = mu * g + g
    np.testing.assert_allclose(x2, (1 - lr * wd) * x1 - lr * b2, rtol=1e-15)
    assert np.max(np.abs(x2 - (x1 - lr * b2) * (1 - lr * wd))) > 1e-4


def test_nadam_first_step_closed_form():
    beta1, psi, lr, eps = 0.9, 4e-3, 2e-3, 1e-8
    mu1 = beta1 * (1 - 0.5 * 0.96**psi)
    mu2 = beta1 * (1 - 0.5 * 0.96 ** (2 * psi))
    x1, k = first_step("nadam", G1)
    factor = 1 + mu2 * (1 - beta1) / (1 - mu1 * mu2)  # (1-mu1)/(1-mu1) on g, mu2 m1/(1-mu1 mu2)
    np.testing.assert_allclose(x1, -lr * factor * G1 / (np.abs(G1) + eps), rtol=1e-13, atol=0)
    assert k.mu_product == pytest.approx(mu1, rel=1e-15)


@pytest.mark.parametrize("beta2", [0.9, 0.99, 0.999, 0.9999])
def test_radam_first_step_is_plain_sgd(beta2):
    # rho_1 = 2/(1-b2) - 1 - 2 b2/(1-b2) = 1 <= 5: un-adapted step with m_hat_1 = g
    x1, _ = first_step("radam", G1, lr=0.1, beta2=beta2)
    np.testing.assert_allclose(x1, -0.1 * G1, rtol=1e-12, atol=0)


def test_radam_constant_gradient_closed_form():
    """Constant g: m_hat = g and v_t = (1-b2^t) g^2, so each step has a scalar closed form."""
    g, lr, b2, eps = -0.8, 1e-2, 0.999, 1e-8
    rho_inf = 2 / (1 - b2) - 1
    k = KernelRunner("radam", np.zeros(1), hyper("radam", {"lr": lr}))
    expected = 0.0
    rectified = []
    for t in range(1, 31):
        k.step(np.array([g]))
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        if rho > 5:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            bc2 = 1 - b2**t
            expected -= lr * g * r * math.sqrt(bc2) / (math.sqrt(bc2) * abs(g) + eps)
            rectified.append(t)
        else:
            expected -= lr * g
    assert k.x[0] == pytest.approx(expected, rel=1e-12)
    assert rectified[0] == 6  # rho_5 < 5 < rho_6 for beta2 = 0.999: both branches exercised


def test_momentum_constant_gradient_closed_form():
    g, lr, mu, tau, T = 1.5, 0.01, 0.9, 0.25, 40
    k = KernelRunner("momentum", np.zeros(1), hyper("momentum", {"lr": lr, "dampening": tau}))
    total = 0.0
    for t in range(1, T + 1):
        k.step(np.array([g]))
        b_t = g * (mu ** (t - 1) + (1 - tau) * (1 - mu ** (t - 1)) / (1 - mu))  # b_1 = g (no dampening)
        total += b_t
    assert k.x[0] == pytest.approx(-lr * total, rel=1e-13)
    assert k.state["buf"][0] == pytest.approx(b_t, rel=1e-13)


def test_nesterov_constant_gradient_closed_form():
    g, lr, mu, T = -2.0, 0.01, 0.9, 25
    k = KernelRunner("nesterov", np.zeros(1), hyper("nesterov", {"lr": lr}))
    expected = 0.0
    for t in range(1, T + 1):
        k.step(np.array([g]))
        expected -= lr * (g + mu * g * (1 - mu**t) / (1 - mu))
    assert k.x[0] == pytest.approx(expected, rel=1e-13)


def test_momentum_zero_ignores_dampening_like_torch():
    grads = gradient_sequence(3, n=5, steps=10)
    k = KernelRunner(
        "momentum", np.ones(5), hyper("momentum", {"lr": 0.1, "momentum": 0.0, "dampening": 0.7})
    )
    for g in grads:
        k.step(g)
    np.testing.assert_allclose(k.x, np.ones(5) - 0.1 * grads.sum(axis=0), rtol=1e-14)
    assert not k.state["buf"].any()  # the buffer is not touched


def test_amsgrad_uses_max_of_raw_second_moment():
    """A large gradient then small ones: the raw and the bias-corrected maxima differ."""
    grads = np.array([[10.0, 1.0]] + [[0.1, 1.0]] * 5)
    h = hyper("amsgrad", {"lr": 0.1})
    k = KernelRunner("amsgrad", np.zeros(2), h)
    raw = ref.Adam(np.zeros(2), lr=0.1, amsgrad=True, amsgrad_max="raw")
    corrected = ref.Adam(np.zeros(2), lr=0.1, amsgrad=True, amsgrad_max="corrected")
    for g in grads:
        xk, xr, xc = k.step(g), raw.step(g), corrected.step(g)
    np.testing.assert_allclose(xk, xr, rtol=1e-14)
    assert abs(xk[0] - xc[0]) > 1e-3
    # step 2 by hand: v_max = v_1 = (1-b2) 100; the step divides by sqrt(v_max / (1-b2^2))
    k2 = KernelRunner("amsgrad", np.zeros(1), h)
    k2.step(np.array([10.0]))
    x1 = k2.x[0]
    k2.step(np.array([0.1]))
    m2 = 0.9 * 0.1 * 10.0 + 0.1 * 0.1
    denom = math.sqrt(1e-3 * 100.0) / math.sqrt(1 - 0.999**2) + 1e-8
    assert k2.x[0] - x1 == pytest.approx(-0.1 / (1 - 0.9**2) * m2 / denom, rel=1e-12)
    assert k2.state["vmax"][0] == pytest.approx(1e-3 * 100.0, rel=1e-14)


def test_amsgrad_equals_adam_while_second_moment_grows():
    grads = np.outer(np.arange(1, 31, dtype=float), np.array([1.0, -2.0, 0.5]))  # |g| increasing
    a = KernelRunner("adam", np.zeros(3), hyper("adam", {"lr": 0.01}))
    b = KernelRunner("amsgrad", np.zeros(3), hyper("amsgrad", {"lr": 0.01}))
    for g in grads:
        np.testing.assert_array_equal(a.step(g), b.step(g))


# ------------------------------------------------------------------------------------------
# The Adam paper's lr_t form (the project's source article 002) vs torch's
# ------------------------------------------------------------------------------------------


def run_adam_kernel(grads, **overrides):
    k = KernelRunner("adam", np.zeros(grads.shape[1]), hyper("adam", overrides))
    return np.array([k.step(g) for g in grads])


def run_reference(opt, grads):
    return np.array([opt.step(g) for g in grads])


def test_adam_paper_lr_t_form_equals_torch_with_time_varying_eps_hat():
    grads = gradient_sequence(11)
    ours = run_adam_kernel(grads, lr=1e-2, eps=1e-3)
    paper = run_reference(
        ref.AdamPaperLrT(np.zeros(N), lr=1e-2, eps_hat=1e-3, eps_hat_matches_torch=True), grads
    )
    np.testing.assert_allclose(ours, paper, rtol=RTOL, atol=ATOL)


def test_adam_paper_lr_t_form_equals_torch_without_eps():
    grads = gradient_sequence(12)
    grads[grads == 0.0] = 1.0  # eps = 0 needs nonzero gradients
    ours = run_adam_kernel(grads, lr=1e-2, eps=0.0)
    paper = run_reference(ref.AdamPaperLrT(np.zeros(N), lr=1e-2, eps_hat=0.0), grads)
    np.testing.assert_allclose(ours, paper, rtol=RTOL, atol=ATOL)


def test_adam_paper_lr_t_form_with_constant_eps_hat_differs_by_eps_placement():
    """Constant eps_hat acts as torch's eps scaled by 1/sqrt(1 - b2^t): 31.6x on step 1."""
    b2, eps_hat, lr = 0.999, 1e-7, 1e-3  # the book code in article 002 uses eps = 1e-7
    g = np.array([1e-6, -3e-6, 2.0])
    paper = ref.AdamPaperLrT(np.zeros(3), lr=lr, eps_hat=eps_hat)
    x1_paper = paper.step(g)
    np.testing.assert_allclose(x1_paper, -lr * g / (np.abs(g) + eps_hat / math.sqrt(1 - b2)), rtol=1e-12)
    x1_torch, _ = first_step("adam", g, eps=eps_hat)
    x1_torch_equiv, _ = first_step("adam", g, eps=eps_hat / math.sqrt(1 - b2))
    np.testing.assert_allclose(x1_paper, x1_torch_equiv, rtol=1e-12)
    assert abs(x1_paper[0] - x1_torch[0]) > 0.5 * abs(x1_torch[0])  # small |g|: eps dominates
    assert x1_paper[2] == pytest.approx(x1_torch[2], rel=1e-5)  # large |g|: eps is negligible


# ------------------------------------------------------------------------------------------
# Heavy-ball / Nesterov: torch's form vs the classic velocity form
# ------------------------------------------------------------------------------------------


def test_heavy_ball_velocity_form_equals_torch_momentum_for_constant_lr():
    grads = gradient_sequence(21)
    lr, mu = 0.02, 0.9
    torch_form = KernelRunner("momentum", np.ones(N), hyper("momentum", {"lr": lr, "momentum": mu}))
    classic = KernelRunner(
        "momentum_classic", np.ones(N), hyper("momentum_classic", {"lr": lr, "momentum": mu})
    )
    for g in grads:
        np.testing.assert_allclose(torch_form.step(g), classic.step(g), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(classic.state["vel"], -lr * torch_form.state["buf"], rtol=1e-11, atol=1e-15)


def test_heavy_ball_forms_differ_under_a_learning_rate_schedule():
    g = np.array([1.0])
    a = KernelRunner("momentum", np.zeros(1), hyper("momentum", {}))
    b = KernelRunner("momentum_classic", np.zeros(1), hyper("momentum_classic", {}))
    for lr in (0.1, 0.01):
        a.hp["lr"] = b.hp["lr"] = lr
        a.step(g)
        b.step(g)
    # torch: 0.1*1 + 0.01*1.9; classic: 0.1 + (0.9*0.1 + 0.01)
    assert a.x[0] == pytest.approx(-(0.1 + 0.019))
    assert b.x[0] == pytest.approx(-(0.1 + 0.1))


def test_torch_nesterov_is_sutskever_nag_in_the_lookahead_variable():
    """Closed loop on a quadratic: torch's theta_t equals x_t + mu v_t of Sutskever's NAG."""
    rng = np.random.default_rng(5)
    Q = rng.standard_normal((N, N))
    A = Q @ Q.T / N + np.eye(N)
    b = rng.standard_normal(N)
    lr, mu = 0.05, 0.9
    x0 = rng.standard_normal(N)
    torch_form = KernelRunner("nesterov", x0, hyper("nesterov", {"lr": lr, "momentum": mu}))
    nag = ref.HeavyBall(x0, lr=lr, momentum=mu)
    for _ in range(STEPS):
        theta = torch_form.step(A @ torch_form.x - b)
        y = nag.lookahead()
        nag.step(A @ y - b)
        np.testing.assert_allclose(theta, nag.lookahead(), rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(nag.v, -lr * torch_form.state["buf"], rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------------------
# In place, no allocation, compiled with the project's options
# ------------------------------------------------------------------------------------------


@numba.njit
def _drive(fn, n_calls, args):
    for _ in range(n_calls):
        fn(*args)


def kernel_args(rule):
    n = 16
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal(n), rng.standard_normal(n)
    arr = lambda: np.zeros(n)  # noqa: E731
    table = {
        "sgd": (x, g, 0.01, 0.1),
        "momentum": (x, g, arr(), 2, 0.01, 0.9, 0.1, 0.1, True),
        "nesterov": (x, g, arr(), 2, 0.01, 0.9, 0.1),
        "momentum_classic": (x, g, arr(), 0.01, 0.9, 0.1),
        "sgdw": (x, g, arr(), 2, 0.01, 0.9, 0.0, 0.1, False),
        "adagrad": (x, g, arr(), 2, 0.01, 0.1, 1e-10, 0.1),
        "rmsprop": (x, g, arr(), arr(), arr(), 0.01, 0.99, 1e-8, 0.1, 0.9, True),
        "adadelta": (x, g, arr(), arr(), 1.0, 0.9, 1e-6, 0.1),
        "adam": (x, g, arr(), arr(), 2, 1e-3, 0.9, 0.999, 1e-8, 0.1),
        "amsgrad": (x, g, arr(), arr(), arr(), 2, 1e-3, 0.9, 0.999, 1e-8, 0.1, True),
        "adamw": (x, g, arr(), arr(), 2, 1e-3, 0.9, 0.999, 1e-8, 0.1),
        "adamax": (x, g, arr(), arr(), 2, 1e-3, 0.9, 0.999, 1e-8, 0.1),
        "nadam": (x, g, arr(), arr(), 0.9, 2, 2e-3, 0.9, 0.999, 1e-8, 0.1, 4e-3, True),
        "radam": (x, g, arr(), arr(), 8, 1e-3, 0.9, 0.999, 1e-8, 0.1, False),
    }
    return table[rule]


@pytest.fixture
def nrt_stats():
    was_enabled = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    yield rtsys.get_allocation_stats
    if not was_enabled:
        _nrt_python.memsys_disable_stats()


@pytest.mark.parametrize("rule", sorted(fo.DEFAULTS))
def test_kernels_do_not_allocate(rule, nrt_stats):
    fn = getattr(fo, f"{rule}_step_inplace")
    args = kernel_args(rule)
    _drive(fn, 1, args)  # compile

    def allocations(n_calls):
        before = nrt_stats()
        _drive(fn, n_calls, args)
        after = nrt_stats()
        return after.alloc - before.alloc, after.mi_alloc - before.mi_alloc

    # the driver's own cost (boxing the argument tuple) is constant; the kernel adds nothing
    assert allocations(1) == allocations(25)


def test_allocation_check_detects_an_allocating_kernel(nrt_stats):
    @numba.njit
    def allocating(x, g):
        y = x * 2.0
        g[0] = y[0]

    args = (np.ones(4), np.ones(4))
    _drive(allocating, 1, args)
    before = nrt_stats()
    _drive(allocating, 1, args)
    one = nrt_stats().alloc - before.alloc
    before = nrt_stats()
    _drive(allocating, 25, args)
    many = nrt_stats().alloc - before.alloc
    assert many > one


@pytest.mark.parametrize("rule", sorted(fo.DEFAULTS))
def test_kernels_use_project_options(rule):
    fn = getattr(fo, f"{rule}_step_inplace")
    assert isinstance(fn, numba.core.registry.CPUDispatcher)
    assert fn.targetoptions.get("nogil") is True
    assert not fn.targetoptions.get("fastmath")
    assert fn.py_func.__doc__ and ".. math::" in fn.py_func.__doc__


def test_float64_in_place_results():
    x = np.arange(4.0)
    g = np.ones(4)
    m, v = np.zeros(4), np.zeros(4)
    out = fo.adam_step_inplace(x, g, m, v, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0)
    assert out is None
    assert x.dtype == m.dtype == v.dtype == np.float64
    np.testing.assert_allclose(x, np.arange(4.0) - 1e-3 / (1 + 1e-8), rtol=1e-15)
