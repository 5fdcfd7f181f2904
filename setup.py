"""Build hook for the one optional C extension (everything else is in pyproject.toml).

``fixgw.fix._speedups`` speeds up the session hot path (see fixgw/fix/accel.py). It is
optional: without a C compiler the build skips it with a warning and fixgw runs the same
code in pure Python."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("fixgw.fix._speedups", ["fixgw/fix/_speedups.c"],
                             optional=True)])
