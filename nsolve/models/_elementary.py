r"""Vectorisable ``exp`` and ``log1p`` for the logistic kernels.

The fused logistic kernels spend most of their time on transcendental functions when
``X`` has few columns: glibc's scalar ``exp`` and ``log1p`` cost about 4 and 13 ns per
call, while reading a 20-column row from memory costs about 3 ns.  LLVM only vectorises
calls to ``exp``/``log1p`` with a vector math library, which Numba's stock build does not
use, so this module writes both functions in plain arithmetic: a loop that calls them
over a block of rows compiles to SIMD code.  Only the arguments the kernels need are
covered, which keeps both functions branch-free:

* :func:`exp_nonpos` for :math:`x \le 0` (every exponential in the logistic and softmax
  losses is taken of a non-positive number after the usual sign / max shift);
* :func:`log1p_unit` for :math:`0 \le e \le 1` (the binary loss is
  :math:`\max(-m, 0) + \log(1 + e^{-|m|})`).

Both are accurate to about one unit in the last place: ``tests/test_elementary.py`` compares
them with NumPy on about a million points each, including subnormal results and the ends of
their domains (measured: at most 1 ulp for ``exp``, 2 ulp for ``log1p``).

The one fast-math flag is ``contract``: LLVM may fuse a multiply and the add that follows it
into one FMA instruction (one rounding instead of two).  Both functions are polynomial
evaluations, so this halves their floating-point instructions; measured in the fused binary
pass over a 10^6 x 20 ``X`` on one core, 15.1 ms before and 13.3 ms after (the loss terms of a
block of rows, 3.5 ns per row before and 2.2 ns after).  It changes no result by more than the
rounding the accuracy bound above already covers (the same tests, the same maximum errors).
No other liberty (``reassoc``, ``nnan``, ``afn``, ...) is taken.

Method
------
``exp``: Cody-Waite reduction :math:`x = k \ln 2 + r`, :math:`|r| \le \tfrac12 \ln 2`,
with :math:`k` rounded to nearest by adding and subtracting :math:`1.5 \cdot 2^{52}` and
:math:`\ln 2` split into a 40-bit head (so :math:`k \ln 2_{hi}` is exact) and a tail; the
Taylor polynomial of degree 13 (truncation error below :math:`6 \cdot 10^{-18}` relative);
the scaling :math:`2^k = 2^{k_1} 2^{k - k_1}`, :math:`k_1 = \lfloor k/2 \rfloor`, builds
each power of two from its exponent bits, so results in the subnormal range are rounded
once and :math:`x < -745.2` gives 0.

``log1p``: for :math:`e \le 1/2`, :math:`\log(1 + e) = 2 \operatorname{atanh}(s)` with
:math:`s = e / (2 + e) \le 1/5`; for :math:`e > 1/2`,
:math:`\log(1 + e) = \ln 2 + \log(1 + f)`, :math:`f = (e - 1)/2 \in (-1/4, 0]` (computed
exactly).  The odd series :math:`2\operatorname{atanh}(s) = 2s \sum_{j \ge 0} s^{2j}/(2j+1)`
is summed to :math:`j = 12` (truncation below :math:`10^{-18}` relative).
"""

from __future__ import annotations

import struct

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from nsolve._jit import kernel

#: The polynomial kernels: multiply-adds may be fused (FMA); see the module notes.
_poly = kernel(fastmath={"contract"})

_LOG2E = 1.4426950408889634
# ln 2 = _LN2_HI + _LN2_LO; _LN2_HI has 40 significant bits, so k * _LN2_HI is exact for
# |k| < 2**13.
_LN2_HI = 0.6931471805601177
_LN2_LO = -1.7239444525614835e-13
_LN2 = 0.6931471805599453
_ROUND = 6755399441055744.0  # 1.5 * 2**52: x + _ROUND - _ROUND rounds x to an integer
_EXP_MIN = -746.0  # exp(x) rounds to 0 below about -745.13

# 1 / j! for j = 13 .. 2 (Horner order)
_E13 = 1.0 / 6227020800.0
_E12 = 1.0 / 479001600.0
_E11 = 1.0 / 39916800.0
_E10 = 1.0 / 3628800.0
_E9 = 1.0 / 362880.0
_E8 = 1.0 / 40320.0
_E7 = 1.0 / 5040.0
_E6 = 1.0 / 720.0
_E5 = 1.0 / 120.0
_E4 = 1.0 / 24.0
_E3 = 1.0 / 6.0
_E2 = 0.5


@intrinsic
def _bits_to_float(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64 (a free register move)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


if numba.config.DISABLE_JIT:  # Numba's debugging switch: kernels run as Python, intrinsics cannot

    def _bits_to_float(bits):  # noqa: F811 - the interpreted twin of the intrinsic above
        return struct.unpack("<d", struct.pack("<q", int(bits)))[0]


@kernel
def pow2_int(k):
    """Return :math:`2^k` for an integer ``-1022 <= k <= 1023`` (built from its exponent bits)."""
    return _bits_to_float((k + 1023) << 52)


@_poly
def exp_nonpos(x):
    r"""Return :math:`e^x` for :math:`x \le 0` (any finite non-positive ``x``; about 1 ulp)."""
    x = max(x, _EXP_MIN)
    kf = (x * _LOG2E + _ROUND) - _ROUND
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    p = _E13
    p = p * r + _E12
    p = p * r + _E11
    p = p * r + _E10
    p = p * r + _E9
    p = p * r + _E8
    p = p * r + _E7
    p = p * r + _E6
    p = p * r + _E5
    p = p * r + _E4
    p = p * r + _E3
    p = p * r + _E2
    p = 1.0 + (r + (r * r) * p)
    k = int(kf)
    k1 = k >> 1
    return (p * pow2_int(k1)) * pow2_int(k - k1)


@_poly
def log1p_unit(e):
    r"""Return :math:`\log(1 + e)` for :math:`0 \le e \le 1` (about 1 ulp)."""
    big = e > 0.5
    f = (e - 1.0) * 0.5 if big else e
    s = f / (2.0 + f)
    u = s * s
    q = 1.0 / 25.0
    q = q * u + 1.0 / 23.0
    q = q * u + 1.0 / 21.0
    q = q * u + 1.0 / 19.0
    q = q * u + 1.0 / 17.0
    q = q * u + 1.0 / 15.0
    q = q * u + 1.0 / 13.0
    q = q * u + 1.0 / 11.0
    q = q * u + 1.0 / 9.0
    q = q * u + 1.0 / 7.0
    q = q * u + 1.0 / 5.0
    q = q * u + 1.0 / 3.0
    h = 2.0 * s
    r = h + h * (u * q)
    return _LN2 + r if big else r
