"""Small fused vector kernels used by the line searches, stopping tests and methods.

They are called from interpreted Python (one dispatch each) and from compiled solvers
(where Numba inlines them), so the same line-search source serves both paths.
"""

from __future__ import annotations

import numpy as np

from nsolve._jit import kernel


@kernel
def dot(a, b):
    """Return :math:`a^T b`."""
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@kernel
def norm_inf(a):
    """Return :math:`\\max_i |a_i|` (NaN if any entry is NaN)."""
    m = 0.0
    for i in range(a.shape[0]):
        v = abs(a[i])
        if v > m or v != v:
            m = v
    return m


@kernel
def norm2(a):
    """Return the Euclidean norm :math:`\\|a\\|_2`."""
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * a[i]
    return np.sqrt(s)


@kernel
def all_finite(a):
    """Return True when every entry of ``a`` is finite."""
    for i in range(a.shape[0]):
        if not np.isfinite(a[i]):
            return False
    return True


@kernel
def axpy_into(out, x, alpha, d):
    """Write :math:`x + \\alpha d` into ``out``."""
    for i in range(x.shape[0]):
        out[i] = x[i] + alpha * d[i]


@kernel
def sub_into(out, a, b):
    """Write :math:`a - b` into ``out``."""
    for i in range(a.shape[0]):
        out[i] = a[i] - b[i]


@kernel
def copy_into(out, a):
    """Copy ``a`` into ``out``."""
    for i in range(a.shape[0]):
        out[i] = a[i]


@kernel
def neg_into(out, a):
    """Write :math:`-a` into ``out``."""
    for i in range(a.shape[0]):
        out[i] = -a[i]


@kernel
def step_stats(x_new, x):
    """Return ``(max_i |x_new_i - x_i|, max_i |x_new_i|)`` in one pass (the xtol test)."""
    ds = 0.0
    xm = 0.0
    for i in range(x.shape[0]):
        v = abs(x_new[i] - x[i])
        if v > ds:
            ds = v
        w = abs(x_new[i])
        if w > xm:
            xm = w
    return ds, xm
