r"""Learning-rate schedules for the first-order methods.

A schedule multiplies the method's base learning rate ``lr``: the step taken after ``t``
earlier updates (``t = 0, 1, 2, ...``) uses

.. math::

    \gamma_t = \mathrm{lr}\cdot s(e_t), \qquad e_t = t / \text{steps\_per\_epoch},

where :math:`e_t` counts completed passes over the data (an *epoch*; in a full-batch run
every step is one epoch, so :math:`e_t = t`).  This is the convention of
``torch.optim.lr_scheduler.LambdaLR`` (a factor of the initial rate), with the schedule
advanced on every step rather than by the user.

==========================  ==============================================================
schedule                    factor :math:`s(e)`
==========================  ==============================================================
:class:`Constant`           :math:`1`
:class:`StepDecay`          :math:`\text{factor}^{\lfloor e / \text{every} \rfloor}` (a factor every ``every`` epochs)
:class:`Exponential`        :math:`\text{rate}^{e}`
:class:`InverseTime`        :math:`1 / (1 + \text{decay}\cdot e)`
:class:`Cosine`             :math:`m + (1-m)\,\tfrac12\bigl(1 + \cos(\pi \min(e, P) / P)\bigr)`, period :math:`P`
:class:`Lambda`             ``func(t)``: any callable of the step counter ``t``
==========================  ==============================================================

Pass a schedule to a first-order method as ``schedule=``: a name (``"constant"``,
``"step"``, ``"exponential"``, ``"inverse-time"``, ``"cosine"``, with the defaults of the
classes below), an instance, or a callable ``func(t) -> factor``.

Examples
--------
>>> from nsolve.schedules import StepDecay, make_schedule
>>> s = StepDecay(factor=0.5, every=2).bind(steps_per_epoch=1, max_steps=10)
>>> [s(t) for t in range(6)]
[1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
>>> make_schedule("cosine").bind(steps_per_epoch=1, max_steps=4)(2)
0.5
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

from nsolve._validation import check_int, check_interval, check_nonnegative, check_positive

__all__ = [
    "SCHEDULES",
    "BoundSchedule",
    "Constant",
    "Cosine",
    "Exponential",
    "InverseTime",
    "Lambda",
    "Schedule",
    "StepDecay",
    "make_schedule",
]


class BoundSchedule:
    """A schedule bound to a run: ``bound(t)`` is the factor of step ``t`` (0-based).

    Attributes
    ----------
    schedule : Schedule
        The schedule it was made from.
    constant : bool
        True when every factor is 1 (methods skip the call).
    """

    __slots__ = ("schedule", "_func", "constant")

    def __init__(self, schedule: Schedule, func: Callable[[int], float], constant: bool = False):
        self.schedule = schedule
        self._func = func
        self.constant = constant

    def __call__(self, t: int) -> float:
        return self._func(t)


class Schedule:
    """Base class: a learning-rate factor as a function of the epoch count."""

    #: The name accepted by :func:`make_schedule`.
    name = ""

    def multiplier(self, epoch: float, total_epochs: float) -> float:  # pragma: no cover - interface
        """The factor after ``epoch`` passes in a run of ``total_epochs`` passes."""
        raise NotImplementedError

    def bind(self, steps_per_epoch: int, max_steps: int) -> BoundSchedule:
        """Return the factor as a function of the step counter of a run.

        Parameters
        ----------
        steps_per_epoch : int
            Updates per pass over the data (1 for a full-batch run), >= 1.
        max_steps : int
            The run's step budget (used by schedules whose shape depends on the run length,
            e.g. :class:`Cosine` without a period).
        """
        spe = check_int(steps_per_epoch, "steps_per_epoch", minimum=1)
        total = max(check_int(max_steps, "max_steps", minimum=0), 1) / spe
        return BoundSchedule(self, lambda t: self.multiplier(t / spe, total))


@dataclass(frozen=True)
class Constant(Schedule):
    """:math:`s(e) = 1`: the learning rate never changes (the default)."""

    name = "constant"

    def multiplier(self, epoch: float, total_epochs: float) -> float:
        return 1.0

    def bind(self, steps_per_epoch: int, max_steps: int) -> BoundSchedule:
        return BoundSchedule(self, lambda t: 1.0, constant=True)


@dataclass(frozen=True)
class StepDecay(Schedule):
    r"""Step decay: multiply the rate by ``factor`` every ``every`` epochs.

    :math:`s(e) = \text{factor}^{\lfloor e / \text{every}\rfloor}` (torch ``StepLR``; the
    article's "reduce the learning rate by some factor every few epochs").

    Parameters
    ----------
    factor : float, default 0.1
        Multiplier applied at each decay, in (0, 1].
    every : int, default 10
        Epochs between decays, >= 1.
    """

    factor: float = 0.1
    every: int = 10
    name = "step"

    def __post_init__(self):
        object.__setattr__(self, "factor", check_interval(self.factor, "factor", 0.0, 1.0, closed_high=True))
        object.__setattr__(self, "every", check_int(self.every, "every", minimum=1))

    def multiplier(self, epoch: float, total_epochs: float) -> float:
        return self.factor ** math.floor(epoch / self.every)

    def bind(self, steps_per_epoch: int, max_steps: int) -> BoundSchedule:
        spe = check_int(steps_per_epoch, "steps_per_epoch", minimum=1)
        period = spe * self.every
        q = self.factor
        return BoundSchedule(self, lambda t: q ** (t // period))


@dataclass(frozen=True)
class Exponential(Schedule):
    r"""Exponential decay :math:`s(e) = \text{rate}^{e}` (continuous in the step counter).

    Parameters
    ----------
    rate : float, default 0.9
        Decay per epoch, in (0, 1].
    """

    rate: float = 0.9
    name = "exponential"

    def __post_init__(self):
        object.__setattr__(self, "rate", check_interval(self.rate, "rate", 0.0, 1.0, closed_high=True))

    def multiplier(self, epoch: float, total_epochs: float) -> float:
        return self.rate**epoch


@dataclass(frozen=True)
class InverseTime(Schedule):
    r"""Inverse-time decay :math:`s(e) = 1 / (1 + \text{decay}\cdot e)`.

    Parameters
    ----------
    decay : float, default 1.0
        Decay rate per epoch, >= 0.
    """

    decay: float = 1.0
    name = "inverse-time"

    def __post_init__(self):
        object.__setattr__(self, "decay", check_nonnegative(self.decay, "decay"))

    def multiplier(self, epoch: float, total_epochs: float) -> float:
        return 1.0 / (1.0 + self.decay * epoch)


@dataclass(frozen=True)
class Cosine(Schedule):
    r"""Cosine annealing from 1 to ``min_factor`` over ``period`` epochs, then constant.

    :math:`s(e) = m + (1-m)\,\tfrac12\bigl(1 + \cos(\pi\min(e, P)/P)\bigr)`
    (torch ``CosineAnnealingLR`` without restarts; Loshchilov & Hutter 2017).

    Parameters
    ----------
    period : float or None, default None
        :math:`P` in epochs, > 0; None anneals over the whole run (its step budget).
    min_factor : float, default 0.0
        :math:`m`, the final factor, in [0, 1].
    """

    period: float | None = None
    min_factor: float = 0.0
    name = "cosine"

    def __post_init__(self):
        if self.period is not None:
            object.__setattr__(self, "period", check_positive(self.period, "period"))
        m = check_interval(self.min_factor, "min_factor", 0.0, 1.0, closed_low=True, closed_high=True)
        object.__setattr__(self, "min_factor", m)

    def multiplier(self, epoch: float, total_epochs: float) -> float:
        P = total_epochs if self.period is None else self.period
        e = min(epoch, P)
        m = self.min_factor
        return m + (1.0 - m) * 0.5 * (1.0 + math.cos(math.pi * e / P))


class Lambda(Schedule):
    """Any callable of the step counter: ``func(t) -> factor`` with ``t = 0, 1, 2, ...``.

    The factor must be a finite real number >= 0; it is checked at ``t = 0`` when the run
    starts and at every step (a bad value raises :class:`ValueError` naming ``schedule``).
    """

    name = "lambda"

    def __init__(self, func: Callable[[int], float]):
        if not callable(func):
            raise TypeError(f"schedule must be a name, a Schedule or a callable; got {type(func).__name__}")
        self.func = func

    def __repr__(self) -> str:
        return f"Lambda({self.func!r})"

    def bind(self, steps_per_epoch: int, max_steps: int) -> BoundSchedule:
        func = self.func

        def checked(t: int) -> float:
            return _check_factor(func(t), t)

        checked(0)
        return BoundSchedule(self, checked)


def _check_factor(value, t: int) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"schedule(t) must return a real number; got {type(value).__name__} at t={t}")
    value = float(value)
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"schedule(t) must return a finite factor >= 0; got {value} at t={t}")
    return value


#: Schedules by name (the classes' defaults are used).
SCHEDULES: dict[str, type] = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": Exponential,
    "inverse-time": InverseTime,
    "cosine": Cosine,
}


def make_schedule(spec) -> Schedule:
    """Return a :class:`Schedule` from ``None``, a name, an instance or a callable.

    Raises
    ------
    ValueError
        An unknown name (the message lists the valid ones).
    TypeError
        Anything else that is not callable.
    """
    if spec is None:
        return Constant()
    if isinstance(spec, BoundSchedule):
        return spec.schedule
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower().replace("_", "-").replace(" ", "-")
        if key not in SCHEDULES:
            valid = ", ".join(repr(k) for k in SCHEDULES)
            raise ValueError(f"unknown schedule {spec!r}; valid names: {valid} (or a callable of the step)")
        return SCHEDULES[key]()
    if callable(spec):
        return Lambda(spec)
    raise TypeError(f"schedule must be None, a name, a Schedule or a callable; got {type(spec).__name__}")
