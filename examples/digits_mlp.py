"""A two-layer neural network on scikit-learn's 8x8 digits, trained on mini-batches.

Reproduces the experiment of the source article 002 (hand-written SGD, Momentum, AdaGrad,
RMSProp and Adam training the same small network, loss curves side by side) with
``nsolve.minimize`` on a data-set objective: the network's ``batch_fg(w, idx)`` evaluates
the mean cross-entropy and its gradient on the rows ``idx`` of the data, which it reads in
place (only the batch rows are gathered).

Run ``python examples/digits_mlp.py``; it writes ``docs/img/digits_mlp.png``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import nsolve

OUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "digits_mlp.png"

#: The article's five optimizers with the learning rates used here (batch 32).
METHODS = {
    "sgd": {"lr": 0.1},
    "momentum": {"lr": 0.02, "momentum": 0.9},
    "adagrad": {"lr": 0.05},
    "rmsprop": {"lr": 1e-3},
    "adam": {"lr": 2e-3},
}


class TwoLayerNet:
    r"""Softmax classifier with one tanh hidden layer, as a data-set objective.

    .. math::

        h_i = \tanh(W_1^T x_i + b_1), \qquad z_i = W_2^T h_i + b_2, \qquad
        f(w, I) = \frac{1}{|I|}\sum_{i \in I} \Bigl(\log\sum_k e^{z_{ik}} - z_{i y_i}\Bigr)

    The parameters are one flat vector ``w = [W1 (p x H), b1 (H), W2 (H x K), b2 (K)]``.

    Parameters
    ----------
    X : (N, p) array
        Inputs; used in place when already float64 (no copy of the data set).
    y : (N,) int array
        Class labels in ``0..K-1``.
    hidden : int
        Hidden units :math:`H`.
    """

    def __init__(self, X, y, hidden: int = 64):
        self.X = np.asarray(X, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.int64)
        self.n_samples, self.p = self.X.shape
        self.K = int(self.y.max()) + 1
        self.H = int(hidden)
        self.n_params = self.p * self.H + self.H + self.H * self.K + self.K
        self._all = np.arange(self.n_samples)

    def unpack(self, w):
        """Views ``W1, b1, W2, b2`` into ``w``."""
        p, H, K = self.p, self.H, self.K
        i = 0
        W1 = w[i:i + p * H].reshape(p, H)
        i += p * H
        b1 = w[i:i + H]
        i += H
        W2 = w[i:i + H * K].reshape(H, K)
        i += H * K
        return W1, b1, W2, w[i:i + K]

    def init_params(self, seed: int = 0) -> np.ndarray:
        """Glorot-scaled normal weights, zero biases."""
        rng = np.random.default_rng(seed)
        w = np.zeros(self.n_params)
        W1, _, W2, _ = self.unpack(w)
        W1[:] = rng.standard_normal(W1.shape) * np.sqrt(2.0 / (self.p + self.H))
        W2[:] = rng.standard_normal(W2.shape) * np.sqrt(2.0 / (self.H + self.K))
        return w

    def _rows(self, idx):
        if idx.shape[0] == self.n_samples and np.array_equal(idx, self._all):
            return self.X, self.y  # the whole data set: no gather
        return self.X[idx], self.y[idx]

    def batch_fg(self, w, idx):
        """Mean cross-entropy on the samples ``idx`` and its gradient (backpropagation)."""
        Xb, yb = self._rows(np.asarray(idx))
        m = Xb.shape[0]
        W1, b1, W2, b2 = self.unpack(w)
        h = np.tanh(Xb @ W1 + b1)
        z = h @ W2 + b2
        z -= z.max(axis=1, keepdims=True)
        ez = np.exp(z)
        se = ez.sum(axis=1, keepdims=True)
        rows = np.arange(m)
        loss = float(np.mean(np.log(se[:, 0]) - z[rows, yb]))
        dz = ez / se
        dz[rows, yb] -= 1.0
        dz /= m
        grad = np.empty_like(w)
        gW1, gb1, gW2, gb2 = self.unpack(grad)
        gW2[:] = h.T @ dz
        gb2[:] = dz.sum(axis=0)
        dh = (dz @ W2.T) * (1.0 - h * h)
        gW1[:] = Xb.T @ dh
        gb1[:] = dh.sum(axis=0)
        return loss, grad

    def accuracy(self, w, X=None, y=None) -> float:
        X = self.X if X is None else X
        y = self.y if y is None else y
        W1, b1, W2, b2 = self.unpack(w)
        return float(np.mean(np.argmax(np.tanh(X @ W1 + b1) @ W2 + b2, axis=1) == y))


def load_digits_net(hidden: int = 64, seed: int = 0):
    """The digits (1797 x 64, pixels scaled to [0, 1]) split 80/20, the network and its start."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data / 16.0
    y = digits.target
    rng = np.random.default_rng(seed)
    perm = rng.permutation(X.shape[0])
    n_train = int(0.8 * X.shape[0])
    tr, te = perm[:n_train], perm[n_train:]
    net = TwoLayerNet(np.ascontiguousarray(X[tr]), y[tr], hidden=hidden)
    return net, net.init_params(seed), np.ascontiguousarray(X[te]), y[te]


def train(net, w0, method, epochs, batch_size=32, seed=0, **options):
    """Train with ``nsolve.minimize``; return the result and the per-step batch losses."""
    batch_losses = []

    def record(intermediate_result):
        batch_losses.append(intermediate_result.fun)

    res = nsolve.minimize(net.batch_fg, True, w0, method=method, n_samples=net.n_samples, batch_size=batch_size,
                          epochs=epochs, seed=seed, gtol=0.0, history=True, callback=record, **options)
    return res, np.array(batch_losses)


def one_blas_thread():
    """Pin BLAS to one thread when threadpoolctl is installed (batches of 32 rows are too
    small for threads to help; on a busy machine they only contend)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def main(epochs: int = 30, out: Path | str | None = OUT, show: bool = False) -> dict:
    """Train the network with the article's five optimizers and plot the loss curves."""
    with one_blas_thread():
        return _main(epochs, out, show)


def _main(epochs, out, show) -> dict:
    net, w0, X_test, y_test = load_digits_net()
    results = {}
    for method, options in METHODS.items():
        t = time.perf_counter()
        res, batch_losses = train(net, w0, method, epochs, **options)
        results[method] = {
            "epoch": res.history["epoch"],
            "loss": res.history["f"],
            "batch_losses": batch_losses,
            "final_loss": float(res.history["f"][-1]),
            "test_accuracy": net.accuracy(res.x, X_test, y_test),
            "seconds": time.perf_counter() - t,
        }
        print(f"{method:9s} {options}  loss after {epochs} epochs {results[method]['final_loss']:.4f}  "
              f"test accuracy {results[method]['test_accuracy']:.3f}  ({results[method]['seconds']:.2f} s)")
    if out is not None:
        _plot(results, net, epochs, Path(out), show)
    return results


def _plot(results, net, epochs, out: Path, show: bool) -> None:
    import matplotlib

    if not show:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for method, r in results.items():
        label = f"{method} (lr={METHODS[method]['lr']:g})"
        ax1.semilogy(r["epoch"], r["loss"], marker="o", ms=2.5, label=label)
        bl = r["batch_losses"]
        k = max(1, len(bl) // 200)
        smooth = np.convolve(bl, np.ones(k) / k, mode="valid")
        ax2.semilogy(np.arange(smooth.size) + k, smooth, lw=1, label=method)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss (full data set)")
    ax1.set_title(f"two-layer tanh network, {net.n_samples} digits, batch 32")
    ax1.legend()
    ax2.set_xlabel("mini-batch step")
    ax2.set_ylabel("mini-batch loss (moving average)")
    ax2.set_title("loss per iteration, as in the article")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    if show:
        plt.show()
    plt.close(fig)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(show="--show" in sys.argv)
