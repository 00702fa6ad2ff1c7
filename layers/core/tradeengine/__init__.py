"""The Petrosa Trading Engine library (shipped as a Lambda layer)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("petrosa-tradeengine")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
