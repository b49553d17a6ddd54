"""Carry a Keras 3 model over to tf_keras, for the variants that fine-tune with tfmot.

tensorflow-model-optimization wraps tf_keras layers only. A Keras 3 model
built from standard layers has a tf_keras twin: the same architecture from
its config (translated: Keras 3 writes dtype policies, initializers and
functional connections differently), with the same weights copied in. The
twin is accepted only when its outputs equal the original's on sample
inputs; otherwise the error names the layer or the difference.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import tf_keras

from kiln.errors import KilnError

#: Largest output difference, relative to the output's magnitude, for the twin to count as equal.
TOLERANCE = 1e-5

#: Keys every tf_keras layer accepts besides its own constructor's arguments.
_BASE_KEYS = {"name", "trainable", "dtype", "dynamic", "input_dim", "input_shape", "batch_input_shape",
              "batch_size", "weights", "activity_regularizer", "autocast", "implementation"}


class CarryError(Exception):
    """The model cannot be carried over; the message says why."""


def _plain(obj: Any) -> Any:
    """Keras 3 serialized objects in tf_keras form: {class_name, config}; dtype policies as names."""
    if isinstance(obj, dict):
        if {"class_name", "config"} <= obj.keys() and ("module" in obj or "registered_name" in obj):
            if obj["class_name"] in ("DTypePolicy", "FloatDTypePolicy"):
                return obj["config"].get("name", "float32")
            plain = {k: _plain(v) for k, v in obj.items() if k not in ("module", "registered_name")}
            helper = _helper_class(obj["class_name"], obj.get("module", ""))
            if helper is not None and isinstance(plain["config"], dict):
                plain["config"] = _accepted(helper, plain["config"], obj["class_name"], set())
            return plain
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def _helper_class(class_name: str, module: str) -> type | None:
    """The tf_keras initializer, regularizer or constraint class of a Keras 3 serialized one."""
    for kind in ("initializers", "regularizers", "constraints"):
        if kind in module:
            return getattr(getattr(tf_keras, kind), class_name, None)
    return None


def _accepted(cls: type, config: dict, label: str, extra: set[str]) -> dict:
    """`config` without the keys `cls` does not take; a dropped key that is set changes behaviour,
    so it is refused instead (the output comparison catches anything subtler)."""
    accepted = set(inspect.signature(cls.__init__).parameters) | extra
    kept = {}
    for key, value in config.items():
        if key in accepted:
            kept[key] = value
        elif value not in (None, False, 0, [], {}):
            raise CarryError(f"{label} sets {key}={value!r}, which tf_keras does not have")
    return kept


def _layer_class(class_name: str) -> type:
    cls = getattr(tf_keras.layers, class_name, None)
    if cls is None:
        raise CarryError(f"layer type {class_name} has no tf_keras counterpart")
    return cls


def _layer_config(class_name: str, config: dict) -> dict:
    """A Keras 3 layer config with only the keys the tf_keras layer accepts."""
    config = dict(config)
    if class_name == "InputLayer":
        if "batch_shape" in config:
            config["batch_input_shape"] = config.pop("batch_shape")
        for key in ("optional", "ragged"):
            config.pop(key, None)
        return config
    return _accepted(_layer_class(class_name), config, f"{class_name} '{config.get('name')}'", _BASE_KEYS)


def _node_refs(value: Any, out: list) -> None:
    """Every keras_history reference in a Keras 3 node's arguments, in order."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            layer, node, tensor = value["config"]["keras_history"]
            out.append([layer, node, tensor, {}])
            return
        for v in value.values():
            _node_refs(v, out)
    elif isinstance(value, list | tuple):
        for v in value:
            _node_refs(v, out)


def _io_refs(refs: list) -> list:
    """input_layers / output_layers as lists of [layer, node, tensor] (Keras 3 unwraps a single one)."""
    return [refs] if refs and isinstance(refs[0], str) else refs


def tf_keras_config(model: Any) -> tuple[str, dict]:
    """('Sequential' or 'Functional', the tf_keras config) for Keras 3 `model`."""
    kind = type(model).__name__
    config = _plain(model.get_config())
    layers = []
    for layer in config["layers"]:
        entry = {"class_name": layer["class_name"],
                 "config": _layer_config(layer["class_name"], layer["config"])}
        if kind != "Sequential":
            nodes = []
            for node in layer.get("inbound_nodes", []):
                refs: list = []
                _node_refs(node.get("args", []), refs)
                nodes.append(refs)
            entry["name"] = layer["name"]
            entry["inbound_nodes"] = nodes
        layers.append(entry)
    if kind == "Sequential":
        return "Sequential", {"name": config.get("name", "sequential"), "layers": layers}
    if kind not in ("Functional", "Model"):
        raise CarryError(f"it is a subclassed model ({kind}); only Sequential and functional models "
                         "have a config that rebuilds them")
    return "Functional", {"name": config.get("name", "model"), "layers": layers,
                          "input_layers": _io_refs(config["input_layers"]),
                          "output_layers": _io_refs(config["output_layers"])}


def carry_over(model: Any, samples: np.ndarray) -> tuple[tf_keras.Model, float]:
    """A tf_keras twin of Keras 3 `model` and the largest output difference on `samples`.

    Raises CarryError naming why when the architecture or the outputs differ.
    """
    try:
        kind, config = tf_keras_config(model)
        twin = (tf_keras.Sequential.from_config(config) if kind == "Sequential"
                else tf_keras.Model.from_config(config))
        twin.set_weights(model.get_weights())
    except CarryError:
        raise
    except Exception as exc:  # noqa: BLE001 - from_config/set_weights raise many types
        raise CarryError(f"tf_keras cannot rebuild it ({type(exc).__name__}: {exc})") from exc
    ours = np.asarray(model(samples, training=False))
    theirs = np.asarray(twin(samples, training=False))
    if ours.shape != theirs.shape:
        raise CarryError(f"the tf_keras twin outputs {theirs.shape}, the model {ours.shape}")
    diff = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
    if diff > TOLERANCE * max(1.0, float(np.max(np.abs(ours)))):
        raise CarryError(f"the tf_keras twin's outputs differ by up to {diff:.3g}")
    return twin, diff


def carried_or_error(model: Any, samples: np.ndarray, variant: str,
                     source: str) -> tuple[tf_keras.Model, float]:
    """carry_over(), with a CarryError turned into the user's error for `variant`."""
    try:
        return carry_over(model, samples)
    except CarryError as exc:
        raise KilnError(
            f"MODEL={variant} fine-tunes with tensorflow-model-optimization, which needs a tf_keras "
            f"model, and the Keras 3 model {source} cannot be carried over to tf_keras: {exc}. "
            "MODEL=float, dynamic and ptq convert Keras 3 models directly") from exc
