"""Standalone activation operators (kiln/ops/activation.h, portable/activation_*.c).

RELU, RELU6, LEAKY_RELU, PRELU, LOGISTIC, TANH, HARD_SWISH, GELU on int8 and
float32, ELU on float32. Each builder computes the parameters exactly as
tflite-micro's kernel preparation does (the order of float and double
operations matters for the last bit); docs/ops/activation.md has the recipes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math

import numpy as np

from kiln import quantmath as qm
from kiln.codegen.context import LayerContext
from kiln.codegen.registry import KernelImpl, LayerCode, UnsupportedLayer, per_tensor_qparams, register
from kiln.ir import Tensor

HEADER = "kiln/ops/activation.h"
#: Integer bits of the Q4.27 fixed-point input of int8 LOGISTIC and TANH.
SIGMOID_INPUT_INTEGER_BITS = 4


def _unary(ctx: LayerContext, ctype: str, fields: dict) -> LayerCode:
    """The struct (with `n` first) and the call of an elementwise kernel."""
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    if x.size != y.size:
        raise UnsupportedLayer(f"input {x.describe()} and output {y.describe()} differ in size")
    p = ctx.struct(ctype, {"n": x.size, **fields})
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


# ---- int8 ---------------------------------------------------------------------------

def relu_s8_params(ctx: LayerContext) -> dict:
    """RELU on int8: requantize to the output's parameters, then clamp at its zero
    (kiln_act_relu_s8_params_t without n)."""
    (si, zi), (so, zo) = per_tensor_qparams(ctx.t(0)), per_tensor_qparams(ctx.t(0, outputs=True))
    mult, shift = qm.requantize_params(si, so)
    return dict(in_zp=zi, out_zp=zo, mult=mult, shift=shift, act_min=max(-128, zo), act_max=127)


def _relu_s8(ctx: LayerContext) -> LayerCode:
    return _unary(ctx, "kiln_act_relu_s8_params_t", relu_s8_params(ctx))


def relu6_s8_params(ctx: LayerContext) -> dict:
    """RELU6 on int8: tflite-micro clamps the stored values to [zp, q(6)] of the input
    without rescaling to the output's parameters (kiln_act_clamp_s8_params_t without n)."""
    si, zi = per_tensor_qparams(ctx.t(0))
    per_tensor_qparams(ctx.t(0, outputs=True))
    six = int(qm.round_half_away(qm.f32(np.float32(6.0) / np.float32(si)))) + zi
    return dict(lo=zi, hi=min(127, max(-128, six)))


def _relu6_s8(ctx: LayerContext) -> LayerCode:
    return _unary(ctx, "kiln_act_clamp_s8_params_t", relu6_s8_params(ctx))


def leaky_s8_params(ctx: LayerContext) -> dict:
    """LEAKY_RELU on int8: one multiplier for each sign of the input
    (kiln_act_leaky_s8_params_t without n), or UnsupportedLayer."""
    (si, zi), (so, zo) = per_tensor_qparams(ctx.t(0)), per_tensor_qparams(ctx.t(0, outputs=True))
    alpha = float(ctx.op.options.get("Alpha", 0.2))
    if alpha < 0:
        raise UnsupportedLayer(f"negative alpha {alpha}")
    # The reference forms in_scale * alpha / out_scale in single precision.
    a_mult, a_shift = qm.quantize_multiplier(
        qm.f32(np.float32(si) * np.float32(alpha) / np.float32(so)))
    i_mult, i_shift = qm.requantize_params(si, so)
    return dict(in_zp=zi, out_zp=zo, id_mult=i_mult, id_shift=i_shift,
                alpha_mult=a_mult, alpha_shift=a_shift)


def _leaky_s8(ctx: LayerContext) -> LayerCode:
    return _unary(ctx, "kiln_act_leaky_s8_params_t", leaky_s8_params(ctx))


def sigmoid_s8_params(ctx: LayerContext) -> dict:
    """LOGISTIC and TANH on int8: the Q4.27 input multiplier and the saturation radius
    (kiln_act_sigmoid_s8_params_t without n), or UnsupportedLayer."""
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    si, zi = per_tensor_qparams(x)
    so, zo = per_tensor_qparams(y)
    want = (1.0 / 256, -128) if ctx.op.op == "LOGISTIC" else (1.0 / 128, 0)
    if (qm.f32(so), zo) != want:
        raise UnsupportedLayer(f"{ctx.op.op} int8 output must have scale {want[0]} and zero point "
                               f"{want[1]}")
    bits = SIGMOID_INPUT_INTEGER_BITS
    frac, left_shift = math.frexp(qm.f32(si) * float(1 << (31 - bits)))
    mult = int(qm.round_half_away(frac * float(1 << 31)))
    radius = math.floor(((1 << bits) - 1) * float(1 << (31 - bits)) / float(2.0 ** left_shift))
    if mult >= 1 << 31 or left_shift < 0 or (radius > 0 and left_shift > 30):
        raise UnsupportedLayer(f"input scale {si:g} is outside what {ctx.op.op}'s fixed-point "
                               "arithmetic takes")
    return dict(in_zp=zi, radius=radius, mult=mult, left_shift=left_shift)


def _sigmoid_s8(ctx: LayerContext) -> LayerCode:
    return _unary(ctx, "kiln_act_sigmoid_s8_params_t", sigmoid_s8_params(ctx))


def _q15(mult: int) -> int:
    """A Q31 multiplier rounded to its top 16 bits (saturating at 32767)."""
    if mult >= (1 << 31) - 1 - (1 << 15):
        return 32767
    return (mult + (1 << 15)) >> 16


def hard_swish_s8_params(ctx: LayerContext) -> dict:
    """HARD_SWISH on int8: the 16-bit multipliers and exponents of tflite-micro's
    preparation (kiln_act_hard_swish_s8_params_t without n), or UnsupportedLayer."""
    (si, zi), (so, zo) = per_tensor_qparams(ctx.t(0)), per_tensor_qparams(ctx.t(0, outputs=True))
    f = np.float32
    hires = f(1.0 / 128.0) * f(si)  # single precision throughout, as the reference
    out_m, out_exp = qm.quantize_multiplier(float(hires / f(so)))
    relu_m, relu_exp = qm.quantize_multiplier(float(hires / (f(3.0) / f(32768.0))))
    if not (-31 <= out_exp <= 0 and -31 <= relu_exp <= 30):
        raise UnsupportedLayer(f"input scale {si:g} and output scale {so:g} are outside what "
                               "HARD_SWISH's 16-bit arithmetic takes")
    return dict(in_zp=zi, out_zp=zo, out_mult=_q15(out_m), out_exp=out_exp,
                relu_mult=_q15(relu_m), relu_exp=relu_exp)


def _hard_swish_s8(ctx: LayerContext) -> LayerCode:
    return _unary(ctx, "kiln_act_hard_swish_s8_params_t", hard_swish_s8_params(ctx))


@functools.cache
def _libm() -> ctypes.CDLL:
    """The C library's single-precision erfcf and tanhf: TensorFlow Lite builds its GELU
    table with them, and a last-bit difference from another implementation can move a
    value across a rounding boundary."""
    lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    for name in ("erfcf", "tanhf"):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
    return lib


def gelu_f32(x: np.float32, approximate: bool) -> np.float32:
    """GELU in single precision as TensorFlow Lite's table builder writes it: x/2 times
    erfc(-x/sqrt 2), or with `approximate` x/2 times 1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))."""
    f, x = np.float32, np.float32(x)
    if approximate:
        cubic = f(f(f(f(0.044715) * x) * x) * x)
        inner = f(f(math.sqrt(2.0 / math.pi)) * f(x + cubic))
        return f(f(f(0.5) * x) * f(f(1) + f(_libm().tanhf(inner))))
    return f(f(f(0.5) * x) * f(_libm().erfcf(f(x * f(-math.sqrt(0.5))))))


def gelu_s8_params(ctx: LayerContext) -> dict:
    """GELU on int8: TensorFlow Lite's 256-entry table (tflite-micro has no GELU), indexed
    by the input byte (kiln_act_lut_s8_params_t without n)."""
    (si, zi), (so, zo) = per_tensor_qparams(ctx.t(0)), per_tensor_qparams(ctx.t(0, outputs=True))
    approximate = bool(ctx.op.options.get("Approximate", False))
    return dict(table=qm.lut_s8(lambda x: gelu_f32(x, approximate), si, zi, so, zo))


def _gelu_s8(ctx: LayerContext) -> LayerCode:
    table = ctx.array("table", "int8_t", gelu_s8_params(ctx)["table"])
    return _unary(ctx, "kiln_act_lut_s8_params_t", dict(table=table))


def _shape4(shape: tuple[int, ...]) -> list[int]:
    if len(shape) > 4:
        raise UnsupportedLayer(f"rank {len(shape)} above 4")
    return [1] * (4 - len(shape)) + [int(d) for d in shape]


def _strides(t: Tensor, out: list[int]) -> list[int]:
    """Element strides of `t` right-aligned against the 4-D output shape (0 where broadcast)."""
    s = _shape4(t.shape)
    strides, acc = [0] * 4, 1
    for d in range(3, -1, -1):
        if s[d] not in (1, out[d]):
            raise UnsupportedLayer(f"{t.describe()} does not broadcast to {out}")
        strides[d] = acc if s[d] > 1 else 0
        acc *= s[d]
    return strides


def _prelu(ctx: LayerContext) -> LayerCode:
    x, alpha, y = ctx.t(0), ctx.t(1), ctx.t(0, outputs=True)
    if alpha is None or not alpha.is_const:
        raise UnsupportedLayer("PRELU's alpha must be a constant tensor")
    out = _shape4(y.shape)
    fields = dict(out_shape=out, in_stride=_strides(x, out), alpha_stride=_strides(alpha, out),
                  in_zp=0, alpha_zp=0, out_zp=0, mult_1=0, shift_1=0, mult_2=0, shift_2=0)
    if x.dtype == "int8":
        (si, zi), (sa, za), (so, zo) = per_tensor_qparams(x), per_tensor_qparams(alpha), per_tensor_qparams(y)
        m1, s1 = qm.quantize_multiplier(float(np.float32(si)) / float(np.float32(so)))
        m2, s2 = qm.quantize_multiplier(float(np.float32(si)) * float(np.float32(sa))
                                        / float(np.float32(so)))
        fields.update(in_zp=zi, alpha_zp=za, out_zp=zo, mult_1=m1, shift_1=s1, mult_2=m2, shift_2=s2)
    p = ctx.struct("kiln_act_prelu_params_t", fields)
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(alpha)}, "
                                f"{ctx.ptr(y, const=False)});", 0, ctx.weight_bytes)


# ---- float32 ------------------------------------------------------------------------

def _float(ctx: LayerContext) -> LayerCode:
    """Every float activation shares one struct: alpha and the clamp bounds."""
    big = float(np.finfo(np.float32).max)
    lo, hi = {"RELU": (0.0, big), "RELU6": (0.0, 6.0)}.get(ctx.op.op, (-big, big))
    alpha = float(ctx.op.options.get("Alpha", 0.0)) if ctx.op.op == "LEAKY_RELU" else 0.0
    approximate = int(bool(ctx.op.options.get("Approximate", False))) if ctx.op.op == "GELU" else 0
    return _unary(ctx, "kiln_act_f32_params_t", dict(alpha=alpha, lo=lo, hi=hi, approximate=approximate))


def _register() -> None:
    s8, f32 = "int8", "float32"
    for op, dt, func, build in [
        ("RELU", s8, "kiln_relu_s8", _relu_s8),
        ("RELU6", s8, "kiln_clamp_s8", _relu6_s8),
        ("LEAKY_RELU", s8, "kiln_leaky_relu_s8", _leaky_s8),
        ("PRELU", s8, "kiln_prelu_s8", _prelu),
        ("LOGISTIC", s8, "kiln_logistic_s8", _sigmoid_s8),
        ("TANH", s8, "kiln_tanh_s8", _sigmoid_s8),
        ("HARD_SWISH", s8, "kiln_hard_swish_s8", _hard_swish_s8),
        ("GELU", s8, "kiln_lut_s8", _gelu_s8),
        ("RELU", f32, "kiln_relu_f32", _float),
        ("RELU6", f32, "kiln_relu_f32", _float),
        ("LEAKY_RELU", f32, "kiln_leaky_relu_f32", _float),
        ("PRELU", f32, "kiln_prelu_f32", _prelu),
        ("LOGISTIC", f32, "kiln_logistic_f32", _float),
        ("TANH", f32, "kiln_tanh_f32", _float),
        ("HARD_SWISH", f32, "kiln_hard_swish_f32", _float),
        ("ELU", f32, "kiln_elu_f32", _float),
        ("GELU", f32, "kiln_gelu_f32", _float),
    ]:
        register(KernelImpl(op=op, dtype=dt, func=func, build=build, header=HEADER))


_register()
