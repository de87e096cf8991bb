"""The optional C extension; everything else is configured in pyproject.toml."""

import sys

from setuptools import Extension, setup

# -fno-trapping-math lets gcc/clang vectorise the selects around division and sqrt; no
# -ffast-math, so NaN, inf and signed zeros keep IEEE semantics. On Linux the kernels split
# their work over OpenMP threads: linked against libgomp.so.1, they bind at run time to the
# copy torch has already loaded, so they share torch's threads. Elsewhere (Apple clang, MSVC)
# they run in the calling thread. No basic-block (SLP) vectorisation: gcc 12's AVX-512 clone
# packed the scalar tail of a loop (the last n mod 16 elements) as (Re, Im) pairs and
# contracted its multiply-adds otherwise than the loop's body did, so an element's gradient
# depended on its position by an ulp (a channels-last input no longer gave the contiguous
# one's bits). Loop vectorisation is unaffected; alternating A/B timings of the two builds
# showed no difference beyond the noise.
if sys.platform == "win32":
    FLAGS: list[str] = []
    LINK: list[str] = []
else:
    PARALLEL = "-fopenmp" if sys.platform.startswith("linux") else "-fopenmp-simd"
    FLAGS = [
        "-O3",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-fno-tree-slp-vectorize",
        PARALLEL,
    ]
    LINK = [PARALLEL] if PARALLEL == "-fopenmp" else []

setup(
    ext_modules=[
        Extension(
            "cvlayers._ckernels",
            sources=["cvlayers/_ckernels.c"],
            extra_compile_args=FLAGS,
            extra_link_args=LINK,
            # Without a compiler the install goes on and cvlayers runs its eager maths.
            optional=True,
        )
    ]
)
