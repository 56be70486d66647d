r"""Learning rate too small, right, too large, divergent (source article 001).

Least-squares linear regression :math:`f(w) = \frac{1}{2N}\|Xw - y\|^2` on 200 samples with
two mildly correlated features and an intercept (condition number of :math:`X^TX` about 2).
Gradient descent with a fixed step :math:`\gamma` converges iff :math:`\gamma < 2/L`,
:math:`L` the largest eigenvalue of :math:`X^T X / N`: the sweep runs
:math:`\gamma L = 0.05` (too small: slow), :math:`1` (right), :math:`1.95` (too large: every
step overshoots the minimum along the steepest direction, the error there shrinks only by
:math:`|1 - 1.95| = 0.95` per step) and :math:`2.1` (divergent: stopped by ``f_max`` with
status ``DIVERGED``, the best point returned).  The right panel takes the divergent rate and
reduces it by half every 10 epochs (the article's "reduce the learning rate by some factor
every few epochs", :class:`nsolve.schedules.StepDecay`), which rescues the run, next to
AdaGrad started at the same rate.

Run ``python examples/learning_rate_sweep.py``; it writes ``docs/img/learning_rate_sweep.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import nsolve
from nsolve.schedules import StepDecay

OUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "learning_rate_sweep.png"


def make_problem(n: int = 200, seed: int = 0):
    """The design matrix (with a column of ones), the targets, L and the least-squares optimum."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 2))
    X = np.column_stack([z[:, 0], 0.3 * z[:, 0] + 0.9 * z[:, 1], np.ones(n)])
    y = X @ [2.0, -1.0, 0.5] + 0.3 * rng.standard_normal(n)
    L = float(np.linalg.eigvalsh(X.T @ X / n)[-1])
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    return X, y, L, w_star


def main(maxiter: int = 200, out: Path | str | None = OUT, show: bool = False) -> dict:
    X, y, L, w_star = make_problem()
    n = X.shape[0]

    def f(w):
        r = X @ w - y
        return 0.5 * float(r @ r) / n

    def grad(w):
        return X.T @ (X @ w - y) / n

    f_star = f(w_star)
    w0 = np.zeros(3)
    f_max = 1e3 * f(w0)
    sweep = {}
    for scale, label in [(0.05, "too small"), (1.0, "right"), (1.95, "too large"), (2.1, "divergent")]:
        res = nsolve.minimize(f, grad, w0, method="gd", lr=scale / L, maxiter=maxiter, gtol=1e-10, f_max=f_max,
                              history=True)
        sweep[f"lr = {scale:g}/L ({label})"] = res
        print(f"lr = {scale:4.2f}/L {label:10s}: {res.nit:4d} steps, f - f* = {res.fun - f_star:.3e}, "
              f"{nsolve.Status(res.status).name}")
    rescue = {}
    for label, method, opts in [
        ("constant 2.1/L", "gd", {}),
        ("step decay x0.5 every 10 epochs", "gd", {"schedule": StepDecay(factor=0.5, every=10)}),
        ("AdaGrad", "adagrad", {}),
    ]:
        res = nsolve.minimize(f, grad, w0, method=method, lr=2.1 / L, maxiter=maxiter, gtol=1e-10, f_max=f_max,
                              history=True, **opts)
        rescue[label] = res
        print(f"2.1/L, {label:32s}: {res.nit:4d} steps, f - f* = {res.fun - f_star:.3e}, "
              f"{nsolve.Status(res.status).name}")
    if out is not None:
        _plot(sweep, rescue, f_star, Path(out), show)
    return {"sweep": sweep, "rescue": rescue, "f_star": f_star, "L": L}


def _plot(sweep, rescue, f_star, out: Path, show: bool) -> None:
    import matplotlib

    if not show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, runs, title in [(ax1, sweep, "fixed learning rates (gradient descent)"),
                            (ax2, rescue, "the divergent rate 2.1/L, rescued")]:
        for label, res in runs.items():
            h = res.history
            ax.semilogy(h["nit"], np.maximum(h["f"] - f_star, 1e-16), label=label)
        ax.set_xlabel("epoch (= iteration, full batch)")
        ax.set_ylabel("f - f*")
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    if show:
        plt.show()
    plt.close(fig)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(show="--show" in sys.argv)
