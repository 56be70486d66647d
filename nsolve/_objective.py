"""The one wrapper around the user's f, gradient, Hessian and Hessian-vector product.

Every evaluation of the user's functions in a run goes through :class:`Objective`: it passes
the user a *copy* of the iterate (a user function that mutates its argument cannot corrupt
the solver), converts and checks what comes back, counts evaluations (``nfev``, ``njev``,
``nhev``) and supplies finite-difference derivatives when none are given.  Methods never
count evaluations themselves.

The evaluation protocol used by methods and line searches is

* ``fun(x) -> float``: the value only;
* ``fg(x, g_out) -> float``: the value, with the gradient written into ``g_out``.

``fun`` remembers its last point, so a search that tested a point with ``fun`` and then
asks ``fg`` there pays only for the gradient.  First-order methods call
``sample_fg(x, g_out) -> float``: ``fg`` in a full-batch run, the estimate on the next
mini-batch otherwise.

For large n (at least :data:`RECYCLE_MIN_N` entries) the copy handed to the user is refilled
in place from call to call as long as nothing but the wrapper holds it (the user kept no
reference to it, nor to any view of it: its reference count says so).  A fresh array of tens
of megabytes costs zeroed pages from the operating system on every allocation (at n = 10^7 a
copy into fresh memory took 9 ms, into a reused array 5 ms), while the user still gets an
array that no one else writes to during or after the call.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable

import numba
import numpy as np
from numba.core.dispatcher import Dispatcher
from numba.core.errors import NumbaError
from scipy.sparse import issparse
from scipy.sparse.linalg import LinearOperator

from nsolve._kernels.finite_diff import (
    central_gradient_from_values,
    fd_hessian_symmetrize_inplace,
    fd_steps_into,
    forward_gradient_from_values,
)
from nsolve._kernels.vector import copy_into, norm2
from nsolve._validation import FLOAT64, all_finite_vector, first_lines

_EPS = np.finfo(np.float64).eps
#: Default relative steps: sqrt(eps) for forward differences, eps**(1/3) for central ones.
FD_REL_STEP = {"forward": math.sqrt(_EPS), "central": _EPS ** (1.0 / 3.0)}
FD_SCHEMES = ("forward", "central")
#: Copies of x handed to the user are recycled from this many entries on (see the module notes).
RECYCLE_MIN_N = 1 << 16


def _hessian_rel_step(fd_gradient: bool, fd_scheme: str, grad_rel_step: float) -> float:
    r"""Relative step of the forward-difference Hessian (differences of the gradient).

    With an exact gradient, :math:`\sqrt{\epsilon}`.  With a finite-difference gradient, whose
    error is :math:`\delta \approx \epsilon / r + r^p` (step :math:`r`; :math:`p = 1` forward,
    2 central), the Hessian's error :math:`\delta / h + h` is least at
    :math:`h = \sqrt{\delta}`: :math:`\epsilon^{1/4}` behind forward differences,
    :math:`\epsilon^{1/3}` behind central ones.  With :math:`\sqrt{\epsilon}` there, a
    difference of differences can be wrong by 100% (entries of the wrong sign at
    :math:`|x| \sim 10^3`).
    """
    if not fd_gradient:
        return FD_REL_STEP["forward"]
    p = 2 if fd_scheme == "central" else 1
    return math.sqrt(max(_EPS / grad_rel_step, grad_rel_step**p))


def _arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))


class _OnAllSamples:
    """``func(x, idx, *args)`` of a data-set objective, called on every sample: ``(x, *args)``."""

    def __init__(self, func: Callable, n_samples: int):
        self.func = func
        self.n_samples = n_samples

    def __call__(self, x, *args):
        # a fresh index array per call: a user function that modifies idx cannot corrupt the run
        return self.func(x, np.arange(self.n_samples, dtype=np.int64), *args)


def _type_name(value) -> str:
    try:
        return str(numba.typeof(value))
    except (ValueError, TypeError):  # a value Numba has no type for
        return type(value).__name__


def raise_if_not_compiled(func, role: str, call: str, call_args: tuple, exc: BaseException) -> None:
    """Turn a Numba function's failure to compile for the arguments it is called with into a
    TypeError naming it; return (the caller re-raises ``exc`` unchanged) for anything else.

    Called from the ``except`` clause around a first call of the user's ``func`` (``role``:
    ``"f"``, ``"grad"``, ``"hess"``, ``"hessp"``; ``call``: how it is called, ``"f(x, *args)"``,
    for the message).  Compiling happens at that call, for the types of ``call_args``: a
    :class:`numba.core.errors.NumbaError` raised there (a typing error: ``args`` of a type
    the function cannot take, say) is reported as the function's signature error, with the
    types it was called with and the first lines of Numba's message, not as Numba's typing
    traceback; so is a call with a number of arguments the function does not take.
    Exceptions raised while the compiled function runs are not NumbaErrors and pass through,
    as do all exceptions of Python functions (one of which may itself call a Numba function).
    """
    target = func.func if isinstance(func, _OnAllSamples) else func
    if not isinstance(target, Dispatcher):
        return
    fname = getattr(target, "__name__", repr(target))
    if isinstance(exc, NumbaError):
        types_ = ", ".join(_type_name(a) for a in call_args)
        raise TypeError(
            f"{role} (the Numba function {fname!r}) does not compile for the arguments it is called with, "
            f"{call} with types ({types_}): {first_lines(exc)}"
        ) from None
    if isinstance(exc, TypeError):
        try:
            inspect.signature(target.py_func).bind(*call_args)
        except TypeError as arity:
            raise TypeError(
                f"{role} (the Numba function {fname!r}) cannot be called as {call} with {len(call_args)} "
                f"argument(s): {arity}"
            ) from None


def is_matrix_operator(H) -> bool:
    """True for a Hessian given as a scipy.sparse matrix or array or a LinearOperator."""
    return issparse(H) or isinstance(H, LinearOperator)


class NotScalarError(TypeError, ValueError):
    """f returned an array of several values: a TypeError, and also the ValueError scipy
    raises there, so handlers written for either catch it."""


class NotFiniteAtStart(ValueError):
    """The user function ``name`` returned inf or NaN at ``x0``: the ValueError that names it,
    with the evaluations counted so far (``nfev``, ``njev``, ``nhev``), which
    :func:`nsolve.minimize_many` reports for such a problem, and what is known at x0: ``f``
    (NaN when not evaluated) and ``g`` (None when not evaluated), which the scipy drop-in
    returns as its failed result."""

    def __init__(self, name: str, nfev: int, njev: int, nhev: int, got: str = "it returned inf or NaN",
                 f: float = math.nan, g: np.ndarray | None = None):
        super().__init__(f"{name} must be finite at x0; {got}")
        self.nfev, self.njev, self.nhev = int(nfev), int(njev), int(nhev)
        self.f, self.g = f, g


class Objective:
    """Wrap user callables into the counted ``fun`` / ``fg`` / ``hess`` / ``hessp`` protocol.

    Parameters
    ----------
    f : callable
        ``f(x, *args) -> float``; or ``(float, ndarray)`` when ``grad is True``.
    grad : callable, True or None
        ``grad(x, *args) -> ndarray`` of shape ``(n,)``; ``True`` when ``f`` returns the
        gradient too; ``None`` for finite differences.
    n : int
        Number of variables.
    hess, hessp : callable or None
        ``hess(x, *args) -> (n, n)`` array; ``hessp(x, p, *args) -> (n,)`` array.
    args : tuple
        Extra arguments passed to every user function.
    fd_scheme : {"forward", "central"}
        Finite-difference scheme used when ``grad is None`` (and for Hessians when ``hess``
        is not given).
    fd_step : float or None
        Relative step :math:`h_i = r\\,\\max(1, |x_i|)\\,\\mathrm{sign}(x_i)`; default
        :math:`r=\\sqrt{\\epsilon}` (forward) or :math:`\\epsilon^{1/3}` (central).
    """

    def __init__(
        self,
        f: Callable,
        grad,
        n: int,
        *,
        hess: Callable | None = None,
        hessp: Callable | None = None,
        args: tuple = (),
        fd_scheme: str = "forward",
        fd_step: float | None = None,
        n_samples: int | None = None,
        sampler=None,
    ) -> None:
        self._f = f
        self._grad = grad
        # Data-set objectives (nsolve._minibatch): f(x, idx, *args); the objective is f on
        # every sample, a mini-batch evaluation (sample_fg) is f on the sampler's next batch.
        self.n_samples = None if n_samples is None else int(n_samples)
        self.sampler = sampler
        self.stochastic = sampler is not None
        self.steps_per_epoch = 1 if sampler is None else sampler.steps_per_epoch
        if n_samples is not None:
            self._batch_f, self._batch_grad = f, grad
            self._f = _OnAllSamples(f, self.n_samples)
            if callable(grad):
                self._grad = _OnAllSamples(grad, self.n_samples)
        self._hess = hess
        self._hessp = hessp
        self.args = tuple(args)
        self.n = int(n)
        self.fd_scheme = fd_scheme
        self.fd_rel_step = FD_REL_STEP[fd_scheme] if fd_step is None else float(fd_step)
        self.fused = grad is True
        self.fd_gradient = grad is None
        self.hess_rel_step = _hessian_rel_step(self.fd_gradient, fd_scheme, self.fd_rel_step)
        self.nfev = 0
        self.njev = 0
        self.nhev = 0
        self._last_x: np.ndarray | None = None
        self._last_f = 0.0
        self._last_g: np.ndarray | None = None
        self._spare: np.ndarray | None = None  # the last copy handed to the user (large n)
        self._user_copy = self._recycled_copy if self.n >= RECYCLE_MIN_N else np.ndarray.copy
        # Bound methods handed to the line searches (cheaper than re-binding on every call).
        self.fun = self._fun
        self.fg = self._fg

    @property
    def has_hess(self) -> bool:
        return self._hess is not None

    @property
    def has_hessp(self) -> bool:
        return self._hessp is not None

    # ------------------------------------------------------------------ raw calls
    def _call_f(self, x: np.ndarray):
        self.nfev += 1
        args = self.args
        return self._f(x, *args) if args else self._f(x)  # f(x, *()) costs 85 ns more

    def _value(self, out) -> float:
        try:
            return float(out)
        except OverflowError:  # a Python int beyond float64: as good as infinite
            return math.inf if out > 0 else -math.inf
        except (TypeError, ValueError):
            raise TypeError(
                f"f must return a real scalar; got {type(out).__name__}"
                + (f" of shape {np.shape(out)}" if np.ndim(out) else "")
            ) from None

    def _store_grad(self, gv, g_out: np.ndarray) -> None:
        gv = np.asarray(gv, dtype=np.float64)
        if gv.shape != (self.n,):
            raise ValueError(f"grad must return an array of shape ({self.n},); got shape {gv.shape}")
        copy_into(g_out, gv)

    def _recycled_copy(self, x: np.ndarray) -> np.ndarray:
        """A copy of x for the user: the previous copy refilled when only this wrapper holds it."""
        buf = self._spare
        # three references: the attribute, the local name and getrefcount's argument
        if buf is not None and sys.getrefcount(buf) == 3:
            copy_into(buf, x)
            return buf
        buf = self._spare = x.copy()
        return buf

    def counts(self) -> tuple[int, int, int]:
        """``(nfev, njev, nhev)`` so far."""
        return self.nfev, self.njev, self.nhev

    def release(self) -> None:
        """Drop the arrays kept between evaluations (the run is over; its peak memory stays that
        of an evaluation)."""
        self._spare = None
        self._last_x = None
        self._last_g = None

    # ------------------------------------------------------------------ protocol
    def _fun(self, x: np.ndarray) -> float:
        """Value of f at x (one counted evaluation)."""
        xc = self._user_copy(x)
        if self.fused:
            out = self._call_f(xc)
            val = self._value(out[0])
            g = np.empty(self.n)
            self._store_grad(out[1], g)
            self.njev += 1
            self._last_g = g
        else:
            val = self._value(self._call_f(xc))
            self._last_g = None
        self._last_x = xc
        self._last_f = val
        return val

    def _fg(self, x: np.ndarray, g_out: np.ndarray) -> float:
        """Value of f at x, with the gradient written into ``g_out``."""
        last = self._last_x
        if last is not None and _arrays_equal(x, last):
            val = self._last_f
            if self._last_g is not None:
                copy_into(g_out, self._last_g)
                self._last_x = None
                return val
            self._last_x = None
            self.gradient_into(x, g_out, val)
            return val
        self._last_x = None
        if self.fused:
            out = self._call_f(self._user_copy(x))
            self.njev += 1
            self._store_grad(out[1], g_out)
            return self._value(out[0])
        val = self._value(self._call_f(self._user_copy(x)))
        self.gradient_into(x, g_out, val)
        return val

    def gradient_into(self, x: np.ndarray, g_out: np.ndarray, f_x: float) -> None:
        """Write the gradient at x into ``g_out`` (``f_x`` = f(x), used by forward differences)."""
        if self.fd_gradient:
            self._fd_gradient(x, g_out, f_x)
        elif self.fused:
            out = self._call_f(self._user_copy(x))
            self.njev += 1
            self._store_grad(out[1], g_out)
        else:
            self.njev += 1
            args = self.args
            xc = self._user_copy(x)
            gv = self._grad(xc, *args) if args else self._grad(xc)
            del xc  # the copy is free for the next call once the user is done with it
            self._store_grad(gv, g_out)

    def _difference_gradient(self, x: np.ndarray, g_out: np.ndarray) -> None:
        """The gradient at a point of a Hessian difference: the gradient alone (``njev``),
        unless it is itself a difference of f, which needs f there too."""
        if self.fd_gradient:
            self.fg(x, g_out)
        else:
            self.gradient_into(x, g_out, math.nan)

    def grad(self, x: np.ndarray) -> np.ndarray:
        """A fresh gradient array at x."""
        g = np.empty(self.n)
        self.fg(x, g)
        return g

    def _fd_gradient(self, x: np.ndarray, g_out: np.ndarray, f_x: float) -> None:
        n = self.n
        h = np.empty(n)
        fd_steps_into(h, x, self.fd_rel_step)
        xt = x.copy()
        if self.fd_scheme == "forward":
            fp = np.empty(n)
            for i in range(n):
                xt[i] = x[i] + h[i]
                fp[i] = self._value(self._call_f(xt.copy()))
                xt[i] = x[i]
            forward_gradient_from_values(g_out, fp, f_x, h)
        else:
            fp = np.empty(n)
            fm = np.empty(n)
            for i in range(n):
                xt[i] = x[i] + h[i]
                fp[i] = self._value(self._call_f(xt.copy()))
                xt[i] = x[i] - h[i]
                fm[i] = self._value(self._call_f(xt.copy()))
                xt[i] = x[i]
            central_gradient_from_values(g_out, fp, fm, h)

    def hess(self, x: np.ndarray, g_x: np.ndarray, operator: bool = False):
        """The Hessian at x: the user's, or forward differences of the gradient.

        ``g_x`` is the gradient at x (reused by the finite differences).  The user's ``hess``
        may return a scipy.sparse matrix or array, or a
        :class:`~scipy.sparse.linalg.LinearOperator`: with ``operator=True`` (a method that
        only multiplies by H) it is returned as it is; otherwise a sparse matrix is made
        dense and an operator is an error naming ``hess``.
        """
        if self._hess is not None:
            self.nhev += 1
            try:
                H = self._hess(x.copy(), *self.args)
            except Exception as exc:
                self._raise_if_not_compiled(exc, self._hess, "hess", ("x",), (x,))
                raise
            if is_matrix_operator(H):
                if H.shape != (self.n, self.n):
                    raise ValueError(f"hess must return an array of shape ({self.n}, {self.n}); got {H.shape}")
                if np.dtype(H.dtype).kind not in "biuf":
                    raise TypeError(f"hess must return real numbers; got a {type(H).__name__} of dtype {H.dtype}")
                if operator:
                    return H
                if not issparse(H):
                    raise TypeError("hess returned a LinearOperator; this method factors the Hessian and needs "
                                    "its entries: return an array or a sparse matrix, or use method='newton-cg'")
                H = H.toarray()
            # no copy of a C-ordered float64 result: the methods read H and never write it
            H = _real_array(H, "hess")
            if H.shape != (self.n, self.n):
                raise ValueError(f"hess must return an array of shape ({self.n}, {self.n}); got {H.shape}")
            return H
        n = self.n
        H = np.empty((n, n))
        h = np.empty(n)
        fd_steps_into(h, x, self.hess_rel_step)
        xt = x.copy()
        gt = np.empty(n)
        for j in range(n):
            xt[j] = x[j] + h[j]
            self._difference_gradient(xt, gt)
            H[:, j] = gt
            xt[j] = x[j]
        fd_hessian_symmetrize_inplace(H, g_x, h)
        return H

    def hessp(self, x: np.ndarray, p: np.ndarray, g_x: np.ndarray, out: np.ndarray) -> None:
        """Write the Hessian-vector product :math:`\\nabla^2 f(x) p` into ``out``.

        Uses the user's ``hessp``, else the user's ``hess``, else a forward difference of
        gradients :math:`(\\nabla f(x + h p) - \\nabla f(x)) / h` with
        :math:`h = \\sqrt{\\epsilon}\\,(1 + \\|x\\|) / \\|p\\|`.
        """
        if self._hessp is not None:
            self.nhev += 1
            try:
                hp = self._hessp(x.copy(), p.copy(), *self.args)
            except Exception as exc:
                self._raise_if_not_compiled(exc, self._hessp, "hessp", ("x", "p"), (x, p))
                raise
            hp = _real_array(hp, "hessp")
            if hp.shape != (self.n,):
                raise ValueError(f"hessp must return an array of shape ({self.n},); got {hp.shape}")
            copy_into(out, hp)
            return
        if self._hess is not None:
            out[:] = np.ravel(self.hess(x, g_x, operator=True) @ p)
            return
        pn = norm2(p)
        if pn == 0.0:
            out[:] = 0.0
            return
        h = math.sqrt(_EPS) * (1.0 + norm2(x)) / pn
        self._difference_gradient(x + h * p, out)
        out -= g_x
        out /= h

    def sample_fg(self, x: np.ndarray, g_out: np.ndarray) -> float:
        """The value and gradient a first-order step uses, the gradient written into ``g_out``.

        Full-batch runs: :meth:`fg` (exact).  Mini-batch runs: ``f(x, idx)`` (and
        ``grad(x, idx)``) on the sampler's next batch ``idx``, one counted evaluation; a
        gradient of the wrong shape raises a ValueError naming it.
        """
        if self.sampler is None:
            return self.fg(x, g_out)
        idx = self.sampler.next_batch()
        xc = x.copy()
        self.nfev += 1
        self.njev += 1
        if self.fused:
            out = self._batch_f(xc, idx, *self.args)
            if not (isinstance(out, tuple | list) and len(out) == 2):
                raise TypeError(f"with grad=True, f(x, idx) must return a pair (value, gradient); got "
                                f"{type(out).__name__}")
            val, gv = out
        else:
            val = self._batch_f(xc, idx, *self.args)
            gv = self._batch_grad(xc, idx, *self.args)
        gv = np.asarray(gv, dtype=np.float64)
        if gv.shape != (self.n,):
            raise ValueError(f"the mini-batch gradient (grad(x, idx)) must have shape ({self.n},); "
                             f"got shape {gv.shape}")
        copy_into(g_out, gv)
        return self._value(val)

    # ------------------------------------------------------------------ first call
    def first_evaluation(self, x0: np.ndarray) -> tuple[float, np.ndarray]:
        """Evaluate f and its gradient at x0, checking what the user's functions return.

        Raises a clear error (naming f or grad) for a non-scalar or non-finite value, a
        gradient of the wrong shape or with non-finite entries.
        """
        n = self.n
        try:
            out = self._call_f(x0.copy())
        except Exception as exc:
            self._raise_if_not_compiled(exc, self._f, "f", *self._first_call_lead(x0))
            raise
        if self.fused:
            if not (isinstance(out, tuple | list) and len(out) == 2):
                raise TypeError(
                    "with grad=True, f must return a pair (value, gradient); "
                    f"got {type(out).__name__}"
                )
            fv, gv = out
            self.njev += 1
        else:
            fv, gv = out, None
        if type(fv) is not float and np.ndim(fv) != 0:
            raise NotScalarError(f"f must return a scalar; got an array of shape {np.shape(fv)} at x0")
        if type(fv) is not float and np.iscomplexobj(fv):
            raise TypeError(f"f must return a real scalar; got {type(fv).__name__} at x0")
        f0 = self._value(fv)
        if not math.isfinite(f0):
            raise NotFiniteAtStart("f", *self.counts(), got=f"got {f0}", f=f0)
        if gv is None and self.fd_gradient:
            g0 = np.empty(n)
            self._fd_gradient(x0, g0, f0)
        else:
            if gv is None:
                try:
                    gv = self._grad(x0.copy(), *self.args)
                except Exception as exc:
                    self._raise_if_not_compiled(exc, self._grad, "grad", *self._first_call_lead(x0))
                    raise
                self.njev += 1
            if type(gv) is np.ndarray and gv.dtype is FLOAT64 and gv.shape == (n,):
                g0 = gv.copy()  # the common case; a copy: the user may keep and change theirs
            else:
                self._check_grad_shape(gv)
                g0 = np.empty(n)
                self._store_grad(gv, g0)
        if not all_finite_vector(g0):
            raise NotFiniteAtStart("grad", *self.counts(), f=f0, g=g0)
        return f0, g0

    def _first_call_lead(self, x0: np.ndarray) -> tuple[tuple, tuple]:
        """Names and values of the arguments before ``*args`` in the first call of f and grad:
        ``x``, and the sample indices ``idx`` of a data-set objective (a stand-in of their type)."""
        if self.n_samples is None:
            return ("x",), (x0,)
        return ("x", "idx"), (x0, np.arange(1, dtype=np.int64))

    def _raise_if_not_compiled(self, exc: BaseException, func, role: str, names: tuple, values: tuple) -> None:
        """:func:`raise_if_not_compiled` for a call ``role(*names, *args)`` with ``values`` before the args."""
        call = f"{role}({', '.join(names)}{', *args' if self.args else ''})"
        raise_if_not_compiled(func, role, call, (*values, *self.args), exc)

    def _check_grad_shape(self, gv) -> None:
        try:
            is_complex = np.iscomplexobj(gv)
        except (TypeError, ValueError):  # ragged: reported below
            is_complex = False
        if is_complex:
            raise TypeError(f"grad must return an array of real numbers; got a complex {type(gv).__name__} at x0")
        try:
            arr = np.asarray(gv, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"grad must return an array of real numbers; got {type(gv).__name__}") from None
        if arr.shape != (self.n,):
            raise ValueError(f"grad must return an array of shape ({self.n},); got shape {arr.shape} at x0")


def _real_array(value, name: str) -> np.ndarray:
    """``value`` as a C-ordered float64 array (no copy when it is one), or a TypeError naming
    ``name`` for a value that is not an array of real numbers (None, strings, complex)."""
    if type(value) is np.ndarray and value.dtype == np.float64:
        return np.ascontiguousarray(value)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must return an array of real numbers; got {type(value).__name__}"
                        + (f" of dtype {arr.dtype}" if isinstance(value, np.ndarray) else ""))
    return np.ascontiguousarray(arr, dtype=np.float64)
