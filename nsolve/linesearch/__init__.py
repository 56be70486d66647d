r"""Line searches along a direction :math:`d` from :math:`x`: pick :math:`\alpha` in :math:`x + \alpha d`.

Three searches, each a plain function in the Numba-compilable subset of Python (run
interpreted for Python objectives, compiled with ``numba.njit(func)`` for Numba ones):

* :func:`strong_wolfe` -- bracketing + safeguarded cubic zoom for the strong Wolfe
  conditions (quasi-Newton methods, nonlinear CG);
* :func:`backtracking` -- Armijo backtracking with interpolation, gradient only at the
  accepted point;
* :func:`fixed_step` -- the step ``alpha0`` as given (gradient descent with a fixed rate).

All return ``(alpha, f_new, status, n_evals)`` with ``status`` one of the ``LS_*`` codes of
:mod:`nsolve._status` and write the accepted point and its gradient into ``x_new`` and
``g_new``.  The frozen dataclasses :class:`StrongWolfe`, :class:`Backtracking` and
:class:`FixedStep` hold validated parameters and bind them:
``search(fun, fg, x, d, f0, g0, alpha0, x_new, g_new)``; :func:`make_line_search` picks one
by name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from nsolve._validation import check_int, check_interval, check_positive
from nsolve.linesearch._backtracking import backtracking
from nsolve.linesearch._fixed import fixed_step
from nsolve.linesearch._strong_wolfe import strong_wolfe

__all__ = [
    "SEARCHES",
    "Backtracking",
    "FixedStep",
    "StrongWolfe",
    "backtracking",
    "fixed_step",
    "make_line_search",
    "strong_wolfe",
]


@dataclass(frozen=True)
class StrongWolfe:
    r"""Strong Wolfe line search (:func:`strong_wolfe`) with bound parameters.

    Accepts :math:`\alpha` with :math:`\phi(\alpha) \le \phi(0) + c_1\alpha\phi'(0)` and
    :math:`|\phi'(\alpha)| \le c_2|\phi'(0)|`.

    Parameters
    ----------
    c1 : float
        Sufficient-decrease constant, :math:`0 < c_1 < c_2`.
    c2 : float
        Curvature constant, :math:`c_1 < c_2 < 1` (0.9 for quasi-Newton, ~0.1 for CG).
    alpha_max : float
        Largest step, > 0 (may be ``inf``).
    max_evals : int
        Largest number of function-and-gradient evaluations per search, >= 1.
    """

    c1: float = 1e-4
    c2: float = 0.9
    alpha_max: float = 1e100
    max_evals: int = 20

    name: ClassVar[str] = "strong-wolfe"
    #: The search function (``numba.njit`` it for the compiled path).
    function: ClassVar = staticmethod(strong_wolfe)
    #: An accepted step lowers f (the sufficient-decrease condition holds).
    decreases: ClassVar[bool] = True

    def __post_init__(self) -> None:
        c1 = check_interval(self.c1, "c1", 0.0, 1.0)
        c2 = check_interval(self.c2, "c2", 0.0, 1.0)
        if not c1 < c2:
            raise ValueError(f"c2 must satisfy c1 < c2 < 1 (strong Wolfe); got c1={c1}, c2={c2}")
        object.__setattr__(self, "c1", c1)
        object.__setattr__(self, "c2", c2)
        object.__setattr__(self, "alpha_max", check_positive(self.alpha_max, "alpha_max", allow_inf=True))
        object.__setattr__(self, "max_evals", check_int(self.max_evals, "max_evals", minimum=1))

    @property
    def params(self) -> tuple[float, float, float, int]:
        """The arguments after ``alpha0`` in :func:`strong_wolfe`: ``(c1, c2, alpha_max, max_evals)``."""
        return (self.c1, self.c2, self.alpha_max, self.max_evals)

    def __call__(self, fun, fg, x, d, f0, g0, alpha0, x_new, g_new) -> tuple[float, float, int, int]:
        """Run :func:`strong_wolfe` with the bound parameters."""
        return strong_wolfe(
            fun, fg, x, d, f0, g0, alpha0, self.c1, self.c2, self.alpha_max, self.max_evals, x_new, g_new
        )


@dataclass(frozen=True)
class Backtracking:
    r"""Armijo backtracking line search (:func:`backtracking`) with bound parameters.

    Accepts the first trial with :math:`\phi(\alpha) \le \phi(0) + c_1\alpha\phi'(0)`.

    Parameters
    ----------
    c1 : float
        Sufficient-decrease constant, :math:`0 < c_1 < 1`.
    shrink : float
        Fallback reduction factor, :math:`0 < \text{shrink} < 1`.
    max_evals : int
        Largest number of trial evaluations (``fun`` calls) per search, >= 1.
    """

    c1: float = 1e-4
    shrink: float = 0.5
    max_evals: int = 30

    name: ClassVar[str] = "backtracking"
    function: ClassVar = staticmethod(backtracking)
    #: An accepted step lowers f (the sufficient-decrease condition holds).
    decreases: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "c1", check_interval(self.c1, "c1", 0.0, 1.0))
        object.__setattr__(self, "shrink", check_interval(self.shrink, "shrink", 0.0, 1.0))
        object.__setattr__(self, "max_evals", check_int(self.max_evals, "max_evals", minimum=1))

    @property
    def params(self) -> tuple[float, float, int]:
        """The arguments after ``alpha0`` in :func:`backtracking`: ``(c1, shrink, max_evals)``."""
        return (self.c1, self.shrink, self.max_evals)

    def __call__(self, fun, fg, x, d, f0, g0, alpha0, x_new, g_new) -> tuple[float, float, int, int]:
        """Run :func:`backtracking` with the bound parameters."""
        return backtracking(fun, fg, x, d, f0, g0, alpha0, self.c1, self.shrink, self.max_evals, x_new, g_new)


@dataclass(frozen=True)
class FixedStep:
    """The fixed step ``alpha0`` chosen by the caller (:func:`fixed_step`); no parameters."""

    name: ClassVar[str] = "fixed"
    function: ClassVar = staticmethod(fixed_step)
    #: A fixed step can raise f: a driver keeps the best point seen.
    decreases: ClassVar[bool] = False

    @property
    def params(self) -> tuple[()]:
        """No arguments after ``alpha0`` in :func:`fixed_step`."""
        return ()

    def __call__(self, fun, fg, x, d, f0, g0, alpha0, x_new, g_new) -> tuple[float, float, int, int]:
        """Run :func:`fixed_step`."""
        return fixed_step(fun, fg, x, d, f0, g0, alpha0, x_new, g_new)


#: Line searches by name.
SEARCHES: dict[str, type] = {
    "strong-wolfe": StrongWolfe,
    "backtracking": Backtracking,
    "armijo": Backtracking,
    "fixed": FixedStep,
}

LineSearch = StrongWolfe | Backtracking | FixedStep


def make_line_search(spec=None, default: str = "strong-wolfe", **params) -> LineSearch:
    """Return a line-search object from a name, an instance, a class or ``None``.

    The searches are frozen dataclasses, so the one built for a name and scalar parameters
    is kept and shared by later calls (``minimize`` pays the validation once).

    Parameters
    ----------
    spec : str, StrongWolfe, Backtracking, FixedStep, type or None
        A name from :data:`SEARCHES` (case-insensitive, ``_`` or space accepted for ``-``),
        an instance (returned as is, or a copy with ``params`` replaced), one of the classes,
        or ``None`` for ``default``.
    default : str
        The name used when ``spec`` is ``None``.
    **params
        Parameters of the search (e.g. ``c1``, ``c2``, ``max_evals``).

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid ones), or a parameter out of range (the
        message names it and the expected range).
    TypeError
        ``spec`` of another type, or a parameter the search does not have.
    """
    if spec is None:
        spec = default
    if isinstance(spec, str):
        try:
            return _make_named(spec, tuple(sorted(params.items())))
        except TypeError as exc:  # unhashable parameter values: build without the cache
            if "unhashable" not in str(exc):
                raise
    return _make(spec, default, params)


@lru_cache(maxsize=256)
def _make_named(spec: str, items: tuple) -> LineSearch:
    return _make(spec, spec, dict(items))


def _make(spec, default, params) -> LineSearch:
    if isinstance(spec, str):
        key = spec.strip().lower().replace("_", "-").replace(" ", "-")
        if key not in SEARCHES:
            valid = ", ".join(repr(k) for k in SEARCHES)
            raise ValueError(f"unknown line search {spec!r}; valid choices: {valid}")
        spec = SEARCHES[key]
    if isinstance(spec, type) and spec in SEARCHES.values():
        cls = spec
        instance = None
    elif isinstance(spec, tuple(SEARCHES.values())):
        cls = type(spec)
        instance = spec
    else:
        raise TypeError(
            f"line_search must be a name, a StrongWolfe/Backtracking/FixedStep instance or None; "
            f"got {type(spec).__name__}"
        )
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - fields)
    if unknown:
        allowed = ", ".join(sorted(fields)) or "none"
        raise TypeError(f"{cls.__name__} has no parameter {', '.join(unknown)}; parameters: {allowed}")
    if instance is None:
        return cls(**params)
    return dataclasses.replace(instance, **params) if params else instance
