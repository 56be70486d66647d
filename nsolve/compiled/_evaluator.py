r"""The compiled counterpart of :class:`nsolve._objective.Objective`.

An evaluator is a small value (a Numba struct, copied not reference-counted) holding the
user's f, gradient and Hessian as first-class function values
(:mod:`nsolve.compiled._functions`), the per-problem ``args`` vector, and unmanaged views
(:mod:`nsolve.compiled._memory`) of its mutable storage: the counters and the last point.
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
"""

from __future__ import annotations

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

from nsolve._kernels.vector import copy_into
from nsolve.compiled._cache import inner
from nsolve.compiled._functions import (
    VEC,
    make_f,
    make_f_args,
    make_grad,
    make_grad_args,
    make_hess,
    make_hess_args,
)

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
INT_SLOTS = 14

#: Error codes (slot ``ERR``).
ERR_NONE = 0
ERR_GRAD_SHAPE = 1
ERR_HESS_SHAPE = 2


class EvaluatorType(types.Type):
    """Numba type of the compiled objective (see the module docstring)."""

    def __init__(self):
        super().__init__(name="nsolve.Evaluator")


EVALUATOR = EvaluatorType()

_MEMBERS = [("args", VEC), ("last_x", VEC), ("ints", types.int64[::1]), ("last_f", VEC)]


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
    addresses : int64[6]
        (cfunc, jit) addresses of f, grad and hess (0 for a missing role: never called).
    with_args : bool
        Call the functions as ``f(x, args)`` rather than ``f(x)``.
    args : float64[::1]
        The problem's args vector (an unmanaged view; kept alive by the caller).
    ints, last_x, last_f : unmanaged storage of ``INT_SLOTS`` int64, ``n`` and 1 float64.
    """
    ints[:] = 0
    ints[WITH_ARGS] = 1 if with_args else 0
    for k in range(6):
        ints[ADDR_F + k] = addresses[k]
    last_f[0] = 0.0
    return _pack(args, last_x, ints, last_f)


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


@inner(inline=True)
def call_f(ev, x):
    """The user's f at x (one counted evaluation)."""
    ints = ev.ints
    ints[NFEV] += 1
    if ints[WITH_ARGS] != 0:
        return make_f_args(ints[ADDR_F], ints[ADDR_F + 1])(x, ev.args)
    return make_f(ints[ADDR_F], ints[ADDR_F + 1])(x)


@inner(inline=True)
def gradient_into(ev, x, g_out):
    """Write the user's gradient at x into ``g_out`` (one counted evaluation)."""
    ints = ev.ints
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
def hessian_into(ev, x, H_out):
    """Write the user's Hessian at x into ``H_out`` (one counted evaluation)."""
    ints = ev.ints
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
    copy_into(ev.last_x, x)
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
