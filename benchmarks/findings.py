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
                 "~2.1 core-s per 1M including start-up (PUSH process with its I/O thread, four PULLs that "
                 "only count). rrsim at first: ~3.5 us/msg (pusher 1.2, workers 1.5, engine 0.45, I/O threads "
                 "the rest); now (2026-11-27, late) pusher 1.1 s, workers 4 x 0.29 s, engine 0.2 s per 1M.",
        "change": "see the entries below",
        "effect": "rrsim/bare 0.44x -> 0.64x (earlier fixes) -> 0.75x (ipc, 4 workers); the target 0.9x is not met. "
                  "What is left is the point of rrsim: a clock read and a stamp per message in the pusher "
                  "(~0.2 us with the effect on ZeroMQ's I/O thread batching, measured up to 0.5 us), a receive "
                  "time and the header kept per message in the worker (~0.25 us over a bare recv of ~0.3 us), "
                  "and the engine's accounting (~0.2 us). On 2 cores those add up to ~25-35% more CPU per "
                  "message than the baseline, in pure Python.",
    },
    {
        "area": "pusher send loop (rrsim/child/sending.py)",
        "found": "wire.pack_message built a new bytes object per message (struct.pack plus concatenation "
                 "with the padding): 873 ns per send against 415-460 ns for a bare send of a prebuilt payload.",
        "change": "one bytearray of the message size with the magic and pusher index written once; before "
                  "each send only seq and send time are packed into it (struct '<Qq', zmq copies the buffer); "
                  "1024 messages between housekeeping rounds instead of 256.",
        "effect": "578 ns per send in the same microbenchmark with the whole header packed; packing 16 bytes "
                  "instead of 22 saves another ~30 ns (timeit: 172 -> 145 ns).",
    },
    {
        "area": "worker receive loop (rrsim/patterns/push_pull.py)",
        "found": "At rate 0 a worker's loop round took ~17 messages, and each round paid a Poller.poll, a "
                 "recv that ended in zmq.Again (~3 us to raise) and housekeeping that read two empty sockets "
                 "(two more zmq.Again): ~10 us per round, ~0.5 us per message. Then, per message, the magic "
                 "check, a header slice and a bytearray append: 680 ns per queued message against 290 for a "
                 "bare recv (process time, 500k messages).",
        "change": "wait inside a blocking recv (RCVTIMEO 1 ms); look at control, the monitor and the report "
                  "deadline once per millisecond with poll(0), reading a socket only when it has something; "
                  "after 1 ms without a message sleep in a poll any of them ends. A message of the configured "
                  "size is kept whole (a list append) and the headers are cut out at report time from the "
                  "joined batch, 4 strided compares for the magic and 18 strided copies (~25 ns per message); "
                  "other sizes and foreign bytes take the old path. Tried and dropped: recv_into a slot of one "
                  "buffer (pyzmq's recv_into costs more than recv: ~375 vs ~300 ns).",
        "effect": "worker CPU per 250k messages 0.41 -> 0.29 s (1.6 -> 1.2 us per message including start-up); "
                  "1M messages, 4 workers: 0.53 -> 0.66-0.69M msgs/s accounted (same machine, minutes apart).",
    },
    {
        "area": "pusher and worker poll timeouts (rrsim/child/sending.py, rrsim/patterns/push_pull.py)",
        "found": "pyzmq truncates a float poll timeout to whole milliseconds, so a pusher above 1000 msgs/s "
                 "(a wait under 1 ms) polled with 0 ms and spun: each pusher used a full core.",
        "change": "timeouts rounded up to whole milliseconds (sends are scheduled from an epoch, so waking "
                  "up to 1 ms late accumulates no error).",
        "effect": "2 pushers at 1500 msgs/s for 2400 messages: ~1.0 s of CPU each, now ~0.1 s (mostly start-up).",
    },
    {
        "area": "receipt decoding (rrsim/engine/telemetry.py)",
        "found": "np.unique over the pusher column of every batch (~25 ns per message) although nearly every "
                 "batch comes from one pusher; a copy per field after masking.",
        "change": "one pusher (min == max) skips np.unique; fields converted once; no masking when every "
                  "receipt is valid.",
        "effect": "decode 79 -> 40 ns per message at 1200-message batches.",
    },
    {
        "area": "model and ledger per batch (rrsim/model/ledger.py, rrsim/model/model.py)",
        "found": "PusherLedger.record_deliveries used np.add.at (57 ns per message) and np.unique(seqs, "
                 "return_index=True) on every batch; Model._on_Deliveries ran np.unique over the pushers again.",
        "change": "when a batch's seqs are strictly increasing (every batch from one worker for one pusher) "
                  "no np.unique and plain fancy indexing; one pusher skips np.unique in the model too.",
        "effect": "engine CPU per batch (process time, min of 5): 4 workers x 1200 msgs 268 -> 134 us; "
                  "16 workers x 20 msgs 118 -> 89 us; 64 workers x 4 pushers x 20 msgs 235 -> 167 us. "
                  "End to end (ipc, 4 workers, 1M): engine CPU 0.69 -> 0.57 s.",
    },
    {
        "area": "engine at rate 0 with many workers (rrsim/engine/engine.py, rrsim/engine/telemetry.py)",
        "found": "64 workers report every 20 ms: 3200 receipt batches a second of ~60 messages, each costing "
                 "the engine ~170-240 us whatever its size. The engine fell behind without bound: 26 s of "
                 "accounting lag after 30 s, 589 MB peak, the telemetry queue (rcvhwm 0) growing in memory.",
        "change": "Engine._receive_telemetry reads up to 1024 telemetry messages, then telemetry.decode_batch "
                  "merges each worker life's receipt frames into one Deliveries (other events keep their order, "
                  "a malformed message costs only itself).",
        "effect": "scale 64 workers x 4 pushers, 30 s: accounted 22k -> 194k msgs/s (all that was delivered), "
                  "lag at the end 26 s -> 0.1 s, engine peak RSS 589 -> 69 MB.",
    },
    {
        "area": "engine and TUI starved by their own children (rrsim/child/runtime.py)",
        "found": "At rate 0 every child wants a core; the engine (and the TUI in the same process) got a "
                 "fair share of 2 cores among up to 69 processes: 4-11% of a core in the scale benchmark.",
        "change": "children lower their priority at start: os.nice(5), then 10, now 19 (weight 15 against "
                  "1024): the observer wins contention against what it observes; the children stay equal "
                  "among themselves.",
        "effect": "scale 64 x 4, 10 s: accounting lag 25-47 s -> 9-10 s at niceness 5 (before the merge "
                  "above). At the limits (128 workers, 16 pushers, rate 0, 10 s): niceness 10 gave the engine "
                  "17% of a core, 4.6k msgs/s accounted of 51k delivered, 9.4 s behind, 262 MB; niceness 19: "
                  "111k of 115k, 0.2 s behind, 60 MB. UI, 16 workers: timer lag p99 150 -> 67-94 ms from 5 to "
                  "10 (before the GC fix), 25-40 -> 17-22 ms from 10 to 19. Throughput unchanged.",
    },
    {
        "area": "engine step and commands (rrsim/engine/engine.py, rrsim/engine/supervisor.py)",
        "found": "Engine.step read up to 2000 telemetry messages before running requests; behind a backlog "
                 "a step took up to 8 s. Then a kill's end was only seen at the next step's reap.",
        "change": "requests run first in step(), telemetry at most ~20 ms per step; a kill waits up to 50 ms "
                  "for the SIGKILLed child and reports its end within the command.",
        "effect": "kill -> killed in the model, p95: 11 -> 6 ms. UI kill key -> tile, see the UI entries.",
    },
    {
        "area": "child start-up (rrsim/child/runtime.py)",
        "found": "child.py imported zmq.utils.monitor, which imports zmq.asyncio and asyncio: ~35 of the "
                 "~65 ms of CPU a worker spent importing.",
        "change": "the monitor's two frames are parsed with struct ('=HI' and the endpoint).",
        "effect": "64 workers to all connected, median of 5: 3.59 -> 2.13 s; 4 workers 0.43 -> 0.32 s; "
                  "revive to first delivery p95 97 -> 60 ms.",
    },
    {
        "area": "UI event loop stalls (rrsim/tui/app.py)",
        "found": "With 16 workers at rate 0 the worst 50 ms timer lags (60-230 ms) were not frames but "
                 "the garbage collector: 4 full collections in 4 s, the longest 230 ms, and ~400 young "
                 "collections (Textual makes thousands of short-lived objects per frame).",
        "change": "gc.freeze() once the app is mounted (modules, Textual and the widgets live as long as the "
                  "app) and a young-generation threshold of 20,000 instead of 700 (Textual itself pauses the "
                  "GC during smooth scrolling).",
        "effect": "timer lag p99 77 -> 9-31 ms.",
    },
    {
        "area": "UI frame cost (rrsim/tui/widgets/worker_tile.py, worker_grid.py, run_screen.py)",
        "found": "A frame with 16 busy tiles cost ~30 ms of CPU (62 ms wall under load): six widgets per "
                 "tile, sparklines and id lines of one span per character or id, and every tile changing "
                 "every frame; the pacer then let a frame through only every ~200 ms, so a kill took "
                 "250-500 ms to show although the model had it within ~12 ms.",
        "change": "a tile is one widget; neighbouring spans of one style are joined; a frame redraws at most "
                  "6 busy tiles, the longest-waiting first, and a tile whose state changed at once; a change "
                  "worth a log line (killed, started, paused) is drawn at the next tick without waiting for "
                  "the pacer.",
        "effect": "compositor CPU per frame 30 -> 13 ms; kill key -> tile p95 467 -> 35-65 ms.",
    },
    {
        "area": "ledger memory (rrsim/model/ledger.py)",
        "found": "One byte per message: resident 1.001 bytes per message at scale (pages past the messages "
                 "sent are never written), so an unlimited run at ~600k msgs/s grows by ~2 GB an hour.",
        "change": "one bit per message (delivered or not), duplicates counted per pusher rather than per id; "
                  "sorted batches OR each byte once (np.bitwise_or.reduceat), undelivered ids found by "
                  "np.unpackbits in 16 MB chunks.",
        "effect": "resident 1.001 -> ~0.13-0.17 bytes per message; record_deliveries per batch within "
                  "+-6 us of the byte ledger (5000 in order: 47 -> 54 us; 80 strided: 19 -> 13 us).",
    },
    {
        "area": "benchmark method",
        "found": "Textual's Pilot.press waits until the whole process is idle (wait_for_idle compares CPU "
                 "and wall time), up to a second per key with the engine's thread busy in the same process.",
        "change": "the UI benchmark posts Key events to the app and polls the tile itself.",
        "effect": "",
    },
    {
        "area": "benchmark method: the recorded load average",
        "found": "The scale part runs 68 busy processes, so a run started within a few minutes of another "
                 "records a 1-minute load average of 15-35 on an otherwise idle machine (vmstat: 100% idle).",
        "change": "none: the load is recorded as the kernel reports it; compare the bare figures between runs "
                  "to judge the machine (about 1.05M msgs/s over ipc with 4 PULLs when it is quiet).",
        "effect": "",
    },
    {
        "area": "how many workers a run can hold (rrsim/scenario/setup.py MAX_WORKERS)",
        "found": "python -m benchmarks.many_workers 128 256 512 (ipc, 1 pusher, wait_ready, 4 small messages per "
                 "worker; 2 cores, 24 GiB, 2026-11-29): every worker is ~17 MB resident, ~7.8 MB of it its own "
                 "(PSS; the machine's available memory fell by ~8 MB per worker). Start to all connected: 128 in "
                 "13.7 s, 256 in 31 s, 512 in 114 s (spawning alone 9, 18, 55 s: each child's start-up costs "
                 "~0.3 CPU-s and they share 2 cores; load average 426 at 512). The engine holds ~2.0 file "
                 "descriptors per worker (telemetry and control connections: 523 at 256, 1035 at 512), the "
                 "pusher ~1. Past its open-file limit libzmq aborts the engine ('Too many open files', "
                 "ipc_listener.cpp): 160 workers under ulimit -n 300 did so.",
        "change": "MAX_WORKERS 128 -> 256, and the error that refuses more says why.",
        "effect": "256 workers fit under the common default of 1024 open files (~565 with 16 pushers) and start "
                  "in ~30 s; 512 would not fit under 1024 and take two minutes to start here. Memory is not "
                  "what limits: 256 workers use ~2 GB.",
    },
    {
        "area": "the live view at 256 workers x 4 pushers x 5,000 msgs/s (rrsim/child/runtime.py give_way, "
                "rrsim/engine/engine.py _receive_telemetry)",
        "found": "Timer lag p99 140-200 ms, kill key to tile p95 390-500 ms (2026-12-05, morning). A frame's "
                 "read took 9-12 ms of the UI thread's CPU but 26 ms median and up to 143 ms of wall time: "
                 "260 busy children at niceness 19 (weight 15 each) outweighed the UI and engine threads "
                 "(1024 each), and within the process the engine's fold held the GIL, which the UI thread "
                 "waited up to the 5 ms switch interval for each time. A kill waited for the engine's whole "
                 "telemetry batch (tens of ms), then sent 260 control messages whose running-check was a "
                 "syscall each (20 ms). read_frame summed every worker's count once per worker (O(n^2)).",
        "change": "with the live view open, children SCHED_IDLE as well as niceness 19 (headless, SCHED_IDLE "
                  "starved them beside other busy processes: a timed test failed in CI); the engine yields the GIL after each event it "
                  "folds and runs the TUI's commands between events; a kill tells only the killed process "
                  "by control; whether a child runs is read from what reap() heard; the share's denominator "
                  "once per frame; waits and sojourns binned once per batch.",
        "effect": "timer lag p99 20-36 ms and kill p95 23-80 ms in four full runs (targets 50 / 100). "
                  "Throughput at rate 0 did not fall (1.42-1.75x bare pyzmq).",
    },
    {
        "area": "recording at rate 0, .jsonl.gz (rrsim/recording/file.py)",
        "found": "0.83-0.87x of the run without (2026-12-05 full runs); the recorder took 6-8% of the run's "
                 "CPU, most of it zlib compressing 27 bytes of text a message.",
        "change": "deltas 2 bytes wide where they fit (the rest in full), low bytes apart from high bytes "
                  "(format version 3), and ISA-L's gzip (isal) instead of zlib's: the same format nine "
                  "times as fast at level 1.",
        "effect": "13.4 bytes a message (1.5 gzipped); the recorder 4.3% of the run's CPU; 0.97x.",
    },
]
