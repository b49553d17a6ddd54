"""Measure a .tflite: accuracy and loss in an interpreter, sizes, sparsity, I/O quantization."""

from __future__ import annotations

import gzip

import numpy as np
import tensorflow as tf

from kiln.ir import Graph
from kiln.quantmath import quantize
from kiln.tflite_reader import parse_tflite

#: Operators whose input 1 is a weight kernel (counted for sparsity).
_KERNEL_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}


def _io(detail: dict) -> dict:
    scale, zero_point = detail["quantization"]
    return {
        "dtype": np.dtype(detail["dtype"]).name,
        "shape": [int(d) for d in detail["shape"]],
        "scale": float(scale),
        "zero_point": int(zero_point),
    }


def weight_sparsity(graph: Graph) -> float:
    """Share of exactly-zero values over all conv/depthwise/dense weight kernels.

    Quantized kernels are symmetric (zero point 0), so a zero int8 weight is a
    zero real weight and the count is the same for every variant.
    """
    zeros = total = 0
    kernels = {op.inputs[1] for op in graph.ops if op.op in _KERNEL_OPS and len(op.inputs) > 1}
    for index in sorted(kernels):
        data = graph.tensors[index].data if index >= 0 else None
        if data is None:
            continue  # a kernel computed at run time (no constant buffer)
        zeros += int(np.count_nonzero(data == 0))
        total += data.size
    return zeros / total if total else 0.0


def weight_count(graph: Graph) -> int:
    """Values in the weights and biases of the conv/depthwise/dense layers: the parameter count of
    a model known only as a graph (after conversion, batch norms are folded into these)."""
    consts = {i for op in graph.ops if op.op in _KERNEL_OPS for i in op.inputs[1:]
              if i >= 0 and graph.tensors[i].data is not None}
    return int(sum(graph.tensors[i].data.size for i in consts))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def run_interpreter(tflite_bytes: bytes, x: np.ndarray) -> tuple[np.ndarray, dict, dict]:
    """Run every sample of float `x` through the .tflite one at a time (batch 1).

    An int8 input is quantized with the model's own scale and zero point and
    an int8 output dequantized, so the result is always float. Returns
    (outputs (N, classes), input details, output details).
    """
    interp = tf.lite.Interpreter(model_content=tflite_bytes, num_threads=1)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    in_scale, in_zp = inp["quantization"]
    out_scale, out_zp = out["quantization"]
    quantized_in = np.dtype(inp["dtype"]) != np.float32
    if quantized_in:
        xq = quantize(x, in_scale, in_zp, np.dtype(inp["dtype"]).name)
    else:
        xq = x.astype(np.float32)
    results = np.empty((len(x), int(np.prod(out["shape"][1:]))), dtype=np.float32)
    for i in range(len(x)):
        interp.set_tensor(inp["index"], xq[i: i + 1])
        interp.invoke()
        results[i] = interp.get_tensor(out["index"]).reshape(-1)
    if np.dtype(out["dtype"]) != np.float32:
        results = (results - out_zp) * out_scale
    return results, _io(inp), _io(out)


def _predictions(outputs: np.ndarray, logits: bool) -> tuple[np.ndarray, np.ndarray]:
    """(class per sample, probabilities (N, classes)); one output column is a binary classifier."""
    if outputs.shape[1] == 1:
        p1 = 1.0 / (1.0 + np.exp(-outputs[:, 0])) if logits else np.clip(outputs[:, 0], 0.0, 1.0)
        probs = np.stack([1.0 - p1, p1], axis=1)
        return (p1 > 0.5).astype(np.int64), probs
    probs = _softmax(outputs) if logits else outputs
    return np.argmax(outputs, axis=1), probs


def _is_regression(y_test: np.ndarray | None, outputs: np.ndarray) -> bool:
    """True when the labels are float targets with one value per output (a regression,
    e.g. an autoencoder reconstructing its input), not class indices."""
    return (y_test is not None and len(y_test) > 0 and np.issubdtype(y_test.dtype, np.floating)
            and y_test.size == outputs.size and y_test.size > len(y_test))


def measure(
    tflite_bytes: bytes, x_test: np.ndarray, y_test: np.ndarray | None, logits: bool, float_model_bytes: int
) -> dict:
    """Accuracy, loss, sizes and sparsity of one .tflite over the test set.

    Loss is the mean cross-entropy of the (dequantized) output probabilities;
    outputs are passed through softmax first when the net outputs logits (a
    single output through the logistic function). Float targets shaped like
    the outputs (a regression: the autoencoder's) give the mean squared error
    as loss and no accuracy. Without labels accuracy and loss are None.
    Compression is not stored: it compares variants (the float .tflite's gzip
    size over this one's), so the summary computes it (kiln.report_models).
    """
    outputs, inp, out = run_interpreter(tflite_bytes, x_test)
    accuracy = loss = None
    if _is_regression(y_test, outputs):
        # Targets shaped like the outputs (an autoencoder's inputs): the loss is their mean
        # squared error and there is no class to be accurate about.
        loss = float(np.mean((outputs - y_test.reshape(outputs.shape).astype(np.float32)) ** 2))
    elif y_test is not None and len(y_test) and outputs.ndim == 2:
        predicted, probs = _predictions(outputs, logits)
        if int(y_test.max()) < probs.shape[1]:
            picked = probs[np.arange(len(y_test)), y_test]
            loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
        accuracy = float(np.mean(predicted == y_test))
    graph = parse_tflite(tflite_bytes)
    gz = len(gzip.compress(tflite_bytes, compresslevel=9, mtime=0))
    return {
        "accuracy": accuracy,
        "loss": loss,
        "test_samples": int(len(x_test)),
        "tflite_bytes": len(tflite_bytes),
        "gzip_bytes": gz,
        "keras_bytes": int(float_model_bytes),
        "sparsity": weight_sparsity(graph),
        "weights": weight_count(graph),
        "operators": sorted({op.op for op in graph.ops}),
        "input": inp,
        "output": out,
    }
