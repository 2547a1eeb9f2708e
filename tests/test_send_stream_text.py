"""`dialogtui send` prints streamed text as it would print it whole.

A CR LF or an emoji sequence's joiner (U+200D) split across two deltas must not show a stray
marker (␍, ⟨U+200D⟩) that the same text in one piece would not: `send`'s output is
`sanitize` of the whole reply, however the server chunked it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.devserver.content import SPLIT_JOINERS, SPLIT_SPANS, split_joiners_text
from dialogtui.text import StreamSanitizer, sanitize

# The characters whose showing depends on a neighbour, and some around them.
TRICKY = [
    "\r", "\n", "\u200d", "\ufe0f", "\ufe0e", "\t", "a", " ", "\x1b", "\u202e",
    "\U0001f469", "\U0001f4bb", "\u2764", "\U0001f3fd", "\U0001f525", "\u00a9",
]  # fmt: skip


@settings(deadline=None)  # a shared machine: how long an example takes is not the property
@given(st.lists(st.text(alphabet=st.sampled_from(TRICKY), max_size=6), max_size=8))
def test_pieces_through_the_stream_sanitizer_read_as_the_whole(pieces: list[str]) -> None:
    stream = StreamSanitizer()
    shown = "".join(stream.feed(piece) for piece in pieces) + stream.flush()
    assert shown == sanitize("".join(pieces))


def test_the_stream_sanitizer_holds_back_only_what_could_join() -> None:
    stream = StreamSanitizer()
    assert stream.feed("plain words ") == "plain words "  # nothing held: printed at once
    assert stream.feed("a coder \U0001f469") == "a coder \U0001f469"  # shown whatever follows
    assert stream.feed("\u200d") == ""  # shown only if a pictograph follows
    assert stream.feed("\U0001f4bb!") == "\u200d\U0001f4bb!"
    assert stream.feed("\u2764\ufe0f") == "\u2764\ufe0f"
    assert stream.feed("\u200d") == ""
    assert stream.feed("\U0001f525") == "\u200d\U0001f525"  # joined across the VS before it
    assert stream.feed("\U0001f44b\u200d") == "\U0001f44b"
    assert stream.feed(" stray") == "\u27e8U+200D\u27e9 stray"
    assert stream.feed("line\r") == "line"
    assert stream.feed("\nnext") == "\nnext"
    assert stream.feed("end\r") == "end"
    assert stream.flush() == "\u240d"  # a CR at the very end is still shown
    assert stream.feed("\U0001f469") + stream.flush() == "\U0001f469"
    assert stream.feed("\u200d\U0001f4bb") == "\u27e8U+200D\u27e9\U0001f4bb"  # a new text


def test_a_long_run_of_symbols_is_printed_as_it_comes() -> None:
    # Box drawing, (c) and emoji are all pictographs ("So"): none is held back for what may
    # follow it, so each is printed when it comes and the held part never grows.
    stream = StreamSanitizer()
    for _ in range(10_000):
        assert stream.feed("\u2500") == "\u2500"
    assert stream.flush() == ""
    # A run of joined emoji: only the joiner waits for the pictograph after it.
    coders = "\U0001f469\u200d\U0001f4bb" * 3_000
    shown = []
    for char in coders:
        printed = stream.feed(char)
        assert len(printed) <= 2  # the character, after a held joiner
        shown.append(printed)
    shown.append(stream.flush())
    assert "".join(shown) == sanitize(coders) == coders


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGTUI_")}
    env |= {
        "DIALOGTUI_API_KEY": DEMO_API_KEY,
        "DIALOGTUI_CONFIG_DIR": str(tmp_path / "config"),
        "DIALOGTUI_DATA_DIR": str(tmp_path / "data"),
    }
    return env


def send(server: DevServer, text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "dialogtui", "send", "--no-save"),
            *("--base-url", server.base_url, "--chatbot-id", DEMO_CHATBOT_ID, text),
        ],
        env=cli_env(tmp_path),
        capture_output=True,
        encoding="utf-8",
        timeout=60,
    )


def test_send_prints_split_joiners_and_crlf_as_the_whole_text(
    server: DevServer, tmp_path: Path
) -> None:
    whole = split_joiners_text()
    piecewise = "\n\n".join(
        "".join(sanitize(str(piece if isinstance(piece, str) else piece["text"])) for piece in p)
        for p in [*SPLIT_JOINERS, *SPLIT_SPANS]
    )
    assert piecewise != sanitize(whole)  # the scenario does split where it matters

    sent = send(server, "show me !split_joiners", tmp_path)

    assert sent.returncode == 0, sent.stderr
    assert server.stats.scenario_count("split_joiners") == 1
    assert sent.stdout == sanitize(whole) + "\n"
    assert "\u240d" not in sent.stdout.split("Line one")[1].split("A lone CR")[0]
    assert "\U0001f469\u200d\U0001f4bb" in sent.stdout  # the sequence, joined
    assert "joiner\u27e8U+200D\u27e9between" in sent.stdout  # a stray joiner is still shown
    # Split between a plain and a bold span (a link with no text reads as its URL), between
    # a struck and a plain one.
    assert "two spans: \U0001f469\u200d\U0001f4bb (plain" in sent.stdout
    assert "in bold: \u2764\ufe0f\u200d\U0001f525 firehttps://example.com/fire" in sent.stdout
    assert "Struck line\nthen plain" in sent.stdout
    assert "joiner\u27e8U+200D\u27e9after bold" in sent.stdout
    assert sent.stderr == ""  # and the reply is not printed a second time


def test_send_does_not_reprint_a_reply_whose_text_needed_sanitizing(
    server: DevServer, tmp_path: Path
) -> None:
    # The parts' text comes sanitized, the streamed text not yet: compared as shown, they agree.
    sent = send(server, "show me !escapes", tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert "changed after it was printed" not in sent.stderr
    assert sent.stdout.count("Bidi override") == 1


def test_run_prints_split_joiners_as_the_whole_text(server: DevServer, tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_text("show me !split_joiners\n", encoding="utf-8")
    ran = subprocess.run(
        [
            *(sys.executable, "-m", "dialogtui", "run", "--no-save"),
            *("--base-url", server.base_url, "--chatbot-id", DEMO_CHATBOT_ID, str(script)),
        ],
        env=cli_env(tmp_path),
        capture_output=True,
        encoding="utf-8",
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    assert server.stats.scenario_count("split_joiners") == 1
    # The reply, indented under its turn: each paragraph reads as the whole text sanitized.
    shown = "\n".join(line.removeprefix("    ") for line in ran.stdout.splitlines())
    for paragraph in sanitize(split_joiners_text()).split("\n\n"):
        assert paragraph in shown
