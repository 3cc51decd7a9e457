"""The live view as one browser tab's process under ``rrsim --web``: Textual's web driver, which
also ends the app when the server that started it has gone."""

from __future__ import annotations

from textual import messages
from textual.drivers.web_driver import WebDriver


class BrowserDriver(WebDriver):
    """Textual's web driver, for a tab whose server may vanish.

    textual-serve asks the app to quit when the tab closes; if the server itself has gone (killed,
    crashed), the app's input ends instead, and Textual's own driver would then wait for ever."""

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if not self.exit_event.is_set():  # the input ended, and not because the app stops
            self._app.post_message(messages.ExitApp())
