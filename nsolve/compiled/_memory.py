"""Buffers without reference counts, for the compiled solvers' hot loops.

Numba counts references of every array it passes around with atomic instructions; in a
solver loop that calls the objective, a line search and several kernels per iteration those
atomics cost more than the arithmetic.  The solvers therefore take all their buffers from
the caller, allocated once in Python (``nsolve.compiled._driver.workspace``), and pass
*unmanaged* views of them (:func:`unmanaged`: no meminfo, so nothing to count) everywhere.
An unmanaged view also takes no reference that an exception unwinding the compiled code
could leave behind.
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def unmanaged(typingctx, arr):
    """A view of ``arr`` without a reference count; the caller keeps ``arr`` alive."""
    if not isinstance(arr, types.Array):
        return None
    sig = arr(arr)

    def codegen(context, builder, signature, args):
        src = context.make_array(arr)(context, builder, value=args[0])
        out = context.make_array(arr)(context, builder)
        out.meminfo = cgutils.get_null_value(out.meminfo.type)
        out.parent = cgutils.get_null_value(out.parent.type)
        out.nitems = src.nitems
        out.itemsize = src.itemsize
        out.data = src.data
        out.shape = src.shape
        out.strides = src.strides
        return out._getvalue()

    return sig, codegen
