"""agent.yaml: its models, its loader and the error that names file, check and field."""

from prober.config.errors import ConfigError
from prober.config.loader import load_config
from prober.config.models import AgentConfig, Check, HttpCheck

__all__ = ["AgentConfig", "Check", "ConfigError", "HttpCheck", "load_config"]
