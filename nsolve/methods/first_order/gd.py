r"""Gradient descent: :math:`x_{k+1} = x_k - \alpha_k g_k`, with a fixed step or a line search.

The direction is steepest descent, :math:`d_k = -g_k`; the step length comes from any line
search of :mod:`nsolve.linesearch`:

* ``line_search="fixed"`` (default): :math:`\alpha_k = \gamma_k = \mathrm{lr}\cdot s(k)`,
  the learning rate (with its schedule :math:`s`), no decrease test;
* ``"backtracking"``: Armijo backtracking from the trial step :math:`\gamma_k`;
* ``"strong-wolfe"``: the strong Wolfe search from the trial step :math:`\gamma_k`.

Always full batch (every step sees the exact objective); for mini-batches use ``"sgd"``.

Reference: Cauchy (1847); Nocedal & Wright, *Numerical Optimization*, 2nd ed., sec. 3.1-3.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nsolve._kernels.vector import neg_into
from nsolve._status import LINE_SEARCH_FAILED, LS_MAXEVAL, LS_NOT_FINITE, LS_OK, NOT_FINITE
from nsolve.methods._base import MethodSpec, StepInfo
from nsolve.methods._quasi_newton import accept_step
from nsolve.methods.first_order._common import FirstOrderOptions, FirstOrderState, configure


@dataclass(frozen=True)
class GDOptions(FirstOrderOptions):
    """Gradient-descent hyperparameters.

    Parameters
    ----------
    lr : float, default 1e-3
        The step length (``line_search="fixed"``) or the first trial step of each line
        search, > 0.
    schedule : see :class:`~nsolve.methods.first_order._common.FirstOrderOptions`.
    """

    lr: float = 1e-3


def init(obj, x0, f0, g0, opts: GDOptions) -> FirstOrderState:
    state = FirstOrderState(obj, x0, f0, g0, opts)
    n = x0.shape[0]
    state.d = np.empty(n)
    state.x_new = np.empty(n)
    state.g_new = np.empty(n)
    state.f_prev = None
    return state


def step(obj, state: FirstOrderState, opts: GDOptions, search) -> StepInfo:
    alpha0 = state.lr(opts)
    neg_into(state.d, state.g)
    alpha, f_new, ls_status, _ = search(
        obj.fun, obj.fg, state.x, state.d, state.f, state.g, alpha0, state.x_new, state.g_new
    )
    if ls_status != LS_OK and ls_status != LS_MAXEVAL:
        return StepInfo(NOT_FINITE if ls_status == LS_NOT_FINITE else LINE_SEARCH_FAILED, alpha, 0.0, 0.0)
    state.t += 1
    return accept_step(state, f_new, alpha)


SPEC = MethodSpec(
    name="gd",
    summary="gradient descent, full batch, fixed learning rate or any line search",
    options=GDOptions,
    init=init,
    step=step,
    line_search="fixed",
    monotone=False,
    configure=configure,
    default_maxiter=lambda n: 1000,
    reference="Cauchy (1847); Nocedal & Wright (2006), sec. 3.1",
)

__all__ = ["SPEC", "GDOptions"]
