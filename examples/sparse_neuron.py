r"""A sigmoid neuron with a sparse input feature (source article 004).

One neuron :math:`\sigma(w x + b)` fitted by least squares,
:math:`f(w, b) = \frac{1}{2N}\sum_i (\sigma(w x_i + b) - y_i)^2`, on 100 random points whose
input is zero for 80% of them.  The gradient in :math:`w` only collects the few
non-zero inputs, :math:`\partial f/\partial w = \frac1N\sum_i e_i x_i`, while every point
contributes to :math:`\partial f/\partial b`: gradient descent, momentum and Nesterov first
move almost only along :math:`b`.  AdaGrad, RMSProp and Adam divide each coordinate by its
own gradient history, so :math:`w` gets a larger effective rate and the paths head for the
minimum directly.  All six start from :math:`(w, b) = (-4, 2)` with full-batch gradients;
the figure shows their paths over the loss contours.

Run ``python examples/sparse_neuron.py``; it writes ``docs/img/sparse_neuron.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import nsolve

OUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "sparse_neuron.png"
START = np.array([-4.0, 2.0])

#: method -> (options, colour), the article's six optimizers and colours.
RUNS = {
    "gd": ({"lr": 10.0}, "k"),
    "momentum": ({"lr": 1.0, "momentum": 0.9}, "tab:red"),
    "nesterov": ({"lr": 1.0, "momentum": 0.9}, "tab:blue"),
    "adagrad": ({"lr": 1.0}, "tab:pink"),
    "rmsprop": ({"lr": 0.05}, "tab:green"),
    "adam": ({"lr": 0.1}, "tab:cyan"),
}


def make_data(n: int = 100, sparsity: float = 0.8, seed: int = 0):
    """``n`` random points (x, y), then x set to zero on a random ``sparsity`` fraction of them."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, n)
    y = 1.0 / (1.0 + np.exp(-(2.0 * x - 1.0)))
    x[rng.choice(n, int(round(sparsity * n)), replace=False)] = 0.0
    return x, y


def make_objective(x, y):
    """``fg(p) -> (f, grad)`` for ``p = (w, b)``, and a vectorised ``f(W, B)`` for contours."""

    def fg(p):
        s = 1.0 / (1.0 + np.exp(-(p[0] * x + p[1])))
        e = s - y
        d = e * s * (1.0 - s)
        return 0.5 * float(np.mean(e * e)), np.array([np.mean(d * x), np.mean(d)])

    def f_grid(W, B):
        s = 1.0 / (1.0 + np.exp(-(W[..., None] * x + B[..., None])))
        return 0.5 * np.mean((s - y) ** 2, axis=-1)

    return fg, f_grid


def main(maxiter: int = 400, out: Path | str | None = OUT, show: bool = False) -> dict:
    x, y = make_data()
    fg, f_grid = make_objective(x, y)
    print(f"{np.mean(x == 0):.0%} of the inputs are zero")
    paths = {}
    for method, (options, _) in RUNS.items():
        xs = [START.copy()]
        res = nsolve.minimize(fg, True, START, method=method, maxiter=maxiter, gtol=1e-6,
                              callback=lambda xk, xs=xs: xs.append(xk), **options)
        paths[method] = {"path": np.array(xs), "result": res}
        print(f"{method:9s} {options}: f = {res.fun:.6f} at (w, b) = ({res.x[0]:.3f}, {res.x[1]:.3f}) "
              f"after {res.nit} steps")
    if out is not None:
        _plot(paths, f_grid, Path(out), show)
    return paths


def _plot(paths, f_grid, out: Path, show: bool) -> None:
    import matplotlib

    if not show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    W, B = np.meshgrid(np.linspace(-6, 6, 240), np.linspace(-3, 4, 160))
    F = f_grid(W, B)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.5, 1]})
    cs = ax1.contourf(W, B, F, levels=25, cmap="Greys_r", alpha=0.55)
    fig.colorbar(cs, ax=ax1, label="f(w, b)")
    for method, r in paths.items():
        col = RUNS[method][1]
        p = r["path"]
        ax1.plot(p[:, 0], p[:, 1], "-", lw=1.6, color=col, label=method)
        ax1.plot(p[-1, 0], p[-1, 1], "o", ms=4, color=col)
        ax2.semilogy(np.arange(len(p)), [_f(f_grid, q) for q in p], color=col, label=method)
    ax1.plot(*START, "ks", ms=6)
    ax1.plot(*paths["adagrad"]["result"].x, "w*", ms=12, mec="k")
    ax1.set_xlabel("w (input sparse: 80% zeros)")
    ax1.set_ylabel("b")
    ax1.set_title("paths over the loss contours (full batch)")
    ax1.legend(fontsize=8, loc="lower right")
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("f(w, b)")
    ax2.set_title("loss")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    if show:
        plt.show()
    plt.close(fig)
    print(f"wrote {out}")


def _f(f_grid, p):
    return float(f_grid(np.array(p[0]), np.array(p[1])))


if __name__ == "__main__":
    main(show="--show" in sys.argv)
