"""Pieces shared by the line-search methods: the first trial step and the reset-and-retry.

The rules :func:`first_step_length`, :func:`interpolated_step`, :func:`needs_reset` and
:func:`search_outcome` are written in the subset of Python that Numba compiles: the
compiled solvers (:mod:`nsolve.compiled`) call these same functions, compiled.
"""

from __future__ import annotations

from nsolve._kernels.vector import dot, norm2, step_stats
from nsolve._status import CONTINUE, LINE_SEARCH_FAILED, LS_MAXEVAL, LS_NOT_FINITE, LS_OK, NOT_FINITE
from nsolve.methods._base import StepInfo


def first_step_length(g, d) -> float:
    """Trial step along a fresh steepest-descent direction :math:`d = -g`.

    :math:`\\alpha_0 = \\min(1, 1.01 / \\|g\\|_2)`: the step a quadratic model predicts if the
    first reduction of f equals half the gradient norm (the rule scipy's BFGS uses), so a
    badly scaled first gradient does not throw the search far away.
    """
    gn = norm2(g)
    return min(1.0, 1.01 / gn) if gn > 0.0 else 1.0


INITIAL_STEP_RULES = ("unit", "interpolate")


def initial_step(rule, state) -> float:
    r"""Trial step of a non-fresh quasi-Newton or Newton direction.

    * ``"unit"``: :math:`\alpha_0 = 1`, the natural step of a (quasi-)Newton direction;
    * ``"interpolate"``: :math:`\alpha_0 = \min(1, 1.01 \cdot 2 (f_k - f_{k-1}) / g_k^T d_k)`,
      the minimizer of the quadratic through :math:`f_k`, :math:`g_k^T d_k` that predicts the
      same decrease as the last step (Nocedal & Wright eq. 3.60); it approaches 1 near a
      solution and shortens the early steps, which on ill-conditioned problems brings the
      quasi-Newton iteration close to exact line searches.
    """
    if rule == "unit" or state.f_prev is None:
        return 1.0
    return interpolated_step(state.f, state.f_prev, dot(state.g, state.d))


def interpolated_step(f, f_prev, dphi) -> float:
    """The ``"interpolate"`` rule of :func:`initial_step` from :math:`f_k, f_{k-1}, g_k^T d_k`.

    Numba-compilable (scalars only): the compiled solvers call it too.
    """
    if not dphi < 0.0:
        return 1.0
    a = 1.01 * 2.0 * (f - f_prev) / dphi
    return min(1.0, a) if a > 0.0 else 1.0


#: :func:`search_outcome`: the search failed along a non-fresh direction; reset and retry.
RESET_AND_RETRY = -2


def needs_reset(fresh, g, d) -> bool:
    """True when a non-fresh direction is not a descent direction (:math:`g^T d \\ge 0`)."""
    return not fresh and not dot(g, d) < 0.0


def search_outcome(ls_status, fresh, spent) -> int:
    """What a line-search status means for the step (Numba-compilable).

    Returns ``CONTINUE`` (accept the point found: ``LS_OK``, or ``LS_MAXEVAL``, the best
    point with sufficient decrease when the evaluation budget ran out),
    :data:`RESET_AND_RETRY` (failure along a non-fresh direction), or the run's stop status
    (failure along a fresh direction: ``NOT_FINITE`` or ``LINE_SEARCH_FAILED``).

    ``spent``: the previous step's search also ran out of budget.  A second ``LS_MAXEVAL``
    in a row counts as a failure: the curvature condition cannot be met along these
    directions (a gradient that disagrees with f, as a finite-difference one at its noise
    floor), and accepting such steps again and again crawled for thousands of iterations.
    """
    if ls_status == LS_OK or (ls_status == LS_MAXEVAL and not spent):
        return CONTINUE
    if fresh:
        return NOT_FINITE if ls_status == LS_NOT_FINITE else LINE_SEARCH_FAILED
    return RESET_AND_RETRY


def search_with_reset(obj, state, search, alpha0, reset):
    """Line search along ``state.d``; on failure along a non-fresh direction, reset and retry.

    ``state`` has ``x, f, g, d, x_new, g_new``, a boolean ``fresh`` (True when ``d`` is
    the steepest-descent direction of a reset method) and a boolean ``spent`` (the last
    accepted step's search ran out of budget; see :func:`search_outcome`).  ``reset(state)`` sets ``d = -g`` and
    ``fresh = True``.

    Returns
    -------
    alpha, f_new, status
        ``status`` is ``CONTINUE`` when ``state.x_new``/``state.g_new`` hold an accepted
        point with value ``f_new``, else the run's stop status.
    """
    if needs_reset(state.fresh, state.g, state.d):
        reset(state)
        alpha0 = first_step_length(state.g, state.d)
    while True:
        alpha, f_new, ls_status, _ = search(
            obj.fun, obj.fg, state.x, state.d, state.f, state.g, alpha0, state.x_new, state.g_new
        )
        outcome = search_outcome(ls_status, state.fresh, state.spent)
        if outcome == CONTINUE:
            state.spent = ls_status == LS_MAXEVAL
            return alpha, f_new, CONTINUE
        if outcome != RESET_AND_RETRY:
            return alpha, state.f, outcome
        reset(state)
        alpha0 = first_step_length(state.g, state.d)


def accept_step(state, f_new, alpha) -> StepInfo:
    """Make ``x_new, g_new, f_new`` the current point (buffers are swapped, not copied)."""
    step_inf, x_inf = step_stats(state.x_new, state.x)
    state.f_prev = state.f
    state.x, state.x_new = state.x_new, state.x
    state.g, state.g_new = state.g_new, state.g
    state.f = f_new
    return StepInfo(CONTINUE, alpha, step_inf, x_inf)
