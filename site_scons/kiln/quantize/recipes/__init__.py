"""One module per variant, each with ``build(ctx) -> bytes`` (the .tflite).

Each recipe is its own file so that SCons can depend on exactly that file:
changing one recipe rebuilds that variant only.
"""

#: Every variant a network builds, in report order: one module here each.
VARIANTS = (
    "float", "dynamic", "ptq", "qat",
    "prune_struct", "prune_unstruct", "prune_poly", "pqat",
)
