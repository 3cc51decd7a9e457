"""The compiled loops (compiled/_rrsim_loops.pyx) as an optional extension: where it cannot be
built (no C compiler, no Python headers) the install still succeeds and rrsim runs its Python
loops, chosen automatically (rrsim.child.loops).  Everything else is in pyproject.toml."""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """build_ext that says why it could not build, and goes on without the extension."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # noqa: BLE001 - no compiler, no headers, no Cython: the Python loops run
            self._skip(error)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:  # noqa: BLE001
            self._skip(error)

    @staticmethod
    def _skip(error: Exception) -> None:
        print(f"rrsim: the compiled loops were not built ({type(error).__name__}: {error}); "
              "rrsim will run its Python loops", file=sys.stderr)


def extensions() -> list[Extension]:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("rrsim: Cython is missing: the compiled loops are not built", file=sys.stderr)
        return []
    return cythonize([Extension("_rrsim_loops", ["compiled/_rrsim_loops.pyx"])], quiet=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
