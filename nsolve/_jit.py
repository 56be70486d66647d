"""One place for every Numba option nsolve uses.

All array kernels are compiled with :func:`kernel`: nopython, ``cache=True`` (the on-disk
cache, so a second process does not pay the compile), ``nogil=True`` and no ``fastmath``
(results must match the interpreted reference rules to rounding).  Functions that take a
user callable are never cached (Numba cannot cache a dispatcher argument).

Documented exceptions: the logistic-regression kernels (:mod:`nsolve.models._logistic_kernels`)
and the quasi-Newton kernels (:mod:`nsolve._kernels.quasi_newton`: the BFGS update and its
mat-vec, the L-BFGS two-loop recursion) compile with ``fastmath={"reassoc"}`` only, so that
LLVM vectorises their dot products (without it a reduction is one chain of dependent
additions); this changes the summation order (rounding), never the math, deterministically
(the interpreted and compiled solvers call the same compiled kernel and agree bit for bit),
and those results are tested against references to a tolerance.  The logistic kernels'
``exp`` and ``log1p`` (:mod:`nsolve.models._elementary`) compile with
``fastmath={"contract"}`` only (multiply-adds fused into FMAs, one rounding instead of two);
their accuracy against NumPy is tested to the ulp.
"""

from __future__ import annotations

import numba

#: Options shared by every cached kernel.
KERNEL_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}


def kernel(func=None, **overrides):
    """Compile ``func`` as a cached nopython kernel (usable as ``@kernel`` or ``@kernel(...)``)."""
    options = {**KERNEL_OPTIONS, **overrides}
    if func is None:
        return lambda f: numba.njit(**options)(f)
    return numba.njit(**options)(func)


def parallel_kernel(func=None, **overrides):
    """Like :func:`kernel` but with ``parallel=True`` (prange over rows)."""
    return kernel(func, parallel=True, **overrides)
