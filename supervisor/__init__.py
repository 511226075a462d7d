"""soulfra-supervisor: a self-healing supervisor daemon."""

__version__ = "0.1.0"
