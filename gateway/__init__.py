"""ЛКК Gateway: the composition root, HTTP surface, security, store and domain services."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lkk-gateway")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
