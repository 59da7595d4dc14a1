"""The one thing pyproject.toml cannot say: package discovery across the kernels/ -> minigan.kernels mapping.

pyproject's `packages.find` names packages after their directories, so it would
install kernels/ as a top-level `kernels`. Everything else is in pyproject.toml.
"""
from setuptools import find_packages, setup

# exclude: a development checkout may hold a minigan/kernels -> ../kernels symlink.
minigan = find_packages(include=["minigan", "minigan.*"], exclude=["minigan.kernels", "minigan.kernels.*"])
kernels = ["minigan.kernels"] + [f"minigan.kernels.{name}" for name in find_packages("kernels")]

setup(packages=minigan + kernels)
