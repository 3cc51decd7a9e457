"""The run's processes, each behind one handle whether it is our child or a remote worker, so that
a command is said once: the handle knows how it reaches its process (a signal, or control state)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rrsim import events as ev
from rrsim.child.spec import ChildSpec
from rrsim.engine.supervisor import Ended, Supervisor


class Process(Protocol):
    """What the engine can do to one process of the run, wherever it runs."""

    @property
    def name(self) -> str: ...

    def running(self) -> bool:
        """Running and not asked to end."""
        ...

    def kill(self) -> None: ...

    def stop(self) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def check_revivable(self) -> None:
        """Raise UserError if a new life cannot be started here."""
        ...

    def control(self) -> dict[str, bool] | None:
        """What its control messages say besides the run's state, or None when it gets none."""
        ...

    def take_end(self) -> ev.ProcessEnded | None:
        """Its end, if it ended since the last call and nobody else reports it."""
        ...

    def end_with_run(self) -> ev.ProcessEnded | None:
        """Its end as the run ends, if nobody else reports it."""
        ...


@dataclass(frozen=True)
class LocalProcess:
    """Our child: signals reach it, and the supervisor reports how each of its lives ended."""

    name: str
    supervisor: Supervisor

    def running(self) -> bool:
        return self.supervisor.running(self.name)

    def kill(self) -> None:
        self.supervisor.kill(self.name)

    def stop(self) -> None:
        self.supervisor.stop(self.name)

    def pause(self) -> None:
        self.supervisor.pause(self.name)

    def resume(self) -> None:
        self.supervisor.resume(self.name)

    def check_revivable(self) -> None:
        pass

    def control(self) -> dict[str, bool] | None:
        return {} if self.running() else None

    def take_end(self) -> ev.ProcessEnded | None:
        return None  # the supervisor reaps every life, earlier ones included

    def end_with_run(self) -> ev.ProcessEnded | None:
        return None


class Processes:
    """Every process of the run by name, and how they ended."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.handles: dict[str, Process] = {}

    def start(self, name: str, life: int, spec: ChildSpec) -> int:
        """Start a life of our child ``name``; its pid."""
        pid = self.supervisor.start(name, life, spec)
        self.handles[name] = LocalProcess(name, self.supervisor)
        return pid

    def add(self, process: Process) -> None:
        self.handles[process.name] = process

    def __getitem__(self, name: str) -> Process:
        return self.handles[name]

    def running(self, name: str) -> bool:
        process = self.handles.get(name)
        return process is not None and process.running()

    def control(self, name: str) -> dict[str, bool] | None:
        """What ``name``'s control messages add to the run's state, or None: it gets none."""
        process = self.handles.get(name)
        return None if process is None else process.control()

    def count_running(self, roles: dict[str, str]) -> dict[str, int]:
        """Running processes per role (``roles``: name -> role)."""
        counts: dict[str, int] = {}
        for name, process in self.handles.items():
            if process.running():
                counts[roles[name]] = counts.get(roles[name], 0) + 1
        return counts

    def reap(self, now: int) -> list[ev.ProcessEnded]:
        """Every process that ended since the last call, with how it ended."""
        ended = [_event(now, end) for end in self.supervisor.reap()]
        return ended + [end for process in self.handles.values() if (end := process.take_end()) is not None]

    def shutdown(self, now: int) -> list[ev.ProcessEnded]:
        """End every process (our children with SIGKILL: nothing they do now matters)."""
        ended = [_event(now, end) for end in self.supervisor.shutdown()]
        return ended + [end for process in self.handles.values() if (end := process.end_with_run()) is not None]

    def expect_run_end(self) -> None:
        self.supervisor.expect_run_end()


def _event(now: int, end: Ended) -> ev.ProcessEnded:
    return ev.ProcessEnded(now, end.name, end.life, end.how, end.exit_code, end.log_tail)
