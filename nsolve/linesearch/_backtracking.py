r"""Backtracking (Armijo) line search with safeguarded quadratic/cubic interpolation.

Trials :math:`\alpha_0 > \alpha_1 > \dots` are evaluated with ``fun`` (the value only)
until the sufficient-decrease (Armijo) condition

.. math::

    \phi(\alpha) \le \phi(0) + c_1 \alpha \phi'(0)

holds; then ``fg`` is called once at the accepted point, so no gradient is computed at a
rejected trial.  Written in the Numba-compilable subset of Python (see
:mod:`nsolve.linesearch._strong_wolfe`).
"""

from __future__ import annotations

import math

import numpy as np

from nsolve._jit import kernel
from nsolve._kernels.vector import axpy_moved_into, copy_into, dot
from nsolve._status import LS_NO_DECREASE, LS_NOT_DESCENT, LS_NOT_FINITE, LS_OK

#: Interpolated steps are kept in ``[SAFE_LOW, SAFE_HIGH] * alpha`` (Nocedal & Wright, 3.5).
SAFE_LOW = 0.1
SAFE_HIGH = 0.5
#: A step that leaves f level with f(0) (f has no resolution left) is accepted only when the
#: slope along d fell to this fraction of |phi'(0)| (progress the gradient can see: Hager &
#: Zhang's approximate Wolfe test, as the strong Wolfe search applies it).
TIE_SLOPE = 0.9


@kernel
def backtrack_step(a, fa, a_prev, f_prev, have_prev, f0, dphi0, shrink):
    r"""Next (smaller) trial after ``a`` failed the Armijo test with finite value ``fa``.

    Without an earlier failed trial, the minimizer of the quadratic matching
    :math:`\phi(0), \phi'(0), \phi(a)`:

    .. math::

        \alpha_q = -\frac{\phi'(0)\, a^2}{2\,(\phi(a) - \phi(0) - \phi'(0) a)}.

    With an earlier failed trial :math:`a_p > a`, the minimizer of the cubic
    :math:`\phi(0) + \phi'(0)\alpha + b\alpha^2 + c\alpha^3` through :math:`\phi(a)` and
    :math:`\phi(a_p)` (Nocedal & Wright, eq. 3.58), with
    :math:`r = \phi(a) - \phi(0) - \phi'(0) a`, :math:`r_p = \phi(a_p) - \phi(0) - \phi'(0) a_p`,

    .. math::

        c = \frac{r/a^2 - r_p/a_p^2}{a - a_p},\quad
        b = \frac{-a_p\, r/a^2 + a\, r_p/a_p^2}{a - a_p},\quad
        \alpha_c = \frac{-b + \sqrt{b^2 - 3 c \phi'(0)}}{3c}.

    The step is clipped to :math:`[0.1 a, 0.5 a]`; ``shrink * a`` replaces an interpolant
    that is not defined.
    """
    r = fa - f0 - dphi0 * a
    t = np.nan
    if have_prev:
        rp = f_prev - f0 - dphi0 * a_prev
        u = r / (a * a)
        v = rp / (a_prev * a_prev)
        den = a - a_prev
        c = (u - v) / den
        b = (a * v - a_prev * u) / den
        if c == 0.0:
            if b > 0.0:
                t = -dphi0 / (2.0 * b)
        else:
            disc = b * b - 3.0 * c * dphi0
            if disc >= 0.0:
                sq = np.sqrt(disc)
                # Two algebraically equal forms; pick the one free of cancellation.
                if b > 0.0:
                    t = -dphi0 / (b + sq)
                else:
                    t = (sq - b) / (3.0 * c)
    if not np.isfinite(t) and r > 0.0:
        t = -0.5 * dphi0 * a * (a / r)
    if not (np.isfinite(t) and t > 0.0):
        return shrink * a
    return min(max(t, SAFE_LOW * a), SAFE_HIGH * a)


def backtracking(fun, fg, x, d, f0, g0, alpha0, c1, shrink, max_evals, x_new, g_new):
    r"""Backtrack from ``alpha0`` until sufficient decrease, then evaluate the gradient once.

    Accepts the first trial with :math:`\phi(\alpha) \le \phi(0) + c_1 \alpha \phi'(0)`,
    :math:`\phi'(0) = g_0^T d < 0`, that lowers f or, level with :math:`\phi(0)`, has
    :math:`|\phi'(\alpha)| \le 0.9\,|\phi'(0)|`: when :math:`c_1 \alpha \phi'(0)` is
    below the rounding of :math:`\phi(0)` the first test alone would accept steps that make
    no progress, and a run at its precision floor would take them until its iteration
    budget ran out; a level step whose slope did not fall ends the search.  A trial that
    leaves x unchanged (:math:`x + \alpha d = x` in floating point) ends it without an
    evaluation.
    After a rejected trial with a finite value the next one comes from quadratic (first) or
    cubic (later) interpolation safeguarded to :math:`[0.1, 0.5]\,\alpha`
    (:func:`backtrack_step`); after a non-finite value, or when interpolation fails,
    :math:`\alpha \leftarrow \text{shrink}\cdot\alpha`.  If ``fg`` returns a non-finite
    value or gradient at the accepted point the step is shrunk too and the search goes on.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float``: the objective only (called at every trial).
    fg : callable
        ``fg(x, g_out) -> float``: the objective, writing the gradient into ``g_out``
        (called at the accepted point only).
    x, d, g0 : ndarray of float64, shape (n,)
        Current point, direction, gradient at ``x``; not modified.
    f0 : float
        :math:`f(x)`.
    alpha0 : float
        First trial step (replaced by 1 when not a positive finite number).
    c1 : float
        Sufficient-decrease constant, :math:`0 < c_1 < 1`.
    shrink : float
        Fallback reduction factor, :math:`0 < \text{shrink} < 1`.
    max_evals : int
        Largest number of ``fun`` calls (trials); the ``fg`` calls at accepted points come
        on top of it.
    x_new, g_new : ndarray of float64, shape (n,)
        Outputs: the accepted point :math:`x + \alpha d` and its gradient.
        They must not share memory with ``x``, ``d`` or ``g0``.

    Returns
    -------
    alpha : float
        The accepted step, or 0.0.
    f_new : float
        The value returned by ``fg`` at the accepted point (``f0`` when ``alpha`` is 0).
    status : int
        ``LS_OK``; ``LS_NO_DECREASE`` (no trial within the budget satisfied sufficient
        decrease); ``LS_NOT_DESCENT``; ``LS_NOT_FINITE`` (every trial, or ``f0`` /
        :math:`\phi'(0)`, was inf or NaN).  Whenever ``alpha == 0``, ``x_new = x`` and
        ``g_new = g0``.
    n_evals : int
        Number of ``fun`` plus ``fg`` calls.
    """
    dphi0 = dot(g0, d)
    if not (math.isfinite(f0) and math.isfinite(dphi0)):
        copy_into(x_new, x)
        copy_into(g_new, g0)
        return 0.0, f0, LS_NOT_FINITE, 0
    if dphi0 >= 0.0:
        copy_into(x_new, x)
        copy_into(g_new, g0)
        return 0.0, f0, LS_NOT_DESCENT, 0

    a = float(alpha0)
    if not (a > 0.0 and a < np.inf):
        a = 1.0
    a_prev = 0.0
    f_prev = 0.0
    have_prev = False
    n = 0
    trials = 0
    n_finite = 0
    while trials < max_evals:
        if not axpy_moved_into(x_new, x, a, d):
            break  # x + a d == x: this step and every shorter one leave x where it is
        f = fun(x_new)
        n += 1
        trials += 1
        if math.isfinite(f):
            n_finite += 1
            if f <= f0 + c1 * a * dphi0:
                f_new = fg(x_new, g_new)
                n += 1
                dphi = dot(g_new, d)
                if math.isfinite(f_new) and math.isfinite(dphi):
                    if f_new < f0 or (f_new <= f0 and abs(dphi) <= TIE_SLOPE * -dphi0):
                        return a, f_new, LS_OK, n
                    # level with f0 (c1 a phi'(0) rounded away against f) and the slope almost
                    # unchanged: no progress here, nor at shorter steps
                    break
                a_next = shrink * a
            else:
                a_next = backtrack_step(a, f, a_prev, f_prev, have_prev, f0, dphi0, shrink)
                a_prev = a
                f_prev = f
                have_prev = True
        else:
            a_next = shrink * a
        if not (a_next > 0.0 and a_next < a):
            break
        a = a_next

    copy_into(x_new, x)
    copy_into(g_new, g0)
    if n > 0 and n_finite == 0:
        return 0.0, f0, LS_NOT_FINITE, n
    return 0.0, f0, LS_NO_DECREASE, n
