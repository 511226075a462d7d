"""Running under systemd: sd_notify, the watchdog ping, graceful shutdown."""
