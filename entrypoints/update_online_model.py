"""`python -m entrypoints.update_online_model --hours 24 --min-interactions 10` (the original form)."""

from entrypoints.cli import main
from entrypoints.cli.online import update_online_model

if __name__ == "__main__":
    main(update_online_model, prog_name="update_online_model")
