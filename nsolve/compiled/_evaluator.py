r"""The compiled counterpart of :class:`nsolve._objective.Objective`.

An evaluator is a small value (a Numba struct, copied not reference-counted) holding the
user's f, gradient and Hessian as first-class function values
(:mod:`nsolve.compiled._functions`), the per-problem ``args`` vector (an unmanaged view), and
pointers to its mutable storage, the counters and the last point
(:func:`nsolve.compiled._memory.data_pointer`: no reference counting).
In compiled code it is *callable* with the protocol of the line searches, so
:func:`nsolve.linesearch.strong_wolfe` and the others compile unchanged with
``fun = fg = evaluator``:

* ``ev(x) -> float``: the value only (counted in ``nfev``), remembering the point;
* ``ev(x, g_out) -> float``: the value, with the gradient written into ``g_out``; at the
  point of the last ``ev(x)`` the value is reused and only the gradient is computed.

These are the rules of ``Objective.fun`` / ``Objective.fg`` (same counts, same reuse).  A
gradient or Hessian of the wrong shape records an error code (the Python caller raises the
``ValueError`` the interpreted path raises) and fills the output with NaN, which stops the
run at once.

*Python mode* (a nonzero ``PY_CALL`` address, see :mod:`nsolve.compiled._bridge`): the
objective is the user's Python functions behind a ctypes callback.  The evaluator writes the
point into the first ``n`` entries of ``args`` (then a staging buffer shared with Python:
``[x | g | error flag | counts | H]``), calls the callback with the kind of evaluation
(``KIND_F``, ``KIND_G``, ``KIND_FG`` or ``KIND_H``), takes f as its return value and reads
the gradient or Hessian back from the buffer.  The counts follow the interpreted wrapper's rules
(a fused ``grad=True`` call counts in ``nfev`` and ``njev``; a finite-difference gradient
costs ``PY_FD_EVALS`` values).  A callback that fails (the user's function raised) records
``ERR_PYTHON``: no further callback is made, every later value is NaN, and the driver stops;
the Python caller re-raises the exception.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import (
    intrinsic,
    lower_builtin,
    make_attribute_wrapper,
    models,
    overload_method,
    register_model,
)

from nsolve._kernels.finite_diff import fd_hessian_symmetrize_inplace, fd_steps_into
from nsolve.compiled._cache import inner
from nsolve.compiled._functions import (
    VEC,
    call_python,
    make_f,
    make_f_args,
    make_grad,
    make_grad_args,
    make_hess,
    make_hess_args,
)
from nsolve.compiled._memory import data_pointer

#: Slots of the evaluator's int64 storage.
WITH_ARGS = 0
NFEV = 1
NJEV = 2
NHEV = 3
HAS_LAST = 4
ERR = 5
ERR_SHAPE0 = 6
ERR_SHAPE1 = 7
#: (cfunc, jit) addresses of f, grad and hess.
ADDR_F = 8
ADDR_GRAD = 10
ADDR_HESS = 12
#: Python mode: the callback's address (0: Numba functions), 1 for a fused ``grad=True``
#: objective, the f evaluations of one finite-difference gradient (0: a gradient function),
#: and the run's handle (which Python objective the callback evaluates).
PY_CALL = 14
PY_FUSED = 15
PY_FD_EVALS = 16
PY_HANDLE = 17
INT_SLOTS = 18
#: Length of the ``addresses`` array a solver receives (copied to ``ints[ADDR_F:]``).
ADDRESS_SLOTS = INT_SLOTS - ADDR_F

#: Error codes (slot ``ERR``).
ERR_NONE = 0
ERR_GRAD_SHAPE = 1
ERR_HESS_SHAPE = 2
ERR_PYTHON = 3

#: Relative step of the forward-difference Hessian (``nsolve._objective.FD_REL_STEP["forward"]``).
FD_REL_STEP = math.sqrt(np.finfo(np.float64).eps)

#: Kinds of Python-mode evaluation (the callback's argument).
KIND_F = 0
KIND_G = 1
KIND_H = 2
KIND_FG = 3


class EvaluatorType(types.Type):
    """Numba type of the compiled objective (see the module docstring)."""

    def __init__(self):
        super().__init__(name="nsolve.Evaluator")


EVALUATOR = EvaluatorType()

#: ``args`` is an array (the user's functions take it); the evaluator's own storage is held as
#: pointers (:func:`~nsolve.compiled._memory.data_pointer`): it is read at every evaluation,
#: and a pointer member costs no reference counting where an array member costs two calls
#: per read.
_MEMBERS = [
    ("args", VEC),
    ("last_x", types.CPointer(types.float64)),
    ("ints", types.CPointer(types.int64)),
    ("last_f", types.CPointer(types.float64)),
]


@register_model(EvaluatorType)
class _EvaluatorModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _MEMBERS)


for _name, _ in _MEMBERS:
    make_attribute_wrapper(EvaluatorType, _name, _name)


@intrinsic
def _pack(typingctx, args, last_x, ints, last_f):
    sig = EVALUATOR(args, last_x, ints, last_f)

    def codegen(context, builder, signature, values):
        ev = cgutils.create_struct_proxy(EVALUATOR)(context, builder)
        for (name, _), ty, val in zip(_MEMBERS, signature.args, values, strict=True):
            context.nrt.incref(builder, ty, val)
            setattr(ev, name, val)
        return ev._getvalue()

    return sig, codegen


@inner
def new_evaluator(addresses, with_args, args, ints, last_x, last_f):
    """Build an evaluator.

    Parameters
    ----------
    addresses : int64[ADDRESS_SLOTS]
        (cfunc, jit) addresses of f, grad and hess (0 for a missing role: never called), then
        the Python-mode slots ``PY_CALL``, ``PY_FUSED``, ``PY_FD_EVALS``, ``PY_HANDLE`` (zeros
        for Numba functions).
    with_args : bool
        Call the functions as ``f(x, args)`` rather than ``f(x)``.
    args : float64[::1]
        The problem's args vector (an unmanaged view; kept alive by the caller); in Python
        mode the staging buffer ``[x | g | f | H]``.
    ints, last_x, last_f : unmanaged storage of ``INT_SLOTS`` int64, ``n`` and 1 float64.
    """
    ints[:] = 0
    ints[WITH_ARGS] = 1 if with_args else 0
    for k in range(ADDRESS_SLOTS):
        ints[ADDR_F + k] = addresses[k]
    last_f[0] = 0.0
    return _pack(args, data_pointer(last_x), data_pointer(ints), data_pointer(last_f))


@inner
def with_problem_args(ev, args):
    """The same evaluator for another problem: new ``args``, counters and memory cleared."""
    ints = ev.ints
    for k in range(NFEV, ADDR_F):
        ints[k] = 0
    return _pack(args, ev.last_x, ints, ev.last_f)


@inner
def counts(ev):
    """``(nfev, njev, nhev)``."""
    return ev.ints[NFEV], ev.ints[NJEV], ev.ints[NHEV]


@inner
def _python_call(ev, x, kind):
    """Python mode: stage ``x``, run the callback for ``kind``; NaN once a callback has failed.

    Returns the callback's value (f for ``KIND_F`` and ``KIND_FG``).
    """
    ints = ev.ints
    if ints[ERR] != ERR_NONE:
        return np.nan
    buf = ev.args
    n = x.shape[0]
    for i in range(n):
        buf[i] = x[i]
    val = call_python(ints[PY_CALL], ints[PY_HANDLE], kind)
    if buf[2 * n] != 0.0:  # the error flag: the user's function raised
        ints[ERR] = ERR_PYTHON
        return np.nan
    return val


@inner
def _python_gradient_out(ev, g_out):
    """Copy the staged gradient into ``g_out`` (NaN after a failure)."""
    if ev.ints[ERR] != ERR_NONE:
        g_out[:] = np.nan
        return
    buf = ev.args
    n = g_out.shape[0]
    for i in range(n):
        g_out[i] = buf[n + i]


@inner
def _count_gradient(ints):
    """The counts of one gradient evaluation in Python mode (none: fused, staged with f)."""
    if ints[PY_FUSED] != 0:
        return
    if ints[PY_FD_EVALS] > 0:
        ints[NFEV] += ints[PY_FD_EVALS]
    else:
        ints[NJEV] += 1


@inner
def _python_f(ev, x):
    ints = ev.ints
    if ints[PY_FUSED] != 0:
        ints[NJEV] += 1
    return _python_call(ev, x, KIND_F)


@inner
def _python_gradient_into(ev, x, g_out):
    ints = ev.ints
    _count_gradient(ints)
    if ints[PY_FUSED] == 0:  # fused: f returned the gradient at this point, staged already
        _python_call(ev, x, KIND_G)
    _python_gradient_out(ev, g_out)


@inner
def _python_fg(ev, x, g_out):
    ints = ev.ints
    ints[NFEV] += 1
    if ints[PY_FUSED] != 0:
        ints[NJEV] += 1
    _count_gradient(ints)
    val = _python_call(ev, x, KIND_FG)
    _python_gradient_out(ev, g_out)
    return val


@inner
def _python_hessian_into(ev, x, g, H_out):
    n = x.shape[0]
    buf = ev.args
    for i in range(n):
        buf[n + i] = g[i]
    _python_call(ev, x, KIND_H)
    if ev.ints[ERR] != ERR_NONE:
        H_out[:, :] = np.nan
        return
    # the callback reports the evaluations the Hessian cost (finite differences make several)
    base = 2 * n + 1
    ints = ev.ints
    ints[NFEV] += np.int64(buf[base])
    ints[NJEV] += np.int64(buf[base + 1])
    ints[NHEV] += np.int64(buf[base + 2])
    base += 3
    for i in range(n):
        for j in range(n):
            H_out[i, j] = buf[base + i * n + j]


@inner(inline=True)
def call_f(ev, x):
    """The user's f at x (one counted evaluation)."""
    ints = ev.ints
    ints[NFEV] += 1
    if ints[PY_CALL] != 0:
        return _python_f(ev, x)
    if ints[WITH_ARGS] != 0:
        return make_f_args(ints[ADDR_F], ints[ADDR_F + 1])(x, ev.args)
    return make_f(ints[ADDR_F], ints[ADDR_F + 1])(x)


@inner(inline=True)
def gradient_into(ev, x, g_out):
    """Write the user's gradient at x into ``g_out`` (one counted evaluation)."""
    ints = ev.ints
    if ints[PY_CALL] != 0:
        _python_gradient_into(ev, x, g_out)
        return
    ints[NJEV] += 1
    if ints[WITH_ARGS] != 0:
        gv = make_grad_args(ints[ADDR_GRAD], ints[ADDR_GRAD + 1])(x, ev.args)
    else:
        gv = make_grad(ints[ADDR_GRAD], ints[ADDR_GRAD + 1])(x)
    n = g_out.shape[0]
    if gv.shape[0] != n:
        if ev.ints[ERR] == ERR_NONE:
            ev.ints[ERR] = ERR_GRAD_SHAPE
            ev.ints[ERR_SHAPE0] = gv.shape[0]
        g_out[:] = np.nan
        return
    for i in range(n):
        g_out[i] = gv[i]


@inner
def _fd_hessian_into(ev, x, g, H_out):
    """Forward differences of the gradient, the rule of ``Objective.hess`` without ``hess``.

    Column j is the gradient at :math:`x + h_j e_j` (one counted gradient each, as the
    interpreted wrapper counts; f is not evaluated there), then :math:`H = (D + D^T)/2` with
    :math:`D_{ij} = (\\nabla_i f(x + h_j e_j) - g_i) / h_j`.
    """
    n = x.shape[0]
    h = np.empty(n)
    xt = np.empty(n)
    gt = np.empty(n)
    fd_steps_into(h, x, FD_REL_STEP)
    for i in range(n):
        xt[i] = x[i]
    for j in range(n):
        xt[j] = x[j] + h[j]
        gradient_into(ev, xt, gt)
        for i in range(n):
            H_out[i, j] = gt[i]
        xt[j] = x[j]
    fd_hessian_symmetrize_inplace(H_out, g, h)


@inner
def hessian_into(ev, x, g, H_out):
    """Write the user's Hessian at x into ``H_out`` (``g``: the gradient at x).

    Without a Hessian function (address 0), forward differences of the gradient.
    """
    ints = ev.ints
    if ints[PY_CALL] != 0:
        _python_hessian_into(ev, x, g, H_out)
        return
    if ints[ADDR_HESS] == 0:
        _fd_hessian_into(ev, x, g, H_out)
        return
    ints[NHEV] += 1
    if ints[WITH_ARGS] != 0:
        Hv = make_hess_args(ints[ADDR_HESS], ints[ADDR_HESS + 1])(x, ev.args)
    else:
        Hv = make_hess(ints[ADDR_HESS], ints[ADDR_HESS + 1])(x)
    n = H_out.shape[0]
    if Hv.shape[0] != n or Hv.shape[1] != n:
        if ev.ints[ERR] == ERR_NONE:
            ev.ints[ERR] = ERR_HESS_SHAPE
            ev.ints[ERR_SHAPE0] = Hv.shape[0]
            ev.ints[ERR_SHAPE1] = Hv.shape[1]
        H_out[:, :] = np.nan
        return
    for i in range(n):
        for j in range(n):
            H_out[i, j] = Hv[i, j]


@inner(inline=True)
def _same_point(a, b):
    for i in range(a.shape[0]):
        if a[i] != b[i]:
            return False
    return True


def _fun(ev, x):
    last_x = ev.last_x
    for i in range(x.shape[0]):
        last_x[i] = x[i]
    val = call_f(ev, x)
    ev.last_f[0] = val
    ev.ints[HAS_LAST] = 1
    return val


def _fg(ev, x, g_out):
    if ev.ints[HAS_LAST] != 0 and _same_point(x, ev.last_x):
        ev.ints[HAS_LAST] = 0
        val = ev.last_f[0]
        gradient_into(ev, x, g_out)
        return val
    ev.ints[HAS_LAST] = 0
    if ev.ints[PY_CALL] != 0:
        return _python_fg(ev, x, g_out)  # one callback for both
    val = call_f(ev, x)
    gradient_into(ev, x, g_out)
    return val


fun = inner(_fun)
fg = inner(_fg)


def _fun_omitted(ev, x, g_out):
    return fun(ev, x)


@overload_method(EvaluatorType, "__call__")
def _call(ev, x, g_out=None):
    if g_out is None or isinstance(g_out, types.NoneType | types.Omitted):
        return lambda ev, x, g_out=None: fun(ev, x)
    return lambda ev, x, g_out=None: fg(ev, x, g_out)


@lower_builtin(EvaluatorType, EvaluatorType, types.Array, types.Omitted)
def _lower_fun(context, builder, sig, args):
    return context.compile_internal(builder, _fun_omitted, sig, args)


@lower_builtin(EvaluatorType, EvaluatorType, types.Array, types.Array)
def _lower_fg(context, builder, sig, args):
    return context.compile_internal(builder, _fg, sig, args)


__all__ = ["EVALUATOR", "call_f", "fg", "fun", "gradient_into", "hessian_into", "new_evaluator", "with_problem_args"]
