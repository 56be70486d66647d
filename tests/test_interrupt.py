"""Ctrl-C (SIGINT) during fully compiled runs: the run stops within an iteration.

The signals are sent in fresh interpreters (never to the test process).  Each script warms
the solver up first (a short run), so that the signal reaches the compiled loop rather than
the compilation, then starts a run that would take some 15 minutes and sends itself SIGINT
after 0.5 s.  Without the watch (:mod:`nsolve.compiled._interrupt`) the KeyboardInterrupt
arrives only when the run returns, and the scripts exceed their timeout.
"""

import ctypes
import signal
import subprocess
import sys
import textwrap
import threading

import numba
import numpy as np
import pytest

import nsolve
from nsolve import Status
from nsolve.compiled import _interrupt

pytestmark = pytest.mark.skipif(_interrupt._libc_sigaction() is None, reason="needs sigaction (Linux, macOS)")

PRELUDE = textwrap.dedent(
    """
    import os, signal, sys, threading
    import numba, numpy as np
    import nsolve

    @numba.njit
    def f(x):
        s = 0.0
        for k in range(100000):  # about 0.1 ms a call
            s += np.sin(k * 1e-9 + x[0]) * 1e-30
        return 0.5 * (x @ x) + s

    @numba.njit
    def g(x):
        return x.copy()

    KW = dict(method="gd", lr=1e-12, gtol=0.0)  # barely moves: runs to maxiter
    LONG = 10**7  # iterations: some 15 minutes uninterrupted

    def interrupt_soon():
        threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    """
)


def _run(body: str, timeout: float = 240.0) -> str:
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_ctrl_c_raises_keyboard_interrupt_during_a_compiled_minimize():
    out = _run(
        """
        nsolve.minimize(f, g, np.ones(3), maxiter=2, **KW)  # the solver, loaded or compiled
        interrupt_soon()
        try:
            nsolve.minimize(f, g, np.ones(3), maxiter=LONG, **KW)
            print("returned")
        except KeyboardInterrupt:
            print("interrupted")
        # Python's own handler is back: another SIGINT raises at once
        try:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10**6):
                pass
            print("second signal lost")
        except KeyboardInterrupt:
            print("second signal raised")
        """
    )
    assert out.split() == ["interrupted", "second", "signal", "raised"], out


def test_ctrl_c_stops_every_problem_of_minimize_many():
    out = _run(
        """
        X0 = np.ones((4, 3))
        threads = min(2, numba.config.NUMBA_NUM_THREADS)  # (a one-core machine has one)
        nsolve.minimize_many(f, g, X0, maxiter=2, threads=threads, **KW)
        interrupt_soon()
        try:
            nsolve.minimize_many(f, g, X0, maxiter=LONG, threads=threads, **KW)
            print("returned")
        except KeyboardInterrupt:
            print("interrupted")
        """
    )
    assert out.split() == ["interrupted"], out


def test_a_handler_that_does_not_raise_gets_the_best_point_with_status_interrupted():
    out = _run(
        """
        nsolve.minimize(f, g, np.ones(3), maxiter=2, **KW)
        hits = []
        signal.signal(signal.SIGINT, lambda signum, frame: hits.append(signum))
        interrupt_soon()
        res = nsolve.minimize(f, g, np.ones(3), maxiter=LONG, **KW)
        print(int(res.status), res.success, 0 < res.nit < LONG, res.fun <= f(np.ones(3)), hits == [signal.SIGINT])
        """
    )
    assert out.split() == [str(int(Status.INTERRUPTED)), "False", "True", "True", "True"], out


def _sigint_handler_address() -> int:
    buf = ctypes.create_string_buffer(_interrupt._SIGACTION_BYTES)
    assert _interrupt._libc_sigaction()(signal.SIGINT, None, buf) == 0
    return ctypes.c_void_p.from_buffer(buf).value or 0


SEEN = np.zeros(1, dtype=np.int64)
_ACTIVE_AT = _interrupt.BLOCK_ADDRESS + 8 * _interrupt.ACTIVE
_SEEN_AT = SEEN.ctypes.data


@numba.njit
def _f(x):
    # records whether the solver's SIGINT handler is installed while f runs
    _interrupt._store(_SEEN_AT, _interrupt._load(_ACTIVE_AT))
    return 0.5 * (x @ x)


@numba.njit
def _g(x):
    return x.copy()


def _active_during_a_run(**kw) -> int:
    SEEN[0] = -1
    nsolve.minimize(_f, _g, np.ones(3), **kw)
    return int(SEEN[0])


def test_the_handler_is_installed_for_the_run_and_restored_after():
    before = _sigint_handler_address()
    for kw in ({"method": "lbfgs"}, {"method": "bfgs"}, {"method": "adam", "lr": 0.1}):
        assert _active_during_a_run(**kw) == 1
        assert _sigint_handler_address() == before
    SEEN[0] = -1
    nsolve.minimize_many(_f, _g, np.ones((3, 3)), method="lbfgs")
    assert SEEN[0] == 1
    assert _sigint_handler_address() == before
    assert _interrupt.BLOCK[_interrupt.ACTIVE] == 0 and _interrupt.BLOCK[_interrupt.FLAG] == 0


def test_the_handler_stays_out_off_the_main_thread_and_under_sig_ign():
    _active_during_a_run(method="lbfgs")  # prepared on the main thread
    seen = []
    worker = threading.Thread(target=lambda: seen.append(_active_during_a_run(method="lbfgs")))
    worker.start()
    worker.join()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        seen.append(_active_during_a_run(method="lbfgs"))
        seen.append(_sigint_handler_address())
    finally:
        signal.signal(signal.SIGINT, previous)
    assert seen == [0, 0, 1]  # 1: SIG_IGN, untouched
    assert _active_during_a_run(method="lbfgs") == 1


@numba.njit
def _f_raises(x):
    _interrupt._store(_SEEN_AT, _interrupt._load(_ACTIVE_AT))
    if x[0] < 0.5:
        raise ValueError("f gave up")
    return 0.5 * (x @ x)


def test_a_numba_objective_that_raises_leaves_sigint_as_it_was():
    before = _sigint_handler_address()
    SEEN[0] = -1
    with pytest.raises(ValueError, match="f gave up"):
        nsolve.minimize(_f_raises, _g, np.ones(3), method="lbfgs")
    assert SEEN[0] == 1  # the handler was in place when f raised
    assert _sigint_handler_address() == before
    assert _interrupt.BLOCK[_interrupt.ACTIVE] == 0


def test_a_compiled_run_nested_in_a_python_objective_leaves_the_outer_run_in_charge():
    """The inner run (main thread, handler already in place) must not touch the saved state:
    it used to overwrite it with the chained handler, which the outer run then 'restored'."""
    before = _sigint_handler_address()
    inner = []

    def f(x):
        SEEN[0] = -1
        nsolve.minimize(_f, _g, x, method="lbfgs")
        inner.append(int(SEEN[0]))
        return 0.5 * float(x @ x)

    for _ in range(2):  # the second run of a method takes the compiled solver (bridge)
        nsolve.minimize(f, lambda x: x.copy(), np.ones(2), method="lbfgs")
    assert inner[-1] == 1  # the outer run's handler, seen from the inner run
    assert _sigint_handler_address() == before
    assert _interrupt.BLOCK[_interrupt.ACTIVE] == 0
