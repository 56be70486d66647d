"""Limited-memory BFGS: the two-loop recursion over a circular history of m pairs.

The inverse Hessian is never formed: :math:`d_k = -H_k g_k` is computed from the last
:math:`m` pairs :math:`(s_i, y_i)` by the two-loop recursion with initial matrix
:math:`H_k^0 = \\gamma_k I`, :math:`\\gamma_k = s_{k-1}^T y_{k-1} / y_{k-1}^T y_{k-1}`
(kernel :func:`nsolve._kernels.quasi_newton.lbfgs_update_direction_inplace`; for long
histories :func:`~nsolve._kernels.quasi_newton.lbfgs_gram_update_direction_inplace`
evaluates the recursion over the pairs' inner-product matrices, reading each pair twice per
iteration instead of four times, see ``docs/quasi-newton.md``).  A pair is
stored only when :math:`s^T y > \\varepsilon_c \\|s\\|_2 \\|y\\|_2`; on a line-search failure
the history is cleared and the step retried along :math:`-g`.

Memory: :math:`(2(m+1) + 3)\\,n` doubles: the history, x, g and d; the line search's trial
point and gradient live in the history's free rows (see :class:`LBFGSState`).

Reference: Nocedal & Wright, *Numerical Optimization*, 2nd ed., Alg. 7.4-7.5; Liu & Nocedal
(1989), Math. Programming 45.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nsolve._kernels.quasi_newton import lbfgs_free_row, lbfgs_kernel, lbfgs_workspace
from nsolve._status import CONTINUE
from nsolve._validation import check_choice, check_int, check_nonnegative
from nsolve.methods._base import MethodSpec, StepInfo
from nsolve.methods._quasi_newton import (
    INITIAL_STEP_RULES,
    first_step_length,
    initial_step,
    search_with_reset,
)


@dataclass(frozen=True)
class LBFGSOptions:
    """L-BFGS hyperparameters.

    Parameters
    ----------
    m : int, default 10
        Number of :math:`(s, y)` pairs kept (scipy's ``maxcor``).
    curvature_eps : float, default 1e-10
        A pair is stored only when :math:`s^T y > \\varepsilon_c \\|s\\|_2 \\|y\\|_2`.
    initial_step : {"unit", "interpolate"}, default "unit"
        Trial step of each line search after the first (see
        :func:`nsolve.methods._quasi_newton.initial_step`).
    """

    m: int = 10
    curvature_eps: float = 1e-10
    initial_step: str = "unit"

    def __post_init__(self):
        check_choice(self.initial_step, "initial_step", INITIAL_STEP_RULES)
        object.__setattr__(self, "m", check_int(self.m, "m", minimum=1))
        check_nonnegative(self.curvature_eps, "curvature_eps")


class LBFGSState:
    """Current iterate, the circular history and the direction (allocated once).

    The trial point and gradient of the line search, ``x_new`` and ``g_new``, are views of
    the history's free rows ``S[free]`` and ``Y[free]``: the update reads them there before
    it writes the new pair over them and copies them into ``x`` and ``g`` (accepting the
    step in the same pass), so they cost no memory of their own.
    """

    def __init__(self, x, f, g, m):
        n = x.shape[0]
        self.x = x
        self.f = f
        self.g = g
        self.d = -g
        self.S = np.empty((m + 1, n))
        self.Y = np.empty((m + 1, n))
        # inner products of the pairs, scratch, the ring of rows in use and [count, m, gram_form]
        self.gram, self.work, self.ring, self.count_m = lbfgs_workspace(n, m)
        self.update = lbfgs_kernel(self.count_m)  # the vector or the Gram form, by the history's size
        self.fresh = True
        self.spent = False  # the last search ran out of budget (search_outcome)
        self.f_prev = None
        self.point_trial_at_free_row()

    def point_trial_at_free_row(self) -> None:
        """Make ``x_new``, ``g_new`` the views of the history's free rows."""
        free = lbfgs_free_row(self.ring, self.count_m)
        self.x_new = self.S[free]
        self.g_new = self.Y[free]


def init(obj, x0, f0, g0, opts: LBFGSOptions) -> LBFGSState:
    return LBFGSState(x0, f0, g0, opts.m)


def _reset(state: LBFGSState) -> None:
    state.count_m[0] = 0
    state.point_trial_at_free_row()
    np.negative(state.g, out=state.d)
    state.fresh = True


def step(obj, state: LBFGSState, opts: LBFGSOptions, search) -> StepInfo:
    alpha0 = first_step_length(state.g, state.d) if state.fresh else initial_step(opts.initial_step, state)
    alpha, f_new, status = search_with_reset(obj, state, search, alpha0, _reset)
    if status != CONTINUE:
        return StepInfo(status, alpha, 0.0, 0.0)
    # accepts the step too: x, g <- x_new, g_new (which the new pair then overwrites), and
    # measures it (step_inf, x_inf) in the same pass
    _, step_inf, x_inf = state.update(
        state.S, state.Y, state.gram, state.work, state.ring, state.count_m,
        state.x, state.x_new, state.g, state.g_new, state.d, opts.curvature_eps,
    )
    state.point_trial_at_free_row()
    state.fresh = state.count_m[0] == 0
    state.f_prev = state.f
    state.f = f_new
    return StepInfo(CONTINUE, alpha, step_inf, x_inf)


SPEC = MethodSpec(
    name="lbfgs",
    summary="limited-memory BFGS, two-loop recursion over m pairs, strong Wolfe line search",
    options=LBFGSOptions,
    init=init,
    step=step,
    default_maxiter=lambda n: 15000,
    reference="Liu & Nocedal (1989); Nocedal & Wright (2006), Alg. 7.4-7.5",
    storage=lambda n, opts: (2 * (opts.m + 1) * n, f"its history of m = {opts.m} pairs (2 (m + 1) n doubles)",
                             "reduce m"),
)
