"""The top of the screen: the topology (who binds what, HWMs) and whether the run goes on."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from rrsim.tui.controls import speed_text
from rrsim.tui.frames import ReplayFrame, StatusFrame, TopologyFrame
from rrsim.tui.palette import MUTED, WARNING


class TopologyBar(Widget):
    """Pattern, transport, who binds, high-water marks, ZMQ_IMMEDIATE and the bound endpoints."""

    topology: reactive[TopologyFrame | None] = reactive(None)

    def render(self) -> Content:
        t = self.topology
        if t is None:
            return Content("")
        sep = (" · ", MUTED)
        setup = Content.assemble(
            (t.scenario, "bold"), sep, f"{t.pattern} over {t.transport}", sep, (f"{t.bind}s bind", "bold"), sep,
            f"immediate {'on' if t.immediate else 'off'}",
            *([sep, "strategy ", (t.strategy, "bold")] if t.strategy else []),
        )
        sockets: list[str | tuple[str, str]] = [f"sndhwm {t.sndhwm}  rcvhwm {t.rcvhwm}"]
        for name, endpoint in t.binders:
            sockets += [sep, (name, "bold"), f" {endpoint}"]
        for name, peer in t.strangers:
            sockets += [sep, (f"stranger {peer} on {name}", f"bold {WARNING}")]
        lines = [setup, Content.assemble(*sockets)]
        if t.join_line:
            lines.append(Content.assemble(("to join: ", "bold"), t.join_line))
        return Content("\n").join(lines)


class RunStatus(Widget):
    """Running, sending held, or finished, and for how long."""

    status: reactive[StatusFrame | None] = reactive(None)

    def watch_status(self, status: StatusFrame | None) -> None:
        self.set_class(status is not None and status.finished, "-finished")
        self.set_class(status is not None and status.held and not status.finished, "-held")
        self.set_class(status is not None and status.replay is not None, "-replay")

    def render(self) -> Content:
        s = self.status
        if s is None:
            return Content("")
        if (replay := s.replay) is not None:
            return self._replay(replay, s.finished)
        what = "run finished" if s.finished else "sending held" if s.held else "running"
        return Content.assemble((what, "bold"), f"\n{s.elapsed_s:.1f} s")

    def _replay(self, replay: ReplayFrame, finished: bool) -> Content:
        """``replay ▶ 2x`` (or paused, or the end, or going to a moment not loaded yet), and
        where: ``12.3 / 45.6 s``, and how much of the recording is loaded while it loads."""
        if replay.waiting is not None:
            state = f"going to {replay.waiting}"
        elif replay.playing:
            state = f"▶ {speed_text(replay.speed)}"
        else:
            state = "finished" if finished and replay.elapsed_s >= replay.length_s else "paused"
        cut = (" (cut off)", WARNING) if replay.truncated else ""
        loading = (f" loading {replay.loading}%", MUTED) if replay.loading is not None else ""
        return Content.assemble(("replay ", "bold"), state, "\n", f"{replay.elapsed_s:.1f} / {replay.length_s:.1f} s",
                                cut, loading)
