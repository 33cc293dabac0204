"""Build the one compiled extension; all metadata lives in pyproject.toml.

FASTFRAME_PURE_PYTHON=1 builds a pure-Python package (no extension).  Otherwise
a failed compilation fails the build: no silent fallback.
"""

import importlib.util
import os

from setuptools import Extension, setup

_spec = importlib.util.spec_from_file_location(
    "_fastframe_switch", os.path.join("src", "fastframe", "_switch.py")
)
_switch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_switch)

if _switch.pure_python_requested():
    ext_modules = []
else:
    from Cython.Build import cythonize

    ext_modules = cythonize(
        [Extension("fastframe._speedups", ["src/fastframe/_speedups.pyx"],
                   include_dirs=["src/fastframe"], depends=["src/fastframe/_io.h"])],
        compiler_directives={"language_level": 3, "embedsignature": True},
    )

setup(ext_modules=ext_modules)
