"""The first-order family: gradient descent, SGD and momentum, adaptive rates, the Adam family.

One module per family; every method is a :class:`~nsolve.methods._base.MethodSpec` whose
step is one in-place kernel of :mod:`nsolve._kernels.first_order` (``"gd"`` uses a line
search of :mod:`nsolve.linesearch` instead).  All but ``"gd"`` train on mini-batches of a
data-set objective (:mod:`nsolve._minibatch`); all take a learning-rate ``schedule``
(:mod:`nsolve.schedules`).  ``docs/first-order.md`` writes out every update rule.
"""

from nsolve.methods.first_order import adam, adaptive, gd, sgd

#: Every first-order method, in the order the docs list them.
SPECS = [gd.SPEC, *sgd.SPECS, *adaptive.SPECS, *adam.SPECS]

__all__ = ["SPECS"]
