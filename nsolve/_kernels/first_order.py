r"""First-order (stochastic-gradient) update rules as in-place Numba kernels.

Every kernel performs **one** step of one update rule over a parameter vector ``x``, in
place, with explicit loops and no temporary arrays.  The caller owns (allocates once and
keeps) the state arrays, passes scalar hyperparameters as floats and the 1-based step
counter ``t`` as an int.  The definitions and defaults are those of ``torch.optim``
(PyTorch 2.x) with ``maximize=False``; to maximise, pass ``-g`` (PyTorch negates the
gradient before adding the L2 term, so this is exactly equivalent).

Notation used in the docstrings: :math:`\theta` the parameters (``x``), :math:`g_t` the
gradient evaluated at :math:`\theta_{t-1}` (``g``), :math:`\gamma` the learning rate
(``lr``), :math:`\lambda` the weight decay, :math:`t = 1, 2, \dots` the step counter.  All
operations are elementwise.  *Coupled* weight decay (an L2 penalty) replaces
:math:`g_t \leftarrow g_t + \lambda\theta_{t-1}` before anything else; *decoupled* weight
decay (AdamW, SGDW) shrinks the parameters, :math:`\theta \leftarrow \theta(1-\gamma\lambda)`,
and leaves the gradient statistics alone.

State arrays must be initialised by the caller as follows (all float64, shape of ``x``):
zeros for every moment / buffer / accumulator, except the AdaGrad accumulator, which
starts at ``initial_accumulator_value``; the NAdam scalar ``mu_product`` starts at 1.0.
Momentum buffers (``buf``) may hold anything on the first step (``t == 1`` overwrites them).
State arrays a variant does not use (``gavg``/``buf`` of RMSprop without ``centered`` /
``momentum``) may be any float64 array, e.g. ``np.empty(0)``; they are not touched.

The rules and their torch counterparts (``docs/first-order.md`` has the whole derivation
and the differences from the Adam paper and optax):

=========================================  ==============================================
kernel                                     torch.optim equivalent
=========================================  ==============================================
:func:`sgd_step_inplace`                   ``SGD(momentum=0)``
:func:`momentum_step_inplace`              ``SGD(momentum, dampening, nesterov)``
:func:`nesterov_step_inplace`              ``SGD(momentum, nesterov=True)``
:func:`momentum_classic_step_inplace`      none (Sutskever et al. velocity form)
:func:`sgdw_step_inplace`                  none (Loshchilov & Hutter SGDW, torch scaling)
:func:`adagrad_step_inplace`               ``Adagrad``
:func:`rmsprop_step_inplace`               ``RMSprop``
:func:`adadelta_step_inplace`              ``Adadelta``
:func:`adam_step_inplace`                  ``Adam``
:func:`amsgrad_step_inplace`               ``Adam(amsgrad=True)`` / ``AdamW(amsgrad=True)``
:func:`adamw_step_inplace`                 ``AdamW``
:func:`adamax_step_inplace`                ``Adamax``
:func:`nadam_step_inplace`                 ``NAdam``
:func:`radam_step_inplace`                 ``RAdam``
=========================================  ==============================================
"""

from __future__ import annotations

import numpy as np

from nsolve._jit import kernel

__all__ = [
    "DEFAULTS",
    "sgd_step_inplace",
    "momentum_step_inplace",
    "nesterov_step_inplace",
    "momentum_classic_step_inplace",
    "sgdw_step_inplace",
    "adagrad_step_inplace",
    "rmsprop_step_inplace",
    "adadelta_step_inplace",
    "adam_step_inplace",
    "amsgrad_step_inplace",
    "adamw_step_inplace",
    "adamax_step_inplace",
    "nadam_step_inplace",
    "radam_step_inplace",
]

#: Default hyperparameters of every rule, keyed by rule name then kernel argument name
#: (plus AdaGrad's ``initial_accumulator_value``, the value the caller fills ``s`` with).
#: They are torch.optim's defaults, except where torch has no such optimizer or no
#: usable default (``momentum`` of the momentum rules: torch's 0 disables momentum, 0.9 is
#: the value of torch's own example; ``sgdw``: torch has no SGDW, the AdamW decay 1e-2 is
#: used).  ``docs/first-order.md`` has the same table.
DEFAULTS: dict[str, dict[str, float | bool]] = {
    "sgd": {"lr": 1e-3, "weight_decay": 0.0},
    "momentum": {"lr": 1e-3, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    "nesterov": {"lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0},
    "momentum_classic": {"lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0},
    "sgdw": {"lr": 1e-3, "momentum": 0.9, "dampening": 0.0, "weight_decay": 1e-2, "nesterov": False},
    "adagrad": {
        "lr": 1e-2,
        "lr_decay": 0.0,
        "eps": 1e-10,
        "weight_decay": 0.0,
        "initial_accumulator_value": 0.0,
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
    "amsgrad": {
        "lr": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "decoupled_weight_decay": False,
    },
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


# --------------------------------------------------------------------------------------
# SGD family
# --------------------------------------------------------------------------------------


@kernel
def sgd_step_inplace(x, g, lr, weight_decay):
    r"""Plain (stochastic) gradient descent step, torch ``SGD`` with ``momentum=0``.

    .. math::

        g_t \leftarrow g_t + \lambda\theta_{t-1}, \qquad
        \theta_t = \theta_{t-1} - \gamma g_t

    Parameters
    ----------
    x : (n,) float64
        Parameters :math:`\theta_{t-1}`; overwritten with :math:`\theta_t`.
    g : (n,) float64
        Gradient at ``x`` (not modified).
    lr : float
        Learning rate :math:`\gamma` (torch default 1e-3).
    weight_decay : float
        Coupled L2 coefficient :math:`\lambda` (default 0).
    """
    for i in range(x.shape[0]):
        gi = g[i]
        if weight_decay != 0.0:
            gi += weight_decay * x[i]
        x[i] -= lr * gi


@kernel(inline="always")
def _momentum_direction(gi, buf, i, t, momentum, dampening, nesterov):
    """Element ``i`` of torch's momentum buffer update, compiled into each kernel.

    :math:`b_i \\leftarrow g_i` at ``t == 1``, else :math:`\\mu b_i + (1 - \\tau) g_i` (in place);
    returns the step direction: :math:`g_i + \\mu b_i` (Nesterov) or :math:`b_i`.
    """
    if t == 1:
        bi = gi
    else:
        bi = momentum * buf[i] + (1.0 - dampening) * gi
    buf[i] = bi
    if nesterov:
        return gi + momentum * bi
    return bi


@kernel
def momentum_step_inplace(x, g, buf, t, lr, momentum, dampening, weight_decay, nesterov):
    r"""SGD with momentum exactly as torch ``SGD(momentum, dampening, nesterov)``.

    With :math:`\mu` the momentum and :math:`\tau` the dampening:

    .. math::

        g_t &\leftarrow g_t + \lambda\theta_{t-1} \\
        b_t &= \begin{cases} g_t & t = 1 \\
                             \mu b_{t-1} + (1-\tau) g_t & t > 1 \end{cases} \\
        d_t &= \begin{cases} g_t + \mu b_t & \text{nesterov} \\
                             b_t & \text{otherwise} \end{cases} \\
        \theta_t &= \theta_{t-1} - \gamma d_t

    The first buffer is the raw gradient (no dampening on step 1), as in torch.  When
    ``momentum == 0`` the buffer is not used and the step is plain SGD (torch does the
    same, whatever the dampening).  With constant :math:`\gamma` and :math:`\tau = 0` this
    is the heavy-ball method of :func:`momentum_classic_step_inplace` with velocity
    :math:`v_t = -\gamma b_t`.

    Parameters
    ----------
    x : (n,) float64
        Parameters, updated in place.
    g : (n,) float64
        Gradient at ``x``.
    buf : (n,) float64
        Momentum buffer :math:`b`, updated in place (its content is ignored when ``t == 1``).
    t : int
        1-based step counter.
    lr, momentum, dampening, weight_decay : float
        :math:`\gamma, \mu, \tau, \lambda`.
    nesterov : bool
        Use torch's Nesterov form (torch requires ``momentum > 0`` and ``dampening == 0``).
    """
    for i in range(x.shape[0]):
        gi = g[i]
        if weight_decay != 0.0:
            gi += weight_decay * x[i]
        if momentum != 0.0:
            gi = _momentum_direction(gi, buf, i, t, momentum, dampening, nesterov)
        x[i] -= lr * gi


@kernel
def nesterov_step_inplace(x, g, buf, t, lr, momentum, weight_decay):
    r"""Nesterov momentum in torch's form, ``SGD(momentum, nesterov=True, dampening=0)``.

    .. math::

        g_t \leftarrow g_t + \lambda\theta_{t-1}, \quad
        b_t = \mu b_{t-1} + g_t \;(b_1 = g_1), \quad
        \theta_t = \theta_{t-1} - \gamma\,(g_t + \mu b_t)

    This is Sutskever et al.'s Nesterov accelerated gradient rewritten in the look-ahead
    variable: if :math:`x_t, v_t` follow :math:`v_t = \mu v_{t-1} - \gamma\nabla f(x_{t-1}
    + \mu v_{t-1})`, :math:`x_t = x_{t-1} + v_t` (:math:`v_0 = 0`), then
    :math:`\theta_t = x_t + \mu v_t` and :math:`v_t = -\gamma b_t` for constant
    :math:`\gamma` (``docs/first-order.md`` has the two-line proof).

    Parameters
    ----------
    x, g, buf, t, lr, momentum, weight_decay
        As in :func:`momentum_step_inplace`.
    """
    momentum_step_inplace(x, g, buf, t, lr, momentum, 0.0, weight_decay, True)


@kernel
def momentum_classic_step_inplace(x, g, vel, lr, momentum, weight_decay):
    r"""Heavy-ball momentum in the "velocity" form of Polyak / Sutskever et al.

    .. math::

        g_t \leftarrow g_t + \lambda\theta_{t-1}, \quad
        v_t = \mu v_{t-1} - \gamma g_t, \quad
        \theta_t = \theta_{t-1} + v_t, \qquad v_0 = 0

    The learning rate is folded into the velocity.  For constant :math:`\gamma` it is
    identical to torch's form (:func:`momentum_step_inplace`, ``dampening=0``) with
    :math:`v_t = -\gamma b_t`; with a schedule they differ, torch rescaling the whole
    accumulated buffer by the current :math:`\gamma_t`.  Passing the gradient at the
    look-ahead point :math:`\theta_{t-1} + \mu v_{t-1}` gives Sutskever's Nesterov method.

    Parameters
    ----------
    x : (n,) float64
        Parameters, updated in place.
    g : (n,) float64
        Gradient (at ``x``, or at the look-ahead point for Nesterov).
    vel : (n,) float64
        Velocity :math:`v`, zeros before the first step, updated in place.
    lr, momentum, weight_decay : float
        :math:`\gamma, \mu, \lambda`.
    """
    for i in range(x.shape[0]):
        gi = g[i]
        if weight_decay != 0.0:
            gi += weight_decay * x[i]
        vi = momentum * vel[i] - lr * gi
        vel[i] = vi
        x[i] += vi


@kernel
def sgdw_step_inplace(x, g, buf, t, lr, momentum, dampening, weight_decay, nesterov):
    r"""SGD with momentum and decoupled weight decay (SGDW).

    The momentum step of :func:`momentum_step_inplace` (without any L2 term in the
    gradient), followed by the decoupled decay of the *previous* iterate:

    .. math::

        b_t &= \begin{cases} g_t & t = 1 \\ \mu b_{t-1} + (1-\tau) g_t & t > 1 \end{cases},
        \qquad d_t = \begin{cases} g_t + \mu b_t & \text{nesterov} \\
                                   b_t & \text{otherwise} \end{cases} \\
        \theta_t &= \theta_{t-1} - \gamma d_t - \gamma\lambda\,\theta_{t-1}
                  = (1 - \gamma\lambda)\,\theta_{t-1} - \gamma d_t

    This is Algorithm 1 of Loshchilov & Hutter (2019) with torch's scaling of the decay
    by the learning rate (the paper's :math:`\eta_t\lambda` is :math:`\gamma\lambda` here)
    and the same convention as torch ``AdamW`` (decay applied to :math:`\theta_{t-1}`).
    Decaying the post-step iterate instead would add :math:`\gamma^2\lambda d_t`.

    Parameters
    ----------
    x, g, buf, t, lr, momentum, dampening, nesterov
        As in :func:`momentum_step_inplace`.
    weight_decay : float
        Decoupled decay :math:`\lambda` (nsolve default 1e-2, as torch AdamW).
    """
    decay = 1.0 - lr * weight_decay
    for i in range(x.shape[0]):
        gi = g[i]
        if momentum != 0.0:
            gi = _momentum_direction(gi, buf, i, t, momentum, dampening, nesterov)
        x[i] = x[i] * decay - lr * gi


# --------------------------------------------------------------------------------------
# Adaptive per-coordinate step sizes: AdaGrad, RMSprop, AdaDelta
# --------------------------------------------------------------------------------------


@kernel
def adagrad_step_inplace(x, g, s, t, lr, lr_decay, eps, weight_decay):
    r"""AdaGrad step, torch ``Adagrad`` (:math:`\epsilon` outside the square root).

    With :math:`\eta` the ``lr_decay`` and :math:`s_0` the initial accumulator value:

    .. math::

        \tilde\gamma_t = \frac{\gamma}{1 + (t-1)\eta}, \quad
        g_t \leftarrow g_t + \lambda\theta_{t-1}, \quad
        s_t = s_{t-1} + g_t^2, \quad
        \theta_t = \theta_{t-1} - \tilde\gamma_t \frac{g_t}{\sqrt{s_t} + \epsilon}

    Parameters
    ----------
    x : (n,) float64
        Parameters, updated in place.
    g : (n,) float64
        Gradient at ``x``.
    s : (n,) float64
        Sum of squared gradients; initialise to ``initial_accumulator_value`` (torch
        default 0).  Updated in place.
    t : int
        1-based step counter.
    lr, lr_decay, eps, weight_decay : float
        :math:`\gamma` (1e-2), :math:`\eta` (0), :math:`\epsilon` (1e-10), :math:`\lambda` (0).
    """
    clr = lr / (1.0 + (t - 1) * lr_decay)
    for i in range(x.shape[0]):
        gi = g[i]
        if weight_decay != 0.0:
            gi += weight_decay * x[i]
        si = s[i] + gi * gi
        s[i] = si
        x[i] -= clr * gi / (np.sqrt(si) + eps)


@kernel
def rmsprop_step_inplace(x, g, v, gavg, buf, lr, alpha, eps, weight_decay, momentum, centered):
    r"""RMSprop step, torch ``RMSprop`` (:math:`\epsilon` outside the square root).

    .. math::

        g_t &\leftarrow g_t + \lambda\theta_{t-1} \\
        v_t &= \alpha v_{t-1} + (1-\alpha) g_t^2, \qquad \tilde v_t = v_t \\
        \text{centered:}\quad \bar g_t &= \alpha \bar g_{t-1} + (1-\alpha) g_t, \qquad
            \tilde v_t = v_t - \bar g_t^2 \\
        \mu > 0:\quad b_t &= \mu b_{t-1} + \frac{g_t}{\sqrt{\tilde v_t} + \epsilon}, \qquad
            \theta_t = \theta_{t-1} - \gamma b_t \\
        \mu = 0:\quad \theta_t &= \theta_{t-1} - \gamma\frac{g_t}{\sqrt{\tilde v_t} + \epsilon}

    All states start at zero (so the momentum buffer, unlike SGD's, is :math:`b_0 = 0`).

    Parameters
    ----------
    x : (n,) float64
        Parameters, updated in place.
    g : (n,) float64
        Gradient at ``x``.
    v : (n,) float64
        Running average of :math:`g^2`, updated in place.
    gavg : (n,) float64
        Running average of :math:`g` (read and written only when ``centered``).
    buf : (n,) float64
        Momentum buffer (read and written only when ``momentum > 0``).
    lr, alpha, eps, weight_decay, momentum : float
        :math:`\gamma` (1e-2), :math:`\alpha` (0.99), :math:`\epsilon` (1e-8),
        :math:`\lambda` (0), :math:`\mu` (0).
    centered : bool
        Normalise by the estimated variance instead of the raw second moment (default False).
    """
    for i in range(x.shape[0]):
        gi = g[i]
        if weight_decay != 0.0:
            gi += weight_decay * x[i]
        vi = alpha * v[i] + (1.0 - alpha) * gi * gi
        v[i] = vi
        if centered:
            ai = alpha * gavg[i] + (1.0 - alpha) * gi
            gavg[i] = ai
            denom = np.sqrt(vi - ai * ai) + eps
        else:
            denom = np.sqrt(vi) + eps
        if momentum > 0.0:
            bi = momentum * buf[i] + gi / denom
            buf[i] = bi
            x[i] -= lr * bi
        else:
            x[i] -= lr * gi / denom


@kernel
def adadelta_step_inplace(x, g, v, u, lr, rho, eps, weight_decay):
    r"""AdaDelta step, torch ``Adadelta`` (:math:`\epsilon` inside both square roots).

    .. math::

        g_t &\leftarrow g_t + \lambda\theta_{t-1} \\
        v_t &= \rho v_{t-1} + (1-\rho) g_t^2 \\
        \Delta_t &= \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t \\
        u_t &= \rho u_{t-1} + (1-\rho)\Delta_t^2 \\
        \theta_t &= \theta_{t-1} - \gamma\Delta_t

    Parameters
    ----------
    x : (n,) float64
        Parameters, updated in place.
    g : (n,) float64
        Gradient at ``x``.
    v : (n,) float64
        Running average of squared gradients, updated in place.
    u : (n,) float64
        Running average of squared updates :math:`\Delta^2`, updated in place.
    lr, rho, eps, weight_decay : float
        :math:`\gamma` (1.0), :math:`\rho` (0.9), :math:`\epsilon` (1e-6), :math:`\lambda` (0).
    """
    for i in range(x.shape[0]):
        gi = g[i]
        if weight_decay != 0.0:
            gi += weight_decay * x[i]
        vi = rho * v[i] + (1.0 - rho) * gi * gi
        v[i] = vi
        di = np.sqrt(u[i] + eps) / np.sqrt(vi + eps) * gi
        u[i] = rho * u[i] + (1.0 - rho) * di * di
        x[i] -= lr * di


# --------------------------------------------------------------------------------------
# Adam family
# --------------------------------------------------------------------------------------


@kernel(inline="always")
def _decayed_moments(x, g, m, v, i, beta1, beta2, weight_decay, decay, decoupled):
    """Element ``i`` of the Adam family's shared part, compiled into each kernel.

    Weight decay first: decoupled, :math:`x_i \\leftarrow x_i (1 - \\gamma\\lambda)` (``decay``);
    coupled, :math:`g_i \\leftarrow g_i + \\lambda x_i`.  Then the moments, in place:
    :math:`m_i \\leftarrow \\beta_1 m_i + (1-\\beta_1) g_i`,
    :math:`v_i \\leftarrow \\beta_2 v_i + (1-\\beta_2) g_i^2`.

    Returns ``(x_i, g_i, m_i, v_i)`` after those updates (``x[i]`` itself is not written).
    """
    xi = x[i]
    gi = g[i]
    if weight_decay != 0.0:
        if decoupled:
            xi = xi * decay
        else:
            gi += weight_decay * xi
    mi = beta1 * m[i] + (1.0 - beta1) * gi
    vi = beta2 * v[i] + (1.0 - beta2) * gi * gi
    m[i] = mi
    v[i] = vi
    return xi, gi, mi, vi


@kernel
def _adam_core_inplace(x, g, m, v, vmax, t, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad):
    """Shared body of Adam / AdamW / AMSGrad (see the public kernels for the math)."""
    tf = float(t)
    bias_correction1 = 1.0 - beta1**tf
    bias_correction2_sqrt = np.sqrt(1.0 - beta2**tf)
    step_size = lr / bias_correction1
    decay = 1.0 - lr * weight_decay
    for i in range(x.shape[0]):
        xi, gi, mi, vi = _decayed_moments(x, g, m, v, i, beta1, beta2, weight_decay, decay, decoupled)
        if amsgrad:
            # max over the *raw* second moment (NaN propagates, as torch.maximum)
            if vi > vmax[i] or vi != vi:
                vmax[i] = vi
            vi = vmax[i]
        x[i] = xi - step_size * mi / (np.sqrt(vi) / bias_correction2_sqrt + eps)


@kernel
def adam_step_inplace(x, g, m, v, t, lr, beta1, beta2, eps, weight_decay):
    r"""Adam step, torch ``Adam`` (coupled L2 weight decay, :math:`\epsilon` after the
    bias-corrected square root).

    .. math::

        g_t &\leftarrow g_t + \lambda\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
            \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}
        \;=\; \theta_{t-1} - \gamma\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    with :math:`\hat m_t = m_t/(1-\beta_1^t)`, :math:`\hat v_t = v_t/(1-\beta_2^t)`.  The
    Adam paper's efficient form :math:`\gamma_t = \gamma\sqrt{1-\beta_2^t}/(1-\beta_1^t)`,
    :math:`\theta_t = \theta_{t-1} - \gamma_t m_t/(\sqrt{v_t} + \hat\epsilon)` is the same
    rule only if :math:`\hat\epsilon = \epsilon\sqrt{1-\beta_2^t}`.

    Parameters
    ----------
    x : (n,) float64
        Parameters, updated in place.
    g : (n,) float64
        Gradient at ``x``.
    m, v : (n,) float64
        First and second raw moments (zeros initially), updated in place.
    t : int
        1-based step counter.
    lr, beta1, beta2, eps, weight_decay : float
        :math:`\gamma` (1e-3), :math:`\beta_1` (0.9), :math:`\beta_2` (0.999),
        :math:`\epsilon` (1e-8), :math:`\lambda` (0, coupled L2).
    """
    _adam_core_inplace(x, g, m, v, v, t, lr, beta1, beta2, eps, weight_decay, False, False)


@kernel
def amsgrad_step_inplace(x, g, m, v, vmax, t, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay):
    r"""AMSGrad step, torch ``Adam(amsgrad=True)`` or ``AdamW(amsgrad=True)``.

    The running maximum is taken over the **raw** second moment and bias-corrected
    afterwards, as torch's code does (its docs' pseudo-code shows the maximum of the
    corrected :math:`\hat v`; see pytorch/pytorch#142323; optax takes the maximum of the
    corrected moment):

    .. math::

        m_t, v_t &\text{ as in Adam}, \qquad
        v^{\max}_t = \max(v^{\max}_{t-1}, v_t), \quad v^{\max}_0 = 0 \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
            \frac{m_t}{\sqrt{v^{\max}_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Weight decay is coupled (:math:`g_t \leftarrow g_t + \lambda\theta_{t-1}`) or, with
    ``decoupled_weight_decay``, AdamW's :math:`\theta \leftarrow (1-\gamma\lambda)\theta`
    before the step.

    Parameters
    ----------
    x, g, m, v, t, lr, beta1, beta2, eps, weight_decay
        As in :func:`adam_step_inplace`.
    vmax : (n,) float64
        Running maximum of :math:`v` (zeros initially), updated in place.
    decoupled_weight_decay : bool
        AdamW-style decay (torch ``AdamW(amsgrad=True)``, whose default
        ``weight_decay`` is 1e-2) instead of the L2 term (torch ``Adam``, default 0).
    """
    _adam_core_inplace(x, g, m, v, vmax, t, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay, True)


@kernel
def adamw_step_inplace(x, g, m, v, t, lr, beta1, beta2, eps, weight_decay):
    r"""AdamW step, torch ``AdamW``: decoupled decay of :math:`\theta_{t-1}`, then Adam.

    .. math::

        \theta' &= \theta_{t-1}(1 - \gamma\lambda) \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \theta_t &= \theta' - \frac{\gamma}{1-\beta_1^t}\,
            \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    The gradient statistics never see :math:`\lambda`.  The decay is scaled by the
    learning rate (torch and optax); Loshchilov & Hutter scale it by the schedule
    multiplier :math:`\eta_t` only.

    Parameters
    ----------
    x, g, m, v, t, lr, beta1, beta2, eps
        As in :func:`adam_step_inplace`.
    weight_decay : float
        Decoupled decay :math:`\lambda` (torch default 1e-2).
    """
    _adam_core_inplace(x, g, m, v, v, t, lr, beta1, beta2, eps, weight_decay, True, False)


@kernel
def adamax_step_inplace(x, g, m, u, t, lr, beta1, beta2, eps, weight_decay):
    r"""AdaMax step (Adam with the infinity norm), torch ``Adamax``.

    .. math::

        g_t &\leftarrow g_t + \lambda\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        u_t &= \max(\beta_2 u_{t-1},\; |g_t| + \epsilon) \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,\frac{m_t}{u_t}

    :math:`\epsilon` sits inside the maximum (torch and optax; the Adam paper has no
    :math:`\epsilon` here).  :math:`u` needs no bias correction.

    Parameters
    ----------
    x : (n,) float64
        Parameters, updated in place.
    g : (n,) float64
        Gradient at ``x``.
    m, u : (n,) float64
        First moment and exponentially weighted infinity norm (zeros initially).
    t : int
        1-based step counter.
    lr, beta1, beta2, eps, weight_decay : float
        :math:`\gamma` (2e-3), :math:`\beta_1` (0.9), :math:`\beta_2` (0.999),
        :math:`\epsilon` (1e-8), :math:`\lambda` (0).
    """
    clr = lr / (1.0 - beta1 ** float(t))
    for i in range(x.shape[0]):
        gi = g[i]
        if weight_decay != 0.0:
            gi += weight_decay * x[i]
        mi = beta1 * m[i] + (1.0 - beta1) * gi
        m[i] = mi
        a = beta2 * u[i]
        b = abs(gi) + eps
        ui = b if (b > a or b != b) else a
        u[i] = ui
        x[i] -= clr * mi / ui


@kernel
def nadam_step_inplace(
    x, g, m, v, mu_product, t, lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay
):
    r"""NAdam step, torch ``NAdam`` (Dozat's Nesterov Adam with the momentum schedule).

    With :math:`\psi` the ``momentum_decay`` and :math:`\Pi_t = \prod_{i=1}^t \mu_i`:

    .. math::

        \mu_t &= \beta_1\bigl(1 - \tfrac12\, 0.96^{t\psi}\bigr), \qquad
        \mu_{t+1} = \beta_1\bigl(1 - \tfrac12\, 0.96^{(t+1)\psi}\bigr) \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \hat m_t &= \frac{\mu_{t+1} m_t}{1 - \Pi_t\mu_{t+1}} + \frac{(1-\mu_t) g_t}{1 - \Pi_t},
        \qquad \hat v_t = \frac{v_t}{1-\beta_2^t} \\
        \theta_t &= \theta_{t-1} - \gamma\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}

    Weight decay is coupled (:math:`g_t \leftarrow g_t + \lambda\theta_{t-1}`) or, with
    ``decoupled_weight_decay``, :math:`\theta \leftarrow (1-\gamma\lambda)\theta` first.
    Note :math:`\epsilon` is added to :math:`\sqrt{v_t/(1-\beta_2^t)}` (the bias
    correction is inside the root, as in torch's NAdam code).

    Parameters
    ----------
    x : (n,) float64
        Parameters, updated in place.
    g : (n,) float64
        Gradient at ``x``.
    m, v : (n,) float64
        First and second moments (zeros initially), updated in place.
    mu_product : float
        :math:`\Pi_{t-1}` (1.0 before the first step).
    t : int
        1-based step counter.
    lr, beta1, beta2, eps, weight_decay, momentum_decay : float
        :math:`\gamma` (2e-3), :math:`\beta_1` (0.9), :math:`\beta_2` (0.999),
        :math:`\epsilon` (1e-8), :math:`\lambda` (0), :math:`\psi` (4e-3).
    decoupled_weight_decay : bool
        NAdamW-style decay (default False).

    Returns
    -------
    float
        :math:`\Pi_t = \Pi_{t-1}\mu_t`, to pass back on the next step.
    """
    tf = float(t)
    bias_correction2 = 1.0 - beta2**tf
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (tf * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((tf + 1.0) * momentum_decay))
    mu_product = mu_product * mu
    mu_product_next = mu_product * mu_next
    coef_grad = lr * (1.0 - mu) / (1.0 - mu_product)
    coef_mom = lr * mu_next / (1.0 - mu_product_next)
    decay = 1.0 - lr * weight_decay
    for i in range(x.shape[0]):
        xi, gi, mi, vi = _decayed_moments(x, g, m, v, i, beta1, beta2, weight_decay, decay, decoupled_weight_decay)
        denom = np.sqrt(vi / bias_correction2) + eps
        x[i] = xi - coef_grad * gi / denom - coef_mom * mi / denom
    return mu_product


@kernel
def radam_step_inplace(x, g, m, v, t, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay):
    r"""RAdam step, torch ``RAdam`` (rectified Adam, Liu et al. 2020).

    .. math::

        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2, \qquad
        \hat m_t = \frac{m_t}{1-\beta_1^t} \\
        \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t} \\
        \rho_t > 5:\quad
        l_t &= \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t} + \epsilon}, \quad
        r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}},
        \quad \theta_t = \theta_{t-1} - \gamma\,\hat m_t\, r_t\, l_t \\
        \rho_t \le 5:\quad \theta_t &= \theta_{t-1} - \gamma\,\hat m_t

    :math:`\epsilon` is added to the *raw* :math:`\sqrt{v_t}` (torch's code; optax adds it
    to :math:`\sqrt{\hat v_t}` and rectifies when :math:`\rho_t \ge 5`).  Note
    :math:`\rho_1 = 1` for every :math:`\beta_2`, so the first steps are un-adapted SGD
    with momentum.  Weight decay is coupled, or decoupled (RAdamW) with the flag.

    Parameters
    ----------
    x, g, m, v, t
        As in :func:`adam_step_inplace`.
    lr, beta1, beta2, eps, weight_decay : float
        :math:`\gamma` (1e-3), :math:`\beta_1` (0.9), :math:`\beta_2` (0.999),
        :math:`\epsilon` (1e-8), :math:`\lambda` (0).
    decoupled_weight_decay : bool
        :math:`\theta \leftarrow (1-\gamma\lambda)\theta` first instead of the L2 term.
    """
    tf = float(t)
    beta2_t = beta2**tf
    bias_correction1 = 1.0 - beta1**tf
    bias_correction2 = 1.0 - beta2_t
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * tf * beta2_t / bias_correction2
    rectify = rho_t > 5.0
    scale = lr / bias_correction1
    if rectify:
        r = np.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
        scale = scale * r * np.sqrt(bias_correction2)
    decay = 1.0 - lr * weight_decay
    for i in range(x.shape[0]):
        xi, gi, mi, vi = _decayed_moments(x, g, m, v, i, beta1, beta2, weight_decay, decay, decoupled_weight_decay)
        if rectify:
            x[i] = xi - scale * mi / (np.sqrt(vi) + eps)
        else:
            x[i] = xi - scale * mi
