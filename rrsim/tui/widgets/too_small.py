"""What the screen shows instead of a broken layout when the terminal is too small."""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget


class TooSmall(Widget):
    """Says how big the terminal is and how big it must be."""

    def __init__(self, min_width: int, min_height: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self.min_width = min_width
        self.min_height = min_height

    def render(self) -> Content:
        width, height = self.screen.size
        return Content.assemble(
            ("Terminal too small", "bold"),
            f"\n\n{width} x {height} here; rrsim needs at least {self.min_width} x {self.min_height}.",
            "\nMake the window bigger, or press q to quit.",
        )
