r"""The Adam family: Adam, AMSGrad, AdamW, AdaMax, NAdam, RAdam (``torch.optim`` semantics).

All keep :math:`m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t` and (except AdaMax)
:math:`v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2` from :math:`m_0 = v_0 = 0`:

* ``"adam"``: :math:`x_t = x_{t-1} - \gamma_t \hat m_t / (\sqrt{\hat v_t} + \epsilon)`,
  :math:`\hat m_t = m_t / (1-\beta_1^t)`, :math:`\hat v_t = v_t / (1-\beta_2^t)`;
* ``"amsgrad"``: Adam with :math:`v^{\max}_t = \max(v^{\max}_{t-1}, v_t)` (the raw moment,
  as torch's code) in place of :math:`v_t`;
* ``"adamw"``: :math:`x \leftarrow (1 - \gamma_t\lambda) x_{t-1}` before the Adam step;
* ``"adamax"``: :math:`u_t = \max(\beta_2 u_{t-1}, |g_t| + \epsilon)`,
  :math:`x_t = x_{t-1} - \gamma_t m_t / ((1-\beta_1^t) u_t)`;
* ``"nadam"``: Dozat's Nesterov Adam with torch's momentum schedule
  :math:`\mu_t = \beta_1 (1 - \frac12 0.96^{t\psi})`;
* ``"radam"``: Adam rectified by :math:`r_t` once :math:`\rho_t > 5`, plain momentum before.

Kernels: ``adam_step_inplace``, ``amsgrad_step_inplace``, ``adamw_step_inplace``,
``adamax_step_inplace``, ``nadam_step_inplace``, ``radam_step_inplace`` of
:mod:`nsolve._kernels.first_order`; ``docs/first-order.md`` writes each rule out and shows
where optax and the Adam paper's :math:`\alpha_t` form differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nsolve._kernels.first_order import (
    adam_step_inplace,
    adamax_step_inplace,
    adamw_step_inplace,
    amsgrad_step_inplace,
    nadam_step_inplace,
    radam_step_inplace,
)
from nsolve._validation import check_positive
from nsolve.methods.first_order._common import FirstOrderOptions, FirstOrderState, _set, check_betas, spec


@dataclass(frozen=True)
class AdamOptions(FirstOrderOptions):
    """Adam (torch ``Adam``).

    Parameters
    ----------
    lr : float, default 1e-3
        Learning rate, > 0.
    betas : (float, float), default (0.9, 0.999)
        :math:`(\\beta_1, \\beta_2)`, each in [0, 1).
    eps : float, default 1e-8
        Added to :math:`\\sqrt{\\hat v_t}`, > 0.
    weight_decay : float, default 0
        Coupled L2 coefficient, >= 0 (AdamW has the decoupled one).
    """

    lr: float = 1e-3
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        _set(self, "betas", check_betas(self.betas))
        self._floats("weight_decay")
        self._floats("eps", check=check_positive)

    @property
    def beta1(self) -> float:
        return self.betas[0]

    @property
    def beta2(self) -> float:
        return self.betas[1]


@dataclass(frozen=True)
class AMSGradOptions(AdamOptions):
    """AMSGrad (torch ``Adam(amsgrad=True)``; ``AdamW(amsgrad=True)`` with decoupled decay).

    Parameters as :class:`AdamOptions`, plus

    decoupled_weight_decay : bool, default False
        AdamW's decay :math:`x \\leftarrow (1-\\gamma\\lambda)x` instead of the L2 term.
    """

    decoupled_weight_decay: bool = False

    def __post_init__(self):
        super().__post_init__()
        self._bools("decoupled_weight_decay")


@dataclass(frozen=True)
class AdamWOptions(AdamOptions):
    """AdamW (torch ``AdamW``).

    Parameters as :class:`AdamOptions`, except

    weight_decay : float, default 1e-2
        Decoupled decay :math:`\\lambda \\ge 0`.
    """

    weight_decay: float = 1e-2


@dataclass(frozen=True)
class AdaMaxOptions(AdamOptions):
    """AdaMax (torch ``Adamax``), parameters as :class:`AdamOptions` with ``lr = 2e-3``."""

    lr: float = 2e-3


@dataclass(frozen=True)
class NAdamOptions(AMSGradOptions):
    """NAdam (torch ``NAdam``).

    Parameters as :class:`AMSGradOptions` with ``lr = 2e-3``, plus

    momentum_decay : float, default 4e-3
        :math:`\\psi \\ge 0` of the schedule :math:`\\mu_t = \\beta_1(1 - \\tfrac12 0.96^{t\\psi})`.
    """

    lr: float = 2e-3
    momentum_decay: float = 4e-3

    def __post_init__(self):
        super().__post_init__()
        self._floats("momentum_decay")


@dataclass(frozen=True)
class RAdamOptions(AMSGradOptions):
    """RAdam (torch ``RAdam``); parameters as :class:`AMSGradOptions`."""


def _init_mv(obj, x0, f0, g0, opts) -> FirstOrderState:
    state = FirstOrderState(obj, x0, f0, g0, opts)
    state.m = np.zeros_like(x0)
    state.v = np.zeros_like(x0)
    return state


def _init_amsgrad(obj, x0, f0, g0, opts) -> FirstOrderState:
    state = _init_mv(obj, x0, f0, g0, opts)
    state.vmax = np.zeros_like(x0)
    return state


def _init_nadam(obj, x0, f0, g0, opts) -> FirstOrderState:
    state = _init_mv(obj, x0, f0, g0, opts)
    state.mu_product = 1.0
    return state


def _adam(state, o, lr, t):
    b1, b2 = o.betas
    adam_step_inplace(state.x, state.g, state.m, state.v, t, lr, b1, b2, o.eps, o.weight_decay)


def _amsgrad(state, o, lr, t):
    b1, b2 = o.betas
    amsgrad_step_inplace(state.x, state.g, state.m, state.v, state.vmax, t, lr, b1, b2, o.eps, o.weight_decay,
                         o.decoupled_weight_decay)


def _adamw(state, o, lr, t):
    b1, b2 = o.betas
    adamw_step_inplace(state.x, state.g, state.m, state.v, t, lr, b1, b2, o.eps, o.weight_decay)


def _adamax(state, o, lr, t):
    b1, b2 = o.betas
    adamax_step_inplace(state.x, state.g, state.m, state.v, t, lr, b1, b2, o.eps, o.weight_decay)


def _nadam(state, o, lr, t):
    b1, b2 = o.betas
    state.mu_product = nadam_step_inplace(state.x, state.g, state.m, state.v, state.mu_product, t, lr, b1, b2,
                                          o.eps, o.weight_decay, o.momentum_decay, o.decoupled_weight_decay)


def _radam(state, o, lr, t):
    b1, b2 = o.betas
    radam_step_inplace(state.x, state.g, state.m, state.v, t, lr, b1, b2, o.eps, o.weight_decay,
                       o.decoupled_weight_decay)


_KB = "Kingma & Ba (2015), Adam, ICLR"
SPECS = [
    spec("adam", "Adam: bias-corrected first and second moments (torch Adam)",
         AdamOptions, _init_mv, _adam, _KB + ", Alg. 1; PyTorch Adam"),
    spec("amsgrad", "AMSGrad: Adam with the running maximum of the raw second moment (torch amsgrad=True)",
         AMSGradOptions, _init_amsgrad, _amsgrad, "Reddi, Kale & Kumar (2018), ICLR; PyTorch Adam(amsgrad=True)"),
    spec("adamw", "AdamW: Adam with decoupled weight decay (torch AdamW)",
         AdamWOptions, _init_mv, _adamw, "Loshchilov & Hutter (2019), ICLR, Alg. 2; PyTorch AdamW"),
    spec("adamax", "AdaMax: Adam with an exponentially weighted infinity norm (torch Adamax)",
         AdaMaxOptions, _init_mv, _adamax, _KB + ", Alg. 2; PyTorch Adamax"),
    spec("nadam", "NAdam: Adam with Nesterov momentum and a momentum schedule (torch NAdam)",
         NAdamOptions, _init_nadam, _nadam, "Dozat (2016), ICLR workshop; PyTorch NAdam"),
    spec("radam", "RAdam: Adam with a rectified adaptive rate (torch RAdam)",
         RAdamOptions, _init_mv, _radam, "Liu et al. (2020), ICLR; PyTorch RAdam"),
]
