"""Containers as services: Docker's event stream as a push signal, and discovery by labels."""
