"""The compiled iterate: the state every compiled method shares.

An :class:`Iterate` is a named tuple of unmanaged buffers (:mod:`nsolve.compiled._memory`).
Its mutable scalars live in two small buffers held as pointers
(:func:`~nsolve.compiled._memory.data_pointer`, indexed like arrays but never reference
counted: they are read several times per iteration): ``sc = [f, f_prev]`` and
``ic = [parity, fresh, t, spent]``.  The current point and the trial point
are the two rows of ``X`` (and of ``G`` for their gradients); accepting a step flips
``parity`` instead of copying, as the interpreted ``accept_step`` swaps its buffers.
``f_prev`` is NaN until the first accepted step (the interpreted state's ``None``).

``best_x``, ``best_g`` and ``x_before`` are the driver's buffers: the best point of a
non-monotone method and the point before a step whose length the method does not report.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from nsolve._kernels.vector import step_stats
from nsolve._status import CONTINUE
from nsolve.compiled._cache import inner
from nsolve.compiled._memory import data_pointer, unmanaged

Iterate = namedtuple("Iterate", ["X", "G", "d", "best_x", "best_g", "x_before", "sc", "ic"])

F = 0
F_PREV = 1
PARITY = 0
FRESH = 1
T = 2
SPENT = 3


@inner
def iterate_sizes(n):
    """Floats and ints an :class:`Iterate` views: ``(8n + 2, 4)``."""
    return 8 * n + 2, 4


@inner
def new_iterate(n, owners):
    """An :class:`Iterate` viewing ``owners``: float64 ``(8n + 2,)`` and int64 ``(4,)`` (the
    first :func:`iterate_sizes` entries of a workspace, kept alive by the caller)."""
    w = unmanaged(owners[0])
    X = w[0 : 2 * n].reshape((2, n))
    G = w[2 * n : 4 * n].reshape((2, n))
    return Iterate(X, G, w[4 * n : 5 * n], w[5 * n : 6 * n], w[6 * n : 7 * n], w[7 * n : 8 * n],
                   data_pointer(w[8 * n : 8 * n + 2]), data_pointer(owners[1]))


@inner(inline=True)
def x_of(it):
    return it.X[it.ic[PARITY]]


@inner(inline=True)
def x_new_of(it):
    return it.X[1 - it.ic[PARITY]]


@inner(inline=True)
def g_of(it):
    return it.G[it.ic[PARITY]]


@inner(inline=True)
def g_new_of(it):
    return it.G[1 - it.ic[PARITY]]


@inner
def start(it, f0):
    """Start a run at the point in ``x_of(it)`` with value ``f0`` (gradient in ``g_of(it)``)."""
    it.sc[F] = f0
    it.sc[F_PREV] = np.nan
    it.ic[FRESH] = 1
    it.ic[T] = 0
    it.ic[SPENT] = 0


@inner(inline=True)
def accept_step(it, f_new, alpha):
    """Make the trial point the current one: the rule of ``methods._quasi_newton.accept_step``.

    Returns the step report ``(CONTINUE, alpha, ||x_new - x||_inf, ||x_new||_inf)``.
    """
    step_inf, x_inf = step_stats(x_new_of(it), x_of(it))
    it.sc[F_PREV] = it.sc[F]
    it.ic[PARITY] = 1 - it.ic[PARITY]
    it.sc[F] = f_new
    return CONTINUE, alpha, step_inf, x_inf
