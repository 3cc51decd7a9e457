"""The live terminal UI: a Textual shell over the engine's model and commands."""
