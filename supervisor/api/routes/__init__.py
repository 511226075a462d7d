"""The API's routes, one module per resource; `supervisor.api.app` adds them all."""
