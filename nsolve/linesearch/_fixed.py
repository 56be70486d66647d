r"""Fixed step: :math:`x_{new} = x + \alpha_0 d` with no decrease test (plain gradient descent).

Written in the Numba-compilable subset of Python (see :mod:`nsolve.linesearch._strong_wolfe`).
"""

from __future__ import annotations

import math

from nsolve._kernels.vector import axpy_into, copy_into, dot
from nsolve._status import LS_NOT_FINITE, LS_OK


def fixed_step(fun, fg, x, d, f0, g0, alpha0, x_new, g_new):
    r"""Take the step :math:`\alpha_0` along ``d`` and evaluate ``fg`` there once.

    .. math::

        x_{new} = x + \alpha_0 d, \qquad f_{new} = f(x_{new}), \qquad g_{new} = \nabla f(x_{new}).

    No sufficient-decrease or descent check is made.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float`` (unused; kept for a uniform signature).
    fg : callable
        ``fg(x, g_out) -> float``.
    x, d, g0 : ndarray of float64, shape (n,)
        Current point, direction, gradient at ``x``; not modified.
    f0 : float
        :math:`f(x)`.
    alpha0 : float
        The step.
    x_new, g_new : ndarray of float64, shape (n,)
        Outputs.
        They must not share memory with ``x``, ``d`` or ``g0``.

    Returns
    -------
    alpha : float
        ``alpha0``, or 0.0 when the new point is not finite.
    f_new : float
        :math:`f(x_{new})`, or ``f0``.
    status : int
        ``LS_OK`` when :math:`f_{new}` and :math:`g_{new}^T d` are finite, else
        ``LS_NOT_FINITE`` with ``x_new = x``, ``g_new = g0``, ``alpha = 0``, ``f_new = f0``.
    n_evals : int
        1.
    """
    a = float(alpha0)
    axpy_into(x_new, x, a, d)
    f = fg(x_new, g_new)
    if math.isfinite(f) and math.isfinite(dot(g_new, d)):
        return a, f, LS_OK, 1
    copy_into(x_new, x)
    copy_into(g_new, g0)
    return 0.0, f0, LS_NOT_FINITE, 1
