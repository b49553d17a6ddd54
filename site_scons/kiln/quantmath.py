"""Build-time quantization arithmetic, following TFLite's int8 specification.

Every parameter a kernel needs is computed here, in double precision from the
float32 scales stored in the .tflite, exactly as TFLite's kernel preparation
does, so the generated code and the tflite-micro reference agree bit for bit.

Shift convention (as in kernels.h): a shift > 0 is a left shift, < 0 right.
"""

from __future__ import annotations

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
