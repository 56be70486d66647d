r"""Mini-batch training: objectives over a data set, and the order in which batches are drawn.

A **data-set objective** is a function of the parameters *and of a set of sample indices*:

.. math::

    f(x, I) \approx F(x) = f(x, \{0, \dots, N-1\}),

called as ``f(x, idx, *args)`` with ``idx`` an int64 array of row indices (and likewise
``grad(x, idx, *args)``, or ``f`` returning ``(value, gradient)`` with ``grad=True``).  The
value on all ``N`` samples is the objective; on a mini-batch it must be an estimate of it
(e.g. a mean over the batch, or the batch sum scaled by ``N / |I|`` as
:meth:`nsolve.models.LogisticObjective.batch_fg` does).  Passing ``n_samples=N`` to
:func:`nsolve.minimize` says that ``f`` has this form; the data themselves never pass
through nsolve: batches are index arrays, and the user's function reads its rows in place.

With a first-order method, ``batch_size=B`` (``1 <= B <= N``) trains on mini-batches:
each epoch visits every sample once, in ``ceil(N / B)`` batches of ``B`` indices (the last
one smaller when ``B`` does not divide ``N``), in a fresh random order per epoch when
``shuffle`` (drawn by ``numpy.random.default_rng(seed)``, so the same seed gives the same
run bit for bit) or in index order otherwise.  ``B = 1`` is classic SGD; ``B = N`` (or no
``batch_size``) is full-batch training, where every step sees the exact objective.
"""

from __future__ import annotations

import math

import numpy as np

from nsolve._validation import check_int

#: Options of the methods that accept mini-batches (``MethodSpec.minibatch``), with defaults.
MINIBATCH_OPTIONS: dict = {
    "batch_size": None,
    "epochs": None,
    "shuffle": True,
    "seed": 0,
    "check_every": None,
}


class BatchSampler:
    """Draws the index batches of a mini-batch run, epoch after epoch.

    Parameters
    ----------
    n_samples : int
        :math:`N`, the number of samples.
    batch_size : int
        :math:`B`, ``1 <= B <= N``.
    shuffle : bool
        A fresh random permutation per epoch (else ``0, 1, ..., N-1`` every epoch).
    seed : int or None
        Seed of ``numpy.random.default_rng``; None draws fresh entropy (not reproducible).

    Attributes
    ----------
    steps_per_epoch : int
        :math:`\\lceil N / B \\rceil`.
    draws : int
        Batches drawn so far.
    """

    def __init__(self, n_samples: int, batch_size: int, shuffle: bool = True, seed: int | None = 0):
        self.n_samples = int(n_samples)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.steps_per_epoch = math.ceil(self.n_samples / self.batch_size)
        self._rng = np.random.default_rng(seed)
        self._order = np.arange(self.n_samples, dtype=np.int64)
        self._pos = self.n_samples  # the next draw starts an epoch
        self.draws = 0

    def next_batch(self) -> np.ndarray:
        """Return the next batch of indices (a fresh int64 array the caller may keep)."""
        if self._pos >= self.n_samples:
            if self.shuffle:
                self._rng.shuffle(self._order)
            self._pos = 0
        start = self._pos
        stop = min(start + self.batch_size, self.n_samples)
        self._pos = stop
        self.draws += 1
        return self._order[start:stop].copy()


def make_sampler(opts: dict, n_samples: int | None) -> BatchSampler | None:
    """Validate the mini-batch options and return a sampler, or None for full-batch runs.

    ``opts`` holds :data:`MINIBATCH_OPTIONS` (merged with the user's).  Raises a
    :class:`ValueError` / :class:`TypeError` naming the option.
    """
    batch_size = opts.get("batch_size")
    if not isinstance(opts.get("shuffle", True), bool | np.bool_):
        raise TypeError(f"shuffle must be a bool; got {type(opts['shuffle']).__name__}")
    seed = opts.get("seed", 0)
    if seed is not None:
        seed = check_int(seed, "seed", minimum=0)
    if opts.get("check_every") is not None:
        check_int(opts["check_every"], "check_every", minimum=0)
    if batch_size is None:
        return None
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if n_samples is None:
        raise ValueError(
            "batch_size needs a data-set objective: pass n_samples=N and an f(x, idx) that evaluates "
            "the samples idx (see nsolve._minibatch)"
        )
    if batch_size > n_samples:
        raise ValueError(f"batch_size must lie in [1, n_samples={n_samples}]; got {batch_size}")
    if batch_size == n_samples:
        return None
    return BatchSampler(n_samples, batch_size, bool(opts.get("shuffle", True)), seed)
