"""Processes the daemon starts or adopts: start, stop, exit seen at once."""
