r"""SGD, momentum, Nesterov momentum and SGDW, as ``torch.optim.SGD`` defines them.

With :math:`g_t` the (mini-batch) gradient at :math:`x_{t-1}` and :math:`\gamma_t` the
learning rate of step :math:`t`:

* ``"sgd"``: :math:`x_t = x_{t-1} - \gamma_t (g_t + \lambda x_{t-1})`;
* ``"momentum"``: :math:`b_t = \mu b_{t-1} + (1-\tau) g_t` (:math:`b_1 = g_1`),
  :math:`x_t = x_{t-1} - \gamma_t b_t` (or :math:`g_t + \mu b_t` with ``nesterov``);
* ``"nesterov"``: :math:`x_t = x_{t-1} - \gamma_t (g_t + \mu b_t)`, Sutskever's Nesterov
  accelerated gradient written in the look-ahead variable;
* ``"sgdw"``: the momentum step with decoupled decay,
  :math:`x_t = (1 - \gamma_t\lambda) x_{t-1} - \gamma_t b_t` (Loshchilov & Hutter, Alg. 1).

The kernels are :func:`nsolve._kernels.first_order.sgd_step_inplace`,
``momentum_step_inplace``, ``nesterov_step_inplace`` and ``sgdw_step_inplace``;
``docs/first-order.md`` has the derivations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nsolve._kernels.first_order import (
    momentum_step_inplace,
    nesterov_step_inplace,
    sgd_step_inplace,
    sgdw_step_inplace,
)
from nsolve._validation import check_interval
from nsolve.methods.first_order._common import FirstOrderOptions, FirstOrderState, check_unit, spec


@dataclass(frozen=True)
class SGDOptions(FirstOrderOptions):
    """Plain SGD (torch ``SGD(momentum=0)``).

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate, > 0.
    weight_decay : float, default 0
        Coupled L2 coefficient :math:`\\lambda \\ge 0` (added to the gradient).
    schedule : see :class:`~nsolve.methods.first_order._common.FirstOrderOptions`.
    """

    lr: float = 1e-3
    weight_decay: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        self._floats("weight_decay")


def _check_momentum(opts) -> None:
    opts._floats("momentum", check=check_unit)
    opts._floats("weight_decay")
    if hasattr(opts, "dampening"):
        opts._floats("dampening", check=lambda v, n: check_interval(v, n, 0.0, 1.0, closed_low=True, closed_high=True))
    if getattr(opts, "nesterov", False) and not (opts.momentum > 0 and opts.dampening == 0):
        raise ValueError(
            f"nesterov=True needs momentum > 0 and dampening == 0; got momentum={opts.momentum}, "
            f"dampening={opts.dampening}"
        )


@dataclass(frozen=True)
class MomentumOptions(FirstOrderOptions):
    """SGD with momentum (torch ``SGD(momentum, dampening, nesterov)``).

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate, > 0.
    momentum : float, default 0.9
        :math:`\\mu \\in [0, 1)` (torch's own default 0 switches momentum off).
    dampening : float, default 0
        :math:`\\tau \\in [0, 1]`.
    weight_decay : float, default 0
        Coupled L2 coefficient, >= 0.
    nesterov : bool, default False
        torch's Nesterov form (needs momentum > 0 and dampening = 0).
    """

    lr: float = 1e-3
    momentum: float = 0.9
    dampening: float = 0.0
    weight_decay: float = 0.0
    nesterov: bool = False

    def __post_init__(self):
        super().__post_init__()
        self._bools("nesterov")
        _check_momentum(self)


@dataclass(frozen=True)
class NesterovOptions(FirstOrderOptions):
    """Nesterov momentum (torch ``SGD(momentum, nesterov=True)``).

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate, > 0.
    momentum : float, default 0.9
        :math:`\\mu \\in [0, 1)`.
    weight_decay : float, default 0
        Coupled L2 coefficient, >= 0.
    """

    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        _check_momentum(self)
        if not self.momentum > 0:  # torch raises for SGD(momentum=0, nesterov=True) too
            raise ValueError(f"method 'nesterov' needs momentum > 0; got momentum={self.momentum}")


@dataclass(frozen=True)
class SGDWOptions(MomentumOptions):
    """SGD with momentum and decoupled weight decay (Loshchilov & Hutter 2019, Alg. 1).

    Parameters as :class:`MomentumOptions`, except

    weight_decay : float, default 1e-2
        Decoupled decay :math:`\\lambda \\ge 0`: :math:`x \\leftarrow (1 - \\gamma\\lambda) x`.
    """

    weight_decay: float = 1e-2


def _init_plain(obj, x0, f0, g0, opts) -> FirstOrderState:
    return FirstOrderState(obj, x0, f0, g0, opts)


def _init_buffer(obj, x0, f0, g0, opts) -> FirstOrderState:
    state = FirstOrderState(obj, x0, f0, g0, opts)
    state.buf = np.zeros_like(x0)
    return state


def _sgd(state, o, lr, t):
    sgd_step_inplace(state.x, state.g, lr, o.weight_decay)


def _momentum(state, o, lr, t):
    momentum_step_inplace(state.x, state.g, state.buf, t, lr, o.momentum, o.dampening, o.weight_decay, o.nesterov)


def _nesterov(state, o, lr, t):
    nesterov_step_inplace(state.x, state.g, state.buf, t, lr, o.momentum, o.weight_decay)


def _sgdw(state, o, lr, t):
    sgdw_step_inplace(state.x, state.g, state.buf, t, lr, o.momentum, o.dampening, o.weight_decay, o.nesterov)


_TORCH = "PyTorch torch.optim.SGD"
SPECS = [
    spec("sgd", "stochastic gradient descent, fixed or scheduled learning rate (torch SGD)",
         SGDOptions, _init_plain, _sgd, _TORCH + "; Robbins & Monro (1951)"),
    spec("momentum", "SGD with heavy-ball momentum, optional dampening / Nesterov (torch SGD)",
         MomentumOptions, _init_buffer, _momentum, _TORCH + "; Polyak (1964)"),
    spec("nesterov", "SGD with Nesterov momentum (torch SGD(nesterov=True))",
         NesterovOptions, _init_buffer, _nesterov, _TORCH + "; Sutskever et al. (2013); Nesterov (1983)"),
    spec("sgdw", "SGD with momentum and decoupled weight decay",
         SGDWOptions, _init_buffer, _sgdw, "Loshchilov & Hutter (2019), Decoupled Weight Decay, Alg. 1"),
]
