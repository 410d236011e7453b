"""Importers: another tool's configuration turned into an agent.yaml (`prober import blackbox`)."""

from prober.importers.blackbox import Imported, import_blackbox
from prober.importers.yaml_source import ImportFailedError

__all__ = ["ImportFailedError", "Imported", "import_blackbox"]
