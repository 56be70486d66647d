"""Gradient descent and the kernel-based first-order methods, compiled (full batch).

The kernel-based methods (SGD and its momentum variants, AdaGrad, RMSprop, AdaDelta, the
Adam family) share one compiled step: the method's own ``update(state, opts, lr, t)``
function from ``nsolve/methods/first_order/`` -- the very function the interpreted path
calls, compiled here -- applied to a state and an options record that carry the attribute
names it reads, then one evaluation at the new point.  Only NAdam, whose update assigns the
returned :math:`\\prod_i \\mu_i` to its state, is spelled out (same kernel, same arguments).

Learning rates: a constant rate is ``fo[FO_LR]``; a schedule arrives as the array of
``lr * s(t)`` for ``t = 0 .. maxiter - 1``, computed by the schedule object itself in
Python (so every rate equals the interpreted one), in the entry point's ``extra`` row.

Layout: ``fo[FO_METHOD:]`` = lr, beta1, beta2, eps, weight_decay, lr_decay, alpha,
momentum, rho, dampening, momentum_decay, initial_accumulator_value; ``io[IO_METHOD:]`` =
rule, centered, nesterov, decoupled_weight_decay, scheduled.
"""

from __future__ import annotations

from collections import namedtuple

from numba.extending import register_jitable

from nsolve._jit import KERNEL_OPTIONS
from nsolve._kernels.first_order import nadam_step_inplace
from nsolve._kernels.vector import neg_into
from nsolve._status import CONTINUE
from nsolve.compiled._cache import inner
from nsolve.compiled._evaluator import fg
from nsolve.compiled._layout import FO_METHOD, IO_METHOD
from nsolve.compiled._quasi_newton import line_search
from nsolve.compiled._shared import SHARED  # noqa: F401 - makes the shared rules callable here
from nsolve.compiled._state import F, T, accept_step, g_new_of, g_of, x_new_of, x_of
from nsolve.methods._quasi_newton import search_outcome
from nsolve.methods.first_order import adam as _adam_family
from nsolve.methods.first_order import adaptive as _adaptive
from nsolve.methods.first_order import sgd as _sgd_family

# ---- option slots
FO_LR = FO_METHOD
FO_BETA1 = FO_METHOD + 1
FO_BETA2 = FO_METHOD + 2
FO_EPS = FO_METHOD + 3
FO_WEIGHT_DECAY = FO_METHOD + 4
FO_LR_DECAY = FO_METHOD + 5
FO_ALPHA = FO_METHOD + 6
FO_MOMENTUM = FO_METHOD + 7
FO_RHO = FO_METHOD + 8
FO_DAMPENING = FO_METHOD + 9
FO_MOMENTUM_DECAY = FO_METHOD + 10
FO_INITIAL_ACCUMULATOR = FO_METHOD + 11
FO_SLOTS = FO_METHOD + 12
IO_RULE = IO_METHOD
IO_CENTERED = IO_METHOD + 1
IO_NESTEROV = IO_METHOD + 2
IO_DECOUPLED = IO_METHOD + 3
IO_SCHEDULED = IO_METHOD + 4
IO_SLOTS = IO_METHOD + 5

#: Option name -> float slot / bool slot (the Python side fills them from the options).
FLOAT_OPTIONS = {
    "lr": FO_LR, "eps": FO_EPS, "weight_decay": FO_WEIGHT_DECAY, "lr_decay": FO_LR_DECAY, "alpha": FO_ALPHA,
    "momentum": FO_MOMENTUM, "rho": FO_RHO, "dampening": FO_DAMPENING, "momentum_decay": FO_MOMENTUM_DECAY,
    "initial_accumulator_value": FO_INITIAL_ACCUMULATOR,
}
BOOL_OPTIONS = {"centered": IO_CENTERED, "nesterov": IO_NESTEROV, "decoupled_weight_decay": IO_DECOUPLED}

#: The kernel-based rules: name -> (id, the interpreted update function, or None for NAdam).
RULES = {
    "sgd": (0, _sgd_family._sgd),
    "momentum": (1, _sgd_family._momentum),
    "nesterov": (2, _sgd_family._nesterov),
    "sgdw": (3, _sgd_family._sgdw),
    "adagrad": (4, _adaptive._adagrad),
    "rmsprop": (5, _adaptive._rmsprop),
    "adadelta": (6, _adaptive._adadelta),
    "adam": (7, _adam_family._adam),
    "amsgrad": (8, _adam_family._amsgrad),
    "adamw": (9, _adam_family._adamw),
    "adamax": (10, _adam_family._adamax),
    "nadam": (11, None),
    "radam": (12, _adam_family._radam),
}
_JIT_OPTIONS = {k: v for k, v in KERNEL_OPTIONS.items() if k not in ("cache", "nogil")}
for _id, _update in RULES.values():
    if _update is not None:
        register_jitable(**_JIT_OPTIONS)(_update)

_sgd = _sgd_family._sgd
_momentum = _sgd_family._momentum
_nesterov = _sgd_family._nesterov
_sgdw = _sgd_family._sgdw
_adagrad = _adaptive._adagrad
_rmsprop = _adaptive._rmsprop
_adadelta = _adaptive._adadelta
_adam = _adam_family._adam
_amsgrad = _adam_family._amsgrad
_adamw = _adam_family._adamw
_adamax = _adam_family._adamax
_radam = _adam_family._radam

#: What the update functions read: ``state.<buffer>`` and ``opts.<hyperparameter>``.
Buffers = namedtuple("Buffers", ["x", "g", "m", "v", "vmax", "s", "gavg", "buf", "u"])
Hyper = namedtuple(
    "Hyper",
    ["betas", "eps", "weight_decay", "lr_decay", "alpha", "momentum", "centered", "rho", "dampening", "nesterov",
     "decoupled_weight_decay", "momentum_decay"],
)


@inner(inline=True)
def _hyper(fo, io):
    return Hyper((fo[FO_BETA1], fo[FO_BETA2]), fo[FO_EPS], fo[FO_WEIGHT_DECAY], fo[FO_LR_DECAY], fo[FO_ALPHA],
                 fo[FO_MOMENTUM], io[IO_CENTERED] != 0, fo[FO_RHO], fo[FO_DAMPENING], io[IO_NESTEROV] != 0,
                 io[IO_DECOUPLED] != 0, fo[FO_MOMENTUM_DECAY])


@inner(inline=True)
def learning_rate(t, fo, io, lrs):
    """``opts.lr`` or ``opts.lr * schedule(t)`` (the precomputed array) for step ``t + 1``."""
    if io[IO_SCHEDULED] != 0:
        return lrs[t]
    return fo[FO_LR]


# ------------------------------------------------------------------ kernel-based rules
# mem = (B (7, n): m, v, vmax, s, gavg, buf, u; lrs; mu = [prod of NAdam's mu_i])
@inner
def first_order_sizes(n, io):
    return 7 * n + 1, 1


@inner
def first_order_memory(n, io, wf, wi, lrs):
    return wf[0 : 7 * n].reshape((7, n)), lrs, wf[7 * n : 7 * n + 1]


@inner
def first_order_init(ev, it, mem, fo, io):
    B, lrs, mu = mem
    B[:, :] = 0.0
    B[3, :] = fo[FO_INITIAL_ACCUMULATOR]
    mu[0] = 1.0
    it.ic[T] = 0
    return CONTINUE


@inner(inline=True)
def first_order_step(ev, it, mem, fo, io):
    """``make_step(update)`` of ``methods/first_order/_common.py``: update in place, then evaluate."""
    B, lrs, mu = mem
    t = it.ic[T] + 1
    lr = learning_rate(it.ic[T], fo, io, lrs)
    x = x_of(it)
    g = g_of(it)
    state = Buffers(x, g, B[0], B[1], B[2], B[3], B[4], B[5], B[6])
    o = _hyper(fo, io)
    rule = io[IO_RULE]
    if rule == 0:
        _sgd(state, o, lr, t)
    elif rule == 1:
        _momentum(state, o, lr, t)
    elif rule == 2:
        _nesterov(state, o, lr, t)
    elif rule == 3:
        _sgdw(state, o, lr, t)
    elif rule == 4:
        _adagrad(state, o, lr, t)
    elif rule == 5:
        _rmsprop(state, o, lr, t)
    elif rule == 6:
        _adadelta(state, o, lr, t)
    elif rule == 7:
        _adam(state, o, lr, t)
    elif rule == 8:
        _amsgrad(state, o, lr, t)
    elif rule == 9:
        _adamw(state, o, lr, t)
    elif rule == 10:
        _adamax(state, o, lr, t)
    elif rule == 11:
        mu[0] = nadam_step_inplace(x, g, B[0], B[1], mu[0], t, lr, fo[FO_BETA1], fo[FO_BETA2], fo[FO_EPS],
                                   fo[FO_WEIGHT_DECAY], fo[FO_MOMENTUM_DECAY], io[IO_DECOUPLED] != 0)
    else:
        _radam(state, o, lr, t)
    it.ic[T] = t
    it.sc[F] = fg(ev, x, g)
    return CONTINUE, lr, 0.0, 0.0


# ------------------------------------------------------------------ gradient descent
@inner
def gd_sizes(n, io):
    return 0, 1


@inner
def gd_memory(n, io, wf, wi, lrs):
    return lrs


@inner
def gd_init(ev, it, mem, fo, io):
    it.ic[T] = 0
    return CONTINUE


@inner(inline=True)
def gd_step(ev, it, mem, fo, io):
    """``methods/first_order/gd.py``: a search from the learning rate along :math:`-g`."""
    alpha0 = learning_rate(it.ic[T], fo, io, mem)
    neg_into(it.d, g_of(it))
    alpha, f_new, ls_status, _ = line_search(ev, it, alpha0, fo, io, x_new_of(it), g_new_of(it))
    outcome = search_outcome(ls_status, True, False)
    if outcome != CONTINUE:
        return outcome, alpha, 0.0, 0.0
    it.ic[T] += 1
    return accept_step(it, f_new, alpha)
