"""The subcommands behind ``rrsim``: one module each, with their output handling."""
