"""Use cases and the infrastructure ports they need."""
