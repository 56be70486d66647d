r"""Python objectives on the compiled solvers.

The interpreted driver costs microseconds per iteration in Python bytecode (the line search,
the method step, the kernel dispatches), which is most of a solve when f and grad are cheap.
This module runs such solves on the compiled solvers of :mod:`nsolve.compiled._driver`
instead: the solver calls back into Python only to evaluate the user's functions.

How an evaluation travels
-------------------------
:class:`PythonObjective` turns the run's :class:`~nsolve._objective.Objective` into a function
``evaluate(kind) -> f``, reached from compiled code through the process's one ctypes callback
``double callback(PyObject *evaluate, int64 kind)``
(:data:`~nsolve.compiled._functions.PYTHON_CALLBACK`), and a staging buffer
``[x (n) | g (n) | error flag | counts (3) | H (n*n, Newton only)]`` that both sides see.
The solver's evaluator (Python mode of :mod:`nsolve.compiled._evaluator`) writes the point
into ``x`` and calls the callback; the callback hands the user a *copy* of
the point (as the interpreted wrapper does), checks what comes back with the wrapper's own
checks and messages, and writes the value, gradient or Hessian into the buffer.

* ``KIND_F``: f at x (with ``grad=True`` also the gradient, staged for the ``KIND_G`` that
  may follow at the same point);
* ``KIND_G``: the gradient at the point of the last ``KIND_F`` (finite differences use its
  value, as the interpreted wrapper does);
* ``KIND_FG``: f and the gradient at a new point, in one callback;
* ``KIND_H``: the Hessian (the user's, or differences of gradients); the evaluations it
  cost go to the ``counts`` slots.

The callback returns f; a failure sets the buffer's error flag.

The first ``KIND_F`` runs the wrapper's :meth:`~nsolve._objective.Objective.first_evaluation`,
so a bad return value at x0 raises exactly the interpreted path's error.  An exception raised
by the user's function (or a ``KeyboardInterrupt``) is caught in the callback, which sets
the error flag; the solver makes no further call and stops, and :func:`minimize_bridged` re-raises the
exception unchanged.  Iterates, counts and results equal the interpreted driver's: the same
method rules, line searches and stopping tests run, compiled.

When it is used
---------------
A run goes this way when it could run compiled but for its Python functions (a method with
a compiled driver, no ``callback``, no ``disp``, no mini-batches, no ``hessp``), ``n`` is at
most :data:`MAX_N` (:data:`MAX_N_HESSIAN` for Newton; above it the work is in f, grad and
the vector kernels, and the staging copies would cost memory), and the solver is already
compiled: in this process, or in Numba's on-disk cache from the second run of the method in
the process on (see
:func:`solver_ready`).  A cold solver is not compiled on the spot (that takes tens of
seconds once per machine); :func:`precompile` (``nsolve precompile``) compiles them, and so
does any compiled-path solve of a Numba objective.
"""

from __future__ import annotations

import ctypes
import math
import operator
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numba
import numpy as np
from numba import typeof

from nsolve._jit import cacheable
from nsolve._validation import FLOAT64
from nsolve.compiled import _interrupt
from nsolve.compiled._evaluator import (
    ADDR_F,
    ADDRESS_SLOTS,
    KIND_F,
    KIND_FG,
    KIND_G,
    PY_CALL,
    PY_FD_EVALS,
    PY_FUSED,
    PY_HANDLE,
)
from nsolve.compiled._functions import PYTHON_CALLBACK

#: Largest n run on the compiled solvers with Python functions.
MAX_N = 100_000
#: Largest n of a Newton run there: the staging copy of the Hessian doubles its memory.
MAX_N_HESSIAN = 2_000
#: False sends every Python objective to the interpreted driver (tests compare the two).
ENABLED = True


_D: list = []


def _dispatch():
    """:mod:`nsolve.compiled._dispatch` (imported on first use, then kept)."""
    if not _D:
        from nsolve.compiled import _dispatch as D

        _D.append(D)
    return _D[0]


# ------------------------------------------------------------------ the callback
class PythonObjective:
    """The callback and staging buffer through which a compiled solver evaluates ``obj``.

    Parameters
    ----------
    obj : nsolve._objective.Objective
        The run's objective wrapper (its checks, conversions and finite differences).
    n : int
        Number of variables.
    hessian : bool
        Reserve room for an ``(n, n)`` Hessian (Newton).

    Attributes
    ----------
    buf : ndarray
        The staging buffer ``[x (n) | g (n) | error flag | counts (3) | H (n*n)]``.
    error : BaseException or None
        What the user's function raised (the solver stopped at once).
    evaluate : callable
        ``evaluate(kind) -> float``.  The solver holds its address as ``handle`` and passes it
        to the process's one ctypes callback, which receives the object itself and calls it;
        the PythonObjective keeps it alive for the run.
    """

    def __init__(self, obj, n: int, hessian: bool):
        self.obj = obj
        self.n = n
        self.buf = np.zeros(2 * n + 4 + (n * n if hessian else 0))
        self._errors: list = []  # shared with the closure (no reference cycle through self)
        self.evaluate = self._make_callback(hessian)
        self.handle = id(self.evaluate)

    @property
    def error(self) -> BaseException | None:
        """What the user's function raised, or None."""
        return self._errors[0] if self._errors else None

    def addresses(self) -> np.ndarray:
        """The solver's ``addresses`` array for this objective (Python mode)."""
        out = np.zeros(ADDRESS_SLOTS, dtype=np.int64)
        obj = self.obj
        out[PY_CALL - ADDR_F] = _CALLBACK_ADDRESS
        out[PY_HANDLE - ADDR_F] = self.handle
        out[PY_FUSED - ADDR_F] = 1 if obj.fused else 0
        if obj.fd_gradient:
            out[PY_FD_EVALS - ADDR_F] = self.n if obj.fd_scheme == "forward" else 2 * self.n
        return out

    def _make_callback(self, hessian: bool):
        # A closure over locals: the callback runs a few times per iteration, and every
        # attribute lookup or extra frame is a visible part of a cheap objective's solve.
        obj = self.obj
        n = self.n
        buf = self.buf
        x = buf[:n]
        g = buf[n : 2 * n]
        counts = buf[2 * n + 1 : 2 * n + 4]
        H = buf[2 * n + 4 :].reshape((n, n)) if hessian else None
        f = obj._f
        grad = obj._grad
        args = obj.args
        value = obj._value
        fused = obj.fused
        fd = obj.fd_gradient
        fd_gradient = obj._fd_gradient
        shape = (n,)
        f64 = FLOAT64  # a singleton: checked by identity, a fifth of ``==``'s cost
        ndarray = np.ndarray
        state = {"started": False, "staged": False, "f": 0.0}
        if args:
            def call_f(v):
                return f(v, *args)

            def call_grad(v):
                return grad(v, *args)
        else:  # a direct call: f(v, *()) costs 85 ns more per call
            call_f, call_grad = f, grad

        def stage(gv):
            if type(gv) is not ndarray or gv.dtype is not f64:
                gv = np.asarray(gv, dtype=f64)
            if gv.shape != shape:
                raise ValueError(f"grad must return an array of shape ({n},); got shape {gv.shape}")
            g[...] = gv  # [...] costs half of [:] on a small array

        plain = not (fused or fd)

        def fused_value():
            # grad=True: f returns (value, gradient); the gradient is staged for the solver
            out = call_f(x.copy())
            val = value(out[0])
            stage(out[1])
            return val

        def evaluate(kind):
            if kind == KIND_FG:
                if fused:
                    return fused_value()
                val = value(call_f(x.copy()))
                if fd:
                    fd_gradient(x, g, val)
                else:
                    stage(call_grad(x.copy()))
                return val
            if kind == KIND_F:
                if not state["started"]:
                    # the first evaluation, with the interpreted path's checks and messages
                    state["started"] = True
                    val, g0 = obj.first_evaluation(x.copy())
                    g[...] = g0
                    state["staged"] = True
                    state["f"] = val
                    return val
                if fused:
                    return fused_value()
                val = value(call_f(x.copy()))
                state["f"] = val
                return val
            if kind == KIND_G:
                if state["staged"]:  # the first evaluation's gradient
                    state["staged"] = False
                elif fd:
                    fd_gradient(x, g, state["f"])
                else:
                    stage(call_grad(x.copy()))
                return 0.0
            # KIND_H: the user's Hessian or differences of gradients; report what it cost
            before = (obj.nfev, obj.njev, obj.nhev)
            H[:, :] = obj.hess(x, g)
            counts[0] = obj.nfev - before[0]
            counts[1] = obj.njev - before[1]
            counts[2] = obj.nhev - before[2]
            return 0.0

        error_at = 2 * n
        errors = self._errors

        def callback(kind):
            try:
                if plain and kind == KIND_FG:
                    # the common case, written out (one frame less): f and grad, the wrapper's checks
                    out = call_f(x.copy())
                    try:
                        val = float(out)
                    except (TypeError, ValueError, OverflowError):
                        val = value(out)  # raises the wrapper's error, or makes a huge int inf
                    gv = call_grad(x.copy())
                    if type(gv) is ndarray and gv.dtype is f64 and gv.shape == shape:
                        g[...] = gv  # [...] costs half of [:] on a small array
                    else:
                        stage(gv)
                    return val
                return evaluate(kind)
            except BaseException as exc:  # noqa: BLE001 - re-raised unchanged by minimize_bridged
                errors.append(exc)
                buf[error_at] = 1.0
                return math.nan

        return callback


def _call(evaluate, kind: int) -> float:
    return evaluate(kind)


# One ctypes callback for the process (making one per run costs tens of microseconds).  Its
# first argument is the run's own ``evaluate`` (the solver passes its address, the handle), so
# nested and concurrent runs each reach theirs; ``operator.call`` (Python 3.11) makes the call
# without a Python frame of its own.
_CALLBACK = PYTHON_CALLBACK(getattr(operator, "call", _call))
_CALLBACK_ADDRESS = ctypes.cast(_CALLBACK, ctypes.c_void_p).value


# ------------------------------------------------------------------ solver availability
def _entry(name: str):
    D = _dispatch()
    return D._entry_points()[D.DRIVERS[name]][0]


def _load_cached(disp, argtypes: tuple) -> bool:
    """True when ``disp`` has machine code for ``argtypes``: compiled here, or loaded from disk now."""
    if argtypes in disp.overloads:
        return True
    cache = getattr(disp, "_cache", None)
    if cache is None:
        return False
    try:
        cres = cache.load_overload(argtypes, disp.targetctx)
    except Exception:  # noqa: BLE001 - an unreadable cache entry: treat as cold
        return False
    if cres is None:
        return False
    disp._cache_hits[argtypes] += 1
    disp.targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
    disp.add_overload(cres)
    return True


#: Method name -> True (machine code in this process), False (the disk cache was looked at,
#: in vain) or "later" (the first run of the method in this process: not looked at yet).
_READY: dict = {}


def solver_ready(name: str, call_args: tuple) -> bool:
    """True when the compiled solver of method ``name`` can run ``call_args`` without compiling.

    A solver already in this process (:func:`precompile`, a Numba objective, an earlier
    run) is used at once.  Otherwise the first run of the method in the process stays
    interpreted without touching the disk: loading a solver from Numba's cache takes about
    0.15 s, more than the interpreted driver's overhead costs a solve of under some 10^4
    iterations, and a script that solves once should not pay it.  The second run loads it
    (the disk cache is looked at once per process).
    """
    ready = _READY.get(name)
    if ready is True:
        return True
    entry = _entry(name)
    if entry.overloads:
        _READY[name] = True
        return True
    if ready is None:
        _READY[name] = "later"
        return False
    if ready == "later":
        ok = _load_cached(entry, tuple(typeof(a) for a in call_args))
        _READY[name] = ok
        return ok
    return False


def ran_compiled(method: str) -> bool:
    """True when a run of ``method`` with Python functions has found its compiled solver in this process."""
    return _READY.get(method) is True


def bridge_reason(name: str, n: int, grad, hess, hessp, callback, disp, n_samples, rules, history,
                  method_opts=None) -> str | None:
    """Why a run with Python functions stays on the interpreted driver (None: it can go compiled);
    with ``method_opts``, its learning-rate schedule is checked too."""
    D = _dispatch()
    if not ENABLED:
        return "the compiled path for Python functions is switched off"
    if numba.config.DISABLE_JIT:
        return "Numba's JIT is disabled (NUMBA_DISABLE_JIT)"
    if name not in D.COMPILED_METHODS:
        return f"method {name!r} has no compiled driver"
    if n_samples is not None:
        return "data-set objectives (n_samples) run interpreted"
    if callback is not None:
        return "a Python callback runs interpreted"
    if disp:
        return "disp=True runs interpreted"
    if hessp is not None:
        return "hessp runs interpreted"
    if n > MAX_N:
        return f"n > {MAX_N} runs interpreted"
    if name == "newton" and grad is None:
        return "newton with finite-difference gradients runs interpreted (its Hessian's step depends on them)"
    if name == "newton" and n > MAX_N_HESSIAN:
        return f"newton with n > {MAX_N_HESSIAN} runs interpreted (the staged Hessian would double its memory)"
    return D.history_reason(history, rules) or (
        D.schedule_reason(method_opts, rules.maxiter) if method_opts is not None else None)


# ------------------------------------------------------------------ one run
def minimize_bridged(spec, method_opts, search, rules, obj, x, *, history=False):
    """Run the compiled solver of ``spec`` on the Python objective ``obj``; None when it is not compiled yet.

    The caller has checked :func:`bridge_reason`.  Returns the OptimizeResult the interpreted
    driver returns for the same run.
    """
    D = _dispatch()
    name = spec.name
    t0 = time.perf_counter()
    n = x.shape[0]
    fo, io, extra, x_out, g_out, hist, info, wf, wi = D.run_buffers(name, method_opts, search, rules, n, history,
                                                                    x_out=x)
    py = PythonObjective(obj, n, hessian=spec.uses_hessian)
    call = (py.addresses(), False, py.buf, x, fo, io, x_out, g_out, hist, info, extra, wf, wi)
    if not solver_ready(name, call):
        return None
    fun = _interrupt.run(_entry(name), *call)  # py (and so py.evaluate, the handle's object) lives through the call
    if py.error is not None:
        raise py.error
    # (a failed start cannot reach here: the first evaluation's checks ran in Python)
    return D.run_result(name, fun, x_out, g_out, hist, info, extra, history, t0)


# ------------------------------------------------------------------ compiling ahead
def precompile(methods=None, *, many: bool = True, verbose: bool = False, jobs: int = 1) -> dict[str, float]:
    """Compile (or load from Numba's on-disk cache) the compiled solvers, once per machine.

    Python objectives run on the compiled solvers only once these exist (see
    ``docs/compiled.md``); compiling one takes tens of seconds, loading it from the cache
    about a tenth of a second.  With ``many`` (the default) the parallel solvers of
    :func:`~nsolve.compiled.minimize_many` are compiled too (about a minute each).

    Parameters
    ----------
    methods : iterable of str, optional
        Methods whose solvers to compile (default: every method with a compiled driver).
    many : bool
        Also compile the ``minimize_many`` solvers.
    verbose : bool
        Print each solver's time.
    jobs : int
        Processes compiling at once (default 1: this one, solver after solver).  Compiling
        a solver keeps one core busy; with ``jobs > 1`` the solvers missing from the cache
        are compiled by up to ``jobs`` fresh Python processes at a time, each writing
        Numba's on-disk cache, and this process then loads them all from it.  Each process
        takes about 400 MB of memory while it compiles.  Without an on-disk cache (a
        read-only install and no ``NUMBA_CACHE_DIR``) everything is compiled here.

    Returns
    -------
    dict
        Seconds per compiled driver (``"<driver>"``, and ``"<driver> (many)"``): the time
        that compiled or loaded it, in whichever process did; empty when Numba's JIT is
        disabled (``NUMBA_DISABLE_JIT=1``: nothing to compile, every run is interpreted).
    """
    D = _dispatch()
    names = D.COMPILED_METHODS if methods is None else tuple(methods)
    unknown = sorted(set(names) - set(D.COMPILED_METHODS))
    if unknown:
        raise ValueError(f"no compiled solver for method(s) {unknown}; methods with one: "
                         f"{', '.join(D.COMPILED_METHODS)}")
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer (processes compiling at once), got {jobs!r}")
    if numba.config.DISABLE_JIT:
        if verbose:
            print("Numba's JIT is disabled (NUMBA_DISABLE_JIT): nothing to compile", flush=True)
        return {}
    argtypes = tuple(typeof(a) for a in _representative_call())
    drivers: dict[str, str] = {}  # driver -> the first method named that uses it
    for name in names:
        drivers.setdefault(D.DRIVERS[name], name)
    done: dict[str, float] = {}
    if jobs > 1 and cacheable():
        done.update(_compile_in_processes(drivers, argtypes, many, int(jobs), verbose))
    for driver, name in drivers.items():
        t = time.perf_counter()
        entry = _entry(name)
        if not _load_cached(entry, argtypes):
            entry.compile(argtypes)
        if driver not in done:
            done[driver] = time.perf_counter() - t
            if verbose:
                print(f"{driver:18s} {done[driver]:8.2f} s", flush=True)
        if many:
            t = time.perf_counter()
            _run_many_once(name)
            key = f"{driver} (many)"
            if key not in done:
                done[key] = time.perf_counter() - t
                if verbose:
                    print(f"{key:18s} {done[key]:8.2f} s", flush=True)
    return done


def _compile_in_processes(drivers: dict, argtypes: tuple, many: bool, jobs: int, verbose: bool) -> dict[str, float]:
    """Compile the solvers of ``drivers`` (driver -> method) that the cache lacks in up to
    ``jobs`` fresh processes at a time (:func:`compile_task`); returns each one's seconds.

    Separate interpreters (``python -c``), not :mod:`multiprocessing`: nothing of the
    caller's ``__main__`` is imported again.  A ``minimize`` solver already in the cache is
    loaded here and gets no process; a batch solver always gets one (it is checked by a
    run, which loads it in about a second when it is cached).  Fewer than two tasks:
    nothing to share out, the caller compiles."""
    tasks = [(name, True) for name in drivers.values()] if many else []  # the longer ones first
    tasks += [(name, False) for name in drivers.values() if not _load_cached(_entry(name), argtypes)]
    if len(tasks) < 2:
        return {}
    D = _dispatch()
    package_parent = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    code = ("import sys\nfrom nsolve.compiled._bridge import compile_task\n"
            "print(compile_task(sys.argv[1], sys.argv[2] == 'many'))")

    def run(task):
        name, is_many = task
        proc = subprocess.run([sys.executable, "-c", code, name, "many" if is_many else "single"], env=env,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"compiling the {name!r} solver{' (many)' if is_many else ''} in a separate "
                               f"process failed (exit code {proc.returncode}):\n{tail}")
        return float(proc.stdout.strip().splitlines()[-1])

    out: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
        futures = {pool.submit(run, task): task for task in tasks}
        for fut in as_completed(futures):
            name, is_many = futures[fut]
            key = D.DRIVERS[name] + (" (many)" if is_many else "")
            out[key] = fut.result()
            if verbose:
                print(f"{key:18s} {out[key]:8.2f} s (separate process)", flush=True)
    return out


def compile_task(name: str, is_many: bool) -> float:
    """Compile (or load) one solver of method ``name``, the batch one when ``is_many``;
    returns the seconds it took.  What each process of ``precompile(jobs=...)`` runs."""
    t = time.perf_counter()
    if is_many:
        _run_many_once(name)
    else:
        entry = _entry(name)
        argtypes = tuple(typeof(a) for a in _representative_call())
        if not _load_cached(entry, argtypes):
            entry.compile(argtypes)
    return time.perf_counter() - t


def _run_many_once(name: str) -> None:
    """One tiny :func:`~nsolve.compiled.minimize_many` run of ``name`` on the library's
    compiled Rosenbrock: compiles (or loads) its parallel solver for the argument types every
    call passes (the solvers take the objective as addresses, so any objective will do)."""
    from nsolve import problems
    from nsolve.compiled._many import minimize_many

    p = problems.get("rosenbrock", 2).jit()
    hess = p.hess if name == "newton" else None
    minimize_many(p.f, p.grad, np.array([[-1.2, 1.0], [0.5, 0.5]]), method=name, hess=hess, maxiter=1)


def _representative_call() -> tuple:
    """Arguments of the types every solver call has (the solvers have one signature)."""
    vec = np.zeros(2)
    mat = np.zeros((2, 2))
    ints = np.zeros(2, dtype=np.int64)
    return (ints, False, vec, vec, vec, ints, vec, vec, mat, ints, mat, vec, ints)


__all__ = ["MAX_N", "PythonObjective", "bridge_reason", "minimize_bridged", "precompile", "ran_compiled",
           "solver_ready"]
