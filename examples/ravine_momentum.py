r"""Momentum in an elongated quadratic ravine (source article 000).

:math:`f(x, y) = \tfrac12 (a x^2 + c y^2)` with :math:`a = 0.1`, :math:`c = 2` (condition
number 20).  Gradient descent with the step :math:`1.9/c`, near its stability limit
:math:`2/c`, zigzags across the ravine (the :math:`y` error is multiplied by
:math:`1 - 1.9 = -0.9` per step) while creeping along it.  Heavy-ball momentum with the same
step (``"momentum"``, :math:`\mu = 0.5`) averages the alternating :math:`y` gradients away and
accumulates the consistent :math:`x` ones: the oscillation dies in a few steps and the run
reaches the minimum several times sooner.  Too much momentum (:math:`\mu = 0.9`) overshoots
and spirals.

Run ``python examples/ravine_momentum.py``; it writes ``docs/img/ravine_momentum.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import nsolve

OUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "ravine_momentum.png"
A, C = 0.1, 2.0
X0 = np.array([-9.0, 1.2])
LR = 1.9 / C
RUNS = {
    "gradient descent": ("gd", {"lr": LR}),
    "momentum, mu = 0.5": ("momentum", {"lr": LR, "momentum": 0.5}),
    "momentum, mu = 0.9": ("momentum", {"lr": LR, "momentum": 0.9}),
}


def f(z):
    return 0.5 * (A * z[0] ** 2 + C * z[1] ** 2)


def grad(z):
    return np.array([A * z[0], C * z[1]])


def run(method, maxiter, **options):
    """Minimize from X0; return the result and the iterates (X0 first)."""
    xs = [X0.copy()]
    res = nsolve.minimize(f, grad, X0, method=method, maxiter=maxiter, gtol=1e-8, history=True,
                          callback=lambda xk: xs.append(xk), **options)
    return res, np.array(xs)


def main(maxiter: int = 300, out: Path | str | None = OUT, show: bool = False) -> dict:
    results = {}
    for label, (method, options) in RUNS.items():
        res, xs = run(method, maxiter, **options)
        results[label] = {"result": res, "path": xs}
        print(f"{label:20s} iterations to |g| <= 1e-8: {res.nit:4d} ({res.message})")
    if out is not None:
        _plot(results, Path(out), show)
    return results


def _plot(results, out: Path, show: bool) -> None:
    import matplotlib

    if not show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
    xg, yg = np.meshgrid(np.linspace(-10, 3, 300), np.linspace(-1.6, 1.6, 200))
    ax1.contour(xg, yg, 0.5 * (A * xg**2 + C * yg**2), levels=np.geomspace(0.01, 6, 14), colors="0.75",
                linewidths=0.7)
    colors = ["k", "tab:red", "tab:blue"]
    for (label, r), col in zip(results.items(), colors, strict=True):
        path = r["path"][:40]
        ax1.plot(path[:, 0], path[:, 1], "-o", ms=2.5, lw=1, color=col, label=label)
        h = r["result"].history
        ax2.semilogy(h["nit"], h["f"], color=col, label=label)
    ax1.plot(0, 0, "k*", ms=10)
    ax1.set_xlabel("x")
    ax1.set_ylabel("y")
    ax1.set_title(f"ravine f = ({A:g} x² + {C:g} y²)/2, step {LR:g} = 1.9/c, first 40 steps")
    ax1.legend(loc="upper right", fontsize=8)
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("f")
    ax2.set_title("loss")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    if show:
        plt.show()
    plt.close(fig)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(show="--show" in sys.argv)
