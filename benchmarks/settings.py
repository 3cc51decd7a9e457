"""How big each benchmark is: the full suite (under 3 minutes on 2 cores), --quick, and --tiny."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Settings:
    name: str
    reps: int  # repetitions behind every median
    # 1. throughput: messages per run (both sides), and the (transport, workers) cases
    messages: int
    throughput_cases: tuple[tuple[str, int], ...]
    # 2. reactions: kill/revive cycles, and the worker counts timed from start to all connected
    kill_cycles: int
    start_workers: tuple[int, ...]
    # 3. UI under load: workers at rate 0, seconds of timer sampling, kill key presses (at most 9)
    ui_workers: int
    ui_seconds: float
    ui_kills: int
    # 4. scale: workers, pushers, the measured window once every pusher sends, and how long the
    #    ledger may take to catch up afterwards
    scale_workers: int
    scale_pushers: int
    scale_seconds: float
    scale_catch_up_s: float
    # 5. recording and replay: messages per run with and without recording (rate 0, 4 workers),
    #    and the length of the synthetic recording at 10,000 msgs/s that seeks are timed on
    recording_messages: int
    seek_recording_s: float
    # 7. the message map (pure, no processes): seconds of run at 100,000 msgs/s over 128 workers
    #    folded, and the length of run the map holds when its frames are timed
    map_seconds: float = 2.0
    map_drawn_s: float = 600.0
    # 3b. the live view at scale: workers, pushers, each pusher's rate, seconds of timer sampling
    #     (0 workers: not run).  Its kills are ui_kills, by number key, as in 3.
    ui_scale_workers: int = 0
    ui_scale_pushers: int = 4
    ui_scale_rate: float = 5000.0
    ui_scale_seconds: float = 20.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Settings(
    name="full", reps=5,
    messages=500_000, throughput_cases=(("ipc", 4), ("ipc", 16), ("tcp", 4)),
    kill_cycles=10, start_workers=(4, 64),
    ui_workers=16, ui_seconds=4.0, ui_kills=6,
    scale_workers=64, scale_pushers=4, scale_seconds=30.0, scale_catch_up_s=3.0,
    recording_messages=300_000, seek_recording_s=3600.0,
    ui_scale_workers=256,  # issue 22's target: 256 workers x 4 pushers at 20,000 msgs/s for 20 s
)

QUICK = Settings(
    name="quick", reps=5,
    messages=100_000, throughput_cases=(("ipc", 4),),
    kill_cycles=5, start_workers=(4,),
    ui_workers=16, ui_seconds=1.5, ui_kills=2,
    scale_workers=8, scale_pushers=2, scale_seconds=2.0, scale_catch_up_s=2.0,
    recording_messages=100_000, seek_recording_s=120.0, map_seconds=0.5,
)

# A smoke test of the machinery (tests/test_benchmarks.py): the figures mean little.
TINY = Settings(
    name="tiny", reps=2,
    messages=5_000, throughput_cases=(("ipc", 2),),
    kill_cycles=2, start_workers=(2,),
    ui_workers=2, ui_seconds=0.5, ui_kills=2,
    scale_workers=4, scale_pushers=2, scale_seconds=0.5, scale_catch_up_s=3.0,
    recording_messages=2_000, seek_recording_s=10.0, map_seconds=0.1, map_drawn_s=20.0,
)

BY_NAME = {s.name: s for s in (FULL, QUICK, TINY)}
