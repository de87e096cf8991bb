"""The optional C extension; everything else is configured in pyproject.toml."""

import sys

from setuptools import Extension, setup

# -fno-trapping-math lets gcc/clang vectorise the selects around division and sqrt; no
# -ffast-math, so NaN, inf and signed zeros keep IEEE semantics.
FLAGS = (
    []
    if sys.platform == "win32"
    else ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd"]
)

setup(
    ext_modules=[
        Extension(
            "cvlayers._ckernels",
            sources=["cvlayers/_ckernels.c"],
            extra_compile_args=FLAGS,
            # Without a compiler the install goes on and cvlayers runs its eager maths.
            optional=True,
        )
    ]
)
