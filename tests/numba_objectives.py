"""Loop-written Numba objectives shared by the compiled-path tests (cached on disk).

Rosenbrock in scipy's ``rosen`` form with its gradient and Hessian, written as loops so
they compile to plain machine code; the compiled solvers take them as user objectives.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def rosen(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


@numba.njit(cache=True)
def rosen_grad(x):
    n = x.shape[0]
    g = np.zeros(n)
    for i in range(n - 1):
        t = x[i + 1] - x[i] ** 2
        g[i] += -400.0 * t * x[i] - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * t
    return g


@numba.njit(cache=True)
def rosen_hess(x):
    n = x.shape[0]
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        H[i + 1, i + 1] += 200.0
        H[i, i + 1] = -400.0 * x[i]
        H[i + 1, i] = -400.0 * x[i]
    return H
