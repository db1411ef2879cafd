"""`python -m entrypoints.cli`."""

from entrypoints.cli import main

main()
