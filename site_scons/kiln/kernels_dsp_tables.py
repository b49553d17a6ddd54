"""The Cortex-M33 table kernels in the code generator's registry.

An element-wise operator whose output depends on one 8-bit input value is 256
outputs, evaluated here with the portable kernel's own arithmetic
(kiln.fixedpoint) and looked up at run time:

  LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, RELU, RELU6, GELU, RSQRT (int8)
                                                 kiln_dsp_lut_s8
  QUANTIZE int8 -> int8, uint8 -> int8, int8 -> uint8
                                                 kiln_dsp_lut_s8
  DEQUANTIZE int8 / uint8 -> float32             kiln_dsp_lut_s8_f32
  SOFTMAX (int8): the exponential of each difference from the row's maximum
                                                 kiln_dsp_softmax_s8
  QUANTIZE float32 -> int8 (VCVTA rounding)      kiln_dsp_quantize_f32_s8
  CONCATENATION (int8): word copies, or a table per input whose quantization
  differs from the output's                      kiln_dsp_concat_s8

A table costs 256 bytes of flash (1 KB for float or int32 entries); the
portable kernels stay the fallback, with the same bits.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kiln import fixedpoint as fp
from kiln.codegen import portable as pt
from kiln.codegen.context import LayerContext
from kiln.codegen.ops import activation, elementwise
from kiln.codegen.registry import KernelImpl, LayerCode, UnsupportedLayer, per_tensor_qparams, register
from kiln.ir import Graph, Operator

HEADER = '#include "kiln/dsp.h"'
#: The byte values 0..255 as the input dtype reads them.
_VALUES = {"int8": np.arange(256).astype(np.uint8).view(np.int8).astype(np.int64),
           "uint8": np.arange(256, dtype=np.int64)}
_RANGE = {"int8": (-128, 127), "uint8": (0, 255)}


class _Layer:
    """What the parameter functions read of a LayerContext (the graph, the operator and
    its tensors), so that accepts() runs the same checks as build()."""

    t = LayerContext.t

    def __init__(self, graph: Graph, op: Operator) -> None:
        self.graph, self.op = graph, op


def _accepts(params: Callable) -> Callable[[Graph, Operator], bool]:
    def accepts(g: Graph, op: Operator) -> bool:
        if g.tensors[op.inputs[0]].size != g.tensors[op.outputs[0]].size:
            raise UnsupportedLayer("input and output differ in size")
        params(_Layer(g, op))
        return True
    return accepts


def _bytes(values: list[int]) -> np.ndarray:
    """Output values (int8 or uint8) as the int8 array the C table holds."""
    return np.asarray(values, dtype=np.int64).astype(np.uint8).view(np.int8)


def _lut_call(ctx: LayerContext, table: np.ndarray, ctype: str, struct: str) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    ctx.decls.append(HEADER)
    p = ctx.struct(struct, dict(n=x.size, table=ctx.array("table", ctype, table)))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


#: int8 activations: (parameters as the portable kernel's struct holds them, one value).
_ACTIVATIONS: dict[str, tuple[Callable, Callable[..., int]]] = {
    "LOGISTIC": (activation.sigmoid_s8_params, fp.logistic_s8),
    "TANH": (activation.sigmoid_s8_params, fp.tanh_s8),
    "HARD_SWISH": (activation.hard_swish_s8_params, fp.hard_swish_s8),
    "LEAKY_RELU": (activation.leaky_s8_params, fp.leaky_relu_s8),
    "RELU": (activation.relu_s8_params, fp.relu_s8),
    "RELU6": (activation.relu6_s8_params, lambda q, lo, hi: max(lo, min(hi, q))),
    "GELU": (activation.gelu_s8_params, lambda q, table: int(table[q & 0xFF])),
    "RSQRT": (elementwise.rsqrt_s8_params, fp.rsqrt_s8),
}


def _table_s8(ctx: LayerContext) -> np.ndarray:
    """The 256 outputs of an int8 activation or an 8-bit QUANTIZE layer."""
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    values = _VALUES[x.dtype]
    if ctx.op.op in _ACTIVATIONS:
        params, f = _ACTIVATIONS[ctx.op.op]
        prm = params(ctx)
        return _bytes([f(int(v), **prm) for v in values])
    q = pt.quant_fields(ctx)
    return _requantized(values, q["in_offset"], q["mult"], q["shift"], q["out_offset"], *_RANGE[y.dtype])


def _requantized(values: np.ndarray, in_offset: int, mult: int, shift: int, out_offset: int,
                 lo: int, hi: int) -> np.ndarray:
    """The table of kiln_requantize(v + in_offset) + out_offset clamped to [lo, hi]."""
    return _bytes([min(hi, max(lo, fp.requantize(int(v) + in_offset, mult, shift) + out_offset))
                   for v in values])


def _lut_s8(ctx: LayerContext) -> LayerCode:
    return _lut_call(ctx, _table_s8(ctx), "int8_t", "kiln_dsp_lut_params_t")


def _lut_f32(ctx: LayerContext) -> LayerCode:
    """DEQUANTIZE: scale * (q - zero_point), one float32 rounding as in the portable kernel."""
    x = ctx.t(0)
    scale, zp = per_tensor_qparams(x)
    table = np.float32(scale) * (_VALUES[x.dtype] - zp).astype(np.float32)
    return _lut_call(ctx, table, "float", "kiln_dsp_lut_f32_params_t")


def _concat(ctx: LayerContext) -> LayerCode:
    """int8 CONCATENATION: a word copy per input row, or a lookup of the input's
    requantized values where its quantization differs from the output's."""
    ins, outer, inner = pt.concat_rows(ctx)
    params, zo = pt.concat_requant(ctx)
    tables = []
    for k, q in enumerate(params):
        if q is None:
            tables.append("NULL")
        else:
            tables.append(ctx.array(f"table{k}", "int8_t", _requantized(_VALUES["int8"], *q, zo, -128, 127)))
    ctx.decls.append(HEADER)
    ptrs = ", ".join(ctx.ptr(t) for t in ins)
    ctx.decls.append(f"static const int8_t *const {ctx.prefix}_in[{len(ins)}] = {{{ptrs}}};")
    ctx.decls.append(f"static const int8_t *const {ctx.prefix}_tables[{len(ins)}] = "
                     f"{{{', '.join(tables)}}};")
    p = ctx.struct("kiln_dsp_concat_params_t",
                   dict(outer=outer, n_inputs=len(ins), inner=ctx.array("inner", "uint32_t", inner),
                        tables=f"{ctx.prefix}_tables"))
    out = ctx.ptr(ctx.t(0, outputs=True), const=False)
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.prefix}_in, {out});", 0, ctx.weight_bytes)


def _concat_accepts(g: Graph, op: Operator) -> bool:
    layer = _Layer(g, op)
    pt.concat_rows(layer)
    pt.concat_requant(layer)
    return True


def _softmax_params(ctx: LayerContext) -> dict:
    prm = pt.softmax_s8_params(ctx)
    if not 0 < prm["depth"] < 4096:
        raise UnsupportedLayer("softmax depth must be 1 to 4095 (the Q12.19 sum)")
    return prm


def _softmax(ctx: LayerContext) -> LayerCode:
    prm = _softmax_params(ctx)
    exp_q0 = [fp.softmax_exp_q0(-d, prm["input_multiplier"], prm["input_left_shift"], prm["diff_min"])
              for d in range(256)]
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    ctx.decls.append(HEADER)
    p = ctx.struct("kiln_dsp_softmax_params_t",
                   dict(rows=prm["rows"], depth=prm["depth"], exp_q0=ctx.array("exp", "int32_t", exp_q0)))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _quantize_f32(ctx: LayerContext) -> LayerCode:
    x, y = ctx.t(0), ctx.t(0, outputs=True)
    ctx.decls.append(HEADER)
    p = ctx.struct("kiln_quant_params_t", pt.quant_fields(ctx))
    return LayerCode(ctx.decls, f"{ctx.func}({p}, {ctx.ptr(x)}, {ctx.ptr(y, const=False)});")


def _register() -> None:
    qparams = _accepts(pt.quant_fields)
    entries: list[tuple[str, str, str, Callable[[LayerContext], LayerCode], Callable]] = [
        *[(op, "int8", "kiln_dsp_lut_s8", _lut_s8, _accepts(params))
          for op, (params, _) in _ACTIVATIONS.items()],
        ("QUANTIZE", "int8->int8", "kiln_dsp_lut_s8", _lut_s8, qparams),
        ("QUANTIZE", "uint8->int8", "kiln_dsp_lut_s8", _lut_s8, qparams),
        ("QUANTIZE", "int8->uint8", "kiln_dsp_lut_s8", _lut_s8, qparams),
        ("DEQUANTIZE", "int8->float32", "kiln_dsp_lut_s8_f32", _lut_f32, qparams),
        ("DEQUANTIZE", "uint8->float32", "kiln_dsp_lut_s8_f32", _lut_f32, qparams),
        ("QUANTIZE", "float32->int8", "kiln_dsp_quantize_f32_s8", _quantize_f32, qparams),
        ("SOFTMAX", "int8", "kiln_dsp_softmax_s8", _softmax, _accepts(_softmax_params)),
        ("CONCATENATION", "int8", "kiln_dsp_concat_s8", _concat, _concat_accepts),
    ]
    for op, dtype, func, build, accepts in entries:
        register(KernelImpl(op=op, dtype=dtype, kernel_set="dsp", func=func, build=build,
                            accepts=accepts, header="kiln/dsp.h"))


_register()
