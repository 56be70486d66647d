"""Truncated Newton (Newton-CG) for large n, using only Hessian-vector products.

The direction approximately solves :math:`\\nabla^2 f(x_k)\\, d = -g_k` by conjugate
gradients started at :math:`d = 0`, stopped when
:math:`\\|r\\|_2 \\le \\eta_k \\|g_k\\|_2` with the forcing term
:math:`\\eta_k = \\min(0.5, \\sqrt{\\|g_k\\|_2})` (superlinear convergence), or on negative
curvature :math:`p^T \\nabla^2 f\\, p \\le 0` (the current iterate is returned, or
:math:`-g_k` at the first inner iteration).  Products come from ``hessp``, from ``hess``
(formed once per outer iteration), or from differences of gradients.  The full step is
tried first.

Reference: Nocedal & Wright, *Numerical Optimization*, 2nd ed., Alg. 7.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nsolve._kernels.newton import cg_direction_inplace, cg_step_inplace
from nsolve._kernels.vector import dot, norm2
from nsolve._objective import NotFiniteAtStart
from nsolve._status import CONTINUE, NOT_FINITE
from nsolve._validation import check_int, check_interval
from nsolve.methods._base import MethodSpec, StepInfo
from nsolve.methods._quasi_newton import accept_step, first_step_length, search_with_reset


@dataclass(frozen=True)
class NewtonCGOptions:
    """Newton-CG hyperparameters.

    Parameters
    ----------
    cg_maxiter : int or None, default None
        Inner CG iterations per outer iteration; None means :math:`20 n`.
    eta_max : float, default 0.5
        Upper bound of the forcing term :math:`\\eta_k`.
    """

    cg_maxiter: int | None = None
    eta_max: float = 0.5

    def __post_init__(self):
        check_int(self.cg_maxiter, "cg_maxiter", minimum=1, allow_none=True)
        check_interval(self.eta_max, "eta_max", 0.0, 1.0)


class NewtonCGState:
    def __init__(self, x, f, g):
        n = x.shape[0]
        self.x = x
        self.f = f
        self.g = g
        self.d = np.empty(n)
        self.x_new = np.empty(n)
        self.g_new = np.empty(n)
        self.r = np.empty(n)
        self.p = np.empty(n)
        self.Hp = np.empty(n)
        self.fresh = False
        self.spent = False  # the last search ran out of budget (search_outcome)
        self.f_prev = None
        self.cg_iters = 0


def init(obj, x0, f0, g0, opts: NewtonCGOptions) -> NewtonCGState:
    return NewtonCGState(x0, f0, g0)


def _reset(state: NewtonCGState) -> None:
    np.negative(state.g, out=state.d)
    state.fresh = True


def _truncated_cg(obj, state: NewtonCGState, opts: NewtonCGOptions) -> tuple[bool, bool]:
    """Inner CG into ``state.d``.

    Returns ``(fresh, finite)``: ``fresh`` when negative curvature at once gave ``d = -g``;
    ``finite`` False when a Hessian-vector product was not finite (``d`` is then unusable).
    """
    x, g, z, r, p, Hp = state.x, state.g, state.d, state.r, state.p, state.Hp
    n = x.shape[0]
    H = obj.hess(x, g, operator=True) if (obj.has_hess and not obj.has_hessp) else None
    dense = isinstance(H, np.ndarray)
    gnorm = norm2(g)
    tol = min(opts.eta_max, math.sqrt(gnorm)) * gnorm
    z[:] = 0.0
    r[:] = g
    np.negative(g, out=p)
    rr = gnorm * gnorm
    maxiter = opts.cg_maxiter if opts.cg_maxiter is not None else 20 * n
    for i in range(maxiter):
        if dense:
            np.dot(H, p, out=Hp)
        elif H is not None:  # a sparse matrix or a LinearOperator
            Hp[:] = np.ravel(H @ p)
        else:
            obj.hessp(x, p, g, Hp)
        curv = dot(p, Hp)
        if not math.isfinite(curv):
            return False, False
        if not curv > 0.0:
            if i == 0:
                np.negative(g, out=z)
                return True, True
            break
        rr_new = cg_step_inplace(z, r, p, Hp, rr / curv)
        state.cg_iters += 1
        if math.sqrt(rr_new) <= tol:
            break
        cg_direction_inplace(p, r, rr_new / rr)
        rr = rr_new
    return False, True


def step(obj, state: NewtonCGState, opts: NewtonCGOptions, search) -> StepInfo:
    # Negative curvature along -g itself: a steepest-descent step, sized like one.
    state.fresh, finite = _truncated_cg(obj, state, opts)
    if not finite:
        if state.f_prev is None and (obj.has_hessp or obj.has_hess):  # at x0: the user's function
            name = "hessp" if obj.has_hessp else "hess"
            raise NotFiniteAtStart(name, *obj.counts(), f=state.f, g=state.g.copy())
        return StepInfo(NOT_FINITE, 0.0, 0.0, 0.0)
    alpha0 = first_step_length(state.g, state.d) if state.fresh else 1.0
    alpha, f_new, status = search_with_reset(obj, state, search, alpha0, _reset)
    if status != CONTINUE:
        return StepInfo(status, alpha, 0.0, 0.0)
    return accept_step(state, f_new, alpha)


SPEC = MethodSpec(
    name="newton-cg",
    summary="truncated Newton: CG on Hessian-vector products (hessp, hess or gradient differences)",
    options=NewtonCGOptions,
    init=init,
    step=step,
    uses_hessian=True,
    reference="Nocedal & Wright (2006), Alg. 7.1",
)
