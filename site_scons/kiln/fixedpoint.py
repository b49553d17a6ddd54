"""The runtime's integer fixed-point arithmetic (firmware/runtime/include/kiln/quant.h and
the int8 LOGISTIC / TANH / SOFTMAX steps of portable/activation_s8.c and softmax_s8.c),
evaluated in Python at build time.

Why: a kernel whose output depends on one int8 value only can look it up in a table
computed here, instead of running the fixed-point series per element. The tables are
only as right as this module is bit-identical to the C, so every function mirrors its C
twin step by step, with int32 wrap-around where the C wraps (`w32`), and the tests
compare whole tables with tflite-micro on every input value.
"""

from __future__ import annotations

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def w32(x: int) -> int:
    """x wrapped to int32, as the target's two's-complement arithmetic does."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def sat_rdhm(a: int, b: int) -> int:
    """round(a * b / 2^31), ties away from zero; INT32_MIN * INT32_MIN saturates."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudged = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    return w32(nudged >> 31 if nudged >= 0 else -((-nudged) >> 31))


def rounding_div_pot(x: int, exponent: int) -> int:
    """x / 2^exponent rounded to nearest, ties away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def sat_shl(x: int, exponent: int) -> int:
    """x * 2^exponent saturated to int32."""
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return w32(x << exponent)


def requantize(x: int, mult: int, shift: int) -> int:
    """kiln_requantize: the doubling high multiply, then a rounding right shift."""
    left, right = max(shift, 0), max(-shift, 0)
    return rounding_div_pot(sat_rdhm(w32(x << left), mult), right)


def exp_on_interval_q0(a: int) -> int:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out (a Taylor series around -1/8)."""
    exp_minus_one_eighth = 1895147668
    one_third = 715827883
    x = w32(a + (1 << 28))
    x2 = sat_rdhm(x, x)
    x3 = sat_rdhm(x2, x)
    x4 = sat_rdhm(x2, x2)
    x4_over_4 = rounding_div_pot(x4, 2)
    poly = rounding_div_pot(w32(sat_rdhm(w32(x4_over_4 + x3), one_third) + x2), 1)
    return w32(exp_minus_one_eighth + sat_rdhm(exp_minus_one_eighth, w32(x + poly)))


#: round(exp(-2^k) * 2^31) for k = -2 .. 4.
_EXP_FACTORS = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)


def _exp_on_negative(a: int, frac_bits: int, factors: int) -> int:
    quarter = 1 << (frac_bits - 2)
    a_mod = w32((a & (quarter - 1)) - quarter)
    result = exp_on_interval_q0(sat_shl(a_mod, 31 - frac_bits))
    remainder = w32(a_mod - a)
    for k in range(factors):
        if remainder & (1 << (frac_bits - 2 + k)):
            result = sat_rdhm(result, _EXP_FACTORS[k])
    return INT32_MAX if a == 0 else result


def exp_on_negative_q5(a: int) -> int:
    """exp(a) for a <= 0 in Q5.26, result in Q0.31 (kiln_exp_on_negative_q5)."""
    return _exp_on_negative(a, 26, 7)


def exp_on_negative_q4(a: int) -> int:
    """exp(a) for a <= 0 in Q4.27, result in Q0.31 (activation_s8.c)."""
    return _exp_on_negative(a, 27, 6)


def _half_denominator(a: int) -> int:
    s = a + INT32_MAX
    return (s + (1 if s >= 0 else -1)) // 2 if s >= 0 else -((-s + 1) // 2)


def _newton_two_over_one_plus(a: int) -> int:
    """2 / (1 + a) in Q2.29 for a in Q0.31: three Newton-Raphson steps from 48/17 - 32/17 d."""
    one_q2 = 1 << 29
    half_den = _half_denominator(a)
    x = w32(1515870810 + sat_rdhm(half_den, -1010580540))
    for _ in range(3):
        hd_x = sat_rdhm(half_den, x)
        corr = sat_rdhm(x, w32(one_q2 - hd_x))
        x = w32(x + sat_shl(corr, 2))
    return x


def one_over_one_plus_x_q0(a: int) -> int:
    """1 / (1 + a) for a in [0, 1) in Q0.31 (kiln_one_over_one_plus_x_q0)."""
    return sat_shl(_newton_two_over_one_plus(a), 1)


def one_minus_x_over_one_plus_x_q0(a: int) -> int:
    """(1 - a) / (1 + a) for a in [0, 1] in Q0.31 (activation_s8.c)."""
    return sat_shl(w32(_newton_two_over_one_plus(a) - (1 << 29)), 2)


def _sat_s8(v: int) -> int:
    return max(-128, min(127, v))


def logistic_s8(q: int, in_zp: int, mult: int, left_shift: int, radius: int) -> int:
    """kiln_logistic_s8 of one int8 value."""
    x = q - in_zp
    if x <= -radius:
        return -128
    if x >= radius:
        return 127
    a = requantize(x, mult, left_shift)
    if a == 0:
        r = 1 << 30
    else:
        pos = one_over_one_plus_x_q0(exp_on_negative_q4(-a if a > 0 else a))
        r = pos if a > 0 else INT32_MAX - pos
    return _sat_s8(rounding_div_pot(r, 23) - 128)


def tanh_s8(q: int, in_zp: int, mult: int, left_shift: int, radius: int) -> int:
    """kiln_tanh_s8 of one int8 value."""
    x = q - in_zp
    if x <= -radius:
        return -128
    if x >= radius:
        return 127
    a = requantize(x, mult, left_shift)
    r = 0
    if a != 0:
        t = one_minus_x_over_one_plus_x_q0(exp_on_negative_q5(a if a < 0 else w32(-a)))
        r = -t if a < 0 else t
    return _sat_s8(rounding_div_pot(r, 24))


def softmax_exp_q0(diff: int, input_multiplier: int, input_left_shift: int, diff_min: int) -> int:
    """exp(beta * scale * diff) in Q0.31 for diff = q - max(q) in [-255, 0], as
    kiln_softmax_s8 computes it; 0 where diff < diff_min (such entries neither enter
    the sum nor rise above the lowest output)."""
    if diff < diff_min:
        return 0
    return exp_on_negative_q5(sat_rdhm(w32(diff << input_left_shift), input_multiplier))


def relu_s8(q: int, in_zp: int, out_zp: int, mult: int, shift: int, act_min: int,
            act_max: int) -> int:
    """kiln_relu_s8 of one int8 value: requantized to the output, then clamped."""
    return max(act_min, min(act_max, out_zp + requantize(q - in_zp, mult, shift)))


def leaky_relu_s8(q: int, in_zp: int, out_zp: int, id_mult: int, id_shift: int,
                  alpha_mult: int, alpha_shift: int) -> int:
    """kiln_leaky_relu_s8 of one int8 value: the identity or alpha branch by its sign."""
    x = q - in_zp
    v = requantize(x, id_mult, id_shift) if x >= 0 else requantize(x, alpha_mult, alpha_shift)
    return _sat_s8(out_zp + v)


def _tdiv(a: int, b: int) -> int:
    """C's integer division: the quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _i16(v: int) -> int:
    """v wrapped to int16, as the C's (int16_t) casts do."""
    return ((v + (1 << 15)) & 0xFFFF) - (1 << 15)


def _srdhm16(a: int, b: int) -> int:
    """round(a * b / 2^15), ties away from zero; -1 * -1 saturates (srdhm16 in the C)."""
    if a == b == -32768:
        return 32767
    ab = a * b
    return _i16(_tdiv(ab + ((1 << 14) if ab >= 0 else 1 - (1 << 14)), 1 << 15))


def _sdhm16(a: int, b: int) -> int:
    """a * b / 2^15 truncated toward zero; -1 * -1 saturates (sdhm16 in the C)."""
    if a == b == -32768:
        return 32767
    return _i16(_tdiv(a * b, 1 << 15))


def _sat_shl16(v: int, amount: int) -> int:
    return max(-32768, min(32767, v << amount))


def _rounding_div_pot16(x: int, exponent: int) -> int:
    """The reference's int16 rounding shift: from exponent 16 on its mask is all ones."""
    if exponent >= 16:
        return 1 if x >= 0 else -1
    return rounding_div_pot(x, exponent)


def hard_swish_s8(q: int, in_zp: int, out_zp: int, out_mult: int, out_exp: int,
                  relu_mult: int, relu_exp: int) -> int:
    """kiln_hard_swish_s8 of one int8 value (16-bit fixed point, step by step as the C)."""
    hires = (q - in_zp) * 128
    pre_out = _srdhm16(hires, out_mult)
    relu = hires
    if relu_exp > 0:
        relu = _sat_shl16(relu, relu_exp - 1)
    relu = _srdhm16(relu, relu_mult)
    if relu_exp > 0:
        relu = _sat_shl16(relu, 1)
    elif relu_exp < 0:
        relu = _rounding_div_pot16(relu, -relu_exp)
    relu = (relu + (1 << 15)) >> 1
    return _sat_s8(_rounding_div_pot16(_sdhm16(relu, pre_out), -out_exp) + out_zp)


def inv_sqrt_multiplier(v: int) -> tuple[int, int]:
    """kiln_inv_sqrt_multiplier (TFLite's GetInvSqrtQuantizedMultiplierExp): 1 / sqrt(v)
    as a multiplier and shift, by five Newton steps in Q3.28."""
    if v <= 1:
        return INT32_MAX, 0
    three_halves, half_sqrt2 = (1 << 28) + (1 << 27), 1518500250
    s = 11
    while v >= 1 << 29:
        v //= 4
        s += 1
    pairs = (32 - v.bit_length() - 1) // 2 - 1
    s -= pairs
    v <<= 2 * pairs
    half_in = rounding_div_pot(v >> 1, 1)
    x = 1 << 28
    for _ in range(5):
        x3 = sat_shl(sat_rdhm(sat_rdhm(x, x), x), 6)
        x = sat_shl(w32(sat_rdhm(three_halves, x) - sat_rdhm(half_in, x3)), 3)
    x = sat_rdhm(x, half_sqrt2)
    if s < 0:
        x, s = w32(x << -s), 0
    return x, -s


def rsqrt_s8(q: int, in_zp: int, out_zp: int, mult: int, shift: int) -> int:
    """kiln_rsqrt_s8 on one input: the largest output for inputs at or below the zero point."""
    v = q - in_zp
    if v <= 0:
        return 127
    m, s = inv_sqrt_multiplier(v)
    data = requantize(1, m, s + 20)
    return _sat_s8(requantize(data, mult, shift - 20) + out_zp)
