"""The Host Factory service. The version is also the ``[project]`` version in pyproject.toml."""

__version__ = "0.1.0"
