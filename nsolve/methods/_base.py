"""What every method module provides, and what the driver receives from it.

A method is its options (a frozen dataclass validated on construction), its state (the
current ``x``, ``f``, ``g`` plus whatever it keeps), ``init`` and ``step``.  The driver
never names a method: everything that differs reaches it through :class:`MethodSpec`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, NamedTuple


class StepInfo(NamedTuple):
    """What ``step`` reports to the driver.

    ``status`` is ``CONTINUE`` for an accepted step, else the run's stop status (for
    example ``LINE_SEARCH_FAILED``; the state is then left at the last accepted point).
    ``step_inf`` and ``x_inf`` are :math:`\\|x_{k+1} - x_k\\|_\\infty` and
    :math:`\\|x_{k+1}\\|_\\infty` for the xtol test (ignored when the spec has
    ``reports_step=False``).  ``exact`` is False when ``state.f`` / ``state.g`` are
    estimates (a mini-batch) rather than the objective and its gradient at ``state.x``:
    the driver then evaluates the full objective itself every ``check_every`` steps.
    """

    status: int
    alpha: float
    step_inf: float
    x_inf: float
    exact: bool = True


@dataclass(frozen=True)
class MethodSpec:
    """A method as the driver and :func:`nsolve.minimize` see it.

    Attributes
    ----------
    name : the name users pass as ``method``.
    summary : one line for ``nsolve methods`` and the docs.
    options : frozen dataclass of the method's own hyperparameters.
    init : ``init(obj, x0, f0, g0, opts) -> state``.
    step : ``step(obj, state, opts, search) -> StepInfo``; updates ``state.x/f/g``.
    line_search : the default line search name, or None when the method takes no search.
    monotone : True when every accepted step decreases f (the current point is the best).
    uses_hessian : True when the method uses ``hess`` / ``hessp``.
    default_maxiter : ``n -> maxiter`` used when the user gives none.
    finalize : ``state -> dict`` of extra result fields (e.g. ``hess_inv``), or None.
    minibatch : True when the method can step on mini-batch estimates (it accepts the
        options of :data:`nsolve._minibatch.MINIBATCH_OPTIONS`).
    reports_step : False when ``StepInfo.step_inf`` / ``x_inf`` are not measured (the driver
        measures the step itself when the xtol test is on).
    configure : ``(opts, steps_per_epoch, max_steps) -> opts``, called once before the run
        for options that depend on the run's length (learning-rate schedules), or None.
    storage : ``(n, opts) -> (doubles, what, advice)``: the method's storage beyond a few
        n-vectors (an n x n matrix, a history of pairs), what it is and what to do when it
        does not fit; checked against the machine's memory before the run
        (:func:`nsolve._validation.check_storage`).  None: O(n).
    """

    name: str
    summary: str
    options: type
    init: Callable[..., Any]
    step: Callable[..., StepInfo]
    line_search: str | None = "strong-wolfe"
    monotone: bool = True
    uses_hessian: bool = False
    default_maxiter: Callable[[int], int] = field(default=lambda n: 200 * n)
    finalize: Callable[[Any], dict] | None = None
    reference: str = ""
    minibatch: bool = False
    reports_step: bool = True
    configure: Callable[..., Any] | None = None
    storage: Callable[[int, Any], tuple[int, str, str]] | None = None

    def option_names(self) -> tuple[str, ...]:
        return _option_names(self.options)

    def option_defaults(self) -> dict[str, Any]:
        return dict(_option_defaults(self.options))


@cache
def _option_names(options_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(options_type))


@cache
def _option_defaults(options_type: type) -> tuple[tuple[str, Any], ...]:
    return tuple((f.name, f.default) for f in fields(options_type))
