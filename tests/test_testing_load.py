"""The Locust extra: a short headless Locust run (a child process: Locust patches the standard
library with gevent on import) playing test files against the dev server on loopback."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer

ROOT = Path(__file__).resolve().parents[1]

SHOP = """\
name = "Shop"

[[turns]]
send = "What do you sell?"
expect = { parts = ["products"] }

[[turns]]
choose = "Talk to sales"
expect = { parts = ["show_contact_form"] }

[[turns]]
form = { name = "Ada", email = "ada@example.com" }
expect = { contains = ["thanks"] }

[[turns]]
send = "and the price?"
expect = { contains = ["a price that is not there"] }
"""


def test_a_headless_locust_run_plays_the_files_and_counts_the_failing_expectation(
    server: DevServer, tmp_path: Path
) -> None:
    (tmp_path / "shop.toml").write_text(SHOP, encoding="utf-8")
    (tmp_path / "locustfile.py").write_text(
        "from dialogtui.testing.load import ConversationUser\n\n"
        "class ShopVisitor(ConversationUser):\n"
        f"    test_files = [{str(tmp_path / 'shop.toml')!r}]\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIALOGTUI_")}
    env.update(
        DIALOGTUI_API_KEY=DEMO_API_KEY,
        DIALOGTUI_CHATBOT_ID=DEMO_CHATBOT_ID,
        DIALOGTUI_CONFIG_DIR=str(tmp_path / "config"),
        DIALOGTUI_DATA_DIR=str(tmp_path / "data"),
        DIALOGTUI_LOG_DIR=str(tmp_path / "log"),
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        [
            *(sys.executable, "-m", "locust", "-f", str(tmp_path / "locustfile.py")),
            *("--headless", "-u", "3", "-r", "3", "-t", "4s", "--stop-timeout", "5"),
            *("--host", server.base_url, "--csv", str(tmp_path / "run"), "--only-summary"),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 1, done.stderr[-3000:]  # Locust's code for a run with failures
    with open(tmp_path / "run_stats.csv", encoding="utf-8") as stream:
        rows = {(row["Type"], row["Name"]): row for row in csv.DictReader(stream)}
    for number in (1, 2, 3, 4):
        played = rows[("turn", f"Shop · turn {number}")]
        assert int(played["Request Count"]) >= 1
        # Every play of the last turn fails its expectation; no other turn ever fails.
        failed = int(played["Failure Count"])
        assert failed == (int(played["Request Count"]) if number == 4 else 0), played
    assert int(rows[("first text", "Shop · turn 1")]["Request Count"]) >= 1
    with open(tmp_path / "run_failures.csv", encoding="utf-8") as stream:
        failures = list(csv.DictReader(stream))
    assert [row["Name"] for row in failures] == ["Shop · turn 4"]
    assert 'contains "a price that is not there"' in failures[0]["Error"]
    # Each play was a new visitor (its own token) and sent its form once. The server sees more
    # plays than Locust's statistics count: those still running when the time was up end
    # after Locust has stopped counting.
    plays = int(rows[("turn", "Shop · turn 1")]["Request Count"])
    assert server.stats.count("POST /auth") >= plays
    forms = int(rows[("turn", "Shop · turn 3")]["Request Count"])
    assert server.stats.count("POST /actions") >= forms
