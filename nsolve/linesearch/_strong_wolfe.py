r"""Strong Wolfe line search: bracketing, then zoom by safeguarded cubic interpolation.

Along the ray :math:`\phi(\alpha) = f(x + \alpha d)` with :math:`\phi'(\alpha) = \nabla
f(x + \alpha d)^T d` the search looks for a step satisfying the *strong Wolfe conditions*

.. math::

    \phi(\alpha) \le \phi(0) + c_1 \alpha \phi'(0), \qquad
    |\phi'(\alpha)| \le c_2 |\phi'(0)|, \qquad 0 < c_1 < c_2 < 1.

The method is the two-stage scheme of Nocedal & Wright (2006, algorithms 3.5 and 3.6); the
choice of trial steps follows the safeguarded interpolation rules of Moré & Thuente (1994).

The function :func:`strong_wolfe` is written in the subset of Python that Numba compiles:
it runs interpreted when the objective is a Python callable and is compiled with
``numba.njit(strong_wolfe)`` when ``fun`` and ``fg`` are Numba functions.  All divisions are
done inside the cached scalar kernels below, so the interpreted run never divides by zero.
"""

from __future__ import annotations

import math

import numpy as np

from nsolve._jit import kernel
from nsolve._kernels.vector import axpy_into, axpy_moved_into, copy_into, dot
from nsolve._status import LS_MAXEVAL, LS_NO_DECREASE, LS_NOT_DESCENT, LS_NOT_FINITE, LS_OK

#: Extrapolation range (before a bracket is known): the next trial lies in
#: :math:`[\alpha + 1.1 (\alpha - \alpha_{prev}),\ \alpha + 4 (\alpha - \alpha_{prev})]`.
EXTRAP_LOW = 1.1
EXTRAP_HIGH = 4.0
#: Inside a bracket of width :math:`w` the trial keeps at least ``0.1 w`` from the far end.
SAFE_FAR = 0.1
#: ... and at least ``0.1 w`` from the best end when the derivatives change sign.
SAFE_NEAR = 0.1
#: When the far end has the larger value the interpolant is trusted down to this fraction.
SAFE_NEAR_OVERSHOOT = 1e-8
#: A bracket that did not shrink below this fraction in two zoom steps is bisected.
SHRINK_REQUIRED = 0.66
#: Shrink factors applied toward the last finite step after a non-finite trial (first one,
#: then every further consecutive one).
NONFINITE_FIRST = 0.5
NONFINITE_AGAIN = 0.1
#: Trials that leave x unchanged (not evaluated) allowed per search: growing by
#: ``EXTRAP_HIGH`` from a step of 1e-300 to 1e300 takes fewer than 1000.
MAX_STILL = 1000
#: Relative bracket width below which the steps are indistinguishable.
XTOL = 1e-14
#: Approximate-Wolfe acceptance (Hager & Zhang 2005) when f is flat to rounding: a trial
#: with f(x + a d) <= f0 and f0 - f <= FLAT_RTOL |f0| that fails Armijo only through
#: rounding is accepted if |phi'(a)| <= c2 |phi'(0)| and phi'(a) <= (1 - 2 APPROX_DELTA) |phi'(0)|.
FLAT_RTOL = 1e-12
APPROX_DELTA = 0.1


@kernel
def cubic_minimizer(a, fa, da, b, fb, db):
    r"""Return the minimizer of the cubic matching :math:`\phi, \phi'` at ``a`` and ``b``.

    With :math:`\theta = 3 (\phi_a - \phi_b)/(b - a) + \phi'_a + \phi'_b` and
    :math:`\gamma = \operatorname{sign}(b - a) \sqrt{\theta^2 - \phi'_a \phi'_b}`,

    .. math::

        \alpha_c = b - (b - a) \frac{\phi'_b + \gamma - \theta}{\phi'_b - \phi'_a + 2\gamma}.

    The square root is evaluated scaled by :math:`s = \max(|\theta|, |\phi'_a|, |\phi'_b|)`
    against overflow.

    Returns
    -------
    float
        The local minimizer of the cubic, or NaN when it has none (negative discriminant,
        coincident points, non-finite data).
    """
    w = b - a
    if w == 0.0:
        return np.nan
    theta = 3.0 * (fa - fb) / w + da + db
    s = max(abs(theta), abs(da), abs(db))
    if not (s > 0.0 and s < np.inf):
        return np.nan
    disc = (theta / s) * (theta / s) - (da / s) * (db / s)
    if not disc >= 0.0:
        return np.nan
    gamma = s * np.sqrt(disc)
    if w < 0.0:
        gamma = -gamma
    den = db - da + 2.0 * gamma
    if den == 0.0:
        return np.nan
    t = b - w * (db + gamma - theta) / den
    if not np.isfinite(t):
        return np.nan
    return t


@kernel
def quadratic_minimizer(a, fa, da, b, fb):
    r"""Return the minimizer of the quadratic matching :math:`\phi(a), \phi'(a), \phi(b)`.

    .. math::

        \alpha_q = a - \frac{\phi'_a (b - a)^2}{2\,(\phi_b - \phi_a - \phi'_a (b - a))}.

    Returns NaN when the quadratic is not convex (non-positive denominator).
    """
    w = b - a
    den = fb - fa - da * w
    if not den > 0.0:
        return np.nan
    t = a - 0.5 * da * w * (w / den)
    if not np.isfinite(t):
        return np.nan
    return t


@kernel
def grown_step(a, cap, cap_bad):
    """The step after ``a`` when nothing is known but that it was too short to resolve: ``4 a``,
    kept below ``cap`` (a step found non-finite: halfway to it) or clipped to it (``alpha_max``)."""
    a_next = EXTRAP_HIGH * a
    if a_next >= cap:
        a_next = cap if not cap_bad else a + NONFINITE_FIRST * (cap - a)
    return a_next


@kernel
def extrapolation_step(a0, f0, d0, a1, f1, d1):
    r"""Next trial beyond ``a1`` while no bracket is known (``a0 < a1``, both descending).

    The cubic minimizer through :math:`(a_0, a_1)` when it lies beyond :math:`a_1`, clipped to
    :math:`[a_1 + 1.1 (a_1 - a_0),\ a_1 + 4 (a_1 - a_0)]`; otherwise the upper end.
    """
    span = a1 - a0
    low = a1 + EXTRAP_LOW * span
    high = a1 + EXTRAP_HIGH * span
    c = cubic_minimizer(a0, f0, d0, a1, f1, d1)
    if np.isfinite(c) and c > a1:
        return min(max(c, low), high)
    return high


@kernel
def zoom_step(lo, flo, dlo, hi, fhi, dhi):
    r"""Next trial inside the bracket between ``lo`` (best point) and ``hi``.

    Two cases, after Moré & Thuente (1994):

    * :math:`\phi(hi) > \phi(lo)` (the far end overshot): take the cubic minimizer
      :math:`\alpha_c` if it is closer to ``lo`` than the quadratic one :math:`\alpha_q` (from
      :math:`\phi(lo), \phi'(lo), \phi(hi)`), else :math:`(\alpha_c + \alpha_q)/2`; the
      trial may come as close to ``lo`` as the interpolants say (down to
      ``SAFE_NEAR_OVERSHOOT`` of the width), which cuts a far-too-long step in one go;
    * otherwise (the derivative changes sign across the bracket): the cubic minimizer.

    The result is kept in :math:`[lo + \delta w, hi - 0.1 w]` (signed width
    :math:`w = hi - lo`); bisection replaces an interpolant that does not exist.
    """
    w = hi - lo
    c = cubic_minimizer(lo, flo, dlo, hi, fhi, dhi)
    c_ok = np.isfinite(c) and (c - lo) * w > 0.0
    if fhi > flo:
        q = quadratic_minimizer(lo, flo, dlo, hi, fhi)
        if not np.isfinite(q):
            t = c if c_ok else lo + 0.5 * w
        elif c_ok and abs(c - lo) < abs(q - lo):
            t = c
        elif c_ok:
            t = c + 0.5 * (q - c)
        else:
            t = q
        near = SAFE_NEAR_OVERSHOOT
    else:
        t = c if c_ok else lo + 0.5 * w
        near = SAFE_NEAR
    r = (t - lo) / w
    if not np.isfinite(r):
        r = 0.5
    r = min(max(r, near), 1.0 - SAFE_FAR)
    return lo + r * w


def strong_wolfe(fun, fg, x, d, f0, g0, alpha0, c1, c2, alpha_max, max_evals, x_new, g_new):
    r"""Find a step satisfying the strong Wolfe conditions along ``d``.

    With :math:`\phi(\alpha) = f(x + \alpha d)` and :math:`\phi'(0) = g_0^T d < 0`, return
    :math:`\alpha > 0` with

    .. math::

        \phi(\alpha) \le \phi(0) + c_1 \alpha \phi'(0)
        \quad\text{and}\quad |\phi'(\alpha)| \le c_2 |\phi'(0)|.

    *Bracketing.*  Starting from :math:`\alpha_0` (clipped to ``alpha_max``), a trial that
    violates sufficient decrease, or is not lower than the previous one, or has
    :math:`\phi' \ge 0` closes a bracket; otherwise the step is extrapolated by a cubic
    clipped to :math:`[1.1, 4]` times the last increment.  *Zoom.*  The bracket
    :math:`[\alpha_{lo}, \alpha_{hi}]` always has :math:`\alpha_{lo}` satisfying sufficient
    decrease with the lowest value so far and :math:`\phi'(\alpha_{lo})(\alpha_{hi} -
    \alpha_{lo}) < 0`; trials come from safeguarded cubic/quadratic interpolation
    (:func:`zoom_step`), with a bisection whenever the bracket failed to shrink to 0.66 of
    its width in two steps.

    Near a solution f can be flat to rounding while the gradient is still accurate; a trial
    with :math:`\phi(0) - |\phi(0)|\,10^{-12} \le \phi(\alpha) \le \phi(0)` that fails
    sufficient decrease only through rounding is accepted when the derivative satisfies
    Hager & Zhang's approximate Wolfe conditions
    :math:`|\phi'(\alpha)| \le c_2 |\phi'(0)|`, :math:`\phi'(\alpha) \le 0.8 |\phi'(0)|`
    (f never increases, so the iterate stays the best point seen).

    Steps below the resolution of x or f (an objective of tiny magnitude, e.g. :math:`10^{-30}
    (x - 1)^2` from x = -1, whose first trial step is :math:`10^{-30}`): a trial with
    :math:`x + \alpha d = x` in floating point is not evaluated (f and g there are f(0) and
    g(0)); before a bracket the step then grows by 4, inside one the search ends.  A trial
    that moves x but leaves f level with the best point while :math:`\phi'` still fails the
    curvature condition also grows the step before a bracket, as in Moré–Thuente, without
    becoming the best point.  Scipy's line search passes such steps the same way (its
    objective wrapper does not re-evaluate an unchanged x).

    A trial where :math:`\phi` or :math:`\phi'` is not finite is never accepted: the step is
    cut back toward the last finite step (by 0.5, then 0.1 for consecutive failures), or
    the bracket is bisected.  Every trial evaluates ``fg``, so an accepted point always
    comes with its gradient, and an acceptable ``alpha0`` costs exactly one evaluation.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float``, the objective only (unused here; kept for a uniform signature).
    fg : callable
        ``fg(x, g_out) -> float``, the objective, writing :math:`\nabla f(x)` into ``g_out``.
    x, d, g0 : ndarray of float64, shape (n,)
        Current point, search direction and gradient at ``x``; not modified.
    f0 : float
        :math:`f(x)`.
    alpha0 : float
        First trial step (replaced by 1 when not a positive finite number).
    c1, c2 : float
        Wolfe constants, :math:`0 < c_1 < c_2 < 1` (not checked here).
    alpha_max : float
        Largest step allowed (> 0).
    max_evals : int
        Largest number of trial evaluations (``fg`` calls); an ``LS_MAXEVAL`` exit whose best
        point is not the last trial evaluates that point once more for its gradient.
    x_new, g_new : ndarray of float64, shape (n,)
        Outputs: the returned point :math:`x + \alpha d` and the gradient there.
        They must not share memory with ``x``, ``d`` or ``g0``.

    Returns
    -------
    alpha : float
        The step (0.0 when no acceptable point was found).
    f_new : float
        :math:`f(x + \alpha d)` (``f0`` when ``alpha`` is 0).
    status : int
        ``LS_OK`` (strong Wolfe holds, or ``alpha == alpha_max`` with sufficient decrease and
        :math:`\phi' < 0`, as in Moré–Thuente's step-at-bound exit); ``LS_MAXEVAL`` (budget
        spent or bracket collapsed to rounding: the lowest point satisfying sufficient
        decrease is returned, evaluated once more for its gradient unless it was the last
        trial, so no gradient buffer is allocated per call); ``LS_NO_DECREASE`` (no such point: ``alpha = 0``);
        ``LS_NOT_DESCENT`` (:math:`\phi'(0) \ge 0`); ``LS_NOT_FINITE`` (every trial, or
        ``f0`` / :math:`\phi'(0)`, was inf or NaN).  Whenever ``alpha == 0``, ``x_new = x``
        and ``g_new = g0``.
    n_evals : int
        Number of ``fg`` calls.

    References
    ----------
    J. J. Moré and D. J. Thuente, "Line search algorithms with guaranteed sufficient
    decrease", ACM TOMS 20(3), 1994.  J. Nocedal and S. J. Wright, *Numerical Optimization*,
    2nd ed., Springer 2006, section 3.5.
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

    curv = -c2 * dphi0  # |phi'(a)| <= curv
    # Best point so far satisfying sufficient decrease (a_lo = 0 stands for x itself).
    a_lo = 0.0
    f_lo = f0
    d_lo = dphi0
    # Other end of the bracket.
    a_hi = 0.0
    f_hi = 0.0
    d_hi = 0.0
    hi_finite = False
    bracketed = False
    width = np.inf
    width1 = np.inf
    # Upper limit on trials before a bracket: alpha_max, or a step found non-finite.
    cap = alpha_max
    cap_bad = False

    a = float(alpha0)
    if not (a > 0.0 and a < np.inf):
        a = 1.0
    if a > alpha_max:
        a = alpha_max
    a_next = 0.0
    n = 0
    n_finite = 0
    n_bad_run = 0
    n_still = 0
    lo_in_out = False  # x_new, g_new hold a_lo's point and gradient (it was the last trial)
    while n < max_evals:
        lo_in_out = False
        if not axpy_moved_into(x_new, x, a, d):
            # x + a d == x in floating point (a step far below the scale of x, as for an
            # objective of tiny magnitude): f and g there are f0 and g0, so nothing is
            # evaluated; before a bracket the step grows until x moves, inside one the
            # bracket has shrunk below the resolution of x.
            n_still += 1
            if bracketed or a >= cap or n_still > MAX_STILL:
                break
            a_next = grown_step(a, cap, cap_bad)
            if not a_next > a:
                break
            a = a_next
            continue
        f = fg(x_new, g_new)
        n += 1
        dphi = dot(g_new, d)

        if not (math.isfinite(f) and math.isfinite(dphi)):
            n_bad_run += 1
            if not bracketed:
                # Cut back toward the last finite step; never go past this one again.
                cap = a
                cap_bad = True
                shrink = NONFINITE_FIRST if n_bad_run == 1 else NONFINITE_AGAIN
                a = a_lo + shrink * (cap - a_lo)
                if not (a > a_lo and a < cap):
                    break
                continue
            # Inside a bracket the non-finite trial becomes the far end (bisected next).
            a_hi = a
            hi_finite = False
        else:
            n_finite += 1
            n_bad_run = 0
            armijo = f <= f0 + c1 * a * dphi0
            if (
                (not armijo or f >= f_lo)
                and f <= f0
                and f0 - f <= FLAT_RTOL * abs(f0)
                and abs(dphi) <= curv
                and dphi <= -(1.0 - 2.0 * APPROX_DELTA) * dphi0
            ):
                # f is flat to rounding here: the slope, not f, decides (approximate Wolfe).
                return a, f, LS_OK, n
            if armijo and abs(dphi) <= curv and f - f_lo <= FLAT_RTOL * abs(f_lo):
                # Strong Wolfe holds, at an f level with the best trial to rounding: accepted,
                # as in More-Thuente, which test convergence before the bracket update (the
                # "not lower" rule below would make it the far end, and a bracket of points
                # level to rounding can only shrink onto the best trial, which fails).
                return a, f, LS_OK, n
            if not bracketed and armijo and f == f_lo and dphi < 0.0 and -dphi > curv and a < cap:
                # Level with the best point to rounding (a step that moves x by a few ulps
                # but not f), and the slope still descends steeply: the step grows, as in
                # More-Thuente; a_lo stays, since only a lower f is progress.
                a_next = grown_step(a, cap, cap_bad)
                if a_next > a:
                    a = a_next
                    continue
            if not armijo or f >= f_lo:
                # Too long (no sufficient decrease, or not lower): [a_lo, a] brackets.
                bracketed = True
                a_hi = a
                f_hi = f
                d_hi = dphi
                hi_finite = True
            elif abs(dphi) <= curv:
                return a, f, LS_OK, n
            else:
                # a is the new best point; keep the bracket property phi'(lo) (hi - lo) < 0.
                if bracketed:
                    if dphi * (a_hi - a_lo) >= 0.0:
                        a_hi = a_lo
                        f_hi = f_lo
                        d_hi = d_lo
                        hi_finite = True
                elif dphi >= 0.0:
                    bracketed = True
                    a_hi = a_lo
                    f_hi = f_lo
                    d_hi = d_lo
                    hi_finite = True
                elif a >= alpha_max:
                    return a, f, LS_OK, n
                else:
                    # Still descending: extrapolate.
                    a_next = extrapolation_step(a_lo, f_lo, d_lo, a, f, dphi)
                    if cap_bad:
                        if a_next >= cap:
                            a_next = a + NONFINITE_FIRST * (cap - a)
                    elif a_next > alpha_max:
                        a_next = alpha_max
                a_lo = a
                f_lo = f
                d_lo = dphi
                lo_in_out = True
                if not bracketed:
                    if not (a_next > a and (a_next < cap or (a_next == cap and not cap_bad))):
                        break
                    a = a_next
                    continue

        # Zoom: next trial strictly inside the bracket.
        w = abs(a_hi - a_lo)
        if w <= XTOL * max(a_lo, a_hi):
            break
        bisect = w >= SHRINK_REQUIRED * width1
        width1 = width
        width = w
        if bisect or not hi_finite:
            a = a_lo + 0.5 * (a_hi - a_lo)
        else:
            a = zoom_step(a_lo, f_lo, d_lo, a_hi, f_hi, d_hi)
        if not (min(a_lo, a_hi) < a and a < max(a_lo, a_hi)):
            break

    if a_lo > 0.0:
        if lo_in_out:
            return a_lo, f_lo, LS_MAXEVAL, n
        # The best point is an earlier trial: evaluate it once more for its gradient (this
        # rare exit costs one evaluation, so no gradient buffer is kept on every call).
        axpy_into(x_new, x, a_lo, d)
        f_lo = fg(x_new, g_new)
        n += 1
        return a_lo, f_lo, LS_MAXEVAL, n
    copy_into(x_new, x)
    copy_into(g_new, g0)
    if n > 0 and n_finite == 0:
        return 0.0, f0, LS_NOT_FINITE, n
    return 0.0, f0, LS_NO_DECREASE, n
