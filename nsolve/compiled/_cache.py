"""Compile options of the compiled solvers, and an on-disk cache that knows their sources.

The solvers are compiled once per machine and loaded from Numba's on-disk cache afterwards.
Numba keys a cached function on its own source file only: a solver whose line search or
kernel changed would load stale machine code.  :func:`solver` therefore salts the cache key
with a hash of every source file the solvers are built from (the line searches, stopping
tests, status codes, kernels, method rules and this package), so editing any of them
recompiles the solvers on next use instead of loading stale code.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numba
from numba.core import ir_utils
from numba.core.caching import FunctionCache
from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.compiler_machinery import FunctionPass, register_pass
from numba.core.typed_passes import NopythonRewrites

from nsolve._jit import KERNEL_OPTIONS, cacheable, njit_cached

_PACKAGE = Path(__file__).resolve().parent.parent

#: Sources the compiled solvers are built from (files, or directories of ``*.py``).
SOURCES = (
    "_status.py",
    "_stopping.py",
    "_jit.py",
    "_kernels",
    "linesearch",
    "methods/_quasi_newton.py",
    "methods/first_order/sgd.py",
    "methods/first_order/adaptive.py",
    "methods/first_order/adam.py",
    "compiled/_cache.py",
    "compiled/_driver.py",
    "compiled/_evaluator.py",
    "compiled/_first_order.py",
    "compiled/_functions.py",
    "compiled/_interrupt.py",
    "compiled/_layout.py",
    "compiled/_memory.py",
    "compiled/_quasi_newton.py",
    "compiled/_shared.py",
    "compiled/_state.py",
)


@lru_cache(maxsize=1)
def source_salt() -> str:
    """SHA-256 of the solvers' source files (see :data:`SOURCES`)."""
    h = hashlib.sha256()
    for entry in SOURCES:
        path = _PACKAGE / entry
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]
        for file in files:
            h.update(file.name.encode())
            h.update(file.read_bytes())
    return h.hexdigest()


class _SaltedCache(FunctionCache):
    """Numba's function cache with :func:`source_salt` added to the index key."""

    def __init__(self, py_func, salt: str):
        super().__init__(py_func)
        self._salt = salt

    def _index_key(self, sig, codegen):
        return (*super()._index_key(sig, codegen), self._salt)


@register_pass(mutates_CFG=True, analysis_only=False)
class _PropagateCopies(FunctionPass):
    """Copy propagation and dead-code removal on the typed Numba IR (``ir_utils.simplify``).

    A solver is one function: ``drive``, the method's step and the line-search plumbing are
    inlined into it at the Numba IR level (``inner(inline=True)``), and every inlined call
    binds its parameters to copies of the caller's variables.  Each copy of an array, tuple
    or evaluator costs a reference-count increment and decrement (out-of-line calls to
    ``NRT_incref`` / ``NRT_decref``) wherever it is made, in the loop too.  Numba's
    ``parallel=True`` pipeline runs this same simplification (inside ``ParforPass``), which
    is why the ``many_*`` entry points ran a solve about 1.3x faster than ``solve_*`` built
    from the same source; the serial entry points now get it as well.  It changes which
    variables hold the values, never the arithmetic: the iterates are bit-identical.
    """

    _name = "nsolve_propagate_copies"

    def __init__(self):
        FunctionPass.__init__(self)

    def run_pass(self, state):
        ir_utils.simplify(state.func_ir, state.typemap, state.calltypes, {})
        return True


class _SolverPipeline(CompilerBase):
    """Numba's nopython pipeline with :class:`_PropagateCopies` after the typed rewrites (where
    the parallel pipeline simplifies)."""

    def define_pipelines(self):
        pm = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pm.add_pass_after(_PropagateCopies, NopythonRewrites)
        pm.finalize()
        return [pm]


def solver(func=None, *, parallel: bool = False):
    """Compile ``func`` like a kernel (nopython, nogil, no fastmath) with the salted cache; a
    serial solver with :class:`_SolverPipeline` (a parallel one is simplified by Numba's
    parallel pipeline already)."""

    def wrap(f):
        options = {**KERNEL_OPTIONS, "parallel": parallel}
        if not parallel:
            options["pipeline_class"] = _SolverPipeline
        disp = njit_cached(f, options)
        if cacheable():
            disp._cache = _SaltedCache(f, source_salt())
        return disp

    return wrap if func is None else wrap(func)


def inner(func=None, *, inline: bool = False):
    """Compile a helper called only from compiled solvers (compiled into them, not cached alone).

    ``inline=True`` inlines it into its callers at the Numba IR level: required for a helper
    that receives a method's hook (``init``, ``step``, ``reset``) as an argument, so that the
    hook is a static call rather than a runtime pointer to a dispatcher (which would make
    the calling solver impossible to cache).
    """
    options = {k: v for k, v in KERNEL_OPTIONS.items() if k != "cache"}
    if inline:
        options["inline"] = "always"

    def wrap(f):
        return numba.njit(**options)(f)

    return wrap if func is None else wrap(func)
