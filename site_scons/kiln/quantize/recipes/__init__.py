"""One module per variant, each with ``build(ctx) -> bytes`` (the .tflite).

Each recipe is its own file so that SCons can depend on exactly that file:
changing one recipe rebuilds that variant only.
"""

#: Every variant, in report order: one module here each (which a network builds
#: depends on its source: kiln.netspec.VARIANTS_BY_KIND).
VARIANTS = (
    "float", "dynamic", "ptq", "qat",
    "prune_struct", "prune_unstruct", "prune_poly", "pqat",
    "given",  # a .tflite source as it is (kiln.netspec.GIVEN)
)
