"""The daemon watching itself and being watched: self-watch, metrics, status, logs."""
