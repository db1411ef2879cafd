"""One module per use case, each with one public execute()."""
