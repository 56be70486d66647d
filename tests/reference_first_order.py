r"""Independent NumPy reference implementations of the first-order update rules.

Written directly from the published algorithm boxes (torch.optim's documented
pseudo-code, PyTorch 2.x; the Adam, AdaDelta, NAdam, RAdam, AMSGrad and
decoupled-weight-decay papers), vectorised, one class per optimizer, each holding its
own state.  They deliberately do not share code or code shape with
``nsolve._kernels.first_order`` (no element loops, explicit bias-corrected
:math:`\hat m, \hat v`, products kept as lists, ...), so agreement to rounding is evidence
that the kernels implement the formulas, not that two copies of one code agree.

Usage: ``opt = Adam(x0, lr=...)``; ``x = opt.step(g)`` applies one step with the gradient
``g`` (evaluated by the caller at the current ``opt.params``) and returns a copy of the new
parameters.
"""

from __future__ import annotations

import math

import numpy as np


class _Reference:
    """Common bookkeeping: the parameters and the 1-based step counter."""

    def __init__(self, params):
        self.params = np.array(params, dtype=np.float64, copy=True)
        self.t = 0

    def _grad(self, grad, weight_decay):
        """The gradient with the coupled L2 term added (torch: ``g <- g + lambda theta``)."""
        g = np.array(grad, dtype=np.float64, copy=True)
        if weight_decay != 0:
            g = g + weight_decay * self.params
        return g

    def step(self, grad):  # pragma: no cover - interface
        raise NotImplementedError


# ------------------------------------------------------------------------------------------
# SGD family
# ------------------------------------------------------------------------------------------


class SGD(_Reference):
    """torch ``SGD``: optional momentum buffer with dampening and Nesterov."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.b = None  # torch's momentum_buffer starts as None

    def step(self, grad):
        self.t += 1
        g = self._grad(grad, self.weight_decay)
        if self.momentum != 0:
            if self.b is None:  # t == 1
                self.b = g.copy()
            else:
                self.b = self.momentum * self.b + (1 - self.dampening) * g
            g = g + self.momentum * self.b if self.nesterov else self.b
        self.params = self.params - self.lr * g
        return self.params.copy()


class HeavyBall(_Reference):
    """Polyak / Sutskever velocity form: ``v = mu v - lr g``; ``x = x + v`` (``v_0 = 0``)."""

    def __init__(self, params, lr=1e-3, momentum=0.9, weight_decay=0.0):
        super().__init__(params)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.v = np.zeros_like(self.params)

    def lookahead(self):
        """The point where Sutskever's Nesterov method evaluates the gradient."""
        return self.params + self.momentum * self.v

    def step(self, grad):
        self.t += 1
        g = self._grad(grad, self.weight_decay)
        self.v = self.momentum * self.v - self.lr * g
        self.params = self.params + self.v
        return self.params.copy()


class SGDW(_Reference):
    """Loshchilov & Hutter (2019), Algorithm 1 (SGD with momentum and decoupled decay).

    Written as in the paper, ``theta_t = theta_{t-1} - step - eta_t lambda theta_{t-1}``, with
    torch's buffer convention for the momentum and torch's scaling ``eta_t lambda -> lr
    lambda`` of the decay.
    """

    def __init__(self, params, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=1e-2, nesterov=False):
        super().__init__(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.b = None

    def step(self, grad):
        self.t += 1
        g = np.array(grad, dtype=np.float64)
        d = g
        if self.momentum != 0:
            self.b = g.copy() if self.b is None else self.momentum * self.b + (1 - self.dampening) * g
            d = g + self.momentum * self.b if self.nesterov else self.b
        previous = self.params
        self.params = previous - self.lr * d - self.lr * self.weight_decay * previous
        return self.params.copy()


# ------------------------------------------------------------------------------------------
# AdaGrad, RMSprop, AdaDelta
# ------------------------------------------------------------------------------------------


class Adagrad(_Reference):
    """torch ``Adagrad``: ``lr / (1 + (t-1) lr_decay)``, ``eps`` outside the root."""

    def __init__(
        self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10
    ):
        super().__init__(params)
        self.lr, self.lr_decay, self.weight_decay, self.eps = lr, lr_decay, weight_decay, eps
        self.state_sum = np.full_like(self.params, initial_accumulator_value)

    def step(self, grad):
        self.t += 1
        decayed_lr = self.lr / (1 + (self.t - 1) * self.lr_decay)
        g = self._grad(grad, self.weight_decay)
        self.state_sum = self.state_sum + g**2
        self.params = self.params - decayed_lr * g / (np.sqrt(self.state_sum) + self.eps)
        return self.params.copy()


class RMSprop(_Reference):
    """torch ``RMSprop``: ``eps`` outside the root; optional centering and momentum."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params)
        self.lr, self.alpha, self.eps = lr, alpha, eps
        self.weight_decay, self.momentum, self.centered = weight_decay, momentum, centered
        self.square_avg = np.zeros_like(self.params)
        self.grad_avg = np.zeros_like(self.params)
        self.b = np.zeros_like(self.params)

    def step(self, grad):
        self.t += 1
        g = self._grad(grad, self.weight_decay)
        self.square_avg = self.alpha * self.square_avg + (1 - self.alpha) * g**2
        v_tilde = self.square_avg
        if self.centered:
            self.grad_avg = self.alpha * self.grad_avg + (1 - self.alpha) * g
            v_tilde = v_tilde - self.grad_avg**2
        scaled = g / (np.sqrt(v_tilde) + self.eps)
        if self.momentum > 0:
            self.b = self.momentum * self.b + scaled
            self.params = self.params - self.lr * self.b
        else:
            self.params = self.params - self.lr * scaled
        return self.params.copy()


class Adadelta(_Reference):
    """Zeiler (2012), Algorithm 1, with torch's ``lr`` factor and ``eps`` in both roots."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(params)
        self.lr, self.rho, self.eps, self.weight_decay = lr, rho, eps, weight_decay
        self.Eg2 = np.zeros_like(self.params)  # E[g^2]
        self.Edx2 = np.zeros_like(self.params)  # E[dx^2]

    def step(self, grad):
        self.t += 1
        g = self._grad(grad, self.weight_decay)
        self.Eg2 = self.rho * self.Eg2 + (1 - self.rho) * g**2
        rms_dx = np.sqrt(self.Edx2 + self.eps)
        rms_g = np.sqrt(self.Eg2 + self.eps)
        delta = rms_dx / rms_g * g
        self.Edx2 = self.rho * self.Edx2 + (1 - self.rho) * delta**2
        self.params = self.params - self.lr * delta
        return self.params.copy()


# ------------------------------------------------------------------------------------------
# Adam family
# ------------------------------------------------------------------------------------------


class Adam(_Reference):
    """torch ``Adam`` / ``AdamW`` (``decoupled=True``), optionally AMSGrad.

    ``amsgrad_max``: ``"raw"`` keeps the maximum of the raw second moment and bias-corrects
    it afterwards (what torch's code does); ``"corrected"`` keeps the maximum of the
    bias-corrected :math:`\\hat v` (torch's documented pseudo-code, and optax).
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        amsgrad=False,
        decoupled=False,
        amsgrad_max="raw",
    ):
        super().__init__(params)
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.weight_decay, self.amsgrad, self.decoupled = weight_decay, amsgrad, decoupled
        if amsgrad_max not in ("raw", "corrected"):
            raise ValueError(amsgrad_max)
        self.amsgrad_max = amsgrad_max
        self.m = np.zeros_like(self.params)
        self.v = np.zeros_like(self.params)
        self.v_max = np.zeros_like(self.params)

    def step(self, grad):
        self.t += 1
        t = self.t
        theta = self.params
        if self.decoupled:
            theta = theta - self.lr * self.weight_decay * theta
            g = np.array(grad, dtype=np.float64)
        else:
            g = self._grad(grad, self.weight_decay)
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        self.v = self.beta2 * self.v + (1 - self.beta2) * g**2
        m_hat = self.m / (1 - self.beta1**t)
        if not self.amsgrad:
            v_hat = self.v / (1 - self.beta2**t)
        elif self.amsgrad_max == "raw":
            self.v_max = np.maximum(self.v_max, self.v)
            v_hat = self.v_max / (1 - self.beta2**t)
        else:
            self.v_max = np.maximum(self.v_max, self.v / (1 - self.beta2**t))
            v_hat = self.v_max
        self.params = theta - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        return self.params.copy()


class AdamPaperLrT(_Reference):
    """Kingma & Ba (2015), end of Section 2: the "more efficient" ordering of Algorithm 1.

    ``lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)``; ``x -= lr_t * m / (sqrt(v) + eps_hat)``
    with the raw moments.  With ``eps_hat_matches_torch`` the constant is replaced by
    ``eps * sqrt(1 - beta2^t)``, which makes the rule identical to torch's Adam; with a
    constant ``eps_hat`` (the paper, and the book code of the project's source article
    002, where ``eps_hat = 1e-7``) it differs only through where eps sits.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps_hat=1e-8, eps_hat_matches_torch=False):
        super().__init__(params)
        self.lr, (self.beta1, self.beta2), self.eps_hat = lr, betas, eps_hat
        self.matches_torch = eps_hat_matches_torch
        self.m = np.zeros_like(self.params)
        self.v = np.zeros_like(self.params)

    def step(self, grad):
        self.t += 1
        t = self.t
        g = np.array(grad, dtype=np.float64)
        self.m = self.m + (1 - self.beta1) * (g - self.m)  # the book's form of the EMA
        self.v = self.v + (1 - self.beta2) * (g**2 - self.v)
        lr_t = self.lr * math.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        eps_hat = self.eps_hat * math.sqrt(1 - self.beta2**t) if self.matches_torch else self.eps_hat
        self.params = self.params - lr_t * self.m / (np.sqrt(self.v) + eps_hat)
        return self.params.copy()


class Adamax(_Reference):
    """torch ``Adamax`` (Kingma & Ba 2015, Algorithm 2, with ``eps`` inside the max)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params)
        self.lr, (self.beta1, self.beta2), self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.m = np.zeros_like(self.params)
        self.u = np.zeros_like(self.params)

    def step(self, grad):
        self.t += 1
        g = self._grad(grad, self.weight_decay)
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        self.u = np.max(np.stack([self.beta2 * self.u, np.abs(g) + self.eps]), axis=0)
        self.params = self.params - self.lr / (1 - self.beta1**self.t) * self.m / self.u
        return self.params.copy()


class NAdam(_Reference):
    """torch ``NAdam``: Dozat's Nesterov Adam with ``mu_t = beta1 (1 - 0.5 * 0.96^(t psi))``.

    The products :math:`\\prod_{i\\le t}\\mu_i` and :math:`\\prod_{i\\le t+1}\\mu_i` are
    recomputed from the stored schedule at every step (not carried as a running scalar).
    """

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        momentum_decay=4e-3,
        decoupled_weight_decay=False,
    ):
        super().__init__(params)
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.weight_decay, self.psi, self.decoupled = weight_decay, momentum_decay, decoupled_weight_decay
        self.m = np.zeros_like(self.params)
        self.v = np.zeros_like(self.params)
        self.mus: list[float] = []

    def mu(self, t):
        return self.beta1 * (1 - 0.5 * 0.96 ** (t * self.psi))

    @property
    def mu_product(self):
        return float(np.prod(self.mus)) if self.mus else 1.0

    def step(self, grad):
        self.t += 1
        t = self.t
        theta = self.params
        if self.decoupled:
            theta = theta - self.lr * self.weight_decay * theta
            g = np.array(grad, dtype=np.float64)
        else:
            g = self._grad(grad, self.weight_decay)
        self.mus.append(self.mu(t))
        prod_t = np.prod(self.mus)
        prod_t1 = prod_t * self.mu(t + 1)
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        self.v = self.beta2 * self.v + (1 - self.beta2) * g**2
        m_hat = self.mu(t + 1) * self.m / (1 - prod_t1) + (1 - self.mu(t)) * g / (1 - prod_t)
        v_hat = self.v / (1 - self.beta2**t)
        self.params = theta - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        return self.params.copy()


class RAdam(_Reference):
    """torch ``RAdam`` (Liu et al. 2020, Algorithm 2; ``eps`` added to the raw ``sqrt(v_t)``)."""

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False
    ):
        super().__init__(params)
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.weight_decay, self.decoupled = weight_decay, decoupled_weight_decay
        self.m = np.zeros_like(self.params)
        self.v = np.zeros_like(self.params)
        self.rho_inf = 2 / (1 - self.beta2) - 1

    def rho(self, t):
        return self.rho_inf - 2 * t * self.beta2**t / (1 - self.beta2**t)

    def step(self, grad):
        self.t += 1
        t = self.t
        theta = self.params
        if self.decoupled:
            theta = theta - self.lr * self.weight_decay * theta
            g = np.array(grad, dtype=np.float64)
        else:
            g = self._grad(grad, self.weight_decay)
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        self.v = self.beta2 * self.v + (1 - self.beta2) * g**2
        m_hat = self.m / (1 - self.beta1**t)
        rho_t = self.rho(t)
        if rho_t > 5:
            l_t = math.sqrt(1 - self.beta2**t) / (np.sqrt(self.v) + self.eps)
            ri = self.rho_inf
            r_t = math.sqrt((rho_t - 4) * (rho_t - 2) * ri / ((ri - 4) * (ri - 2) * rho_t))
            self.params = theta - self.lr * m_hat * r_t * l_t
        else:
            self.params = theta - self.lr * m_hat
        return self.params.copy()
