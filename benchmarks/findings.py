"""What profiling found and what changed, recorded with every results file.

Kept by hand: each entry says where the time went, what was done about it (or proposed, for
files another engineer owns), and what it was worth.  Tools: py-spy and perf for where the CPU
goes per process, cProfile for the engine, CPU time per process from /proc for the totals,
and microbenchmarks on process CPU time (the machine is shared, wall time is not reliable).
"""

from __future__ import annotations

FINDINGS: list[dict[str, str]] = [
    {
        "area": "throughput: where the CPU goes (ipc, 4 workers, rate 0, 1M messages)",
        "found": "Both sides are CPU-bound on 2 cores, so throughput follows total CPU per message. Bare: "
                 "~1.6 us/msg (PUSH process with its I/O thread ~1.0, four PULLs ~0.6). rrsim before the fixes: "
                 "~3.5 us/msg in the window (pusher 1.2, workers 1.5, engine 0.45, I/O threads the rest).",
        "change": "see the entries below",
        "effect": "rrsim/bare went from 0.44x to ~0.6x at 4 workers (same-run pairs, 500k messages).",
    },
    {
        "area": "pusher send loop (rrsim/pusher.py)",
        "found": "wire.pack_message built a new bytes object per message (struct.pack plus concatenation "
                 "with the padding): 873 ns per send against 415-460 ns for a bare send of a prebuilt payload.",
        "change": "one bytearray of the message size, re-stamped in place with HEADER.pack_into before each "
                  "send (zmq copies it); 1024 messages between housekeeping rounds instead of 256.",
        "effect": "578 ns per send in the same microbenchmark; the pusher is still ~0.1-0.15 us/msg above bare "
                  "(the stamp and the clock read per message are the point of rrsim).",
    },
    {
        "area": "worker receive loop (rrsim/worker.py)",
        "found": "At rate 0 a worker's loop round took ~17 messages, and each round paid a Poller.poll, a "
                 "recv that ended in zmq.Again (~3 us to raise) and housekeeping that read two empty sockets "
                 "(two more zmq.Again): ~10 us per round, ~0.5 us per message.",
        "change": "wait inside a blocking recv (RCVTIMEO 1 ms); look at control, the monitor and the report "
                  "deadline once per millisecond with poll(0), reading a socket only when it has something; "
                  "after 1 ms without a message sleep in a poll any of them ends. Receipts go into one "
                  "bytearray and a list instead of a list of slices and an array.",
        "effect": "worker CPU in the window from ~1.5 to ~1.1 us per message it receives (bare PULL: ~0.6).",
    },
    {
        "area": "pusher and worker poll timeouts (rrsim/pusher.py, rrsim/worker.py)",
        "found": "pyzmq truncates a float poll timeout to whole milliseconds, so a pusher above 1000 msgs/s "
                 "(a wait under 1 ms) polled with 0 ms and spun: each pusher used a full core.",
        "change": "timeouts rounded up to whole milliseconds (sends are scheduled from an epoch, so waking "
                  "up to 1 ms late accumulates no error).",
        "effect": "2 pushers at 1500 msgs/s for 2400 messages: ~1.0 s of CPU each, now ~0.1 s (mostly start-up).",
    },
    {
        "area": "receipt decoding (rrsim/telemetry.py)",
        "found": "np.unique over the pusher column of every batch (~25 ns per message) although nearly every "
                 "batch comes from one pusher; a copy per field after masking.",
        "change": "one pusher (min == max) skips np.unique; fields converted once; no masking when every "
                  "receipt is valid.",
        "effect": "decode 79 -> 40 ns per message at 1200-message batches.",
    },
    {
        "area": "model and ledger per batch (proposal P1: rrsim/ledger.py, rrsim/model.py)",
        "found": "PusherLedger.record_deliveries uses np.add.at (57 ns per message) and np.unique(seqs, "
                 "return_index=True) on every batch; Model._on_Deliveries runs np.unique over the pushers again.",
        "change": "proposed: when a batch's seqs are strictly increasing (every batch from one worker for one "
                  "pusher), counts[seqs] = before + (before < 255) and no np.unique; one pusher skips np.unique "
                  "in the model too.",
        "effect": "engine CPU per batch (process time, min of 5): 4 workers x 1200 msgs 268 -> 134 us; "
                  "16 workers x 20 msgs 118 -> 89 us; 64 workers x 4 pushers x 20 msgs 235 -> 167 us. "
                  "End to end (ipc, 4 workers, 1M): engine CPU 0.69 -> 0.57 s.",
    },
    {
        "area": "engine at rate 0 with many workers (proposal P6: rrsim/engine.py)",
        "found": "Every worker reports every 10 ms, so 64 workers make 6400 receipt batches a second of ~20 "
                 "messages; each costs the engine ~170-240 us whatever its size, more than two cores. The "
                 "engine falls behind without bound: the telemetry queue (rcvhwm 0) grows in memory, the live "
                 "view declares late messages lost, and links and commands queue behind receipts.",
        "change": "proposed: Engine._receive_telemetry drains what is waiting (bounded by time, not count) "
                  "and merges each (worker, life)'s receipt frames into one batch before decode and apply.",
        "effect": "64 workers, 4 pushers, rate 0, 10 s (with P1, P2, P3): accounting lag at the end 6-7 s -> "
                  "0.1 s; accounted 37k -> 105-143k msgs/s (all that was delivered); engine peak RSS "
                  "250 -> 100 MB.",
    },
    {
        "area": "engine starved by its own children (proposal P3: rrsim/child.py or rrsim/supervisor.py)",
        "found": "At rate 0 every child wants a core; the engine (and the TUI in the same process) get a "
                 "fair share of 2 cores among up to 69 processes: 4-11% of a core in the scale benchmark.",
        "change": "proposed: children lower their priority at start (os.nice(10)): the observer wins CPU "
                  "contention against what it observes; nothing changes between the children themselves.",
        "effect": "scale 64 x 4, 10 s: accounting lag 25-47 s -> 9-10 s and engine peak RSS 600-800 -> "
                  "430-490 MB on its own. UI (16 workers, 3 runs each): timer lag p99 748-3457 ms with P1 "
                  "and P2, 142-973 ms with P3 as well.",
    },
    {
        "area": "engine step and commands (proposal P2: rrsim/engine.py)",
        "found": "Engine.step reads up to 2000 telemetry messages before running requests; behind a backlog "
                 "a step took up to 8 s, so a kill from the TUI waited that long.",
        "change": "proposed: run requests first in step(), and stop reading telemetry after ~20 ms per step.",
        "effect": "UI kill key -> tile (16 workers, rate 0, 3 runs each): never within 10 s without "
                  "proposals; p95 0.75-2.3 s with P1 and P2; 0.37-0.92 s with P3 as well.",
    },
    {
        "area": "child start-up (proposal P4: rrsim/child.py)",
        "found": "child.py imports zmq.utils.monitor, which imports zmq.asyncio and asyncio: ~35 of the "
                 "~65 ms of CPU a worker spends importing.",
        "change": "proposed: read the monitor's two frames directly: "
                  "event, _value = struct.unpack('=hi', frames[0]); endpoint = frames[1].",
        "effect": "import CPU 65 -> 30 ms per child; 64 workers to all connected, median of 5 pairs: "
                  "7.9 -> 4.5 s; revive to first delivery p50 150 -> 105 ms (machine shared, loaded).",
    },
    {
        "area": "ledger memory",
        "found": "The ledger doubles its count arrays, so allocated bytes per message sent are 1-2; the "
                 "pages past the messages sent are never written, so resident memory (mincore) is ~1 byte "
                 "per message, plus up to one 2 MiB transparent huge page per pusher.",
        "change": "none; the scale benchmark reports resident and allocated.",
        "effect": "",
    },
    {
        "area": "benchmark method",
        "found": "Textual's Pilot.press waits until the whole process is idle (wait_for_idle compares CPU "
                 "and wall time), up to a second per key with the engine's thread busy in the same process.",
        "change": "the UI benchmark posts Key events to the app and polls the tile itself.",
        "effect": "",
    },
]
