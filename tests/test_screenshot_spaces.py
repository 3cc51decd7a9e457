"""Two ids on a tile's line always have a space between them, on screen and in the screenshots.

The two-pushers screenshot showed ``p1:184p2:184``: the tile had drawn the space, but the SVG
had it as the first character of the next coloured run, and librsvg strips a text's leading
spaces unless the SVG says ``xml:space="preserve"``.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console
from rich.text import Text

from rrsim.tui.widgets.worker_tile import recent_id_lines
from tests import screenshots
from tests.scenes import SCENES
from tests.screenshots import preserve_spaces

XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def test_ids_of_two_pushers_are_one_space_apart_at_every_width():
    recent = tuple((pusher, seq) for seq in range(184, 240, 8) for pusher in (1, 2))
    for width in range(7, 60):
        for line in recent_id_lines(recent, width, rows=10):
            assert re.fullmatch(r"p[12]:\d+( p[12]:\d+)*", line.plain), (width, line.plain)
            assert line.cell_length <= width


def test_a_screenshot_keeps_the_space_that_starts_a_coloured_run():
    console = Console(record=True, width=20, file=io.StringIO())
    console.print(Text.assemble(("p1:184", "cyan"), (" p2:184", "yellow")))
    svg = preserve_spaces(console.export_svg())
    root = ET.fromstring(svg)
    assert root.get(XML_SPACE) == "preserve"
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "\u00a0p2:184" in texts  # the run starts with its space, which the root now keeps


def test_the_readme_names_the_screenshot_writer_and_its_scenes_exist():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert f"`python -m {screenshots.__name__}`" in readme
    assert {shot.scene for shot in screenshots.SHOTS} <= SCENES.keys()
