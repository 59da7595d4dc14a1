# The single source of the version: pyproject.toml reads it statically, minigan exposes it.
__version__ = "0.1.0"
