"""The selected worker's program's last lines of output (its stdout and stderr), over the live view."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from rrsim.tui.palette import MUTED


class OutputScreen(ModalScreen[None]):
    """What ``name``'s program wrote last, as it was when the key was pressed; escape closes."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,o,q", "dismiss", "close")]

    def __init__(self, name: str, lines: tuple[str, ...]) -> None:
        super().__init__()
        self.worker = name
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical(id="output"):
            yield Static(Content.styled(f"{self.worker}: the last {len(self.lines)} lines of its program's stdout and "
                                        "stderr", "bold"))
            with VerticalScroll(id="output-lines"):
                yield Static(Content("\n".join(self.lines)) if self.lines else Content.styled("(no output yet)", MUTED))
            yield Static(Content.styled("As it was when o was pressed: close it and press o again for newer "
                                        "lines.  escape closes.", MUTED))
