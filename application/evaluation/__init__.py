"""Offline evaluation: datasets, split protocols and ranking metrics."""
