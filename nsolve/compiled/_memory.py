"""Buffers without reference counts, for the compiled solvers' hot loops.

Numba counts references of every array it passes around with atomic instructions; in a
solver loop that calls the objective, a line search and several kernels per iteration those
atomics cost more than the arithmetic.  The solvers therefore take all their buffers from
the caller, allocated once in Python (``nsolve.compiled._driver.workspace``), and pass
*unmanaged* views of them (:func:`unmanaged`: no meminfo, so nothing to count) everywhere,
and the storage read at every evaluation or iteration (the evaluator's counters and last
point, the iterate's scalars) as typed pointers (:func:`data_pointer`), which skip even the
calls that an unmanaged view's reference counting still makes.
An unmanaged view also takes no reference that an exception unwinding the compiled code
could leave behind.

:func:`fetch_add` is the one memory operation the threads of a batch share: the atomic
counter from which they take their blocks of problems (``_driver.many_method``).
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


@intrinsic
def data_pointer(typingctx, arr):
    """The address of ``arr``'s first element as a typed pointer (``CPointer(dtype)``).

    A pointer is indexed like a 1-D array (``p[i]``, ``p[i] = v``) but is not an array: it
    carries no meminfo, so Numba emits no reference counting wherever it is copied, passed
    or read from a struct (an unmanaged view still costs a call to ``NRT_incref`` and one to
    ``NRT_decref``, which return at once, each time).  The caller keeps ``arr`` alive and
    stays within its bounds."""
    if not (isinstance(arr, types.Array) and arr.layout == "C"):
        return None
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):
        return context.make_array(arr)(context, builder, value=args[0]).data

    return sig, codegen


@intrinsic
def fetch_add(typingctx, counters, index, value):
    """Add ``value`` to ``counters[index]`` atomically (one ``atomicrmw add``, sequentially
    consistent); returns the value before the addition.  ``counters`` is an int64 array
    that every thread of a parallel region shares, such as a work queue's next item."""
    if not (isinstance(counters, types.Array) and counters.dtype == types.int64 and counters.ndim == 1
            and isinstance(index, types.Integer) and isinstance(value, types.Integer)):
        return None
    sig = types.int64(counters, index, value)

    def codegen(context, builder, signature, args):
        ary = context.make_array(counters)(context, builder, value=args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        v = context.cast(builder, args[2], signature.args[2], types.int64)
        ptr = cgutils.get_item_pointer(context, builder, counters, ary, [i])
        return builder.atomic_rmw("add", ptr, v, "seq_cst")

    return sig, codegen
