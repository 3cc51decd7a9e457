"""The help screen: every key, what each worker state means, and what the counts count."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from rrsim import patterns
from rrsim.tui.palette import MUTED, state_colour

# The patterns of a kind, named from the registry: the help never names one itself.
BROKERED = " and ".join(patterns.with_router())  # those with a broker
RETRYING = " and ".join(patterns.taking("retry_ms"))  # those whose broker hands a message over again
HEARTBEATS = " and ".join(patterns.taking("heartbeat_ms"))  # those whose broker and workers watch heartbeats

STATE_MEANINGS = {
    "starting": "the process runs but is not yet connected to every peer (pushers, or the broker)",
    "alive": "connected: it is dealt messages as its pattern deals them (the Patterns below)",
    "paused": "frozen by SIGSTOP; a pusher that deals to it still queues its turns to it, up to the high-water "
              f"marks; a broker ({BROKERED}) waits for it (it holds one message); under {HEARTBEATS} the broker "
              "takes it for dead once it misses its heartbeats (silent)",
    "stopped": "ended by SIGTERM: it finished what it had, reported it and left",
    "killed": "ended by SIGKILL: whatever was queued to it is lost (a broker's worker: the one message "
              "it was working on; a broker: the messages it held).  A remote worker is not our child: a "
              "kill asks its rrsim worker process to exit at once",
    "crashed": "ended on its own; the event log shows the last lines it wrote",
    "silent": f"{HEARTBEATS}: the broker took it for dead (it missed liveness heartbeats in a row) and sent what it "
              "held to another worker; its process may be paused, starved or hung, and comes back if it speaks",
    "done": "the run has finished and drained; the tile keeps its final picture",
    "left": "a remote worker (rrsim worker --join) that left on its own (ctrl+c on its machine)",
    "lost contact": "a remote worker that fell silent: no heartbeat for 3 s (its process, machine or "
                    "cable is gone); what its pattern had dealt it is accounted as for a kill",
}


def count_meanings(lost_after_s: float) -> dict[str, str]:
    return {
        "sent": "messages the pushers have handed to ZeroMQ",
        "delivered": "messages some worker received and finished (each id counted once)",
        "in flight": "sent, not delivered yet, and not yet counted lost; \"queued for w1 (dead)\": of those, what a "
                     "connecting PUSH keeps for a dead worker's next life",
        "lost": f"not delivered {lost_after_s:g} s after it was sent, and no running worker can still deliver it "
                "(each has had later ones); final once a run drains",
        "late": "delivered after waiting for a process on its way that was dead when it was sent (a worker "
                "life that started later, or a broker's next life)",
        "dup": "ids delivered more than once",
        "retried": f"{RETRYING}: messages sent again, by the broker to another worker (not acknowledged within "
                   "retry_ms, or its worker taken for dead) or by a pusher to the broker's next life; given up: "
                   "every attempt failed, counted lost",
        "fairness": "Jain's index of messages per second alive over the workers: 1.000 is a perfectly even split",
    }


TILE_PARTS = {
    "pid, life": "the worker's OS process and which incarnation of it this is (a revive starts the next)",
    "recv, %": "messages it received, and its share of everything received; after a revive, this life's count "
               "of every life's (recv 10 of 23)",
    "▁▃▆█ n/s": "messages per second, one bar per half second; every tile uses the same scale",
    "p50, p99": "median and 99th percentile time from send to receipt (when its work started) over the last "
                "10 s; the whole run's are in the report (rrsim run --json)",
    "queue, ready": "a broker: messages it holds, and workers ready for one",
    "waiting for broker": f"{HEARTBEATS}: its broker fell silent; it waits 1 s, doubling up to 32 s, and connects again",
    "retried, dup": f"{RETRYING}: messages it had and did not acknowledge in time, sent to another worker; messages "
                    "it did that had been done already",
    "work": "the worker's work per message for a message of the run's mean size ([ and ] double and halve it, "
            "so every message it gets takes it twice or half as long); speed, when not 1, divides it",
    "p1:17 ...": "the ids it received last, newest at the end: seq 17 of pusher p1, one colour per pusher; "
                 "│life 2 marks where a new life's ids begin",
}


def key_rows(bindings: Iterable[Binding], key_display: Callable[[Binding], str]) -> list[tuple[str, str]]:
    """One (keys, explanation) row per binding, or per group of bindings, in order."""
    rows: dict[object, tuple[list[str], list[str]]] = {}
    for binding in Binding.make_bindings(bindings):  # "question_mark,f1" becomes two bindings
        keys, texts = rows.setdefault(binding.group or binding.action, ([], []))
        if (shown := key_display(binding)) not in keys:
            keys.append(shown)
        if binding.tooltip and binding.tooltip not in texts:
            texts.append(binding.tooltip)
    return [(" ".join(keys), " ".join(texts)) for keys, texts in rows.values()]


class HelpScreen(ModalScreen[None]):
    """A scrollable page over the run; escape, ? or f1 close it."""

    BINDINGS = [Binding("escape,question_mark,f1", "dismiss", "close help"), Binding("q", "app.quit", "quit")]

    def __init__(self, bindings: list[Binding], lost_after_s: float, intro: Content) -> None:
        super().__init__()
        self.bindings = bindings
        self.lost_after_s = lost_after_s
        self.intro = intro

    def compose(self) -> ComposeResult:
        sections = [
            ("Keys", key_rows(self.bindings, self.app.get_key_display)),
            ("Worker states", list(STATE_MEANINGS.items())),
            ("Counts", list(count_meanings(self.lost_after_s).items())),
            ("In a tile", list(TILE_PARTS.items())),
            ("Patterns", [(name, patterns.load(name).SUMMARY) for name in patterns.names()]),
        ]
        with VerticalScroll(id="help") as page:
            page.border_title = "rrsim help"
            page.border_subtitle = "escape, ? or f1 closes"
            yield Static(self.intro)
            for title, rows in sections:
                yield Static(Content.styled(title, "bold underline"), classes="help-title")
                for label, text in rows:
                    with Horizontal(classes="help-row"):
                        yield Static(Content.styled(label, f"bold {state_colour(label)}".strip()), classes="help-key")
                        yield Static(Content(text), classes="help-text")
            yield Static(Content.styled("The command palette (ctrl+p) lists the same commands.", MUTED),
                         classes="help-title")
