"""One program per `keras-bert` subcommand: `run_*(options)`, called by `cli/`
with an options dataclass (no flags here)."""
