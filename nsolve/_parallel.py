"""When nsolve may start Numba's thread pool, and how it starts it safely.

nsolve runs work across cores in two places: the chunked logistic-regression passes
(:mod:`nsolve.models.logistic`) and :func:`nsolve.minimize_many`.  Both are Numba
``parallel=True`` functions, which run on Numba's *threading layer*.  Two of the layers
have limits that would otherwise reach nsolve's users:

* **GNU OpenMP after ``fork``** (the ``omp`` layer on Linux, the one Numba picks when TBB
  is not installed).  A process forked from one that has run an OpenMP parallel region
  cannot run one itself: Numba kills it with SIGTERM ("fork() called from a process
  already using GNU OpenMP, this is unsafe").  ``multiprocessing.Pool`` forks by default
  on Linux before Python 3.14, so a fit in the parent followed by fits in pool workers
  killed every worker and left the pool waiting forever.  In such a child nsolve now runs
  on one thread (:func:`max_threads` is 1), which is the work a pool worker should do
  anyway; processes started with ``spawn`` or ``forkserver`` keep every core.
* **workqueue** (Numba's fallback when neither TBB nor OpenMP loads) is not thread-safe:
  two Python threads launching parallel work at once abort the process ("Concurrent
  access has been detected").  :func:`parallel_region` serialises nsolve's own launches on
  that layer (each launch still uses every thread).  Launches by other code are outside
  nsolve's reach.

Neither check costs anything measurable: both run only where a parallel launch follows,
that is for passes large enough to be split over threads.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import numba

#: True in a process forked after its parent had started GNU OpenMP threads.
_FORKED_FROM_GNU_OPENMP = False
#: Whether the active layer is thread-safe (None: Numba has not picked one yet).
_LAYER_THREADSAFE: bool | None = None
_LAUNCH_LOCK = threading.Lock()


def _active_layer() -> str | None:
    """The threading layer Numba has started in this process, or None if none yet."""
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel function has been loaded or run yet
        return None


def _gnu_openmp_started() -> bool:
    if _active_layer() != "omp":
        return False
    try:
        from numba.np.ufunc import omppool

        return str(getattr(omppool, "openmp_vendor", "GNU")) == "GNU"
    except ImportError:  # pragma: no cover - the omp layer is active, so it imported
        return True


def _after_fork_in_child() -> None:
    global _FORKED_FROM_GNU_OPENMP
    if _gnu_openmp_started():
        _FORKED_FROM_GNU_OPENMP = True


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


def parallel_allowed() -> bool:
    """False in a process forked from one that had started GNU OpenMP threads (see the module notes)."""
    return not _FORKED_FROM_GNU_OPENMP


def max_threads() -> int:
    """Threads nsolve may use here: ``numba.get_num_threads()``, or 1 where :func:`parallel_allowed` is False."""
    if _FORKED_FROM_GNU_OPENMP:
        return 1
    return numba.get_num_threads()


def _layer_threadsafe() -> bool:
    global _LAYER_THREADSAFE
    if _LAYER_THREADSAFE is None:
        layer = _active_layer()
        if layer is None:
            return False  # not chosen yet: the first launch chooses it, under the lock
        _LAYER_THREADSAFE = layer != "workqueue"
    return _LAYER_THREADSAFE


@contextlib.contextmanager
def parallel_region() -> Iterator[None]:
    """Context for one launch of a ``parallel=True`` kernel: held under a process-wide lock
    when the threading layer is not thread-safe (workqueue) or not chosen yet."""
    if _layer_threadsafe():
        yield
        return
    with _LAUNCH_LOCK:
        yield
