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

import warnings

import numba

#: Options shared by every cached kernel.
KERNEL_OPTIONS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}

_warned_no_cache = False


def cacheable() -> bool:
    """False once Numba has found no writable place for its on-disk cache in this process."""
    return not _warned_no_cache


def njit_cached(func, options: dict):
    """``numba.njit(**options)(func)``; when ``options`` ask for the on-disk cache and Numba
    has nowhere to write it (a read-only install and no writable user cache directory:
    Numba raises "no locator available"), the function is compiled without it, with one
    warning per process saying how to get the cache back."""
    global _warned_no_cache
    if options.get("cache") and _warned_no_cache:
        options = {**options, "cache": False}
    try:
        return numba.njit(**options)(func)
    except RuntimeError as exc:
        if not options.get("cache") or "no locator available" not in str(exc):
            raise
    if not _warned_no_cache:
        _warned_no_cache = True
        warnings.warn(
            "nsolve: Numba has no writable directory for its on-disk cache (the package directory is "
            "read-only and there is no writable user cache directory); every process compiles the "
            "solvers again. Set NUMBA_CACHE_DIR to a writable directory to keep them.",
            RuntimeWarning,
            stacklevel=3,
        )
    return numba.njit(**{**options, "cache": False})(func)


def kernel(func=None, **overrides):
    """Compile ``func`` as a cached nopython kernel (usable as ``@kernel`` or ``@kernel(...)``)."""
    options = {**KERNEL_OPTIONS, **overrides}
    if func is None:
        return lambda f: njit_cached(f, options)
    return njit_cached(func, options)


def parallel_kernel(func=None, **overrides):
    """Like :func:`kernel` but with ``parallel=True`` (prange over rows)."""
    return kernel(func, parallel=True, **overrides)
