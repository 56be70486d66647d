r"""What every first-order method shares: option checks, the state, the step template.

A first-order step is one in-place kernel of :mod:`nsolve._kernels.first_order` applied to
the current point with the current gradient, followed by one evaluation at the new point:

.. math::

    x_t = \mathrm{update}(x_{t-1}, g_t;\ \gamma_t, \text{state}), \qquad
    (f, g_{t+1}) \leftarrow \text{objective at } x_t,

where :math:`\gamma_t = \mathrm{lr}\cdot s(t-1)` with :math:`s` the learning-rate schedule
(:mod:`nsolve.schedules`).  In a full-batch run the evaluation is exact; in a mini-batch run
it is the estimate on the next batch (:meth:`nsolve._objective.Objective.sample_fg`), and
the step tells the driver so (``StepInfo.exact = False``): the driver then checks the full
objective only every ``check_every`` steps (by default once per epoch).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nsolve._status import CONTINUE, NOT_FINITE
from nsolve._validation import all_finite_vector, check_interval, check_nonnegative, check_positive
from nsolve.methods._base import MethodSpec, StepInfo
from nsolve.schedules import BoundSchedule, make_schedule


def _set(obj, name, value) -> None:
    object.__setattr__(obj, name, value)


def check_bool(value, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool; got {type(value).__name__}")
    return bool(value)


def check_unit(value, name: str) -> float:
    """A coefficient in [0, 1) (momentum, betas, decay rates of running averages)."""
    return check_interval(value, name, 0.0, 1.0, closed_low=True)


def check_betas(betas) -> tuple[float, float]:
    """``betas = (beta1, beta2)``, each in [0, 1)."""
    if isinstance(betas, str) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2); got {betas!r}")
    return check_unit(betas[0], "betas[0]"), check_unit(betas[1], "betas[1]")


@dataclass(frozen=True)
class FirstOrderOptions:
    """Options every first-order method has.

    Parameters
    ----------
    lr : float
        Base learning rate :math:`\\gamma`, > 0 (each method sets its own default).
    schedule : None, str, Schedule or callable
        Learning-rate schedule (:mod:`nsolve.schedules`): the step after ``t`` updates uses
        ``lr * s(t)``.  None is constant.
    """

    lr: float = 1e-3
    schedule: Any = None

    def __post_init__(self):
        _set(self, "lr", check_positive(self.lr, "lr"))
        if not isinstance(self.schedule, BoundSchedule):
            _set(self, "schedule", make_schedule(self.schedule))

    def _floats(self, *names: str, check: Callable = check_nonnegative) -> None:
        for name in names:
            _set(self, name, check(getattr(self, name), name))

    def _bools(self, *names: str) -> None:
        for name in names:
            _set(self, name, check_bool(getattr(self, name), name))


def configure(opts: FirstOrderOptions, steps_per_epoch: int, max_steps: int) -> FirstOrderOptions:
    """Bind the schedule to the run (epochs -> steps, the step budget for ``Cosine``)."""
    sched = opts.schedule
    if isinstance(sched, BoundSchedule):
        sched = sched.schedule
    return dataclasses.replace(opts, schedule=sched.bind(steps_per_epoch, max_steps))


class FirstOrderState:
    """The iterate, its (estimated) value and gradient, the step counter and the method's buffers.

    ``x`` and ``g`` are updated in place; the buffers are allocated once by the method's
    ``init``.  In a mini-batch run ``f`` and ``g`` are the estimates on the batch that the
    next step uses.
    """

    def __init__(self, obj, x, f, g, opts: FirstOrderOptions):
        self.x = x
        self.f = f
        self.g = g
        self.t = 0
        sched = opts.schedule
        if not isinstance(sched, BoundSchedule):
            sched = sched.bind(obj.steps_per_epoch, 0)
        self.lr_factor = None if sched.constant else sched
        self.exact = not obj.stochastic
        # the evaluation each step makes (exact, or the next mini-batch), bound once
        self.evaluate = obj.sample_fg if obj.stochastic else obj.fg
        # with a constant rate every step reports the same StepInfo
        self.info = StepInfo(CONTINUE, opts.lr, 0.0, 0.0, self.exact)
        self.steps_per_epoch = obj.steps_per_epoch
        self.on_data = obj.n_samples is not None
        if obj.stochastic:
            # the first step uses a batch gradient, not the full one the driver checked at x0
            self.f = obj.sample_fg(x, g)

    def lr(self, opts) -> float:
        """The learning rate of the next step."""
        return opts.lr if self.lr_factor is None else opts.lr * self.lr_factor(self.t)


def make_step(update: Callable[[FirstOrderState, Any, float, int], None]) -> Callable:
    """Build ``step(obj, state, opts, search)`` from ``update(state, opts, lr, t)``.

    ``update`` applies one kernel to ``state.x`` in place using ``state.g`` (the gradient at
    ``state.x``), for the 1-based step ``t`` with learning rate ``lr``.
    """

    def step(obj, state: FirstOrderState, opts, search) -> StepInfo:
        if state.t == 0 and not state.exact and not (math.isfinite(state.f) and all_finite_vector(state.g)):
            # the first mini-batch (evaluated by the state, not checked by the driver) is not
            # finite: stop before stepping to a non-finite point
            return StepInfo(NOT_FINITE, 0.0, 0.0, 0.0, False)
        t = state.t + 1
        if state.lr_factor is None:
            update(state, opts, opts.lr, t)
            info = state.info
        else:
            lr = opts.lr * state.lr_factor(state.t)
            update(state, opts, lr, t)
            info = StepInfo(CONTINUE, lr, 0.0, 0.0, state.exact)
        state.t = t
        state.f = state.evaluate(state.x, state.g)
        return info

    return step


def finalize(state: FirstOrderState) -> dict:
    """``epochs``: passes over the data made by the updates (runs on a data set only)."""
    if not state.on_data:
        return {}
    return {"epochs": state.t / state.steps_per_epoch}


def spec(name: str, summary: str, options: type, init: Callable, update: Callable, reference: str) -> MethodSpec:
    """The :class:`MethodSpec` of a kernel-based first-order method."""
    return MethodSpec(
        name=name,
        summary=summary,
        options=options,
        init=init,
        step=make_step(update),
        line_search=None,
        monotone=False,
        minibatch=True,
        reports_step=False,
        configure=configure,
        default_maxiter=lambda n: 1000,
        finalize=finalize,
        reference=reference,
    )
