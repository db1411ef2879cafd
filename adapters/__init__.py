"""Adapters: one module or package per technology, implementing the ports."""
