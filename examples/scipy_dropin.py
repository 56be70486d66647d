"""scipy's documented ``minimize`` examples, run unchanged on nsolve but for the import.

Each example below is scipy code as the scipy documentation writes it (the ``minimize``
docstring and the optimize tutorial: Rosenbrock with ``rosen``/``rosen_der``, extra
``args``, ``jac=True``, Newton-CG with ``hess`` and with ``hessp``, both callback forms,
``StopIteration``).  The script runs every example twice -- once as written, once with
``from scipy.optimize import`` replaced by ``from nsolve.optimize import`` -- and prints the
two results side by side with the agreement check::

    python examples/scipy_dropin.py

The check: same ``status`` and ``success``; the minimizers agree within the accuracy the
stopping tolerance guarantees, :math:`4 \\sqrt{n}\\,\\mathrm{gtol}\\,\\|\\nabla^2 f(x^*)^{-1}\\|_2`
(a point with :math:`\\|g\\|_\\infty \\le \\mathrm{gtol}` lies within about
:math:`\\sqrt{n}\\,\\mathrm{gtol}\\,\\|H^{-1}\\|` of :math:`x^*`; twice that between two such
points, doubled again for the curvature's variation); for the callbacks, one call per
iteration in both.  ``tests/test_optimize_dropin.py`` runs the same examples.
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
from dataclasses import dataclass

import numpy as np

SCIPY_IMPORT = "from scipy.optimize import"
NSOLVE_IMPORT = "from nsolve.optimize import"

# The Rosenbrock functions as the scipy tutorial writes them (plain NumPy).
TUTORIAL_FUNCTIONS = '''
import numpy as np

def rosen(x):
    """The Rosenbrock function"""
    return sum(100.0*(x[1:]-x[:-1]**2.0)**2.0 + (1-x[:-1])**2.0)

def rosen_der(x):
    xm = x[1:-1]
    xm_m1 = x[:-2]
    xm_p1 = x[2:]
    der = np.zeros_like(x)
    der[1:-1] = 200*(xm-xm_m1**2) - 400*(xm_p1 - xm**2)*xm - 2*(1-xm)
    der[0] = -400*x[0]*(x[1]-x[0]**2) - 2*(1-x[0])
    der[-1] = 200*(x[-1]-x[-2]**2)
    return der

def rosen_hess(x):
    x = np.asarray(x)
    H = np.diag(-400*x[:-1],1) - np.diag(400*x[:-1],-1)
    diagonal = np.zeros_like(x)
    diagonal[0] = 1200*x[0]**2-400*x[1]+2
    diagonal[-1] = 200
    diagonal[1:-1] = 202 + 1200*x[1:-1]**2 - 400*x[2:]
    H = H + np.diag(diagonal)
    return H

def rosen_hess_p(x, p):
    x = np.asarray(x)
    Hp = np.zeros_like(x)
    Hp[0] = (1200*x[0]**2 - 400*x[1] + 2)*p[0] - 400*x[0]*p[1]
    Hp[1:-1] = (-400*x[:-2]*p[:-2]
                + (202+1200*x[1:-1]**2-400*x[2:])*p[1:-1]
                - 400*x[1:-1]*p[2:])
    Hp[-1] = -400*x[-2]*p[-2] + 200*p[-1]
    return Hp

x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
'''


@dataclass(frozen=True)
class Example:
    """One scipy example: its code (with scipy's import) and how to check the two results.

    ``gtol``: the gradient tolerance in force (sets the x-agreement bound); ``xtol``: for
    Newton-CG, its step tolerance (bound ``10 n xtol``); ``ftol_stop``: L-BFGS-B, which
    stops on the relative reduction of f first (bound from f - f*); ``hess_inv_norm``:
    :math:`\\|\\nabla^2 f(x^*)^{-1}\\|_2` of the example's function; ``count``: a list the
    callback fills, one entry per iteration.
    """

    name: str
    code: str
    gtol: float | None = 1e-5
    xtol: float | None = None
    ftol_stop: bool = False
    f_star: float = 0.0
    hess_inv_norm: float = 2.0108  # 5-D Rosenbrock at x* = (1, ..., 1)
    count: str | None = None
    stops_early: bool = False

    def source(self, library: str) -> str:
        return self.code if library == "scipy" else self.code.replace(SCIPY_IMPORT, NSOLVE_IMPORT)

    def x_tolerance(self, n: int, f_ours: float, f_ref: float) -> float:
        """How far apart two minimizers that meet the example's stopping test can be."""
        if self.xtol is not None:
            return 10.0 * n * self.xtol
        if self.ftol_stop:
            # f - f* ~ (1/2) e^T H e  =>  |e| <= sqrt(2 (f - f*) ||H^-1||), twice for two points.
            dist = sum(math.sqrt(2.0 * max(f - self.f_star, 0.0) * self.hess_inv_norm) for f in (f_ours, f_ref))
            return 2.0 * dist + 1e-12
        return 4.0 * math.sqrt(n) * self.gtol * self.hess_inv_norm


def _args_example_hess_inv_norm() -> float:
    # Hessian of sum a (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 at x* = 1: a tridiagonal matrix, by formula.
    a, n = 0.5, 5
    H = np.zeros((n, n))
    for i in range(n - 1):
        # term a (x_{i+1} - x_i^2)^2: at x = 1, d2/dx_i^2 = 8a, d2/dx_i dx_{i+1} = -4a, d2/dx_{i+1}^2 = 2a
        H[i, i] += 8 * a + 2.0
        H[i, i + 1] -= 4 * a
        H[i + 1, i] -= 4 * a
        H[i + 1, i + 1] += 2 * a
    return float(np.linalg.norm(np.linalg.inv(H), 2))


EXAMPLES = [
    Example(
        "minimize docstring: BFGS, rosen/rosen_der, gtol 1e-6",
        """
from scipy.optimize import minimize, rosen, rosen_der
x0 = [1.3, 0.7, 0.8, 1.9, 1.2]
res = minimize(rosen, x0, method='BFGS', jac=rosen_der,
               options={'gtol': 1e-6, 'disp': True})
hess_inv = res.hess_inv
""",
        gtol=1e-6,
    ),
    Example(
        "tutorial: BFGS with the tutorial's rosen_der",
        """
from scipy.optimize import minimize
""" + TUTORIAL_FUNCTIONS + """
res = minimize(rosen, x0, method='BFGS', jac=rosen_der, options={'disp': True})
""",
    ),
    Example(
        "tutorial: extra arguments (args=(a, b))",
        """
from scipy.optimize import minimize
import numpy as np

def rosen_with_args(x, a, b):
    return sum(a*(x[1:]-x[:-1]**2.0)**2.0 + (1-x[:-1])**2.0) + b

def rosen_der_with_args(x, a, b):
    der = np.zeros_like(x)
    der[1:-1] = 2*a*(x[1:-1]-x[:-2]**2) - 4*a*(x[2:] - x[1:-1]**2)*x[1:-1] - 2*(1-x[1:-1])
    der[0] = -4*a*x[0]*(x[1]-x[0]**2) - 2*(1-x[0])
    der[-1] = 2*a*(x[-1]-x[-2]**2)
    return der

x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
res = minimize(rosen_with_args, x0, method='BFGS', jac=rosen_der_with_args,
               args=(0.5, 1.), options={'gtol': 1e-8})
""",
        gtol=1e-8,
        f_star=1.0,
        hess_inv_norm=_args_example_hess_inv_norm(),
    ),
    Example(
        "tutorial: jac=True (fun returns the value and the gradient)",
        """
from scipy.optimize import minimize
""" + TUTORIAL_FUNCTIONS + """
def rosen_and_der(x):
    return rosen(x), rosen_der(x)

res = minimize(rosen_and_der, x0, method='BFGS', jac=True)
""",
    ),
    Example(
        "tutorial: Newton-CG with the full Hessian (hess)",
        """
from scipy.optimize import minimize
""" + TUTORIAL_FUNCTIONS + """
res = minimize(rosen, x0, method='Newton-CG', jac=rosen_der, hess=rosen_hess,
               options={'xtol': 1e-8, 'disp': True})
""",
        gtol=None,
        xtol=1e-8,
    ),
    Example(
        "tutorial: Newton-CG with Hessian-vector products (hessp)",
        """
from scipy.optimize import minimize
""" + TUTORIAL_FUNCTIONS + """
res = minimize(rosen, x0, method='Newton-CG', jac=rosen_der, hessp=rosen_hess_p,
               options={'xtol': 1e-8, 'disp': True})
""",
        gtol=None,
        xtol=1e-8,
    ),
    Example(
        "callback(intermediate_result), L-BFGS-B",
        """
from scipy.optimize import minimize, rosen, rosen_der
trace = []
def callback(intermediate_result):
    trace.append(intermediate_result.fun)
res = minimize(rosen, [1.3, 0.7, 0.8, 1.9, 1.2], method='L-BFGS-B', jac=rosen_der,
               callback=callback)
""",
        ftol_stop=True,
        count="trace",
    ),
    Example(
        "callback(xk), BFGS",
        """
from scipy.optimize import minimize, rosen, rosen_der
path = []
def callback(xk):
    path.append(xk)
res = minimize(rosen, [1.3, 0.7, 0.8, 1.9, 1.2], method='BFGS', jac=rosen_der,
               callback=callback)
""",
        count="path",
    ),
    Example(
        "callback raising StopIteration (status 99)",
        """
from scipy.optimize import minimize, rosen, rosen_der
def callback(intermediate_result):
    if intermediate_result.fun < 1e-2:
        raise StopIteration
res = minimize(rosen, [1.3, 0.7, 0.8, 1.9, 1.2], method='BFGS', jac=rosen_der,
               callback=callback)
""",
        stops_early=True,
    ),
    Example(
        "defaults: no method, no gradient (BFGS, finite differences)",
        """
from scipy.optimize import minimize, rosen
res = minimize(rosen, [1.3, 0.7, 0.8, 1.9, 1.2])
""",
        gtol=3e-5,  # gtol 1e-5 on a forward-difference gradient (error ~ 1e-8 * |H| ~ 2e-5)
    ),
    Example(
        "L-BFGS-B with tol",
        """
from scipy.optimize import minimize, rosen, rosen_der
res = minimize(rosen, [1.3, 0.7, 0.8, 1.9, 1.2], method='L-BFGS-B', jac=rosen_der, tol=1e-10)
""",
        ftol_stop=True,
    ),
]


def run(example: Example, library: str, quiet: bool = True) -> dict:
    """Execute the example with ``library`` ("scipy" or "nsolve"); return its namespace."""
    ns: dict = {}
    code = example.source(library)
    stream = io.StringIO() if quiet else sys.stdout
    with contextlib.redirect_stdout(stream):
        exec(compile(code, f"<{library}: {example.name}>", "exec"), ns)
    return ns


def check(example: Example, ref: dict, ours: dict) -> list[str]:
    """The agreement checks; returns the list of failures (empty when the results agree)."""
    r, o = ref["res"], ours["res"]
    problems = []
    if int(o.status) != int(r.status) or bool(o.success) != bool(r.success):
        problems.append(f"status {o.status}/{o.success} vs scipy {r.status}/{r.success}")
    if example.count is not None:
        for ns, who in ((ref, "scipy"), (ours, "nsolve")):
            if len(ns[example.count]) != ns["res"].nit:
                problems.append(f"{who}: {len(ns[example.count])} callback calls for {ns['res'].nit} iterations")
    if example.stops_early:
        if not (o.fun < 1e-2 and r.fun < 1e-2):
            problems.append(f"stopped at f = {o.fun:.3g} (scipy {r.fun:.3g}); expected < 1e-2")
        return problems
    for res, who in ((r, "scipy"), (o, "nsolve")):
        if not res.fun - example.f_star <= 1e-8:
            problems.append(f"{who}: f - f* = {res.fun - example.f_star:.2e} > 1e-8")
    tol = example.x_tolerance(np.size(r.x), o.fun, r.fun)
    err = float(np.max(np.abs(np.asarray(o.x) - np.asarray(r.x))))
    if not err <= tol:
        problems.append(f"|x - x_scipy|_inf = {err:.2e} > {tol:.2e}")
    return problems


def main() -> int:
    width = max(len(e.name) for e in EXAMPLES)
    print(f"{'example':<{width}}  {'status':>10}  {'nit':>9}  {'nfev':>9}  {'|x - x_scipy|':>13}  agree")
    failures = 0
    for ex in EXAMPLES:
        ref = run(ex, "scipy")
        ours = run(ex, "nsolve")
        bad = check(ex, ref, ours)
        failures += bool(bad)
        r, o = ref["res"], ours["res"]
        err = float(np.max(np.abs(np.asarray(o.x) - np.asarray(r.x))))
        print(f"{ex.name:<{width}}  {o.status:>4}/{r.status:<5}  {o.nit:>4}/{r.nit:<4}  {o.nfev:>4}/{r.nfev:<4}  "
              f"{err:>13.2e}  {'yes' if not bad else 'NO: ' + '; '.join(bad)}")
    print("\nstatus, nit, nfev: nsolve/scipy.  Each example ran unchanged but for "
          f"'{SCIPY_IMPORT}' -> '{NSOLVE_IMPORT}'.")
    # What nsolve does not do says what to use instead, e.g. the tutorial's first example:
    from nsolve.optimize import minimize, rosen

    try:
        minimize(rosen, [1.3, 0.7, 0.8, 1.9, 1.2], method="nelder-mead", options={"xatol": 1e-8})
    except NotImplementedError as exc:
        print(f"\nmethod='nelder-mead' -> NotImplementedError: {exc}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
