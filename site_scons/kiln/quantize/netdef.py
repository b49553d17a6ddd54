"""Load a network definition (models/<net>/net.py) by path and check its interface."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from kiln.errors import KilnError

#: What every net.py must define (see docs in models/fashion_mnist/net.py).
_EXAMPLE = "models/fashion_mnist/net.py"
REQUIRED = ("SEED", "HPARAMS", "OUTPUT_LOGITS", "build_model", "compile_model", "load_data", "train")


def load_net(net_dir: str | Path) -> ModuleType:
    """Import `net_dir`/net.py as a module and check it defines the net interface."""
    path = Path(net_dir) / "net.py"
    if not path.is_file():
        raise KilnError(f"no net.py in {net_dir}: a network folder needs one (see {_EXAMPLE})")
    name = f"kiln_net_{Path(net_dir).resolve().name}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    missing = [attr for attr in REQUIRED if not hasattr(module, attr)]
    if missing:
        raise KilnError(f"{path} does not define {', '.join(missing)}: add them (see {_EXAMPLE})")
    return module
