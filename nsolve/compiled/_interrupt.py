"""Ctrl-C (SIGINT) during a compiled solve.

Python runs its signal handlers between bytecodes, so a ``KeyboardInterrupt`` cannot reach a
solve that runs inside compiled code until the solve returns.  For the length of a compiled
solve started on the main thread, the solver therefore puts a small C handler in front of
SIGINT's (Python's): it stores 1 in a flag, then calls Python's handler with the same
arguments, so Python still records the signal as usual.  The solvers read the flag once
per iteration and stop with the status ``INTERRUPTED``; on return the solver puts the saved
``struct sigaction`` back, byte for byte.  Python then handles the signal it recorded: a
``KeyboardInterrupt`` by default; a handler of the user's that does not raise lets the run's
result (its best point, status ``INTERRUPTED``) come back.  A Ctrl-C while a solver is
being compiled interrupts the compilation, as before.

Everything the solvers need is in :data:`BLOCK`, whose address travels in the options
(``io[IO_INTERRUPT]``), so one cached machine code serves every process: the addresses of
``sigaction`` and ``pthread_self``, the two ``struct sigaction`` buffers, the handler the
chain passes signals to, and the main thread's id.  The swap is two ``sigaction`` calls
(well under a microsecond) and happens only when it is exact: on Linux and macOS, on the
main thread, and when SIGINT's handler is still the one the chain was built for (so a
``SIG_IGN`` or another library's handler is left alone).  Elsewhere Ctrl-C takes effect
when the solve returns, as it always did.

The handler is built once per process by Numba's JIT (a few milliseconds; both addresses it
uses are constants of its code), at the first compiled solve on the main thread.
"""

from __future__ import annotations

import _signal
import ctypes
import signal
import sys
import threading

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from nsolve.compiled._cache import inner

# ---- BLOCK slots (int64)
FLAG = 0  # set to 1 by the handler
ACTIVE = 1  # 1 while the solver's handler is installed
SIGACTION = 2  # address of libc's sigaction
PTHREAD_SELF = 3  # address of pthread_self
OURS = 4  # address of the struct sigaction that installs the handler
SAVED = 5  # address of the buffer the solver saves SIGINT's struct sigaction in
PREVIOUS = 6  # the handler the chain calls (0: not prepared)
MAIN = 7  # the main thread's pthread_self()
SLOTS = 8

SIGINT = int(signal.SIGINT)
#: struct sigaction is 152 bytes on Linux x86-64 and 16 on macOS; the handler comes first on both.
_SIGACTION_BYTES = 512

BLOCK = np.zeros(SLOTS, dtype=np.int64)
_OURS = ctypes.create_string_buffer(_SIGACTION_BYTES)
_SAVED = ctypes.create_string_buffer(_SIGACTION_BYTES)
_I64 = ir.IntType(64)
_STATE: dict = {}


def _libc_function(name: str):
    if sys.platform not in ("linux", "darwin"):
        return None
    try:
        return getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None


def _libc_sigaction():
    if "sigaction" not in _STATE:
        fn = _libc_function("sigaction")
        if fn is not None:
            fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
            fn.restype = ctypes.c_int
        _STATE["sigaction"] = fn
    return _STATE["sigaction"]


#: ``io[IO_INTERRUPT]`` of every compiled run: the address of :data:`BLOCK` (0 where
#: ``sigaction`` is missing; the solvers then never look).
BLOCK_ADDRESS = BLOCK.ctypes.data if _libc_sigaction() is not None and _libc_function("pthread_self") else 0


# ------------------------------------------------------------------ compiled side
@intrinsic
def _load(typingctx, address):
    """The int64 at ``address`` (an atomic load: never hoisted out of a loop)."""
    sig = types.int64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.load_atomic(builder.inttoptr(args[0], _I64.as_pointer()), "monotonic", 8)

    return sig, codegen


@intrinsic
def _store(typingctx, address, value):
    sig = types.void(types.int64, types.int64)

    def codegen(context, builder, signature, args):
        builder.store_atomic(args[1], builder.inttoptr(args[0], _I64.as_pointer()), "monotonic", 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _sigaction(typingctx, fn, signum, act, oldact):
    """``sigaction(signum, act, oldact)`` through the address ``fn`` (0 for a NULL pointer)."""
    sig = types.int64(types.int64, types.int64, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        ptr = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(i32, [i32, ptr, ptr])
        call = builder.inttoptr(args[0], fnty.as_pointer())
        rc = builder.call(call, [builder.trunc(args[1], i32), builder.inttoptr(args[2], ptr),
                                 builder.inttoptr(args[3], ptr)])
        return builder.sext(rc, _I64)

    return sig, codegen


@intrinsic
def _pthread_self(typingctx, fn):
    sig = types.int64(types.int64)

    def codegen(context, builder, signature, args):
        call = builder.inttoptr(args[0], ir.FunctionType(_I64, []).as_pointer())
        return builder.call(call, [])

    return sig, codegen


@inner
def watch_begin(block):
    """Install the flag-setting handler in front of SIGINT's; True when installed.

    Only on the main thread, after :func:`prepare`, not inside a run that installed it
    already (a solve nested in a Python objective: the outer run keeps the saved state), and
    only when SIGINT's handler is the one the chain calls (otherwise the saved state is put
    back at once).
    """
    if block == 0 or _load(block + 8 * ACTIVE) != 0:  # (active: a run nested in a Python objective)
        return False
    previous = _load(block + 8 * PREVIOUS)
    if previous == 0 or _pthread_self(_load(block + 8 * PTHREAD_SELF)) != _load(block + 8 * MAIN):
        return False
    fn = _load(block + 8 * SIGACTION)
    saved = _load(block + 8 * SAVED)
    if _sigaction(fn, SIGINT, _load(block + 8 * OURS), saved) != 0:
        return False
    if _load(saved) != previous:
        _sigaction(fn, SIGINT, saved, 0)
        return False
    _store(block + 8 * FLAG, 0)
    _store(block + 8 * ACTIVE, 1)
    return True


@inner
def watch_end(block):
    """Put SIGINT's saved ``struct sigaction`` back (after :func:`watch_begin` returned True)."""
    _sigaction(_load(block + 8 * SIGACTION), SIGINT, _load(block + 8 * SAVED), 0)
    _store(block + 8 * ACTIVE, 0)
    _store(block + 8 * FLAG, 0)


@inner
def interrupt_requested(block):
    """True when SIGINT arrived since :func:`watch_begin` (``block`` 0: never)."""
    return block != 0 and _load(block + 8 * FLAG) != 0


# ------------------------------------------------------------------ Python side
def _build_handler(previous: int) -> int:
    """Address of ``void handler(int, void *, void *)`` that stores 1 in ``BLOCK[FLAG]`` and
    then calls ``previous`` with its arguments (passed on whatever the handler's convention:
    an ``sa_handler`` ignores the two pointers).  Called once, by :func:`prepare`."""
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.registry import cpu_target

    ptr = ir.IntType(8).as_pointer()
    fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(32), ptr, ptr])
    module = ir.Module(name="nsolve_sigint")
    fn = ir.Function(module, fnty, name="nsolve_sigint_handler")
    builder = ir.IRBuilder(fn.append_basic_block())
    flag = builder.inttoptr(ir.Constant(_I64, BLOCK_ADDRESS + 8 * FLAG), _I64.as_pointer())
    builder.store_atomic(ir.Constant(_I64, 1), flag, "monotonic", 8)
    builder.call(builder.inttoptr(ir.Constant(_I64, previous), fnty.as_pointer()), fn.args)
    builder.ret_void()
    with global_compiler_lock:
        library = cpu_target.target_context.codegen().create_library("nsolve_sigint")
        library.add_ir_module(module)
        library.finalize()
    _STATE["handler library"] = library  # owns the handler's code: kept for the process's life
    return library.get_pointer_to_function("nsolve_sigint_handler")


def prepare() -> None:
    """Fill :data:`BLOCK` (once per process; a no-op afterwards and where Ctrl-C cannot be watched).

    Called before each compiled solve.  Needs the main thread and a Python handler for
    SIGINT (the handler the chain will call is the C function behind it).
    """
    if BLOCK[PREVIOUS] != 0 or BLOCK_ADDRESS == 0:
        return
    if threading.current_thread() is not threading.main_thread() or not callable(_signal.getsignal(SIGINT)):
        return
    sigaction = _libc_sigaction()
    if sigaction(SIGINT, None, _SAVED) != 0:
        return
    previous = ctypes.c_void_p.from_buffer(_SAVED).value or 0
    if previous in (0, 1):  # SIG_DFL / SIG_IGN at the C level
        return
    ctypes.memmove(_OURS, _SAVED, _SIGACTION_BYTES)  # the same mask and flags, our handler first
    ctypes.c_void_p.from_buffer(_OURS).value = _build_handler(previous)
    BLOCK[SIGACTION] = ctypes.cast(sigaction, ctypes.c_void_p).value
    BLOCK[PTHREAD_SELF] = ctypes.cast(_libc_function("pthread_self"), ctypes.c_void_p).value
    BLOCK[OURS] = ctypes.addressof(_OURS)
    BLOCK[SAVED] = ctypes.addressof(_SAVED)
    BLOCK[MAIN] = threading.main_thread().ident
    BLOCK[PREVIOUS] = previous


def recover() -> None:
    """After a solver left by an exception: put SIGINT's saved state back if it was swapped."""
    if BLOCK[ACTIVE] != 0:
        _libc_sigaction()(SIGINT, _SAVED, None)
        BLOCK[ACTIVE] = 0
        BLOCK[FLAG] = 0


def run(solver, *args):
    """``solver(*args)`` with Ctrl-C watched: :func:`prepare` first, :func:`recover` if the
    solver is left by an exception.  Every Python call of a compiled solver goes through here."""
    prepare()
    try:
        return solver(*args)
    except BaseException:
        recover()
        raise
