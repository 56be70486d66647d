"""BFGS, L-BFGS and Newton, compiled.

Each method here is the compiled twin of its interpreted module (``nsolve/methods/bfgs.py``,
``lbfgs.py``, ``newton.py``): ``memory`` (the state arrays), ``init``, ``reset`` and ``step``
make the same calls in the same order on the same values, so the iterates agree to the
last bit.  Every rule is shared rather than rewritten: the line searches of
:mod:`nsolve.linesearch`, the step rules of :mod:`nsolve.methods._quasi_newton`
(``first_step_length``, ``interpolated_step``, ``needs_reset``, ``search_outcome``) and the
update kernels of :mod:`nsolve._kernels`, compiled here from the very same functions.

Hooks (called by :func:`nsolve.compiled._driver.drive`):

* ``sizes(n, io) -> (n_float, n_int)``: workspace sizes;
* ``memory(n, io, wf, wi) -> mem``: the state arrays, views of the workspaces;
* ``init(ev, it, mem, fo, io) -> status``: after the first evaluation (``CONTINUE`` or a
  start failure);
* ``step(ev, it, mem, fo, io) -> (status, alpha, step_inf, x_inf)``.
"""

from __future__ import annotations

import math

from nsolve._kernels.newton import newton_direction_into
from nsolve._kernels.quasi_newton import (
    ALIGN_SLACK,
    LBFGS_WORK_ROWS,
    aligned_square,
    bfgs_update_direction_inplace,
    lbfgs_free_row,
    lbfgs_gram_form,
    lbfgs_gram_update_direction_inplace,
    lbfgs_update_direction_inplace,
)
from nsolve._kernels.vector import all_finite, dot, neg_into
from nsolve._status import CONTINUE, LS_MAXEVAL, NOT_FINITE
from nsolve.compiled._cache import inner
from nsolve.compiled._evaluator import ERR, hessian_into
from nsolve.compiled._layout import (
    EVALUATION_ERROR,
    FO_LS,
    FO_METHOD,
    IO_LS_KIND,
    IO_LS_MAX_EVALS,
    IO_METHOD,
    LS_BACKTRACKING,
    LS_STRONG_WOLFE,
    START_H_NOT_FINITE,
)
from nsolve.compiled._shared import SHARED  # noqa: F401 - makes the shared rules callable here
from nsolve.compiled._state import F_PREV, FRESH, SPENT, F, accept_step, g_new_of, g_of, x_new_of, x_of
from nsolve.linesearch import backtracking, fixed_step, strong_wolfe
from nsolve.methods._quasi_newton import (
    RESET_AND_RETRY,
    first_step_length,
    interpolated_step,
    needs_reset,
    search_outcome,
)


# ------------------------------------------------------------------ line search
@inner(inline=True)
def line_search(ev, it, alpha0, fo, io, x_new, g_new):
    """The run's line search from the current point along ``it.d`` (``fun = fg = ev``),
    writing its trial point and gradient into ``x_new``, ``g_new``."""
    x = x_of(it)
    g = g_of(it)
    f = it.sc[F]
    kind = io[IO_LS_KIND]
    if kind == LS_STRONG_WOLFE:
        return strong_wolfe(ev, ev, x, it.d, f, g, alpha0, fo[FO_LS], fo[FO_LS + 1], fo[FO_LS + 2],
                            io[IO_LS_MAX_EVALS], x_new, g_new)
    if kind == LS_BACKTRACKING:
        return backtracking(ev, ev, x, it.d, f, g, alpha0, fo[FO_LS], fo[FO_LS + 1], io[IO_LS_MAX_EVALS],
                            x_new, g_new)
    return fixed_step(ev, ev, x, it.d, f, g, alpha0, x_new, g_new)


@inner(inline=True)
def iterate_trial(it, mem):
    """Where a method's line search writes its trial point and gradient: the iterate's second row."""
    return x_new_of(it), g_new_of(it)


@inner(inline=True)
def search_with_reset(ev, it, mem, alpha0, reset, trial, fo, io):
    """``methods._quasi_newton.search_with_reset``: search; on failure along a non-fresh
    direction, ``reset`` and retry along :math:`-g`.  ``trial(it, mem)`` gives the buffers of
    the trial point and gradient.  Returns ``(alpha, f_new, status)``."""
    if needs_reset(it.ic[FRESH] != 0, g_of(it), it.d):
        reset(it, mem)
        alpha0 = first_step_length(g_of(it), it.d)
    while True:
        x_new, g_new = trial(it, mem)
        alpha, f_new, ls_status, _ = line_search(ev, it, alpha0, fo, io, x_new, g_new)
        outcome = search_outcome(ls_status, it.ic[FRESH] != 0, it.ic[SPENT] != 0)
        if outcome == CONTINUE:
            it.ic[SPENT] = 1 if ls_status == LS_MAXEVAL else 0
            return alpha, f_new, CONTINUE
        if outcome != RESET_AND_RETRY:
            return alpha, it.sc[F], outcome
        reset(it, mem)
        alpha0 = first_step_length(g_of(it), it.d)


@inner(inline=True)
def initial_step(interpolate, it):
    """``methods._quasi_newton.initial_step`` (``rule = "interpolate"`` when ``interpolate``)."""
    f_prev = it.sc[F_PREV]
    if not interpolate or math.isnan(f_prev):
        return 1.0
    return interpolated_step(it.sc[F], f_prev, dot(g_of(it), it.d))


@inner(inline=True)
def _trial_step(it, interpolate):
    if it.ic[FRESH] != 0:
        return first_step_length(g_of(it), it.d)
    return initial_step(interpolate, it)


# ------------------------------------------------------------------ L-BFGS
# fo[FO_METHOD] = curvature_eps; io[IO_METHOD] = m, io[IO_METHOD + 1] = 1 for "interpolate".
@inner
def lbfgs_sizes(n, io):
    m = io[IO_METHOD]
    c = m + 1
    return 2 * c * n + (2 * c + LBFGS_WORK_ROWS) * c, m + 3


@inner
def lbfgs_memory(n, io, wf, wi):
    # the layout of nsolve._kernels.quasi_newton.lbfgs_workspace, in the run's workspaces
    m = io[IO_METHOD]
    c = m + 1
    S = wf[0 : c * n].reshape((c, n))
    Y = wf[c * n : 2 * c * n].reshape((c, n))
    o = 2 * c * n
    gram = wf[o : o + 2 * c * c].reshape((2, c, c))
    o += 2 * c * c
    work = wf[o : o + LBFGS_WORK_ROWS * c].reshape((LBFGS_WORK_ROWS, c))
    return S, Y, gram, work, wi[0:m], wi[m : m + 3]


@inner
def lbfgs_init(ev, it, mem, fo, io):
    S, Y, gram, work, ring, count_m = mem
    gram[:, :, :] = 0.0
    work[:, :] = 0.0
    ring[:] = 0
    count_m[0] = 0
    count_m[1] = io[IO_METHOD]
    count_m[2] = lbfgs_gram_form(S.shape[1], io[IO_METHOD])
    neg_into(it.d, g_of(it))
    it.ic[FRESH] = 1
    return CONTINUE


@inner(inline=True)
def lbfgs_reset(it, mem):
    mem[5][0] = 0
    neg_into(it.d, g_of(it))
    it.ic[FRESH] = 1


@inner(inline=True)
def lbfgs_trial(it, mem):
    """The history's free rows: the trial point and gradient live there (as in ``LBFGSState``)."""
    S, Y, gram, work, ring, count_m = mem
    free = lbfgs_free_row(ring, count_m)
    return S[free], Y[free]


@inner(inline=True)
def lbfgs_step(ev, it, mem, fo, io):
    S, Y, gram, work, ring, count_m = mem
    alpha0 = _trial_step(it, io[IO_METHOD + 1] != 0)
    alpha, f_new, status = search_with_reset(ev, it, mem, alpha0, lbfgs_reset, lbfgs_trial, fo, io)
    if status != CONTINUE:
        return status, alpha, 0.0, 0.0
    # the interpreted step's update, which also accepts the step (x, g <- x_new, g_new, read
    # from the free rows before the new pair overwrites them) and measures it
    x_new, g_new = lbfgs_trial(it, mem)
    if count_m[2] != 0:  # the form LBFGSState.update picks, by the history's size
        _, step_inf, x_inf = lbfgs_gram_update_direction_inplace(S, Y, gram, work, ring, count_m, x_of(it), x_new,
                                                                 g_of(it), g_new, it.d, fo[FO_METHOD])
    else:
        _, step_inf, x_inf = lbfgs_update_direction_inplace(S, Y, gram, work, ring, count_m, x_of(it), x_new,
                                                            g_of(it), g_new, it.d, fo[FO_METHOD])
    it.ic[FRESH] = 1 if count_m[0] == 0 else 0
    it.sc[F_PREV] = it.sc[F]
    it.sc[F] = f_new
    return CONTINUE, alpha, step_inf, x_inf


# ------------------------------------------------------------------ BFGS
# fo[FO_METHOD] = curvature_eps; io[IO_METHOD] = 1 for "interpolate", io[IO_METHOD + 1] = the H0 scaling's code
# (BFGSOptions.h0_rule: 0 none, 1 long, 2 short Barzilai-Borwein step).
@inner
def bfgs_sizes(n, io):
    return n * n + ALIGN_SLACK + 4 * n, 1


@inner
def bfgs_memory(n, io, wf, wi):
    o = n * n + ALIGN_SLACK
    return aligned_square(wf[0:o], n), wf[o : o + 4 * n].reshape((4, n))


@inner
def _identity_inplace(H):
    H[:, :] = 0.0
    for i in range(H.shape[0]):
        H[i, i] = 1.0


@inner(inline=True)
def bfgs_reset(it, mem):
    _identity_inplace(mem[0])
    neg_into(it.d, g_of(it))
    it.ic[FRESH] = 1


@inner
def bfgs_init(ev, it, mem, fo, io):
    bfgs_reset(it, mem)
    return CONTINUE


@inner(inline=True)
def bfgs_step(ev, it, mem, fo, io):
    H, w = mem
    alpha0 = _trial_step(it, io[IO_METHOD] != 0)
    alpha, f_new, status = search_with_reset(ev, it, mem, alpha0, bfgs_reset, iterate_trial, fo, io)
    if status != CONTINUE:
        return status, alpha, 0.0, 0.0
    h0_rule = io[IO_METHOD + 1] if it.ic[FRESH] != 0 else 0
    bfgs_update_direction_inplace(H, x_of(it), x_new_of(it), g_of(it), g_new_of(it), it.d,
                                  w[0], w[1], w[2], w[3], h0_rule, fo[FO_METHOD])
    it.ic[FRESH] = 0
    return accept_step(it, f_new, alpha)


# ------------------------------------------------------------------ Newton
# fo[FO_METHOD] = beta.  wi[0] = 1 while H holds the Hessian at the current point.
@inner
def newton_sizes(n, io):
    return n * n, 1


@inner
def newton_memory(n, io, wf, wi):
    return wf[0 : n * n].reshape((n, n)), wi[0:1]


@inner
def _all_finite_2d(H):
    for i in range(H.shape[0]):
        if not all_finite(H[i]):
            return False
    return True


@inner
def newton_init(ev, it, mem, fo, io):
    H, have = mem
    hessian_into(ev, x_of(it), g_of(it), H)
    if ev.ints[ERR] != 0:
        return EVALUATION_ERROR
    if not _all_finite_2d(H):
        return START_H_NOT_FINITE
    have[0] = 1
    it.ic[FRESH] = 0
    return CONTINUE


@inner(inline=True)
def newton_reset(it, mem):
    neg_into(it.d, g_of(it))
    it.ic[FRESH] = 1


@inner(inline=True)
def newton_step(ev, it, mem, fo, io):
    H, have = mem
    if have[0] == 0:
        hessian_into(ev, x_of(it), g_of(it), H)
    have[0] = 0
    if not _all_finite_2d(H):
        return NOT_FINITE, 0.0, 0.0, 0.0
    tau = newton_direction_into(it.d, H, g_of(it), fo[FO_METHOD])
    fresh = tau < 0.0
    it.ic[FRESH] = 1 if fresh else 0
    alpha0 = first_step_length(g_of(it), it.d) if fresh else 1.0
    alpha, f_new, status = search_with_reset(ev, it, mem, alpha0, newton_reset, iterate_trial, fo, io)
    if status != CONTINUE:
        return status, alpha, 0.0, 0.0
    return accept_step(it, f_new, alpha)

