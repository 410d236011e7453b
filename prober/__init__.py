"""prober: a synthetic probing agent that exports what users see as Prometheus SLIs."""

__version__ = "0.1.0"
