"""Build-time quantization arithmetic, following TFLite's int8 specification.

Every parameter a kernel needs is computed here, in double precision from the
float32 scales stored in the .tflite, exactly as TFLite's kernel preparation
does, so the generated code and the tflite-micro reference agree bit for bit.

Shift convention (as in kernels.h): a shift > 0 is a left shift, < 0 right.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from kiln.errors import InvalidScale

INT8_MIN, INT8_MAX = -128, 127
#: The fused activations the kernels apply (TANH and SIGN_BIT are refused).
FUSED_ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def quantize_multiplier(real: float, max_shift: int = 30) -> tuple[int, int]:
    """A real multiplier as (Q31 significand, power-of-two exponent).

    real == q * 2**(shift - 31) with q in [2**30, 2**31). Rounding is half away
    from zero; a significand that rounds up to 2**31 is halved and the
    exponent raised; exponents below -31 flush to zero. An exponent above
    `max_shift` (the kernels shift an int32 left by it) raises InvalidScale.
    """
    if real == 0.0:
        return 0, 0
    if real < 0 or not math.isfinite(real):
        raise InvalidScale(f"the scales give a requantization multiplier of {real}, not a finite "
                           "non-negative number")
    frac, shift = math.frexp(real)          # real = frac * 2**shift, frac in [0.5, 1)
    q = math.floor(frac * (1 << 31) + 0.5)  # std::round for positive values
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > max_shift:
        raise InvalidScale(f"the scales give a requantization multiplier of {real:g}, above the "
                           f"2^{max_shift} that int32 arithmetic can apply")
    return int(q), int(shift)


def quantize_multipliers(reals: np.ndarray) -> tuple[list[int], list[int]]:
    """quantize_multiplier over an array: (significands, shifts)."""
    pairs = [quantize_multiplier(float(r)) for r in np.asarray(reals, dtype=np.float64).ravel()]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def f32(x: float) -> float:
    """Round a Python float to float32 and back, as C float arithmetic would."""
    return float(np.float32(x))


def conv_multipliers(input_scale: float, weight_scales: np.ndarray, output_scale: float,
                     channels: int) -> tuple[list[int], list[int]]:
    """Per output channel (input_scale * weight_scale / output_scale) as Q31 + shift.

    A per-tensor weight scale is repeated over the channels."""
    ws = np.asarray(weight_scales, dtype=np.float32).astype(np.float64).ravel()
    if ws.size == 1:
        ws = np.repeat(ws, channels)
    reals = [float(np.float64(input_scale) * w / np.float64(output_scale)) for w in ws]
    return quantize_multipliers(np.array(reals))


def activation_range(activation: str, scale: float, zero_point: int,
                     qmin: int = INT8_MIN, qmax: int = INT8_MAX) -> tuple[int, int]:
    """The fused activation as a clamp in the output's quantized domain.

    The bounds are quantized with float32 division and round-half-away, as
    TFLite's CalculateActivationRangeQuantized does."""
    def q(x: float) -> int:
        v = np.float32(x) / np.float32(scale)
        return zero_point + int(math.copysign(math.floor(abs(float(v)) + 0.5), float(v)))

    if activation in ("NONE", None):
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, q(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(f"fused activation {activation}")  # codegen.registry refuses it first


def activation_range_float(activation: str) -> tuple[float, float]:
    """The fused activation as a float clamp."""
    big = float(np.finfo(np.float32).max)
    return {"NONE": (-big, big), None: (-big, big), "RELU": (0.0, big), "RELU6": (0.0, 6.0),
            "RELU_N1_TO_1": (-1.0, 1.0)}[activation]


ADD_LEFT_SHIFT = 20  # int8 ADD headroom, as TFLite


def add_params(a_scale: float, b_scale: float, out_scale: float) -> dict:
    """ADD: both inputs rescaled to twice the larger input scale, then to the output."""
    twice_max = 2.0 * max(f32(a_scale), f32(b_scale))
    a_mult, a_shift = quantize_multiplier(f32(a_scale) / twice_max)
    b_mult, b_shift = quantize_multiplier(f32(b_scale) / twice_max)
    o_mult, o_shift = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT) * f32(out_scale)))
    return {"left_shift": ADD_LEFT_SHIFT, "a_mult": a_mult, "a_shift": a_shift,
            "b_mult": b_mult, "b_shift": b_shift, "out_mult": o_mult, "out_shift": o_shift}


def mul_params(a_scale: float, b_scale: float, out_scale: float) -> dict:
    """MUL: one multiplier for a_scale * b_scale / out_scale."""
    m, s = quantize_multiplier(f32(a_scale) * f32(b_scale) / f32(out_scale))
    return {"left_shift": 0, "a_mult": 0, "a_shift": 0, "b_mult": 0, "b_shift": 0,
            "out_mult": m, "out_shift": s}


SOFTMAX_DIFF_INTEGER_BITS = 5


def softmax_params(beta: float, input_scale: float) -> dict:
    """Int8 SOFTMAX: input multiplier and left shift for the scaled differences,
    and the smallest difference that still contributes (diff_min)."""
    bits = SOFTMAX_DIFF_INTEGER_BITS
    real = min(f32(beta) * f32(input_scale) * float(1 << (31 - bits)), float((1 << 31) - 1))
    mult, left_shift = quantize_multiplier(real, max_shift=31)
    if left_shift < 0:
        raise InvalidScale(f"beta {beta:g} times the input scale {input_scale:g} is too small for "
                           "softmax's fixed-point arithmetic")
    max_rescaled = 1.0 * ((1 << bits) - 1) * float(1 << (31 - bits)) / float(1 << left_shift)
    diff_min = -int(math.floor(max_rescaled))
    return {"input_multiplier": mult, "input_left_shift": left_shift, "diff_min": diff_min}


def requantize_params(in_scale: float, out_scale: float) -> tuple[int, int]:
    """int8 -> int8 QUANTIZE, and MEAN's scale ratio: in_scale / out_scale."""
    return quantize_multiplier(f32(in_scale) / f32(out_scale))


def fc_multiplier(input_scale: float, weight_scale: float, output_scale: float) -> tuple[int, int]:
    """Per-tensor FULLY_CONNECTED: input_scale * weight_scale / output_scale in
    double precision from the float32 scales, as TFLite's fully-connected
    preparation does. (Rounding the product to float32 first, as an older
    TFLite did, differs in the last bit of the multiplier for some trained
    models, and then in an output: tests/fixtures/fc_double_product.)"""
    return quantize_multiplier(f32(input_scale) * f32(weight_scale) / f32(output_scale))


def mean_params(in_scale: float, in_zp: int, out_scale: float, out_zp: int, count: int) -> dict:
    """Int8 MEAN over `count` spatial elements, per kernels.h: either a plain
    division (same parameters) or a multiplier with 1/count folded in."""
    same = f32(in_scale) == f32(out_scale) and in_zp == out_zp
    if same:
        return {"count": count, "mult": 0, "shift": 0, "same_qparams": 1}
    m, s = quantize_multiplier(f32(in_scale) / f32(out_scale))
    k = min(count.bit_length() - 1, 32, 31 + s)
    mult = (m << k) // count  # m, count > 0: floor equals C's truncation
    return {"count": count, "mult": int(mult), "shift": s - k, "same_qparams": 0}


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Round to the nearest integer, ties away from zero, as C's round() (and
    TFLite's TfLiteRound) does; NumPy's own rounding sends ties to even.

    The fraction is taken exactly (x - trunc(x) has no rounding error), so a
    value just below one half stays below it, which floor(|x| + 0.5) breaks.
    """
    x = np.asarray(x)
    whole = np.trunc(x)
    return whole + np.sign(x) * (np.abs(x - whole) >= 0.5)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str = "int8") -> np.ndarray:
    """Real values -> integers as TFLite's QUANTIZE does it: the division in
    float32, rounding half away from zero, then the zero point, clamped to `dtype`."""
    info = np.iinfo(dtype)
    scaled = np.asarray(x, dtype=np.float32) / np.float32(scale)
    q = round_half_away(scaled).astype(np.int64) + int(zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integers -> real values: scale * (q - zero_point), in float32."""
    return (np.asarray(q).astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


# ---- int16 (16x8) ---------------------------------------------------------------------

INT16_MIN, INT16_MAX = -32768, 32767
#: ADD and SUB headroom for int16 activations (TFLite: 15 bits, 20 for int8).
ADD_LEFT_SHIFT_S16 = 15


def add_params_s16(a_scale: float, b_scale: float, out_scale: float) -> dict:
    """int16 ADD/SUB: add_params' recipe with TFLite's int16 headroom (left shift 15)."""
    twice_max = 2.0 * max(f32(a_scale), f32(b_scale))
    a_mult, a_shift = quantize_multiplier(f32(a_scale) / twice_max)
    b_mult, b_shift = quantize_multiplier(f32(b_scale) / twice_max)
    o_mult, o_shift = quantize_multiplier(twice_max / ((1 << ADD_LEFT_SHIFT_S16) * f32(out_scale)))
    return {"left_shift": ADD_LEFT_SHIFT_S16, "a_mult": a_mult, "a_shift": a_shift,
            "b_mult": b_mult, "b_shift": b_shift, "out_mult": o_mult, "out_shift": o_shift}


def _roundf(x: np.float32) -> np.float32:
    """C roundf: half away from zero, in single precision."""
    return np.float32(round_half_away(np.float32(x)))


def int16_lut(func, input_min: float, input_max: float) -> list[int]:
    """TFLite's gen_lut for an int16 -> int16 table (513 entries, Q0.15 output over
    [-1, 1]) of `func` on [input_min, input_max], every step in single precision as
    the reference's float instantiation: 512 samples each corrected by half the error
    of linear interpolation at its midpoint, plus the end value for the last slope."""
    f = np.float32
    lo, hi = f(input_min), f(input_max)
    step = f((hi - lo) / f(512))
    half = f(step / f(2))
    inv = f(f(65536) / f(2))
    out = []
    with np.errstate(over="ignore"):
        for i in range(512):
            x = f(lo + f(f(i) * step))
            val = func(x)
            mid = func(f(x + half))
            nxt = func(f(lo + f(f(i + 1) * step)))
            sample = _roundf(f(val * inv))
            interp = _roundf(f(f(f(nxt * inv) + sample) / f(2)))
            err = f(interp - _roundf(f(mid * inv)))
            bias = _roundf(f(err / f(2)))
            out.append(int(min(max(f(sample - bias), f(INT16_MIN)), f(INT16_MAX))))
        out.append(int(min(max(_roundf(f(func(hi) * inv)), f(INT16_MIN)), f(INT16_MAX))))
    return out


def lut_s8(func, in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> np.ndarray:
    """TFLite's table of a float function for an int8 -> int8 operator (GELU), indexed
    by the input byte: each value dequantized, `func` applied and requantized, every step
    in single precision as the reference's preparation does it."""
    f = np.float32
    inv = f(f(1) / f(out_scale))
    out = np.zeros(256, dtype=np.int8)
    with np.errstate(over="ignore", invalid="ignore"):
        for v in range(-128, 128):
            scaled = f(func(f(f(in_scale) * f(v - in_zp))) * inv)
            r = float(f(_roundf(scaled) + f(out_zp)))
            # The reference casts to int32; x86 turns NaN and values past int32 into its
            # lowest value, which then clamps to -128.
            q = int(r) if math.isfinite(r) and abs(r) < 2.0 ** 31 else INT8_MIN
            out[v & 0xFF] = min(INT8_MAX, max(INT8_MIN, q))
    return out


def _expf(x: np.float32) -> np.float32:
    """exp in single precision, rounded from double (what a correctly rounding expf gives)."""
    return np.float32(math.exp(float(x)))


def _recip1p(x: np.float32) -> np.float32:
    return np.float32(np.float32(1.0) / np.float32(np.float32(1.0) + np.float32(x)))


@functools.cache
def _softmax_luts() -> tuple[list[int], list[int]]:
    """The two int16 SOFTMAX tables (the same for every layer): exp on [-10, 0] and
    1 / (1 + x) on [0, 1]."""
    return int16_lut(_expf, -10.0, 0.0), int16_lut(_recip1p, 0.0, 1.0)


def softmax_s16_params(beta: float, input_scale: float) -> dict:
    """int16 SOFTMAX: the multiplier that maps an input difference of [-65535, 0]
    onto [-10, 0] ((double)input_scale * beta / (10 / 65535)), and the two tables."""
    mult, shift = quantize_multiplier(f32(input_scale) * f32(beta) / (10.0 / 65535.0))
    exp_lut, recip_lut = _softmax_luts()
    return {"input_multiplier": mult, "input_left_shift": shift,
            "exp_lut": list(exp_lut), "recip_lut": list(recip_lut)}


def checked_log2(x: float) -> tuple[int, bool]:
    """TFLite's CheckedLog2 in single precision: (rounded log2 of x, whether x is
    a power of two within 1e-3 of its log)."""
    f = np.float32
    lg = f(f(math.log(f(x))) * f(f(1.0) / f(math.log(f(2.0)))))
    rounded = _roundf(lg)
    return int(rounded), bool(abs(f(lg - rounded)) < f(1e-3))


def sigmoid_s16_params(input_scale: float) -> dict:
    """int16 LOGISTIC and TANH: the input brought to units of 1/(3 * 4096).

    A power-of-two input scale (left shift 0 or 1 to Q3.12) keeps multiplier 0
    (the kernel uses 3 << left_shift); otherwise the multiplier is
    input_scale * 4096 * 3 doubled up past 32767 / 2, truncated."""
    log2, pot = checked_log2(input_scale)
    left = (15 - 3) + log2
    if pot and left in (0, 1):
        return {"input_multiplier": 0, "input_left_shift": left}
    mult = float(f32(input_scale)) * 4096.0 * 3.0
    left = 0
    while mult <= 32767.0 / 2.0 and left <= 30:
        left += 1
        mult *= 2.0
    return {"input_multiplier": int(mult), "input_left_shift": left}


def sqdiff_params_s16(a_scale: float, b_scale: float, out_scale: float) -> dict:
    """int16 SQUARED_DIFFERENCE: ADD's input multipliers without headroom shift (the
    values are 16-bit already), QM(twice_max^2 / out_scale) for the squared difference."""
    twice_max = 2.0 * max(f32(a_scale), f32(b_scale))
    a_mult, a_shift = quantize_multiplier(f32(a_scale) / twice_max)
    b_mult, b_shift = quantize_multiplier(f32(b_scale) / twice_max)
    o_mult, o_shift = quantize_multiplier(twice_max * twice_max / f32(out_scale))
    return {"left_shift": 0, "a_mult": a_mult, "a_shift": a_shift,
            "b_mult": b_mult, "b_shift": b_shift, "out_mult": o_mult, "out_shift": o_shift}
