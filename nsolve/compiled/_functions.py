r"""The user's Numba functions as first-class function values of fixed types.

A compiled solver that took the user's dispatcher as an argument would be specialised (and
recompiled) for every new objective, and could not be cached.  Instead every objective
reaches the solvers as plain integers: the addresses of its compiled code for one fixed
signature.  Inside the solver :func:`make_function` turns a pair of addresses back into a
Numba first-class function (:class:`numba.types.FunctionType`) and calls it; the solver's
own signature holds only integers, floats and arrays, so it is compiled once, cached on
disk, and shared by every objective.

Required signatures (``x`` and ``a`` are C-contiguous float64 vectors):

==========  ==========================  ====================================
role        without ``args``            with a per-problem ``args`` vector
==========  ==========================  ====================================
``f``       ``f(x) -> float``           ``f(x, a) -> float``
``grad``    ``grad(x) -> (n,) array``   ``grad(x, a) -> (n,) array``
``hess``    ``hess(x) -> (n, n) array`` ``hess(x, a) -> (n, n) array``
==========  ==========================  ====================================

:func:`function_addresses` compiles the user's dispatcher for the signature (or finds the
compiled version) and turns a Numba typing error into a :class:`TypeError` that names the
function and the signature expected.
"""

from __future__ import annotations

import ctypes
import sys
import weakref
from functools import cache

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.registry import CPUDispatcher
from numba.experimental.function_type import _get_jit_address, _get_wrapper_address
from numba.extending import intrinsic

from nsolve._validation import first_lines

VEC = types.float64[::1]
#: ``role -> (return type, description)``; the argument types are ``(x,)`` or ``(x, a)``.
RETURNS = {
    "f": (types.float64, "float"),
    "grad": (types.float64[:], "(n,) float64 array"),
    "hess": (types.float64[:, :], "(n, n) float64 array"),
}
ROLES = tuple(RETURNS)


@cache
def function_type(role: str, with_args: bool) -> types.FunctionType:
    """The first-class function type of ``role`` ("f", "grad", "hess")."""
    ret = RETURNS[role][0]
    return types.FunctionType(ret(VEC, VEC) if with_args else ret(VEC))


def signature_text(role: str, with_args: bool) -> str:
    """``"f(x) -> float"`` etc., for error messages and docs."""
    params = "x, a" if with_args else "x"
    return f"{role}({params}) -> {RETURNS[role][1]}"


def is_numba_function(obj) -> bool:
    """True for a function compiled with ``numba.njit`` (a CPU dispatcher)."""
    return isinstance(obj, CPUDispatcher)


# ------------------------------------------------------------------ addresses
_ADDRESSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def function_addresses(func, role: str, with_args: bool, name: str | None = None) -> tuple[int, int]:
    """Compile ``func`` for its role's signature and return ``(cfunc address, jit address)``.

    Parameters
    ----------
    func : numba dispatcher
    role : "f", "grad" or "hess"
    with_args : bool
        True for the signature with a per-problem args vector ``(x, a)``.
    name : str, optional
        The argument name used in error messages (default: ``role``).

    Raises
    ------
    TypeError
        When ``func`` does not compile for the signature (wrong number or types of
        parameters, or a return value that is not of the required kind); the message names
        the function and the signature expected, and quotes Numba's first lines.
    """
    memo = _ADDRESSES.get(func)
    if memo is None:
        memo = {}
        _ADDRESSES[func] = memo
    key = (role, with_args)
    hit = memo.get(key)
    if hit is not None:
        return hit
    sig = function_type(role, with_args).signature
    label = name or role
    try:
        c_addr = _get_wrapper_address(func, sig)
        jit_addr = _get_jit_address(func, sig)
    except Exception as exc:  # noqa: BLE001 - any Numba typing/compile failure is the user's signature
        fname = getattr(func, "__name__", repr(func))
        raise TypeError(
            f"{label} (the Numba function {fname!r}) must have the signature "
            f"{signature_text(role, with_args)} with x{' and a' if with_args else ''} 1-D float64 "
            f"arrays to run compiled; compiling it for that signature failed: {first_lines(exc)}"
        ) from None
    memo[key] = (c_addr, jit_addr)
    return c_addr, jit_addr


# ------------------------------------------------------------------ in compiled code
def _function_maker(ftype):
    @intrinsic
    def make(typingctx, c_addr, jit_addr):
        sig = ftype(types.intp, types.intp)

        def codegen(context, builder, signature, args):
            fn = cgutils.create_struct_proxy(ftype)(context, builder)
            voidptr = context.get_value_type(types.voidptr)
            fn.c_addr = builder.inttoptr(args[0], voidptr)
            fn.py_addr = cgutils.get_null_value(voidptr)
            fn.jit_addr = builder.inttoptr(args[1], voidptr)
            return fn._getvalue()

        return sig, codegen

    return make


#: ``MAKERS[role, with_args](c_addr, jit_addr)`` builds the function value in compiled code.
MAKERS = {(role, w): _function_maker(function_type(role, w)) for role in ROLES for w in (False, True)}
make_f = MAKERS["f", False]
make_f_args = MAKERS["f", True]
make_grad = MAKERS["grad", False]
make_grad_args = MAKERS["grad", True]
make_hess = MAKERS["hess", False]
make_hess_args = MAKERS["hess", True]


# ------------------------------------------------------------------ Python objectives
#: C signature of the callback through which a compiled solver evaluates a Python objective
#: (:mod:`nsolve.compiled._bridge`): ``double callback(PyObject *evaluate, int64 kind)``,
#: returning f.  The solver holds ``evaluate`` as an int64 (its address, CPython's ``id``);
#: ctypes turns it back into the object, so the callback needs no lookup.
PYTHON_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.py_object, ctypes.c_int64)


@intrinsic
def call_python(typingctx, fn_addr, handle, kind):
    """Call the :data:`PYTHON_CALLBACK` at address ``fn_addr``; returns its float.

    ctypes takes the GIL inside the callback, so the (``nogil``) solver may call it directly.
    """
    sig = types.float64(types.intp, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fnty = ir.FunctionType(ir.DoubleType(), [i64, i64])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        return builder.call(fn, [args[1], args[2]])

    return sig, codegen


# ------------------------------------------------------------------ wall clock
_CLOCK_MONOTONIC = {"linux": 1, "darwin": 6}


def _clock_address() -> int:
    clock_id = _CLOCK_MONOTONIC.get(sys.platform)
    if clock_id is None:
        return 0
    try:
        libc = ctypes.CDLL(None)
        return int(ctypes.cast(libc.clock_gettime, ctypes.c_void_p).value or 0)
    except (OSError, AttributeError):
        return 0


#: Address of ``clock_gettime`` (0 where unavailable: the time limit and the history's time
#: column then need the interpreted driver).
CLOCK_ADDRESS = _clock_address()
CLOCK_ID = _CLOCK_MONOTONIC.get(sys.platform, 1)


@intrinsic
def monotonic_seconds(typingctx, fn_addr, clock_id):
    """Seconds of ``clock_gettime(clock_id)`` called through the address ``fn_addr``."""
    sig = types.float64(types.intp, types.intp)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        i32 = ir.IntType(32)
        ts = cgutils.alloca_once(builder, ir.ArrayType(i64, 2))
        fnty = ir.FunctionType(i32, [i32, ts.type])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        builder.call(fn, [builder.trunc(args[1], i32), ts])
        zero = ir.Constant(i32, 0)
        sec = builder.load(builder.gep(ts, [zero, ir.Constant(i32, 0)]))
        nsec = builder.load(builder.gep(ts, [zero, ir.Constant(i32, 1)]))
        dbl = ir.DoubleType()
        return builder.fadd(builder.sitofp(sec, dbl), builder.fmul(builder.sitofp(nsec, dbl), ir.Constant(dbl, 1e-9)))

    return sig, codegen
