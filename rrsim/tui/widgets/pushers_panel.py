"""The pushers panel: what each pusher sent, how fast, whether a full queue blocks it, and where a
pusher that picks its workers is most wrong about their load."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from rrsim.model.model import pusher_index
from rrsim.model.stats import BeliefGap
from rrsim.tui.controls import rate_text
from rrsim.tui.frames import PusherFrame
from rrsim.tui.palette import MUTED, WARNING, pusher_colour


class PushersPanel(VerticalScroll, can_focus=False):
    """One line per pusher; the border title holds the send rate and whether sending is paused."""

    pushers: reactive[tuple[PusherFrame, ...]] = reactive((), repaint=False)
    rate: reactive[float] = reactive(0.0, repaint=False)
    held: reactive[bool] = reactive(False, repaint=False)

    def compose(self) -> ComposeResult:
        yield Static(id="pusher-lines")

    def watch_rate(self) -> None:
        self._show_sending()

    def watch_held(self) -> None:
        self._show_sending()

    def _show_sending(self) -> None:
        self.border_title = f"pushers · {rate_text(self.rate)} each{' · paused' if self.held else ''}"

    def watch_pushers(self, old: tuple[PusherFrame, ...], pushers: tuple[PusherFrame, ...]) -> None:
        lines = Content("\n").join(pusher_line(p) for p in pushers)
        # Only a new line changes the height: skip the costly layout pass otherwise.
        self.query_one("#pusher-lines", Static).update(lines, layout=_height(old) != _height(pushers))


def _height(pushers: tuple[PusherFrame, ...]) -> int:
    return sum(2 if p.gap is not None else 1 for p in pushers)


def pusher_line(p: PusherFrame) -> Content:
    if p.blocked:
        flag = ("blocked", WARNING)  # every peer's queue is at its high-water mark
    elif p.done:
        flag = ("done", MUTED)
    elif p.state != "running":
        flag = (p.state, MUTED)
    else:
        flag = (f"{p.peers} peer{'s' if p.peers != 1 else ''}", MUTED)
    stranger = [(f" {p.strangers} stranger{'s' if p.strangers != 1 else ''}", WARNING)] if p.strangers else []
    return Content.assemble(
        (f"{p.name:<3}", f"bold {pusher_colour(pusher_index(p.name))}"),
        (" sent ", MUTED), (f"{p.sent:<7}", "bold"), f"{p.rate:>6g}/s ", flag, *stranger, *belief(p.gap),
    )


def belief(gap: BeliefGap | None) -> list[tuple[str, str] | str]:
    """Where a pusher that picks its workers is most wrong: what it believes of that worker's load
    (what it ranks it by) against every pusher's messages there not yet done."""
    if gap is None:
        return []
    return [("\n    believes ", MUTED), f"{gap.receiver} {gap.believed}", (" · truth ", MUTED),
            (f"{gap.truth}", WARNING if gap.truth != gap.believed else "")]
