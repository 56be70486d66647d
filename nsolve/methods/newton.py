"""Newton's method with a modified-Cholesky Hessian and a line search.

Direction: :math:`(\\nabla^2 f(x_k) + \\tau_k I)\\, d_k = -g_k`, with the smallest tried
:math:`\\tau_k \\ge 0` that makes the matrix positive definite (Nocedal & Wright Alg. 3.3,
kernel :func:`nsolve._kernels.newton.newton_direction_into`), so :math:`d_k` is always a
descent direction and equals the pure Newton step where the Hessian is positive definite.
The full step :math:`\\alpha = 1` is tried first.  The Hessian is the user's ``hess`` or
forward differences of the gradient (n extra gradient evaluations per iteration).

Reference: Nocedal & Wright, *Numerical Optimization*, 2nd ed., sec. 3.4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nsolve._kernels.newton import newton_direction_into
from nsolve._objective import NotFiniteAtStart
from nsolve._status import CONTINUE, NOT_FINITE
from nsolve._validation import check_positive
from nsolve.methods._base import MethodSpec, StepInfo
from nsolve.methods._quasi_newton import accept_step, first_step_length, search_with_reset


@dataclass(frozen=True)
class NewtonOptions:
    """Newton hyperparameters.

    Parameters
    ----------
    beta : float, default 1e-3
        First shift tried when the Hessian is not positive definite.
    """

    beta: float = 1e-3

    def __post_init__(self):
        check_positive(self.beta, "beta")


class NewtonState:
    def __init__(self, x, f, g, H0):
        n = x.shape[0]
        self.x = x
        self.f = f
        self.g = g
        self.d = np.empty(n)
        self.x_new = np.empty(n)
        self.g_new = np.empty(n)
        self.H = H0
        self.fresh = False
        self.spent = False  # the last search ran out of budget (search_outcome)
        self.f_prev = None
        self.tau = 0.0


def init(obj, x0, f0, g0, opts: NewtonOptions) -> NewtonState:
    H0 = obj.hess(x0, g0)
    if not np.all(np.isfinite(H0)):
        raise NotFiniteAtStart("hess", *obj.counts(), f=f0, g=g0.copy())
    return NewtonState(x0, f0, g0, H0)


def _reset(state: NewtonState) -> None:
    np.negative(state.g, out=state.d)
    state.fresh = True


def step(obj, state: NewtonState, opts: NewtonOptions, search) -> StepInfo:
    H = state.H if state.H is not None else obj.hess(state.x, state.g)
    state.H = None
    if not np.all(np.isfinite(H)):
        return StepInfo(NOT_FINITE, 0.0, 0.0, 0.0)
    state.tau = newton_direction_into(state.d, H, state.g, opts.beta)
    state.fresh = state.tau < 0.0
    alpha0 = first_step_length(state.g, state.d) if state.fresh else 1.0
    alpha, f_new, status = search_with_reset(obj, state, search, alpha0, _reset)
    if status != CONTINUE:
        return StepInfo(status, alpha, 0.0, 0.0)
    return accept_step(state, f_new, alpha)


SPEC = MethodSpec(
    name="newton",
    summary="Newton, user or finite-difference Hessian, Cholesky with added identity, line search",
    options=NewtonOptions,
    init=init,
    step=step,
    uses_hessian=True,
    reference="Nocedal & Wright (2006), sec. 3.4, Alg. 3.3",
    storage=lambda n, opts: (2 * n * n, "the n x n Hessian and its Cholesky factor",
                             "use method='newton-cg' (Hessian-vector products) or 'lbfgs' for large n"),
)
