"""Configuration: services.json models and loading, settings, live reload, safety."""
