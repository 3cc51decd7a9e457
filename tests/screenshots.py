"""Write the SVG screenshots in screenshots/ from pretend runs: no processes, same picture every time.

Run from the repository root:

    python -m tests.screenshots            # writes screenshots/*.svg
    python -m tests.screenshots OUT_DIR    # or somewhere else
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from rrsim.tui.app import RrsimApp
from tests.scenes import SCENES


@dataclass(frozen=True)
class Shot:
    file: str
    scene: str
    size: tuple[int, int]
    keys: tuple[str, ...] = ()


SHOTS = (
    Shot("start.svg", "start", (100, 30)),
    Shot("kill-and-lost.svg", "kill", (100, 30)),
    Shot("revive.svg", "revive", (100, 30)),
    Shot("help.svg", "start", (100, 40), ("question_mark",)),
    Shot("two-pushers.svg", "busy", (160, 45)),
    Shot("busy-worker-push-pull.svg", "busy-worker-push-pull", (120, 34)),
    Shot("busy-worker-lb-broker.svg", "busy-worker-lb-broker", (120, 34)),
    Shot("broker-killed.svg", "broker-killed", (120, 34)),
    Shot("message-map.svg", "revive", (120, 34), ("m",)),
    Shot("queued-for-dead.svg", "dead-queue", (100, 30)),
    Shot("reliable-given-up.svg", "given-up", (120, 34)),
)


async def take(shot: Shot) -> str:
    scene = SCENES[shot.scene]()
    app = RrsimApp(scene.source(), scene.scenario)
    async with app.run_test(size=shot.size) as pilot:
        await pilot.press(*shot.keys)
        await pilot.pause()
        return preserve_spaces(app.export_screenshot(title=f"rrsim · {shot.file.removesuffix('.svg')}"))


def preserve_spaces(svg: str) -> str:
    """The SVG with its spaces kept as drawn.

    Rich writes each run of one style as its own ``<text>`` and a space as ``&#160;``, so a run
    after a coloured one often starts with a space (`` p2:184`` after ``p1:184``). Without
    ``xml:space="preserve"`` an SVG renderer may strip a text's leading spaces as SVG 1.1's
    default white-space handling says (librsvg does, NBSP included): the two ids are then drawn
    side by side, ``p1:184p2:184``, though the terminal shows a space. Browsers keep it.
    """
    return svg.replace("<svg ", '<svg xml:space="preserve" ', 1)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    for shot in SHOTS:
        (out / shot.file).write_text(asyncio.run(take(shot)), encoding="utf-8")
        print(out / shot.file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
