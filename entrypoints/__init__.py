"""Entrypoints: the Flask API, the recsys CLI and the container that wires them."""
