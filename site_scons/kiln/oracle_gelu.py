"""GELU for the tflite-micro oracle, which has no GELU kernel.

TensorFlow Lite's int8 GELU is a 256-entry table, built in float when the
kernel is prepared. The oracle cannot run the whole model on TensorFlow Lite's
interpreter instead: its reference FULLY_CONNECTED and convolutions round
differently from tflite-micro's in the last bit, and tflite-micro is what
Kiln's kernels must match. So each int8 GELU is replaced by operators
tflite-micro has, which look up the same table:

    CAST (int8 -> int32), ADD 128, GATHER from the table (int8, 256 entries)

The table comes from TensorFlow Lite itself: the model cut down to that one
GELU over a [256] tensor, run on its reference kernels over every int8 value.
Kiln's own table (kiln.quantmath.lut_s8) is thereby checked, not copied.
"""

from __future__ import annotations

import copy

import numpy as np

from kiln.oracle import add_tensor, builtin


def _table(model, sub_index: int, op) -> np.ndarray:  # noqa: ANN001 - schema objects
    """The int8 outputs of GELU `op` for the inputs -128..127, from TensorFlow Lite's
    reference kernel."""
    import tensorflow as tf
    from tensorflow.lite.tools import flatbuffer_utils

    one = copy.deepcopy(model)
    one.subgraphs = [one.subgraphs[sub_index]]
    sub = one.subgraphs[0]
    x, y = op.inputs[0], op.outputs[0]
    sub.operators = [copy.deepcopy(op)]
    # Only GELU's own code: the reference resolver refuses a model listing an operator it
    # lacks (ELU), even one no operator uses.
    one.operatorCodes = [one.operatorCodes[op.opcodeIndex]]
    sub.operators[0].opcodeIndex = 0
    sub.inputs, sub.outputs = [x], [y]
    for t in (x, y):
        sub.tensors[t].shape, sub.tensors[t].shapeSignature = [256], None
    one.signatureDefs = []
    blob = bytes(flatbuffer_utils.convert_object_to_bytearray(one))
    it = tf.lite.Interpreter(model_content=blob,
                             experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.arange(-128, 128, dtype=np.int8))
    it.invoke()
    return np.array(it.get_tensor(it.get_output_details()[0]["index"]), dtype=np.int8)


def gelus_as_gathers(blob: bytes) -> bytes:
    """The model with every int8 GELU turned into CAST, ADD 128 and GATHER from TensorFlow
    Lite's own table for it; unchanged when it has none."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    ops, types = schema.BuiltinOperator, schema.TensorType
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(blob))
    gelu = {i for i, c in enumerate(model.operatorCodes) if builtin(c) == ops.GELU}
    found = [(s, op) for s, sub in enumerate(model.subgraphs) for op in sub.operators
             if op.opcodeIndex in gelu and sub.tensors[op.inputs[0]].type == types.INT8]
    if not found:
        return blob
    tables = [_table(model, s, op) for s, op in found]
    codes = {}
    for name in ("CAST", "ADD", "GATHER"):
        code = schema.OperatorCodeT()
        code.builtinCode = getattr(ops, name)
        code.deprecatedBuiltinCode, code.version = min(code.builtinCode, 127), 1
        model.operatorCodes.append(code)
        codes[name] = len(model.operatorCodes) - 1

    def operator(code: str, inputs: list[int], outputs: list[int], options_type: int = 0,
                 options=None) -> schema.OperatorT:  # noqa: ANN001 - a schema options object
        o = schema.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = codes[code], inputs, outputs
        o.builtinOptionsType, o.builtinOptions = options_type, options
        return o

    gather = schema.GatherOptionsT()
    gather.axis, gather.batchDims = 0, 0
    for (s, op), table in zip(found, tables, strict=True):
        sub = model.subgraphs[s]
        x, y = op.inputs[0], op.outputs[0]
        shape, tag = list(sub.tensors[x].shape), f"kiln_oracle_gelu_{y}"
        wide = add_tensor(model, sub, f"{tag}_int32", types.INT32, shape)
        index = add_tensor(model, sub, f"{tag}_index", types.INT32, shape)
        bias = add_tensor(model, sub, f"{tag}_128", types.INT32, [1], np.array([128], dtype="<i4"))
        lut = add_tensor(model, sub, f"{tag}_table", types.INT8, [256], table,
                         copy.deepcopy(sub.tensors[y].quantization))
        at = sub.operators.index(op)
        sub.operators[at:at + 1] = [
            operator("CAST", [x], [wide]),
            operator("ADD", [wide, bias], [index], schema.BuiltinOptions.AddOptions, schema.AddOptionsT()),
            operator("GATHER", [lut, index], [y], schema.BuiltinOptions.GatherOptions, gather)]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
