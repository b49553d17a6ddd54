"""The window geometry of a convolution or pooling layer, computed once.

`Geometry.of(graph, op)` reads a CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D or
AVERAGE_POOL_2D from the IR and resolves its padding the way TFLite does;
`c_init()` prints it as the C initializer of kiln_geometry_t
(firmware/runtime/include/kiln/geometry.h), the first member `g` of every
parameter struct that has a window. The portable, hybrid and dsp builders
all use it, so the arithmetic exists once.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

from kiln.codegen.cwriter import c_int
from kiln.codegen.registry import UnsupportedLayer
from kiln.ir import Graph, Operator
from kiln.planner import same_padding

#: The C fields are uint16_t / int16_t.
U16 = 0xFFFF
CONVS = ("CONV_2D", "DEPTHWISE_CONV_2D")
#: Options that give a convolution its leading padding outright (kiln.lowering's: SAME and
#: VALID cannot say "K - 1 rows").
PAD_TOP, PAD_LEFT = "KilnPadTop", "KilnPadLeft"
POOLS = ("MAX_POOL_2D", "AVERAGE_POOL_2D")


def pad_before(in_size: int, k: int, stride: int, dil: int, padding: str) -> int:
    """TFLite's leading pad along one axis: the smaller half of the total (0 for VALID).
    The output size it implies is the one kiln.validate required of the model."""
    return same_padding(in_size, k, stride, dil)[1] if padding == "SAME" else 0


@dataclass(frozen=True)
class Geometry:
    """kiln_geometry_t's fields, in its C order, plus the depthwise multiplier."""

    in_h: int
    in_w: int
    in_c: int
    out_h: int
    out_w: int
    out_c: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    dil_h: int
    dil_w: int
    pad_top: int
    pad_left: int
    #: Output channels per input channel (DEPTHWISE_CONV_2D); not part of the C type.
    depth_mult: int = 1

    @classmethod
    def of(cls, graph: Graph, op: Operator) -> Geometry:
        """The geometry of `op`; UnsupportedLayer when no window kernel can run it."""
        if op.op in CONVS:
            geo = cls._conv(graph, op, op.op == "DEPTHWISE_CONV_2D")
        elif op.op in POOLS:
            geo = cls._pool(graph, op)
        else:
            raise ValueError(f"{op.op} has no window geometry")
        if any(v < 0 or v > U16 for v in astuple(geo)):
            raise UnsupportedLayer("a dimension exceeds the kernels' 16-bit fields")
        return geo

    @classmethod
    def _conv(cls, graph: Graph, op: Operator, depthwise: bool) -> Geometry:
        x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        w = graph.tensors[op.inputs[1]] if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
        if w is None or not w.is_const or len(x.shape) != 4 or len(w.shape) != 4:
            raise UnsupportedLayer("needs a 4-D input and constant 4-D weights")
        if x.shape[0] != 1:
            raise UnsupportedLayer("batch above 1")
        _, ih, iw, ic = x.shape
        _, oh, ow, oc = y.shape
        if depthwise:
            _, kh, kw, wc = w.shape
            if wc != oc or oc % ic:
                raise UnsupportedLayer("depthwise output channels are not a multiple of the input's")
            mult = oc // ic
        else:
            wo, kh, kw, wi = w.shape
            if wo != oc or wi != ic:
                raise UnsupportedLayer("grouped convolution (weight input channels != input channels)")
            mult = 1
        o = op.options
        sh, sw = o.get("StrideH", 1), o.get("StrideW", 1)
        dh, dw = o.get("DilationHFactor", 1), o.get("DilationWFactor", 1)
        pad = o.get("Padding", "VALID")
        # kiln.lowering's convolutions state their leading padding outright.
        top = o.get(PAD_TOP, pad_before(ih, kh, sh, dh, pad))
        left = o.get(PAD_LEFT, pad_before(iw, kw, sw, dw, pad))
        return cls(ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, top, left, mult)

    @classmethod
    def _pool(cls, graph: Graph, op: Operator) -> Geometry:
        x, y, o = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]], op.options
        if len(x.shape) != 4 or x.shape[0] != 1:
            raise UnsupportedLayer("pooling needs a 4-D input with batch 1")
        _, ih, iw, c = x.shape
        _, oh, ow, _ = y.shape
        kh, kw, sh, sw = o["FilterHeight"], o["FilterWidth"], o["StrideH"], o["StrideW"]
        pad = o.get("Padding", "VALID")
        return cls(ih, iw, c, oh, ow, c, kh, kw, sh, sw, 1, 1,
                   pad_before(ih, kh, sh, 1, pad), pad_before(iw, kw, sw, 1, pad))

    @property
    def taps(self) -> int:
        """Kernel window positions, k_h * k_w."""
        return self.k_h * self.k_w

    def macs(self, depthwise: bool) -> int:
        """Multiply-accumulates of the layer (each output reads taps x in_c, or taps when depthwise)."""
        return self.out_h * self.out_w * self.out_c * self.taps * (1 if depthwise else self.in_c)

    def c_init(self) -> str:
        """The C initializer of a kiln_geometry_t (designated, in the struct's order)."""
        names = [f.name for f in fields(self) if f.name != "depth_mult"]
        return "{" + ", ".join(f".{n} = {c_int(getattr(self, n))}" for n in names) + "}"
