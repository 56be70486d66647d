r"""Classic smooth unconstrained test problems.

The library shared by the test-suite, the examples and the benchmarks.  Most problems are
taken from

    J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained optimization
    software", *ACM Trans. Math. Softw.* 7(1):17--41, 1981 (referred to as **MGH** below),

with MGH's definitions and standard starting points.  Many MGH problems are nonlinear
least-squares problems :math:`f(x) = \sum_{i=1}^m f_i(x)^2`; for these

.. math::

    \nabla f = 2 J^T F, \qquad
    \nabla^2 f = 2\Big(J^T J + \sum_i f_i \, \nabla^2 f_i\Big),

where :math:`F = (f_1, \dots, f_m)` and :math:`J` is its Jacobian.  Every problem
supplies the exact (analytic) gradient, dense Hessian and Hessian-vector product.

Every objective, gradient, Hessian and Hessian-vector product is a plain function of a
float64 array that uses only NumPy features Numba supports, so :meth:`Problem.jit` can
compile each one with the project's cached kernel options.  Where the NumPy form is built
from array expressions (whose temporaries Numba allocates on every call), ``jit`` compiles
a loop-written twin of the objective and gradient instead: the same function, tested equal
to the NumPy form, with no temporaries (nanoseconds per call at small n).

Examples
--------
>>> from nsolve import problems
>>> p = problems.get("rosenbrock")
>>> float(p.f(p.x0))
24.199999999999996
>>> p.f_star, p.x_star
(0.0, array([1., 1.]))
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba.core.registry import CPUDispatcher
from numba.extending import register_jitable

from nsolve._jit import kernel

__all__ = [
    "Problem",
    "get",
    "names",
    "library",
    "rosen",
    "rosen_der",
    "rosen_hess",
    "rosen_hess_prod",
]

_MGH = "Moré, Garbow & Hillstrom (1981), ACM TOMS 7(1):17-41"
_VLSE = "Surjanovic & Bingham, Virtual Library of Simulation Experiments (sfu.ca/~ssurjano)"


# ---------------------------------------------------------------------------------------
# The Problem record
# ---------------------------------------------------------------------------------------


class _CopiedArray:
    """Data descriptor for an array field: stores a private float64 copy, returns a copy.

    Used so that ``problem.x0`` can be mutated freely by a caller (e.g. a solver working
    in place) without changing the problem.  ``None`` is stored and returned as is.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name
        self._slot = "_" + name

    def __get__(self, obj: Any, objtype: type | None = None) -> np.ndarray | None:
        if obj is None:
            # Class access: tells dataclasses that the field has no default.
            raise AttributeError(self._name)
        value = obj.__dict__[self._slot]
        return None if value is None else value.copy()

    def __set__(self, obj: Any, value: Any) -> None:
        arr = None if value is None else np.array(value, dtype=np.float64, copy=True).reshape(-1)
        obj.__dict__[self._slot] = arr


@dataclass(frozen=True, eq=False, repr=False)
class Problem:
    """An unconstrained test problem :math:`\\min_{x \\in \\mathbb{R}^n} f(x)`.

    Parameters
    ----------
    name : str
        Registry name (see :func:`names`).
    n : int
        Number of variables.
    f : callable
        ``f(x) -> float``, the objective.
    grad : callable
        ``grad(x) -> ndarray``, a fresh float64 array of shape ``(n,)`` equal to
        :math:`\\nabla f(x)`.
    hess : callable
        ``hess(x) -> ndarray``, the dense Hessian :math:`\\nabla^2 f(x)`, shape ``(n, n)``.
    hessp : callable
        ``hessp(x, p) -> ndarray``, the product :math:`\\nabla^2 f(x)\\, p` (matrix-free
        where the structure allows it).
    x0 : ndarray
        The standard starting point.  Every read returns a fresh copy.
    f_star : float
        The known global minimum value :math:`f^* = \\min f`.
    x_star : ndarray or None
        A global minimizer when one is known (closed form, or computed to full precision),
        else ``None``.  Every read returns a fresh copy.
    reference : str
        Where the definition, the starting point and :math:`f^*` come from.
    has_local_minima : bool, default False
        True when the problem has non-global local minima (or other stationary points)
        that local methods started from ``x0`` are known to reach; a solver that stops at
        :math:`f > f^*` on such a problem has not necessarily failed.

    Notes
    -----
    The fields ``f``, ``grad``, ``hess`` and ``hessp`` are interpreted Python functions
    for :func:`get`/:func:`library` problems and Numba dispatchers after :meth:`jit`.
    Instances compare by identity.
    """

    name: str
    n: int
    f: Callable[[np.ndarray], float]
    grad: Callable[[np.ndarray], np.ndarray]
    hess: Callable[[np.ndarray], np.ndarray]
    hessp: Callable[[np.ndarray, np.ndarray], np.ndarray]
    x0: np.ndarray = _CopiedArray()  # type: ignore[assignment]
    f_star: float
    x_star: np.ndarray | None = _CopiedArray()  # type: ignore[assignment]
    reference: str
    has_local_minima: bool = False

    def fg(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Return the value and the gradient, ``(f(x), grad(x))``."""
        return self.f(x), self.grad(x)

    def jit(self) -> Problem:
        """Return the same problem with ``f``, ``grad``, ``hess``, ``hessp`` compiled.

        Each function is wrapped with :func:`nsolve._jit.kernel` (``numba.njit`` with
        ``cache=True``, ``nogil=True``, no ``fastmath``); for the objectives and gradients
        written with array expressions (Rosenbrock, extended Rosenbrock, Powell, penalty I,
        variably dimensioned, trigonometric, Broyden tridiagonal, Dixon-Price, Trid) a
        loop-written twin is compiled instead, which allocates nothing but the returned
        gradient (values equal up to rounding).  The dispatchers are memoized
        per function, so repeated calls are cheap; compilation happens on first call (or
        is loaded from the on-disk cache).  The compiled functions are first-class Numba
        dispatchers: they can be passed into other ``@njit`` functions.
        """
        return dataclasses.replace(
            self,
            f=_compiled(self.f),
            grad=_compiled(self.grad),
            hess=_compiled(self.hess),
            hessp=_compiled(self.hessp),
        )

    @property
    def label(self) -> str:
        """A short unique-ish identifier, ``"<name>-<n>"`` (for test ids and tables)."""
        return f"{self.name}-{self.n}"

    @property
    def is_jitted(self) -> bool:
        """True when the functions are Numba dispatchers (see :meth:`jit`)."""
        return isinstance(self.f, CPUDispatcher)

    def __repr__(self) -> str:
        return (
            f"Problem(name={self.name!r}, n={self.n}, f_star={self.f_star!r}, "
            f"has_local_minima={self.has_local_minima}, jitted={self.is_jitted})"
        )


_DISPATCHERS: dict[Callable, CPUDispatcher] = {}


def _compiled(func: Callable) -> CPUDispatcher:
    """Return the (memoized) cached Numba kernel compiled from ``func``."""
    if isinstance(func, CPUDispatcher):
        return func
    disp = _DISPATCHERS.get(func)
    if disp is None:
        disp = kernel(_LOOP_TWINS.get(func, func))
        _DISPATCHERS[func] = disp
    return disp


@register_jitable
def _matvec(A, p):
    """Return ``A @ p`` for a small dense matrix (plain loops, no BLAS)."""
    m = A.shape[0]
    out = np.zeros(m)
    for i in range(m):
        s = 0.0
        for j in range(A.shape[1]):
            s += A[i, j] * p[j]
        out[i] = s
    return out


# ---------------------------------------------------------------------------------------
# Rosenbrock, chained (scipy.optimize.rosen) form, any n >= 2
# ---------------------------------------------------------------------------------------


def _rosen_f(x):
    t = x[1:] - x[:-1] ** 2
    u = 1.0 - x[:-1]
    return np.sum(100.0 * t**2 + u**2)


def _rosen_g(x):
    n = x.shape[0]
    g = np.zeros(n)
    t = x[1:] - x[:-1] ** 2
    g[:-1] = -400.0 * x[:-1] * t - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * t
    return g


def _rosen_h(x):
    n = x.shape[0]
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        H[i + 1, i + 1] += 200.0
        H[i, i + 1] = -400.0 * x[i]
        H[i + 1, i] = -400.0 * x[i]
    return H


def _rosen_hp(x, p):
    n = x.shape[0]
    hp = np.zeros(n)
    hp[:-1] = (1200.0 * x[:-1] ** 2 - 400.0 * x[1:] + 2.0) * p[:-1] - 400.0 * x[:-1] * p[1:]
    hp[1:] += 200.0 * p[1:] - 400.0 * x[:-1] * p[:-1]
    return hp


def _alternating_start(n: int) -> np.ndarray:
    x0 = np.ones(n)
    x0[0::2] = -1.2
    return x0


def _make_rosenbrock(n: int = 2) -> Problem:
    r"""Chained Rosenbrock, :math:`f = \sum_{i=1}^{n-1} 100(x_{i+1}-x_i^2)^2 + (1-x_i)^2`.

    Identical to :func:`scipy.optimize.rosen`; for ``n = 2`` it is MGH problem 1.  Start
    :math:`x_0 = (-1.2, 1, -1.2, 1, \dots)`, minimum :math:`f^* = 0` at
    :math:`x^* = (1, \dots, 1)`.  For :math:`n \ge 4` there is a second local minimizer
    (:math:`f = 3.70143` at :math:`(-0.776, 0.613, 0.382, 0.146)` for :math:`n = 4`; near
    :math:`(-1, 1, \dots, 1)` from :math:`n = 5` on, :math:`f = 3.98658` for :math:`n = 10`).
    """
    _check_n("rosenbrock", n, minimum=2)
    return Problem(
        name="rosenbrock",
        n=n,
        f=_rosen_f,
        grad=_rosen_g,
        hess=_rosen_h,
        hessp=_rosen_hp,
        x0=_alternating_start(n),
        f_star=0.0,
        x_star=np.ones(n),
        reference=f"Rosenbrock (1960), Comput. J. 3:175-184; chained n-D form as scipy.optimize.rosen; "
        f"n=2 is {_MGH}, problem 1",
        has_local_minima=n >= 4,
    )


# ---------------------------------------------------------------------------------------
# Extended Rosenbrock (MGH 21), n even
# ---------------------------------------------------------------------------------------


def _extrosen_f(x):
    a = x[0::2]
    b = x[1::2]
    return np.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)


def _extrosen_g(x):
    a = x[0::2]
    b = x[1::2]
    t = b - a**2
    g = np.empty(x.shape[0])
    g[0::2] = -400.0 * a * t - 2.0 * (1.0 - a)
    g[1::2] = 200.0 * t
    return g


def _extrosen_h(x):
    n = x.shape[0]
    H = np.zeros((n, n))
    for i in range(0, n, 2):
        H[i, i] = 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        H[i, i + 1] = -400.0 * x[i]
        H[i + 1, i] = -400.0 * x[i]
        H[i + 1, i + 1] = 200.0
    return H


def _extrosen_hp(x, p):
    a = x[0::2]
    b = x[1::2]
    pa = p[0::2]
    pb = p[1::2]
    hp = np.empty(x.shape[0])
    hp[0::2] = (1200.0 * a**2 - 400.0 * b + 2.0) * pa - 400.0 * a * pb
    hp[1::2] = -400.0 * a * pa + 200.0 * pb
    return hp


def _make_extended_rosenbrock(n: int = 10) -> Problem:
    r"""MGH 21, extended Rosenbrock: independent pairs, :math:`n` even.

    :math:`f = \sum_{k=1}^{n/2} 100(x_{2k} - x_{2k-1}^2)^2 + (1 - x_{2k-1})^2`, start
    :math:`(-1.2, 1, \dots)`, :math:`f^* = 0` at :math:`(1, \dots, 1)`.
    """
    _check_n("extended_rosenbrock", n, minimum=2, multiple=2)
    return Problem(
        name="extended_rosenbrock",
        n=n,
        f=_extrosen_f,
        grad=_extrosen_g,
        hess=_extrosen_h,
        hessp=_extrosen_hp,
        x0=_alternating_start(n),
        f_star=0.0,
        x_star=np.ones(n),
        reference=f"{_MGH}, problem 21 (extended Rosenbrock)",
    )


# ---------------------------------------------------------------------------------------
# Extended Powell singular (MGH 22; n = 4 is MGH 13)
# ---------------------------------------------------------------------------------------


def _powell_f(x):
    a = x[0::4]
    b = x[1::4]
    c = x[2::4]
    d = x[3::4]
    return np.sum((a + 10.0 * b) ** 2 + 5.0 * (c - d) ** 2 + (b - 2.0 * c) ** 4 + 10.0 * (a - d) ** 4)


def _powell_g(x):
    a = x[0::4]
    b = x[1::4]
    c = x[2::4]
    d = x[3::4]
    s1 = a + 10.0 * b
    s2 = c - d
    s3 = (b - 2.0 * c) ** 3
    s4 = (a - d) ** 3
    g = np.empty(x.shape[0])
    g[0::4] = 2.0 * s1 + 40.0 * s4
    g[1::4] = 20.0 * s1 + 4.0 * s3
    g[2::4] = 10.0 * s2 - 8.0 * s3
    g[3::4] = -10.0 * s2 - 40.0 * s4
    return g


def _powell_h(x):
    n = x.shape[0]
    H = np.zeros((n, n))
    for k in range(0, n, 4):
        u = 12.0 * (x[k + 1] - 2.0 * x[k + 2]) ** 2
        v = 120.0 * (x[k] - x[k + 3]) ** 2
        H[k, k] = 2.0 + v
        H[k, k + 1] = 20.0
        H[k + 1, k] = 20.0
        H[k, k + 3] = -v
        H[k + 3, k] = -v
        H[k + 1, k + 1] = 200.0 + u
        H[k + 1, k + 2] = -2.0 * u
        H[k + 2, k + 1] = -2.0 * u
        H[k + 2, k + 2] = 10.0 + 4.0 * u
        H[k + 2, k + 3] = -10.0
        H[k + 3, k + 2] = -10.0
        H[k + 3, k + 3] = 10.0 + v
    return H


def _powell_hp(x, p):
    u = 12.0 * (x[1::4] - 2.0 * x[2::4]) ** 2
    v = 120.0 * (x[0::4] - x[3::4]) ** 2
    pa = p[0::4]
    pb = p[1::4]
    pc = p[2::4]
    pd = p[3::4]
    hp = np.empty(x.shape[0])
    hp[0::4] = (2.0 + v) * pa + 20.0 * pb - v * pd
    hp[1::4] = 20.0 * pa + (200.0 + u) * pb - 2.0 * u * pc
    hp[2::4] = -2.0 * u * pb + (10.0 + 4.0 * u) * pc - 10.0 * pd
    hp[3::4] = -v * pa - 10.0 * pc + (10.0 + v) * pd
    return hp


def _powell_start(n: int) -> np.ndarray:
    return np.tile(np.array([3.0, -1.0, 0.0, 1.0]), n // 4)


def _make_powell_singular(n: int = 4) -> Problem:
    r"""MGH 13, Powell singular function (:math:`n = 4`).

    :math:`f = (x_1 + 10x_2)^2 + 5(x_3 - x_4)^2 + (x_2 - 2x_3)^4 + 10(x_1 - x_4)^4`,
    start :math:`(3, -1, 0, 1)`, :math:`f^* = 0` at the origin, where the Hessian is
    singular (Newton-type methods converge only linearly there).
    """
    _check_n("powell_singular", n, fixed=4)
    return Problem(
        name="powell_singular",
        n=4,
        f=_powell_f,
        grad=_powell_g,
        hess=_powell_h,
        hessp=_powell_hp,
        x0=_powell_start(4),
        f_star=0.0,
        x_star=np.zeros(4),
        reference=f"{_MGH}, problem 13 (Powell singular)",
    )


def _make_extended_powell(n: int = 20) -> Problem:
    r"""MGH 22, extended Powell singular: :math:`n/4` independent Powell blocks.

    Start :math:`(3, -1, 0, 1, 3, -1, 0, 1, \dots)`, :math:`f^* = 0` at the origin
    (singular Hessian there).
    """
    _check_n("extended_powell", n, minimum=4, multiple=4)
    return Problem(
        name="extended_powell",
        n=n,
        f=_powell_f,
        grad=_powell_g,
        hess=_powell_h,
        hessp=_powell_hp,
        x0=_powell_start(n),
        f_star=0.0,
        x_star=np.zeros(n),
        reference=f"{_MGH}, problem 22 (extended Powell singular)",
    )


# ---------------------------------------------------------------------------------------
# Beale (MGH 5), n = 2
# ---------------------------------------------------------------------------------------


def _beale_f(x):
    x1 = x[0]
    x2 = x[1]
    f1 = 1.5 - x1 * (1.0 - x2)
    f2 = 2.25 - x1 * (1.0 - x2**2)
    f3 = 2.625 - x1 * (1.0 - x2**3)
    return f1 * f1 + f2 * f2 + f3 * f3


def _beale_g(x):
    x1 = x[0]
    x2 = x[1]
    f1 = 1.5 - x1 * (1.0 - x2)
    f2 = 2.25 - x1 * (1.0 - x2**2)
    f3 = 2.625 - x1 * (1.0 - x2**3)
    g = np.empty(2)
    g[0] = -2.0 * (f1 * (1.0 - x2) + f2 * (1.0 - x2**2) + f3 * (1.0 - x2**3))
    g[1] = 2.0 * x1 * (f1 + 2.0 * x2 * f2 + 3.0 * x2**2 * f3)
    return g


@register_jitable
def _beale_h(x):
    x1 = x[0]
    x2 = x[1]
    c1 = 1.0 - x2
    c2 = 1.0 - x2**2
    c3 = 1.0 - x2**3
    f1 = 1.5 - x1 * c1
    f2 = 2.25 - x1 * c2
    f3 = 2.625 - x1 * c3
    # Jacobian rows (d/dx1, d/dx2): (-c_i, i x1 x2^(i-1)).
    d1 = x1
    d2 = 2.0 * x1 * x2
    d3 = 3.0 * x1 * x2**2
    H = np.empty((2, 2))
    H[0, 0] = 2.0 * (c1 * c1 + c2 * c2 + c3 * c3)
    H[0, 1] = 2.0 * (-(c1 * d1 + c2 * d2 + c3 * d3) + f1 + 2.0 * x2 * f2 + 3.0 * x2**2 * f3)
    H[1, 0] = H[0, 1]
    H[1, 1] = 2.0 * (d1 * d1 + d2 * d2 + d3 * d3 + 2.0 * x1 * f2 + 6.0 * x1 * x2 * f3)
    return H


def _beale_hp(x, p):
    return _matvec(_beale_h(x), p)


def _make_beale(n: int = 2) -> Problem:
    r"""MGH 5, Beale: :math:`f = \sum_{i=1}^3 (y_i - x_1(1 - x_2^i))^2`.

    :math:`y = (1.5, 2.25, 2.625)`, start :math:`(1, 1)`, :math:`f^* = 0` at :math:`(3, 0.5)`.
    """
    _check_n("beale", n, fixed=2)
    return Problem(
        name="beale",
        n=2,
        f=_beale_f,
        grad=_beale_g,
        hess=_beale_h,
        hessp=_beale_hp,
        x0=np.array([1.0, 1.0]),
        f_star=0.0,
        x_star=np.array([3.0, 0.5]),
        reference=f"{_MGH}, problem 5 (Beale)",
    )


# ---------------------------------------------------------------------------------------
# Wood (MGH 14), n = 4
# ---------------------------------------------------------------------------------------


def _wood_f(x):
    x1 = x[0]
    x2 = x[1]
    x3 = x[2]
    x4 = x[3]
    return (
        100.0 * (x2 - x1**2) ** 2
        + (1.0 - x1) ** 2
        + 90.0 * (x4 - x3**2) ** 2
        + (1.0 - x3) ** 2
        + 10.0 * (x2 + x4 - 2.0) ** 2
        + 0.1 * (x2 - x4) ** 2
    )


def _wood_g(x):
    x1 = x[0]
    x2 = x[1]
    x3 = x[2]
    x4 = x[3]
    t1 = x2 - x1**2
    t3 = x4 - x3**2
    s = x2 + x4 - 2.0
    d = x2 - x4
    g = np.empty(4)
    g[0] = -400.0 * x1 * t1 - 2.0 * (1.0 - x1)
    g[1] = 200.0 * t1 + 20.0 * s + 0.2 * d
    g[2] = -360.0 * x3 * t3 - 2.0 * (1.0 - x3)
    g[3] = 180.0 * t3 + 20.0 * s - 0.2 * d
    return g


@register_jitable
def _wood_h(x):
    x1 = x[0]
    x2 = x[1]
    x3 = x[2]
    x4 = x[3]
    H = np.zeros((4, 4))
    H[0, 0] = 1200.0 * x1**2 - 400.0 * x2 + 2.0
    H[0, 1] = -400.0 * x1
    H[1, 0] = -400.0 * x1
    H[1, 1] = 220.2
    H[1, 3] = 19.8
    H[3, 1] = 19.8
    H[2, 2] = 1080.0 * x3**2 - 360.0 * x4 + 2.0
    H[2, 3] = -360.0 * x3
    H[3, 2] = -360.0 * x3
    H[3, 3] = 200.2
    return H


def _wood_hp(x, p):
    return _matvec(_wood_h(x), p)


def _make_wood(n: int = 4) -> Problem:
    r"""MGH 14, Wood function.

    .. math::

        f = 100(x_2 - x_1^2)^2 + (1 - x_1)^2 + 90(x_4 - x_3^2)^2 + (1 - x_3)^2
            + 10(x_2 + x_4 - 2)^2 + 0.1(x_2 - x_4)^2,

    start :math:`(-3, -1, -3, -1)`, :math:`f^* = 0` at :math:`(1, 1, 1, 1)`.
    """
    _check_n("wood", n, fixed=4)
    return Problem(
        name="wood",
        n=4,
        f=_wood_f,
        grad=_wood_g,
        hess=_wood_h,
        hessp=_wood_hp,
        x0=np.array([-3.0, -1.0, -3.0, -1.0]),
        f_star=0.0,
        x_star=np.ones(4),
        reference=f"{_MGH}, problem 14 (Wood)",
    )


# ---------------------------------------------------------------------------------------
# Helical valley (MGH 7), n = 3
# ---------------------------------------------------------------------------------------

_TWO_PI = 2.0 * math.pi


@register_jitable
def _helical_theta(x1, x2):
    # MGH's branch: theta in (-1/4, 3/4), continuous everywhere except on the ray
    # {x1 = 0, x2 < 0}; in particular continuous around the start (-1, 0, 0), unlike
    # atan2(x2, x1) / (2 pi), which jumps on the negative x1 axis.
    if x1 > 0.0:
        return math.atan(x2 / x1) / _TWO_PI
    if x1 < 0.0:
        return math.atan(x2 / x1) / _TWO_PI + 0.5
    if x2 >= 0.0:
        return 0.25
    return -0.25


def _helical_f(x):
    x1 = x[0]
    x2 = x[1]
    x3 = x[2]
    f1 = 10.0 * (x3 - 10.0 * _helical_theta(x1, x2))
    f2 = 10.0 * (math.sqrt(x1 * x1 + x2 * x2) - 1.0)
    return f1 * f1 + f2 * f2 + x3 * x3


def _helical_g(x):
    x1 = x[0]
    x2 = x[1]
    x3 = x[2]
    r2 = x1 * x1 + x2 * x2
    r = math.sqrt(r2)
    f1 = 10.0 * (x3 - 10.0 * _helical_theta(x1, x2))
    f2 = 10.0 * (r - 1.0)
    # d theta / dx = (-x2, x1) / (2 pi r^2) on both branches.
    t1 = -x2 / (_TWO_PI * r2)
    t2 = x1 / (_TWO_PI * r2)
    g = np.empty(3)
    g[0] = 2.0 * (-100.0 * t1 * f1 + 10.0 * x1 / r * f2)
    g[1] = 2.0 * (-100.0 * t2 * f1 + 10.0 * x2 / r * f2)
    g[2] = 2.0 * (10.0 * f1 + x3)
    return g


@register_jitable
def _helical_h(x):
    x1 = x[0]
    x2 = x[1]
    x3 = x[2]
    r2 = x1 * x1 + x2 * x2
    r = math.sqrt(r2)
    r3 = r2 * r
    r4 = r2 * r2
    f1 = 10.0 * (x3 - 10.0 * _helical_theta(x1, x2))
    f2 = 10.0 * (r - 1.0)
    t1 = -x2 / (_TWO_PI * r2)
    t2 = x1 / (_TWO_PI * r2)
    # Second derivatives of theta and of r.
    t11 = x1 * x2 / (math.pi * r4)
    t22 = -t11
    t12 = (x2 * x2 - x1 * x1) / (_TWO_PI * r4)
    r11 = x2 * x2 / r3
    r22 = x1 * x1 / r3
    r12 = -x1 * x2 / r3
    # Jacobian rows: grad f1 = (-100 t1, -100 t2, 10), grad f2 = 10 (x1/r, x2/r, 0),
    # grad f3 = (0, 0, 1).
    a1 = -100.0 * t1
    a2 = -100.0 * t2
    b1 = 10.0 * x1 / r
    b2 = 10.0 * x2 / r
    H = np.empty((3, 3))
    H[0, 0] = 2.0 * (a1 * a1 + b1 * b1 - 100.0 * f1 * t11 + 10.0 * f2 * r11)
    H[1, 1] = 2.0 * (a2 * a2 + b2 * b2 - 100.0 * f1 * t22 + 10.0 * f2 * r22)
    H[0, 1] = 2.0 * (a1 * a2 + b1 * b2 - 100.0 * f1 * t12 + 10.0 * f2 * r12)
    H[1, 0] = H[0, 1]
    H[0, 2] = 2.0 * 10.0 * a1
    H[2, 0] = H[0, 2]
    H[1, 2] = 2.0 * 10.0 * a2
    H[2, 1] = H[1, 2]
    H[2, 2] = 2.0 * (100.0 + 1.0)
    return H


def _helical_hp(x, p):
    return _matvec(_helical_h(x), p)


def _make_helical_valley(n: int = 3) -> Problem:
    r"""MGH 7, helical valley.

    :math:`f = (10[x_3 - 10\theta(x_1, x_2)])^2 + (10[\sqrt{x_1^2 + x_2^2} - 1])^2 + x_3^2`
    with :math:`2\pi\theta = \arctan(x_2/x_1)` for :math:`x_1 > 0` and
    :math:`\arctan(x_2/x_1) + \pi` for :math:`x_1 < 0` (MGH's branch, not ``atan2``);
    :math:`\nabla\theta = (-x_2, x_1) / (2\pi r^2)`.  Start :math:`(-1, 0, 0)`,
    :math:`f^* = 0` at :math:`(1, 0, 0)`.  Not differentiable on the axis
    :math:`x_1 = x_2 = 0` or across the ray :math:`\{x_1 = 0, x_2 < 0\}`.
    """
    _check_n("helical_valley", n, fixed=3)
    return Problem(
        name="helical_valley",
        n=3,
        f=_helical_f,
        grad=_helical_g,
        hess=_helical_h,
        hessp=_helical_hp,
        x0=np.array([-1.0, 0.0, 0.0]),
        f_star=0.0,
        x_star=np.array([1.0, 0.0, 0.0]),
        reference=f"{_MGH}, problem 7 (helical valley)",
    )


# ---------------------------------------------------------------------------------------
# Brown badly scaled (MGH 4), n = 2
# ---------------------------------------------------------------------------------------


def _brownbs_f(x):
    f1 = x[0] - 1.0e6
    f2 = x[1] - 2.0e-6
    f3 = x[0] * x[1] - 2.0
    return f1 * f1 + f2 * f2 + f3 * f3


def _brownbs_g(x):
    f1 = x[0] - 1.0e6
    f2 = x[1] - 2.0e-6
    f3 = x[0] * x[1] - 2.0
    g = np.empty(2)
    g[0] = 2.0 * (f1 + f3 * x[1])
    g[1] = 2.0 * (f2 + f3 * x[0])
    return g


@register_jitable
def _brownbs_h(x):
    H = np.empty((2, 2))
    H[0, 0] = 2.0 * (1.0 + x[1] * x[1])
    H[1, 1] = 2.0 * (1.0 + x[0] * x[0])
    H[0, 1] = 2.0 * (2.0 * x[0] * x[1] - 2.0)
    H[1, 0] = H[0, 1]
    return H


def _brownbs_hp(x, p):
    return _matvec(_brownbs_h(x), p)


def _make_brown_badly_scaled(n: int = 2) -> Problem:
    r"""MGH 4, Brown badly scaled.

    :math:`f = (x_1 - 10^6)^2 + (x_2 - 2\cdot 10^{-6})^2 + (x_1 x_2 - 2)^2`, start
    :math:`(1, 1)`, :math:`f^* = 0` at :math:`(10^6, 2\cdot 10^{-6})`.
    """
    _check_n("brown_badly_scaled", n, fixed=2)
    return Problem(
        name="brown_badly_scaled",
        n=2,
        f=_brownbs_f,
        grad=_brownbs_g,
        hess=_brownbs_h,
        hessp=_brownbs_hp,
        x0=np.array([1.0, 1.0]),
        f_star=0.0,
        x_star=np.array([1.0e6, 2.0e-6]),
        reference=f"{_MGH}, problem 4 (Brown badly scaled)",
    )


# ---------------------------------------------------------------------------------------
# Powell badly scaled (MGH 3), n = 2
# ---------------------------------------------------------------------------------------


def _powellbs_f(x):
    f1 = 1.0e4 * x[0] * x[1] - 1.0
    f2 = np.exp(-x[0]) + np.exp(-x[1]) - 1.0001
    return f1 * f1 + f2 * f2


def _powellbs_g(x):
    e1 = np.exp(-x[0])
    e2 = np.exp(-x[1])
    f1 = 1.0e4 * x[0] * x[1] - 1.0
    f2 = e1 + e2 - 1.0001
    g = np.empty(2)
    g[0] = 2.0 * (1.0e4 * x[1] * f1 - e1 * f2)
    g[1] = 2.0 * (1.0e4 * x[0] * f1 - e2 * f2)
    return g


@register_jitable
def _powellbs_h(x):
    e1 = np.exp(-x[0])
    e2 = np.exp(-x[1])
    f1 = 1.0e4 * x[0] * x[1] - 1.0
    f2 = e1 + e2 - 1.0001
    H = np.empty((2, 2))
    H[0, 0] = 2.0 * (1.0e8 * x[1] * x[1] + e1 * e1 + f2 * e1)
    H[1, 1] = 2.0 * (1.0e8 * x[0] * x[0] + e2 * e2 + f2 * e2)
    H[0, 1] = 2.0 * (1.0e8 * x[0] * x[1] + e1 * e2 + 1.0e4 * f1)
    H[1, 0] = H[0, 1]
    return H


def _powellbs_hp(x, p):
    return _matvec(_powellbs_h(x), p)


def _make_powell_badly_scaled(n: int = 2) -> Problem:
    r"""MGH 3, Powell badly scaled.

    :math:`f = (10^4 x_1 x_2 - 1)^2 + (e^{-x_1} + e^{-x_2} - 1.0001)^2`, start
    :math:`(0, 1)`, :math:`f^* = 0` at :math:`x^* \approx (1.0982\cdot 10^{-5}, 9.1061)`
    (the root of the two residuals, computed to 40 digits with mpmath).
    """
    _check_n("powell_badly_scaled", n, fixed=2)
    return Problem(
        name="powell_badly_scaled",
        n=2,
        f=_powellbs_f,
        grad=_powellbs_g,
        hess=_powellbs_h,
        hessp=_powellbs_hp,
        x0=np.array([0.0, 1.0]),
        f_star=0.0,
        x_star=np.array([1.098159329699817455683761645625e-05, 9.106146739866524010946710490320]),
        reference=f"{_MGH}, problem 3 (Powell badly scaled)",
    )


# ---------------------------------------------------------------------------------------
# Freudenstein and Roth (MGH 2), n = 2
# ---------------------------------------------------------------------------------------


@register_jitable
def _freud_res(x):
    x1 = x[0]
    x2 = x[1]
    f1 = -13.0 + x1 + ((5.0 - x2) * x2 - 2.0) * x2
    f2 = -29.0 + x1 + ((x2 + 1.0) * x2 - 14.0) * x2
    return f1, f2


def _freud_f(x):
    f1, f2 = _freud_res(x)
    return f1 * f1 + f2 * f2


def _freud_g(x):
    f1, f2 = _freud_res(x)
    x2 = x[1]
    d1 = 10.0 * x2 - 3.0 * x2 * x2 - 2.0
    d2 = 3.0 * x2 * x2 + 2.0 * x2 - 14.0
    g = np.empty(2)
    g[0] = 2.0 * (f1 + f2)
    g[1] = 2.0 * (f1 * d1 + f2 * d2)
    return g


@register_jitable
def _freud_h(x):
    f1, f2 = _freud_res(x)
    x2 = x[1]
    d1 = 10.0 * x2 - 3.0 * x2 * x2 - 2.0
    d2 = 3.0 * x2 * x2 + 2.0 * x2 - 14.0
    H = np.empty((2, 2))
    H[0, 0] = 4.0
    H[0, 1] = 2.0 * (d1 + d2)
    H[1, 0] = H[0, 1]
    H[1, 1] = 2.0 * (d1 * d1 + d2 * d2 + f1 * (10.0 - 6.0 * x2) + f2 * (6.0 * x2 + 2.0))
    return H


def _freud_hp(x, p):
    return _matvec(_freud_h(x), p)


def _make_freudenstein_roth(n: int = 2) -> Problem:
    r"""MGH 2, Freudenstein and Roth.

    :math:`f_1 = -13 + x_1 + ((5 - x_2)x_2 - 2)x_2`,
    :math:`f_2 = -29 + x_1 + ((x_2 + 1)x_2 - 14)x_2`, :math:`f = f_1^2 + f_2^2`;
    start :math:`(0.5, -2)`.  Global :math:`f^* = 0` at :math:`(5, 4)`; there is also a
    local minimum :math:`f = 48.9842\ldots` at :math:`(11.41\ldots, -0.8968\ldots)`, which
    most local methods reach from the standard start (``has_local_minima=True``).
    """
    _check_n("freudenstein_roth", n, fixed=2)
    return Problem(
        name="freudenstein_roth",
        n=2,
        f=_freud_f,
        grad=_freud_g,
        hess=_freud_h,
        hessp=_freud_hp,
        x0=np.array([0.5, -2.0]),
        f_star=0.0,
        x_star=np.array([5.0, 4.0]),
        reference=f"{_MGH}, problem 2 (Freudenstein and Roth); local minimum 48.9842 at (11.41, -0.8968)",
        has_local_minima=True,
    )


# ---------------------------------------------------------------------------------------
# Jennrich and Sampson (MGH 6), n = 2, m = 10
# ---------------------------------------------------------------------------------------


def _js_f(x):
    s = 0.0
    for i in range(1, 11):
        r = 2.0 + 2.0 * i - np.exp(i * x[0]) - np.exp(i * x[1])
        s += r * r
    return s


def _js_g(x):
    g = np.zeros(2)
    for i in range(1, 11):
        e1 = np.exp(i * x[0])
        e2 = np.exp(i * x[1])
        r = 2.0 + 2.0 * i - e1 - e2
        g[0] -= 2.0 * i * e1 * r
        g[1] -= 2.0 * i * e2 * r
    return g


@register_jitable
def _js_h(x):
    H = np.zeros((2, 2))
    for i in range(1, 11):
        e1 = np.exp(i * x[0])
        e2 = np.exp(i * x[1])
        r = 2.0 + 2.0 * i - e1 - e2
        ii = float(i * i)
        H[0, 0] += 2.0 * ii * (e1 * e1 - e1 * r)
        H[1, 1] += 2.0 * ii * (e2 * e2 - e2 * r)
        H[0, 1] += 2.0 * ii * e1 * e2
    H[1, 0] = H[0, 1]
    return H


def _js_hp(x, p):
    return _matvec(_js_h(x), p)


_JS_T = 0.2578252136703640768521891757247
_JS_F = 124.3621823556148535149855168242


def _make_jennrich_sampson(n: int = 2) -> Problem:
    r"""MGH 6, Jennrich and Sampson with :math:`m = 10`.

    :math:`f = \sum_{i=1}^{10} (2 + 2i - e^{i x_1} - e^{i x_2})^2`, start
    :math:`(0.3, 0.4)`, :math:`f^* = 124.362\ldots` at :math:`x_1 = x_2 = 0.2578\ldots`
    (MGH quote 124.362; the digits here were computed with mpmath).
    """
    _check_n("jennrich_sampson", n, fixed=2)
    return Problem(
        name="jennrich_sampson",
        n=2,
        f=_js_f,
        grad=_js_g,
        hess=_js_h,
        hessp=_js_hp,
        x0=np.array([0.3, 0.4]),
        f_star=_JS_F,
        x_star=np.array([_JS_T, _JS_T]),
        reference=f"{_MGH}, problem 6 (Jennrich and Sampson, m=10)",
    )


# ---------------------------------------------------------------------------------------
# Box three-dimensional (MGH 12), n = 3, m = 10
# ---------------------------------------------------------------------------------------


def _box_f(x):
    s = 0.0
    for i in range(1, 11):
        t = 0.1 * i
        r = np.exp(-t * x[0]) - np.exp(-t * x[1]) - x[2] * (np.exp(-t) - np.exp(-10.0 * t))
        s += r * r
    return s


def _box_g(x):
    g = np.zeros(3)
    for i in range(1, 11):
        t = 0.1 * i
        e1 = np.exp(-t * x[0])
        e2 = np.exp(-t * x[1])
        c = np.exp(-t) - np.exp(-10.0 * t)
        r = e1 - e2 - x[2] * c
        g[0] -= 2.0 * r * t * e1
        g[1] += 2.0 * r * t * e2
        g[2] -= 2.0 * r * c
    return g


@register_jitable
def _box_h(x):
    H = np.zeros((3, 3))
    for i in range(1, 11):
        t = 0.1 * i
        e1 = np.exp(-t * x[0])
        e2 = np.exp(-t * x[1])
        c = np.exp(-t) - np.exp(-10.0 * t)
        r = e1 - e2 - x[2] * c
        j0 = -t * e1
        j1 = t * e2
        j2 = -c
        H[0, 0] += 2.0 * (j0 * j0 + r * t * t * e1)
        H[1, 1] += 2.0 * (j1 * j1 - r * t * t * e2)
        H[2, 2] += 2.0 * j2 * j2
        H[0, 1] += 2.0 * j0 * j1
        H[0, 2] += 2.0 * j0 * j2
        H[1, 2] += 2.0 * j1 * j2
    H[1, 0] = H[0, 1]
    H[2, 0] = H[0, 2]
    H[2, 1] = H[1, 2]
    return H


def _box_hp(x, p):
    return _matvec(_box_h(x), p)


def _make_box3d(n: int = 3) -> Problem:
    r"""MGH 12, Box three-dimensional with :math:`m = 10`, :math:`t_i = 0.1 i`.

    :math:`f = \sum_{i=1}^{10} (e^{-t_i x_1} - e^{-t_i x_2} - x_3(e^{-t_i} - e^{-10 t_i}))^2`,
    start :math:`(0, 10, 20)`; :math:`f^* = 0` at :math:`(1, 10, 1)`, also at
    :math:`(10, 1, -1)` and on the line :math:`x_1 = x_2, x_3 = 0`.
    """
    _check_n("box3d", n, fixed=3)
    return Problem(
        name="box3d",
        n=3,
        f=_box_f,
        grad=_box_g,
        hess=_box_h,
        hessp=_box_hp,
        x0=np.array([0.0, 10.0, 20.0]),
        f_star=0.0,
        x_star=np.array([1.0, 10.0, 1.0]),
        reference=f"{_MGH}, problem 12 (Box three-dimensional, m=10)",
    )


# ---------------------------------------------------------------------------------------
# Penalty function I (MGH 23), any n
# ---------------------------------------------------------------------------------------

_PEN_A = 1.0e-5


def _pen1_f(x):
    s = np.sum(x * x) - 0.25
    return _PEN_A * np.sum((x - 1.0) ** 2) + s * s


def _pen1_g(x):
    s = np.sum(x * x) - 0.25
    return 2.0 * _PEN_A * (x - 1.0) + 4.0 * s * x


def _pen1_h(x):
    n = x.shape[0]
    s = np.sum(x * x) - 0.25
    H = 8.0 * np.outer(x, x)
    for i in range(n):
        H[i, i] += 2.0 * _PEN_A + 4.0 * s
    return H


def _pen1_hp(x, p):
    s = np.sum(x * x) - 0.25
    return (2.0 * _PEN_A + 4.0 * s) * p + 8.0 * np.dot(x, p) * x


def _penalty1_t(n: int) -> float:
    """Largest root of :math:`4n t^3 + (2a - 1) t - 2a = 0` (the minimizer is t * ones)."""
    a = _PEN_A
    # Start right of every root (the largest root is below 1/(2 sqrt n) + a), then Newton
    # on the convex branch decreases monotonically onto it.
    t = 1.0 / math.sqrt(n)
    for _ in range(100):
        p = 4.0 * n * t**3 + (2.0 * a - 1.0) * t - 2.0 * a
        dp = 12.0 * n * t**2 + (2.0 * a - 1.0)
        step = p / dp
        t -= step
        if abs(step) <= 1e-17 * abs(t):
            break
    return t


def _make_penalty1(n: int = 4) -> Problem:
    r"""MGH 23, penalty function I with :math:`a = 10^{-5}`.

    :math:`f = a \sum_i (x_i - 1)^2 + (\sum_i x_i^2 - 1/4)^2`, start :math:`x_j = j`.
    Every stationary point is :math:`t \mathbf{1}`, with :math:`t` a root of
    :math:`4n t^3 + (2a - 1) t - 2a = 0`; the minimizer uses the largest root (computed
    by Newton's method), giving MGH's :math:`f^* = 2.24997\ldots\cdot 10^{-5}` (n=4) and
    :math:`7.08765\ldots\cdot 10^{-5}` (n=10).
    """
    _check_n("penalty1", n, minimum=1)
    t = _penalty1_t(n)
    x_star = np.full(n, t)
    f_star = _PEN_A * n * (t - 1.0) ** 2 + (n * t * t - 0.25) ** 2
    return Problem(
        name="penalty1",
        n=n,
        f=_pen1_f,
        grad=_pen1_g,
        hess=_pen1_h,
        hessp=_pen1_hp,
        x0=np.arange(1.0, n + 1.0),
        f_star=float(f_star),
        x_star=x_star,
        reference=f"{_MGH}, problem 23 (penalty function I)",
    )


# ---------------------------------------------------------------------------------------
# Variably dimensioned (MGH 25), any n
# ---------------------------------------------------------------------------------------


def _vardim_f(x):
    n = x.shape[0]
    r = x - 1.0
    s = np.sum(np.arange(1.0, n + 1.0) * r)
    return np.sum(r * r) + s * s + s**4


def _vardim_g(x):
    n = x.shape[0]
    w = np.arange(1.0, n + 1.0)
    r = x - 1.0
    s = np.sum(w * r)
    return 2.0 * r + (2.0 * s + 4.0 * s**3) * w


def _vardim_h(x):
    n = x.shape[0]
    w = np.arange(1.0, n + 1.0)
    s = np.sum(w * (x - 1.0))
    H = (2.0 + 12.0 * s * s) * np.outer(w, w)
    for i in range(n):
        H[i, i] += 2.0
    return H


def _vardim_hp(x, p):
    n = x.shape[0]
    w = np.arange(1.0, n + 1.0)
    s = np.sum(w * (x - 1.0))
    return 2.0 * p + (2.0 + 12.0 * s * s) * np.dot(w, p) * w


def _make_variably_dimensioned(n: int = 10) -> Problem:
    r"""MGH 25, variably dimensioned.

    With :math:`s = \sum_j j (x_j - 1)`: :math:`f = \sum_j (x_j - 1)^2 + s^2 + s^4`,
    start :math:`x_j = 1 - j/n`, :math:`f^* = 0` at :math:`(1, \dots, 1)`.
    """
    _check_n("variably_dimensioned", n, minimum=1)
    return Problem(
        name="variably_dimensioned",
        n=n,
        f=_vardim_f,
        grad=_vardim_g,
        hess=_vardim_h,
        hessp=_vardim_hp,
        x0=1.0 - np.arange(1.0, n + 1.0) / n,
        f_star=0.0,
        x_star=np.ones(n),
        reference=f"{_MGH}, problem 25 (variably dimensioned)",
    )


# ---------------------------------------------------------------------------------------
# Trigonometric (MGH 26), any n
# ---------------------------------------------------------------------------------------


@register_jitable
def _trig_res(x):
    n = x.shape[0]
    c = np.cos(x)
    return n - np.sum(c) + np.arange(1.0, n + 1.0) * (1.0 - c) - np.sin(x)


def _trig_f(x):
    F = _trig_res(x)
    return np.sum(F * F)


def _trig_g(x):
    n = x.shape[0]
    F = _trig_res(x)
    s = np.sin(x)
    d = np.arange(1.0, n + 1.0) * s - np.cos(x)
    return 2.0 * (np.sum(F) * s + d * F)


def _trig_h(x):
    n = x.shape[0]
    F = _trig_res(x)
    s = np.sin(x)
    c = np.cos(x)
    w = np.arange(1.0, n + 1.0)
    d = w * s - c
    sd = np.outer(s, d)
    H = 2.0 * (n * np.outer(s, s) + (sd + sd.T))  # grouped so that H is exactly symmetric
    diag = 2.0 * (d * d + np.sum(F) * c + F * (w * c + s))
    for i in range(n):
        H[i, i] += diag[i]
    return H


def _trig_hp(x, p):
    n = x.shape[0]
    F = _trig_res(x)
    s = np.sin(x)
    c = np.cos(x)
    w = np.arange(1.0, n + 1.0)
    d = w * s - c
    sp = np.dot(s, p)
    return 2.0 * (n * sp * s + np.dot(d, p) * s + sp * d + (d * d + np.sum(F) * c + F * (w * c + s)) * p)


def _make_trigonometric(n: int = 10) -> Problem:
    r"""MGH 26, trigonometric function.

    :math:`f_i = n - \sum_j \cos x_j + i(1 - \cos x_i) - \sin x_i`,
    :math:`f = \sum_{i=1}^n f_i^2`; start :math:`x_j = 1/n`.  :math:`f^* = 0` at the
    origin; there are non-global local minima (e.g. :math:`f \approx 2.79506\cdot 10^{-5}`
    for :math:`n = 10`) that local methods often reach from the standard start.
    """
    _check_n("trigonometric", n, minimum=1)
    return Problem(
        name="trigonometric",
        n=n,
        f=_trig_f,
        grad=_trig_g,
        hess=_trig_h,
        hessp=_trig_hp,
        x0=np.full(n, 1.0 / n),
        f_star=0.0,
        x_star=np.zeros(n),
        reference=f"{_MGH}, problem 26 (trigonometric)",
        has_local_minima=n >= 2,  # n = 1: the two minima (0 and 2 arctan(1/2)) are both global
    )


# ---------------------------------------------------------------------------------------
# Broyden tridiagonal (MGH 30), any n
# ---------------------------------------------------------------------------------------


@register_jitable
def _btri_res(x):
    F = (3.0 - 2.0 * x) * x + 1.0
    F[1:] -= x[:-1]
    F[:-1] -= 2.0 * x[1:]
    return F


@register_jitable
def _btri_jt(x, v):
    """Return J(x)^T v for the Broyden tridiagonal residual Jacobian."""
    out = (3.0 - 4.0 * x) * v
    out[:-1] -= v[1:]
    out[1:] -= 2.0 * v[:-1]
    return out


def _btri_f(x):
    F = _btri_res(x)
    return np.sum(F * F)


def _btri_g(x):
    return 2.0 * _btri_jt(x, _btri_res(x))


def _btri_h(x):
    n = x.shape[0]
    F = _btri_res(x)
    H = np.zeros((n, n))
    # Row i of J: -1 at i-1, 3 - 4 x_i at i, -2 at i+1; H = 2 J^T J - 8 diag(F).
    for i in range(n):
        lo = max(i - 1, 0)
        hi = min(i + 2, n)
        row = np.zeros(3)
        row[0] = -1.0
        row[1] = 3.0 - 4.0 * x[i]
        row[2] = -2.0
        for j in range(lo, hi):
            for k in range(lo, hi):
                H[j, k] += 2.0 * row[j - i + 1] * row[k - i + 1]
        H[i, i] -= 8.0 * F[i]
    return H


def _btri_hp(x, p):
    jp = (3.0 - 4.0 * x) * p
    jp[1:] -= p[:-1]
    jp[:-1] -= 2.0 * p[1:]
    return 2.0 * _btri_jt(x, jp) - 8.0 * _btri_res(x) * p


def _btri_root(n: int) -> np.ndarray | None:
    """Solve F(x) = 0 by Newton's method from the standard start (tridiagonal solves)."""
    from scipy.linalg import solve_banded

    x = -np.ones(n)
    ab = np.zeros((3, n))
    for _ in range(50):
        F = _btri_res(x)
        ab[0, 1:] = -2.0  # superdiagonal
        ab[1, :] = 3.0 - 4.0 * x
        ab[2, :-1] = -1.0  # subdiagonal
        step = solve_banded((1, 1), ab, F)
        x = x - step
        if np.max(np.abs(step)) <= 1e-15 * (1.0 + np.max(np.abs(x))):
            break
    F = _btri_res(x)
    return x if np.max(np.abs(F)) <= 1e-13 else None


def _make_broyden_tridiagonal(n: int = 10) -> Problem:
    r"""MGH 30, Broyden tridiagonal.

    :math:`f_i = (3 - 2x_i)x_i - x_{i-1} - 2x_{i+1} + 1` with :math:`x_0 = x_{n+1} = 0`,
    :math:`f = \sum_i f_i^2`; start :math:`x_j = -1`, :math:`f^* = 0`.  ``x_star`` is the
    root of the residuals computed by Newton's method from the start.  From :math:`n = 10`
    on there are many non-global local minima (about 30 found from random starts at
    :math:`n = 10`; scipy's CG reaches :math:`f = 1.7233` from the standard start at
    :math:`n = 100`), so ``has_local_minima`` is True there.
    """
    _check_n("broyden_tridiagonal", n, minimum=1)
    return Problem(
        name="broyden_tridiagonal",
        n=n,
        f=_btri_f,
        grad=_btri_g,
        hess=_btri_h,
        hessp=_btri_hp,
        x0=-np.ones(n),
        f_star=0.0,
        x_star=_btri_root(n),
        reference=f"{_MGH}, problem 30 (Broyden tridiagonal)",
        has_local_minima=n >= 10,
    )


# ---------------------------------------------------------------------------------------
# Dixon-Price, any n >= 2
# ---------------------------------------------------------------------------------------


def _dp_f(x):
    n = x.shape[0]
    G = 2.0 * x[1:] ** 2 - x[:-1]
    return (x[0] - 1.0) ** 2 + np.sum(np.arange(2.0, n + 1.0) * G * G)


def _dp_g(x):
    n = x.shape[0]
    w = np.arange(2.0, n + 1.0)
    G = 2.0 * x[1:] ** 2 - x[:-1]
    g = np.zeros(n)
    g[0] = 2.0 * (x[0] - 1.0)
    g[1:] += 8.0 * w * x[1:] * G
    g[:-1] -= 2.0 * w * G
    return g


def _dp_h(x):
    n = x.shape[0]
    H = np.zeros((n, n))
    H[0, 0] = 2.0
    for k in range(1, n):
        w = k + 1.0
        G = 2.0 * x[k] ** 2 - x[k - 1]
        H[k, k] += 2.0 * w * (16.0 * x[k] ** 2 + 4.0 * G)
        H[k - 1, k - 1] += 2.0 * w
        H[k, k - 1] = -8.0 * w * x[k]
        H[k - 1, k] = -8.0 * w * x[k]
    return H


def _dp_hp(x, p):
    n = x.shape[0]
    w = np.arange(2.0, n + 1.0)
    G = 2.0 * x[1:] ** 2 - x[:-1]
    hp = np.zeros(n)
    hp[0] = 2.0 * p[0]
    hp[1:] += 2.0 * w * (16.0 * x[1:] ** 2 + 4.0 * G) * p[1:] - 8.0 * w * x[1:] * p[:-1]
    hp[:-1] += 2.0 * w * p[:-1] - 8.0 * w * x[1:] * p[1:]
    return hp


def _make_dixon_price(n: int = 10) -> Problem:
    r"""Dixon-Price: :math:`f = (x_1 - 1)^2 + \sum_{i=2}^n i (2x_i^2 - x_{i-1})^2`.

    Start :math:`(1, \dots, 1)`; :math:`f^* = 0` at :math:`x_i = 2^{-(2^i - 2)/2^i}`
    (the sign of :math:`x_n` is free).
    """
    _check_n("dixon_price", n, minimum=2)
    i = np.arange(1.0, n + 1.0)
    return Problem(
        name="dixon_price",
        n=n,
        f=_dp_f,
        grad=_dp_g,
        hess=_dp_h,
        hessp=_dp_hp,
        x0=np.ones(n),
        f_star=0.0,
        x_star=2.0 ** (-(2.0**i - 2.0) / 2.0**i),
        reference=f"Dixon & Price (1989), J. Optim. Theory Appl. 60:261-275; {_VLSE}",
    )


# ---------------------------------------------------------------------------------------
# Trid, any n
# ---------------------------------------------------------------------------------------


def _trid_f(x):
    return np.sum((x - 1.0) ** 2) - np.sum(x[1:] * x[:-1])


def _trid_g(x):
    g = 2.0 * (x - 1.0)
    g[1:] -= x[:-1]
    g[:-1] -= x[1:]
    return g


def _trid_h(x):
    n = x.shape[0]
    H = np.zeros((n, n))
    for i in range(n):
        H[i, i] = 2.0
        if i > 0:
            H[i, i - 1] = -1.0
            H[i - 1, i] = -1.0
    return H


def _trid_hp(x, p):
    hp = 2.0 * p
    hp[1:] -= p[:-1]
    hp[:-1] -= p[1:]
    return hp


def _make_trid(n: int = 10) -> Problem:
    r"""Trid: the convex quadratic :math:`f = \sum_i (x_i - 1)^2 - \sum_{i=2}^n x_i x_{i-1}`.

    Start :math:`0`; :math:`f^* = -n(n+4)(n-1)/6` at :math:`x_i = i(n + 1 - i)`.
    """
    _check_n("trid", n, minimum=1)
    i = np.arange(1.0, n + 1.0)
    return Problem(
        name="trid",
        n=n,
        f=_trid_f,
        grad=_trid_g,
        hess=_trid_h,
        hessp=_trid_hp,
        x0=np.zeros(n),
        f_star=-n * (n + 4) * (n - 1) / 6.0,
        x_star=i * (n + 1.0 - i),
        reference=_VLSE,
    )


# ---------------------------------------------------------------------------------------
# Convex quadratic with a chosen condition number
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _quadratic_parts(n: int, cond: float, seed: int):
    """Build (A, b, x*, f*, f, grad, hess, hessp); memoized so jit() dispatchers are reused."""
    rng = np.random.default_rng(seed)
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    Q = Q * np.where(np.diag(R) < 0.0, -1.0, 1.0)  # Haar-distributed orthogonal matrix
    eigs = np.logspace(0.0, math.log10(cond), n) if n > 1 else np.ones(1)
    A = (Q * eigs) @ Q.T
    A = 0.5 * (A + A.T)
    A = np.ascontiguousarray(A)
    b = rng.standard_normal(n)
    x_star = np.linalg.solve(A, b)
    x_star = x_star + np.linalg.solve(A, b - A @ x_star)  # one step of iterative refinement
    f_star = float(-0.5 * (b @ x_star))
    A.setflags(write=False)
    b.setflags(write=False)

    # Closures over A and b: Numba freezes them as constants, so these compile (and cache,
    # keyed on the captured data) like the module-level functions.
    def quadratic_f(x):
        return 0.5 * np.dot(x, np.dot(A, x)) - np.dot(b, x)

    def quadratic_grad(x):
        return np.dot(A, x) - b

    def quadratic_hess(x):
        return A.copy()

    def quadratic_hessp(x, p):
        return np.dot(A, p)

    return A, b, x_star, f_star, quadratic_f, quadratic_grad, quadratic_hess, quadratic_hessp


def _make_quadratic(n: int = 50, cond: float = 1.0e4, seed: int = 0) -> Problem:
    r"""Strictly convex quadratic :math:`f = \tfrac12 x^T A x - b^T x` of condition ``cond``.

    :math:`A = Q\,\mathrm{diag}(\lambda)\,Q^T` with :math:`Q` a random (Haar) orthogonal
    matrix and :math:`\lambda` log-spaced from 1 to ``cond``; :math:`b \sim N(0, I)`.
    Both are drawn from ``numpy.random.default_rng(seed)``.  Start :math:`0`; minimizer
    :math:`x^* = A^{-1} b`, :math:`f^* = -\tfrac12 b^T x^*`.
    """
    _check_n("quadratic", n, minimum=1)
    cond = float(cond)
    if not (math.isfinite(cond) and cond >= 1.0):
        raise ValueError(f"quadratic: cond must be a finite number >= 1; got {cond!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"quadratic: seed must be an int; got {type(seed).__name__}")
    _, _, x_star, f_star, f, g, h, hp = _quadratic_parts(int(n), cond, int(seed))
    ref = f"random convex quadratic, cond={cond:g}, seed={int(seed)}; eigenvalues log-spaced in [1, cond]"
    return Problem(
        name="quadratic",
        n=n,
        f=f,
        grad=g,
        hess=h,
        hessp=hp,
        x0=np.zeros(n),
        f_star=f_star,
        x_star=x_star,
        reference=ref,
    )


# ---------------------------------------------------------------------------------------
# Registry and public API
# ---------------------------------------------------------------------------------------


def _check_n(name: str, n: Any, *, minimum: int = 1, multiple: int = 1, fixed: int | None = None) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(f"{name}: n must be an int; got {type(n).__name__}")
    if fixed is not None:
        if n != fixed:
            raise ValueError(f"{name} is defined only for n={fixed}; got n={n}")
        return
    if n < minimum or n % multiple != 0:
        rule = f"n >= {minimum}" + (f" and a multiple of {multiple}" if multiple > 1 else "")
        raise ValueError(f"{name} needs {rule}; got n={n}")


_REGISTRY: dict[str, Callable[..., Problem]] = {
    "rosenbrock": _make_rosenbrock,
    "extended_rosenbrock": _make_extended_rosenbrock,
    "freudenstein_roth": _make_freudenstein_roth,
    "powell_badly_scaled": _make_powell_badly_scaled,
    "brown_badly_scaled": _make_brown_badly_scaled,
    "beale": _make_beale,
    "jennrich_sampson": _make_jennrich_sampson,
    "helical_valley": _make_helical_valley,
    "box3d": _make_box3d,
    "powell_singular": _make_powell_singular,
    "extended_powell": _make_extended_powell,
    "wood": _make_wood,
    "penalty1": _make_penalty1,
    "variably_dimensioned": _make_variably_dimensioned,
    "trigonometric": _make_trigonometric,
    "broyden_tridiagonal": _make_broyden_tridiagonal,
    "dixon_price": _make_dixon_price,
    "trid": _make_trid,
    "quadratic": _make_quadratic,
}

#: The default benchmark suite: (name, n, extra keyword arguments).
_LIBRARY: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("rosenbrock", 2, {}),
    ("rosenbrock", 10, {}),
    ("extended_rosenbrock", 10, {}),
    ("extended_rosenbrock", 100, {}),
    ("freudenstein_roth", 2, {}),
    ("powell_badly_scaled", 2, {}),
    ("brown_badly_scaled", 2, {}),
    ("beale", 2, {}),
    ("jennrich_sampson", 2, {}),
    ("helical_valley", 3, {}),
    ("box3d", 3, {}),
    ("powell_singular", 4, {}),
    ("extended_powell", 20, {}),
    ("wood", 4, {}),
    ("penalty1", 4, {}),
    ("penalty1", 10, {}),
    ("variably_dimensioned", 10, {}),
    ("trigonometric", 10, {}),
    ("broyden_tridiagonal", 10, {}),
    ("broyden_tridiagonal", 100, {}),
    ("dixon_price", 10, {}),
    ("trid", 10, {}),
    ("quadratic", 50, {"cond": 1.0e4, "seed": 0}),
)


def names() -> list[str]:
    """Return the registered problem names, sorted."""
    return sorted(_REGISTRY)


def get(name: str, n: int | None = None, **kw: Any) -> Problem:
    """Build a test problem by name.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    n : int, optional
        Dimension.  Fixed-size problems (e.g. ``"beale"``) accept only their size;
        variable-size ones have their own rules (``"extended_rosenbrock"``: even,
        ``"extended_powell"``: a multiple of 4).  Default: the problem's standard size.
    **kw
        Problem-specific options; ``"quadratic"`` takes ``cond`` (default ``1e4``) and
        ``seed`` (default ``0``).

    Returns
    -------
    Problem
        With interpreted Python functions; call :meth:`Problem.jit` for compiled ones.

    Raises
    ------
    ValueError
        For an unknown ``name`` (the message lists the valid names) or an invalid ``n``.
    """
    try:
        factory = _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown problem {name!r}; valid names are: {', '.join(names())}") from None
    if n is None:
        return factory(**kw)
    return factory(n, **kw)


def library(max_n: int | None = None) -> list[Problem]:
    """Return the default benchmark suite: every problem at its standard size(s).

    Parameters
    ----------
    max_n : int, optional
        Leave out problems with more than ``max_n`` variables.

    Returns
    -------
    list of Problem
        Rosenbrock (n=2, 10), extended Rosenbrock (n=10, 100), Freudenstein-Roth, Powell
        and Brown badly scaled, Beale, Jennrich-Sampson, helical valley, Box 3-D, Powell
        singular (n=4), extended Powell (n=20), Wood, penalty I (n=4, 10), variably
        dimensioned (n=10), trigonometric (n=10), Broyden tridiagonal (n=10, 100),
        Dixon-Price (n=10), Trid (n=10) and the quadratic (n=50, cond=1e4, seed=0).
    """
    return [get(name, n, **kw) for name, n, kw in _LIBRARY if max_n is None or n <= max_n]


# ---------------------------------------------------------------------------------------
# Loop-written twins: what Problem.jit compiles for the array-expression functions
# ---------------------------------------------------------------------------------------
# Inside Numba every array expression allocates its result: the NumPy-style objectives
# above cost 50-550 ns per call compiled (rosenbrock-2: 99 ns for f, 155 ns for the
# gradient), most of it in temporaries.  These twins compute the same functions with
# loops, allocating only the returned gradient (trigonometric: also cos x and sin x).
# They may differ from the NumPy versions by rounding (summation order, x**4 against
# (x*x)*(x*x)); tests/test_problems.py holds both to the same values and the NumPy
# gradients to finite differences.


def _rosen_f_loop(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        t = x[i + 1] - x[i] * x[i]
        u = 1.0 - x[i]
        s += 100.0 * (t * t) + u * u
    return s


def _rosen_g_loop(x):
    n = x.shape[0]
    g = np.zeros(n)
    for i in range(n - 1):
        t = x[i + 1] - x[i] * x[i]
        g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * t
    return g


def _extrosen_f_loop(x):
    s = 0.0
    for i in range(0, x.shape[0] - 1, 2):
        a = x[i]
        t = x[i + 1] - a * a
        u = 1.0 - a
        s += 100.0 * (t * t) + u * u
    return s


def _extrosen_g_loop(x):
    g = np.empty(x.shape[0])
    for i in range(0, x.shape[0] - 1, 2):
        a = x[i]
        t = x[i + 1] - a * a
        g[i] = -400.0 * a * t - 2.0 * (1.0 - a)
        g[i + 1] = 200.0 * t
    return g


@register_jitable
def _powell_terms(x, i):
    """The four terms of the Powell group starting at ``x[i]`` (scalars: no array traffic)."""
    a, b, c, d = x[i], x[i + 1], x[i + 2], x[i + 3]
    return a + 10.0 * b, c - d, b - 2.0 * c, a - d


def _powell_f_loop(x):
    s = 0.0
    for i in range(0, x.shape[0] - 3, 4):
        s1, s2, s3, s4 = _powell_terms(x, i)
        s3 = s3 * s3
        s4 = s4 * s4
        s += s1 * s1 + 5.0 * (s2 * s2) + s3 * s3 + 10.0 * (s4 * s4)
    return s


def _powell_g_loop(x):
    g = np.empty(x.shape[0])
    for i in range(0, x.shape[0] - 3, 4):
        s1, s2, t3, t4 = _powell_terms(x, i)
        s3 = t3 * t3 * t3
        s4 = t4 * t4 * t4
        g[i] = 2.0 * s1 + 40.0 * s4
        g[i + 1] = 20.0 * s1 + 4.0 * s3
        g[i + 2] = 10.0 * s2 - 8.0 * s3
        g[i + 3] = -10.0 * s2 - 40.0 * s4
    return g


def _pen1_f_loop(x):
    sq = 0.0
    dev = 0.0
    for i in range(x.shape[0]):
        sq += x[i] * x[i]
        d = x[i] - 1.0
        dev += d * d
    s = sq - 0.25
    return _PEN_A * dev + s * s


def _pen1_g_loop(x):
    n = x.shape[0]
    sq = 0.0
    for i in range(n):
        sq += x[i] * x[i]
    c = 4.0 * (sq - 0.25)
    g = np.empty(n)
    for i in range(n):
        g[i] = 2.0 * _PEN_A * (x[i] - 1.0) + c * x[i]
    return g


def _vardim_f_loop(x):
    rr = 0.0
    s = 0.0
    for i in range(x.shape[0]):
        r = x[i] - 1.0
        rr += r * r
        s += (i + 1.0) * r
    s2 = s * s
    return rr + s2 + s2 * s2


def _vardim_g_loop(x):
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        s += (i + 1.0) * (x[i] - 1.0)
    c = 2.0 * s + 4.0 * (s * s * s)
    g = np.empty(n)
    for i in range(n):
        g[i] = 2.0 * (x[i] - 1.0) + c * (i + 1.0)
    return g


def _trig_f_loop(x):
    n = x.shape[0]
    c = np.cos(x)
    sc = 0.0
    for i in range(n):
        sc += c[i]
    s = 0.0
    for i in range(n):
        r = n - sc + (i + 1.0) * (1.0 - c[i]) - math.sin(x[i])
        s += r * r
    return s


def _trig_g_loop(x):
    n = x.shape[0]
    c = np.cos(x)
    sn = np.sin(x)
    sc = 0.0
    for i in range(n):
        sc += c[i]
    g = np.empty(n)  # holds the residuals F first
    sf = 0.0
    for i in range(n):
        g[i] = n - sc + (i + 1.0) * (1.0 - c[i]) - sn[i]
        sf += g[i]
    for i in range(n):
        g[i] = 2.0 * (sf * sn[i] + ((i + 1.0) * sn[i] - c[i]) * g[i])
    return g


def _btri_f_loop(x):
    # the residual is written out here and in _btri_g_loop: a helper taking the array (one
    # call per entry) measured 14 ns an entry against 1 ns inline; measured again as an
    # inlined register_jitable helper (x, i, n): f + grad 266 / 2548 / 25443 ns against
    # 50 / 154 / 1324 ns at n = 10 / 100 / 1000 (unlike _powell_terms, whose group index
    # never looks backwards)
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        r = (3.0 - 2.0 * x[i]) * x[i] + 1.0
        if i > 0:
            r -= x[i - 1]
        if i < n - 1:
            r -= 2.0 * x[i + 1]
        s += r * r
    return s


def _btri_g_loop(x):
    # grad = 2 J^T F: entry i = 2 ((3 - 4 x_i) F_i - F_{i+1} - 2 F_{i-1}), F_i written
    # into g[i] first (each entry reads the F on both sides)
    n = x.shape[0]
    g = np.empty(n)
    for i in range(n):
        r = (3.0 - 2.0 * x[i]) * x[i] + 1.0
        if i > 0:
            r -= x[i - 1]
        if i < n - 1:
            r -= 2.0 * x[i + 1]
        g[i] = r
    prev = 0.0
    for i in range(n):
        cur = g[i]
        nxt = g[i + 1] if i < n - 1 else 0.0
        g[i] = 2.0 * ((3.0 - 4.0 * x[i]) * cur - nxt - 2.0 * prev)
        prev = cur
    return g


def _dp_f_loop(x):
    d = x[0] - 1.0
    s = 0.0
    for k in range(1, x.shape[0]):
        G = 2.0 * (x[k] * x[k]) - x[k - 1]
        s += (k + 1.0) * G * G
    return d * d + s


def _dp_g_loop(x):
    n = x.shape[0]
    g = np.zeros(n)
    g[0] = 2.0 * (x[0] - 1.0)
    for k in range(1, n):
        w = k + 1.0
        G = 2.0 * (x[k] * x[k]) - x[k - 1]
        g[k] += 8.0 * w * x[k] * G
        g[k - 1] -= 2.0 * w * G
    return g


def _trid_f_loop(x):
    n = x.shape[0]
    s = 0.0
    c = 0.0
    for i in range(n):
        d = x[i] - 1.0
        s += d * d
        if i > 0:
            c += x[i] * x[i - 1]
    return s - c


def _trid_g_loop(x):
    n = x.shape[0]
    g = np.empty(n)
    for i in range(n):
        v = 2.0 * (x[i] - 1.0)
        if i > 0:
            v -= x[i - 1]
        if i < n - 1:
            v -= x[i + 1]
        g[i] = v
    return g


#: NumPy-style function -> the loop-written twin :meth:`Problem.jit` compiles in its place.
_LOOP_TWINS: dict[Callable, Callable] = {
    _rosen_f: _rosen_f_loop,
    _rosen_g: _rosen_g_loop,
    _extrosen_f: _extrosen_f_loop,
    _extrosen_g: _extrosen_g_loop,
    _powell_f: _powell_f_loop,
    _powell_g: _powell_g_loop,
    _pen1_f: _pen1_f_loop,
    _pen1_g: _pen1_g_loop,
    _vardim_f: _vardim_f_loop,
    _vardim_g: _vardim_g_loop,
    _trig_f: _trig_f_loop,
    _trig_g: _trig_g_loop,
    _btri_f: _btri_f_loop,
    _btri_g: _btri_g_loop,
    _dp_f: _dp_f_loop,
    _dp_g: _dp_g_loop,
    _trid_f: _trid_f_loop,
    _trid_g: _trid_g_loop,
}


# ---------------------------------------------------------------------------------------
# scipy-compatible Rosenbrock helpers
# ---------------------------------------------------------------------------------------


def _as_vector(x: Any) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] < 2:
        raise ValueError(f"x must be a 1-D array with at least 2 entries; got shape {arr.shape}")
    return arr


def rosen(x: np.ndarray) -> float:
    r"""Rosenbrock function :math:`\sum_{i=1}^{n-1} 100(x_{i+1} - x_i^2)^2 + (1 - x_i)^2`.

    Same values as :func:`scipy.optimize.rosen` for 1-D ``x``.
    """
    return float(_rosen_f(_as_vector(x)))


def rosen_der(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`rosen` (as :func:`scipy.optimize.rosen_der`)."""
    return _rosen_g(_as_vector(x))


def rosen_hess(x: np.ndarray) -> np.ndarray:
    """Dense Hessian of :func:`rosen` (as :func:`scipy.optimize.rosen_hess`)."""
    return _rosen_h(_as_vector(x))


def rosen_hess_prod(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Hessian-vector product of :func:`rosen` (as :func:`scipy.optimize.rosen_hess_prod`)."""
    xv = _as_vector(x)
    pv = np.asarray(p, dtype=np.float64)
    if pv.shape != xv.shape:
        raise ValueError(f"p must have the shape of x {xv.shape}; got {pv.shape}")
    return _rosen_hp(xv, pv)
