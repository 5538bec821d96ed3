"""Progress: plain lines when nobody watches a terminal, live bars with rates and time left when someone does."""

import io
import re
import time

from rich.console import Console

from autotl.progress import TerminalProgress, bar, lines, reporting


def test_without_a_terminal_progress_is_plain_lines_on_stderr(capsys):
    with reporting() as progress:
        progress("featurizing")
        with bar(progress, "trial 0", 3, "epochs") as advance:
            advance()
    assert progress is lines
    assert capsys.readouterr().err == "featurizing\n"


def test_json_output_never_gets_bars_even_in_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    with reporting(quiet=True) as progress:
        assert progress is lines


def test_in_a_terminal_bars_show_how_far_how_fast_and_how_long_is_left():
    screen = io.StringIO()
    terminal = TerminalProgress(Console(file=screen, force_terminal=True, width=140))
    with terminal:
        terminal("Scoring 1 source(s)")
        with bar(terminal, "featurizing tiny", 10, "inputs") as advance:
            for _ in range(4):
                time.sleep(0.02)
                advance(1)
            terminal.live.refresh()
            drawn = screen.getvalue()
    assert "Scoring 1 source(s)" in drawn
    assert "featurizing tiny" in drawn and "4/10" in drawn and "inputs/s" in drawn and "left" in drawn


def test_in_a_terminal_a_long_progress_line_is_wrapped_at_its_width():
    screen = io.StringIO()
    terminal = TerminalProgress(Console(file=screen, force_terminal=True, width=80))
    with terminal:
        terminal("[  457s] Chosen: " + "a reason that goes on " * 10)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())  # the terminal's control codes
    shown = [line for line in plain.splitlines() if line.strip()]
    assert len(shown) > 1 and all(len(line) <= 80 for line in shown)
