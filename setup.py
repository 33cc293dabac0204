"""Build the one compiled extension; all metadata lives in pyproject.toml.

A failed compilation fails the build: no silent fallback.  Its message names the
way to a pure-Python install (a raw compiler error alone leaves stuck a user
with no C compiler).

FASTFRAME_PURE_PYTHON=1 builds a pure-Python package instead (the py3-none-any
wheel for PyPy and platforms without a binary wheel): no extension, and a
generated ``fastframe/_build.py`` that tells the installed package it has no
compiled core, so it needs no switch at run time.
"""

import importlib.util
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py
from setuptools.errors import CCompilerError, CompileError, ExecError, PlatformError

_spec = importlib.util.spec_from_file_location("_fastframe_switch", os.path.join("src", "fastframe", "_switch.py"))
_switch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_switch)


class build_pure_py(build_py):
    """build_py that also writes ``fastframe/_build.py``, into the build directory
    only: the source tree is the same for both kinds of build, and an editable
    install (which reads the source tree) still goes by the switch."""

    def run(self):
        super().run()
        if self.editable_mode:
            return
        path = os.path.join(self.build_lib, "fastframe", "_build.py")
        with open(path, "w", encoding="utf-8") as file:
            file.write(
                '"""Written by setup.py: this package was built without its compiled core."""\n\nPURE_PYTHON = True\n'
            )


class build_ext_saying_how(build_ext):
    """build_ext whose compiler failing (missing, or refusing the code) fails the
    build with what to do, the compiler's own output above it."""

    def run(self):
        try:
            super().run()
        except (CCompilerError, ExecError, PlatformError) as error:
            raise CompileError(
                f"fastframe's compiled core did not build ({str(error).rstrip('.')}). It needs a C compiler and "
                "Python's headers; without them, install the pure-Python package instead: "
                f"{_switch.VARIABLE}=1 pip install fastframe"
            ) from error


if _switch.pure_python_requested():
    setup(cmdclass={"build_py": build_pure_py})
else:
    # The .pyx itself is the source: setuptools hands it to Cython (a build
    # requirement) when the extension is built, so the sdist ships the .pyx and
    # never generated C.  Compiler directives are in the .pyx's header; the
    # .pxd, the included .pxi files and io.h are what it is built from too.
    core = os.path.join("src", "fastframe", "_core_c")
    setup(
        cmdclass={"build_ext": build_ext_saying_how},
        ext_modules=[
            Extension(
                "fastframe._core_c.core",
                [os.path.join(core, "core.pyx")],
                include_dirs=[core],
                depends=[os.path.join(core, name) for name in sorted(os.listdir(core))
                         if name.endswith((".pxd", ".pxi", ".h"))],
            )
        ]
    )
