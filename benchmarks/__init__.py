"""Scripts that print measured figures; run them by hand or from `make bench`."""
