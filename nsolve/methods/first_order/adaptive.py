r"""Per-coordinate step sizes: AdaGrad, RMSprop (plain, centered, with momentum), AdaDelta.

As ``torch.optim`` defines them (:math:`g_t` the gradient at :math:`x_{t-1}`, L2 term
:math:`\lambda x_{t-1}` added to it first):

* ``"adagrad"``: :math:`s_t = s_{t-1} + g_t^2`,
  :math:`x_t = x_{t-1} - \frac{\gamma_t}{1 + (t-1)\eta}\,\frac{g_t}{\sqrt{s_t} + \epsilon}`;
* ``"rmsprop"``: :math:`v_t = \alpha v_{t-1} + (1-\alpha) g_t^2`,
  :math:`x_t = x_{t-1} - \gamma_t\,\frac{g_t}{\sqrt{\tilde v_t} + \epsilon}` with
  :math:`\tilde v_t = v_t` (or :math:`v_t - \bar g_t^2` when ``centered``), and a momentum
  buffer on the scaled gradient when ``momentum > 0``;
* ``"adadelta"``: :math:`\Delta_t = \sqrt{u_{t-1} + \epsilon}/\sqrt{v_t + \epsilon}\; g_t`,
  :math:`u_t = \rho u_{t-1} + (1-\rho)\Delta_t^2`, :math:`x_t = x_{t-1} - \gamma_t \Delta_t`.

Kernels: :func:`nsolve._kernels.first_order.adagrad_step_inplace`,
``rmsprop_step_inplace``, ``adadelta_step_inplace``; ``docs/first-order.md`` has the math
and where optax puts :math:`\epsilon` differently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nsolve._kernels.first_order import adadelta_step_inplace, adagrad_step_inplace, rmsprop_step_inplace
from nsolve._validation import check_positive
from nsolve.methods.first_order._common import FirstOrderOptions, FirstOrderState, check_unit, spec


@dataclass(frozen=True)
class AdaGradOptions(FirstOrderOptions):
    """AdaGrad (torch ``Adagrad``).

    Parameters
    ----------
    lr : float, default 1e-2
        Learning rate, > 0.
    lr_decay : float, default 0
        :math:`\\eta \\ge 0`: the rate is divided by :math:`1 + (t-1)\\eta`.
    eps : float, default 1e-10
        Added to :math:`\\sqrt{s_t}`, > 0.
    weight_decay : float, default 0
        Coupled L2 coefficient, >= 0.
    initial_accumulator_value : float, default 0
        :math:`s_0 \\ge 0`.
    """

    lr: float = 1e-2
    lr_decay: float = 0.0
    eps: float = 1e-10
    weight_decay: float = 0.0
    initial_accumulator_value: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        self._floats("lr_decay", "weight_decay", "initial_accumulator_value")
        self._floats("eps", check=check_positive)


@dataclass(frozen=True)
class RMSpropOptions(FirstOrderOptions):
    """RMSprop (torch ``RMSprop``), optionally centered and with momentum.

    Parameters
    ----------
    lr : float, default 1e-2
        Learning rate, > 0.
    alpha : float, default 0.99
        Decay of the running average of :math:`g^2`, in [0, 1).
    eps : float, default 1e-8
        Added to :math:`\\sqrt{\\tilde v_t}`, > 0.
    weight_decay : float, default 0
        Coupled L2 coefficient, >= 0.
    momentum : float, default 0
        :math:`\\mu \\in [0, 1)`; > 0 keeps a buffer of scaled gradients.
    centered : bool, default False
        Divide by the estimated standard deviation :math:`\\sqrt{v_t - \\bar g_t^2}` (Graves 2013).
    """

    lr: float = 1e-2
    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum: float = 0.0
    centered: bool = False

    def __post_init__(self):
        super().__post_init__()
        self._floats("alpha", "momentum", check=check_unit)
        self._floats("weight_decay")
        self._floats("eps", check=check_positive)
        self._bools("centered")


@dataclass(frozen=True)
class AdaDeltaOptions(FirstOrderOptions):
    """AdaDelta (torch ``Adadelta``; Zeiler 2012 with a learning-rate factor).

    Parameters
    ----------
    lr : float, default 1.0
        Factor on the update, > 0.
    rho : float, default 0.9
        Decay of both running averages, in [0, 1).
    eps : float, default 1e-6
        Inside both square roots, > 0.
    weight_decay : float, default 0
        Coupled L2 coefficient, >= 0.
    """

    lr: float = 1.0
    rho: float = 0.9
    eps: float = 1e-6
    weight_decay: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        self._floats("rho", check=check_unit)
        self._floats("weight_decay")
        self._floats("eps", check=check_positive)


def _init_adagrad(obj, x0, f0, g0, opts) -> FirstOrderState:
    state = FirstOrderState(obj, x0, f0, g0, opts)
    state.s = np.full_like(x0, opts.initial_accumulator_value)
    return state


def _init_rmsprop(obj, x0, f0, g0, opts) -> FirstOrderState:
    state = FirstOrderState(obj, x0, f0, g0, opts)
    state.v = np.zeros_like(x0)
    state.gavg = np.zeros_like(x0) if opts.centered else np.empty(0)
    state.buf = np.zeros_like(x0) if opts.momentum > 0 else np.empty(0)
    return state


def _init_adadelta(obj, x0, f0, g0, opts) -> FirstOrderState:
    state = FirstOrderState(obj, x0, f0, g0, opts)
    state.v = np.zeros_like(x0)
    state.u = np.zeros_like(x0)
    return state


def _adagrad(state, o, lr, t):
    adagrad_step_inplace(state.x, state.g, state.s, t, lr, o.lr_decay, o.eps, o.weight_decay)


def _rmsprop(state, o, lr, t):
    rmsprop_step_inplace(state.x, state.g, state.v, state.gavg, state.buf, lr, o.alpha, o.eps, o.weight_decay,
                         o.momentum, o.centered)


def _adadelta(state, o, lr, t):
    adadelta_step_inplace(state.x, state.g, state.v, state.u, lr, o.rho, o.eps, o.weight_decay)


SPECS = [
    spec("adagrad", "AdaGrad: per-coordinate rate from the sum of squared gradients (torch Adagrad)",
         AdaGradOptions, _init_adagrad, _adagrad, "Duchi, Hazan & Singer (2011), JMLR 12; PyTorch Adagrad"),
    spec("rmsprop", "RMSprop: running average of squared gradients; centered and momentum variants",
         RMSpropOptions, _init_rmsprop, _rmsprop, "Tieleman & Hinton (2012); Graves (2013); PyTorch RMSprop"),
    spec("adadelta", "AdaDelta: ratio of running RMS of updates and gradients (torch Adadelta)",
         AdaDeltaOptions, _init_adadelta, _adadelta, "Zeiler (2012), arXiv:1212.5701; PyTorch Adadelta"),
]
