"""`dialogtui test`'s parts that need no server: test files, expectations, figures, reports."""

from __future__ import annotations

import io
import json
import re
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dialogtui.testing.expect import Failure, TurnResult, evaluate
from dialogtui.testing.keylines import key_lines, line_of
from dialogtui.testing.report import (
    EXCERPT_CHARS,
    MAX_FAILURE_DETAILS,
    CaseId,
    Figures,
    JUnitWriter,
    Report,
    figures_table,
    json_line,
    percentile,
    turn_json,
    turn_text,
    xml_text,
)
from dialogtui.testing.testfile import (
    MAX_FILE_BYTES,
    Expectations,
    TestFile,
    TestFileError,
    load_test_file,
    parse_test_file,
)

EXAMPLE = """\
name = "Pricing"

[[turns]]
send = "What does the premium plan cost?"
[turns.expect]
contains = ["price", "Month"]
not_contains = ["sorry"]
regex = '\\d+ (kr|EUR)'
parts = ["products"]
max_seconds = 5
max_first_text_seconds = 1.5

[[turns]]
choose = "Talk to sales"
expect = { parts = ["show_contact_form"] }

[[turns]]
form = { name = "Ada", email = "ada@example.com", newsletter = true }

[[turns]]
send = "!rate_limited"
expect.error_code = "rate_limited"
"""


def parse(source: str, name: str = "suite.toml") -> TestFile:
    return parse_test_file(source.encode(), name)


def error_of(source: str | bytes, name: str = "suite.toml") -> str:
    data = source.encode() if isinstance(source, str) else source
    with pytest.raises(TestFileError) as caught:
        parse_test_file(data, name)
    return str(caught.value)


# ---------------------------------------------------------------------------------------------
# Test files


def test_a_complete_file_is_read_with_every_kind_of_step_and_expectation() -> None:
    test = parse(EXAMPLE)
    assert test.name == "Pricing"
    first, choose, form, limited = test.turns
    assert (first.number, first.line, first.send) == (1, 3, "What does the premium plan cost?")
    assert first.expect.contains == ("price", "Month")
    assert first.expect.not_contains == ("sorry",)
    assert first.expect.regex is not None and first.expect.regex.pattern == r"\d+ (kr|EUR)"
    assert first.expect.parts == ("products",)
    assert (first.expect.max_seconds, first.expect.max_first_text_seconds) == (5.0, 1.5)
    assert first.expect.outcome == "done"
    assert (choose.choose, choose.line, choose.expect.parts) == (
        "Talk to sales",
        13,
        ("show_contact_form",),
    )
    assert form.form == {"name": "Ada", "email": "ada@example.com", "newsletter": True}
    assert form.label == "(form) email, name, newsletter"
    # An expected error code alone does not also demand `done`.
    assert (limited.expect.error_code, limited.expect.outcome) == ("rate_limited", None)


def test_the_name_defaults_to_the_file_name_and_a_bare_send_expects_done() -> None:
    test = parse('[[turns]]\nsend = "hi"\n', "tests/greeting.toml")
    assert test.name == "greeting"
    assert test.turns[0].expect == Expectations()
    assert test.turns[0].expect.outcome == "done"


def test_inline_arrays_of_turns_are_read_and_located() -> None:
    source = 'turns = [\n  { send = "a" },\n  { send = "b", expect = { outcom = "done" } },\n]\n'
    assert error_of(source).startswith('suite.toml:3: unknown key "outcom" in turn 2\'s expect')


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('nmae = "x"\n[[turns]]\nsend = "hi"\n', 'suite.toml:1: unknown key "nmae" (allowed: '),
        (
            '[[turns]]\nsend = "hi"\n\n[[turns]]\nsend = "b"\nexpext = 1\n',
            'suite.toml:6: unknown key "expext" in turn 2 (allowed: send, choose, form, expect)',
        ),
        (
            '[[turns]]\nsend = "a"\n[[turns]]\nsend = "b"\n[turns.expect]\n\ncontain = ["x"]\n',
            'suite.toml:7: unknown key "contain" in turn 2\'s expect',
        ),
        (
            '[[turns]]\nsend = "a"\nexpect.contans = "x"\n',
            'suite.toml:3: unknown key "contans" in turn 1\'s expect',
        ),
        (
            '[[turns]]\nsend = "a"\n"weird key" = 1\n',
            'suite.toml:3: unknown key "weird key" in turn 1',
        ),
    ],
)
def test_an_unknown_key_is_named_with_its_line(source: str, message: str) -> None:
    assert error_of(source).startswith(message)


def test_text_that_looks_like_a_key_inside_strings_and_comments_is_not_taken_for_one() -> None:
    source = '# expext = 1\n[[turns]]\nsend = """\nexpext = 1\n[[turns]]\n"""\nsend2 = \'x\'\n'
    # The unknown key is on line 7, not in the comment (1) or the string (4).
    assert error_of(source).startswith('suite.toml:7: unknown key "send2" in turn 1')


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "[[turns]]\nsend = 3\n",
            "suite.toml:2: turn 1's send must be a non-empty string, not an integer.",
        ),
        ('[[turns]]\nsend = "  "\n', "suite.toml:2: turn 1's send must be a non-empty string"),
        (
            '[[turns]]\nsend = "a"\nchoose = "b"\n',
            "suite.toml:1: turn 1 needs exactly one of send, choose, form (it has send and choose)",
        ),
        (
            "[[turns]]\nexpect = {}\n",
            "suite.toml:1: turn 1 needs exactly one of send, choose, form (it has none)",
        ),
        ('[[turns]]\nform = "x"\n', "suite.toml:2: turn 1's form must be a table of field values"),
        (
            '[[turns]]\nform = { tags = ["a"] }\n',
            "suite.toml:2: turn 1's form.tags must be a string, number or boolean, not a list.",
        ),
        (
            '[[turns]]\nsend = "a"\nexpect = { contains = [1] }\n',
            "suite.toml:3: turn 1's expect.contains must hold non-empty strings, not an integer.",
        ),
        (
            '[[turns]]\nsend = "a"\nexpect = { contains = [] }\n',
            "suite.toml:3: turn 1's expect.contains must be a list of strings, not a list.",
        ),
        (
            '[[turns]]\nsend = "a"\nexpect = { outcome = "ok" }\n',
            "suite.toml:3: turn 1's expect.outcome must be one of done, error, incomplete, "
            'not "ok".',
        ),
        (
            '[[turns]]\nsend = "a"\n[turns.expect]\nmax_seconds = 0\n',
            "suite.toml:4: turn 1's expect.max_seconds must be a positive number of seconds, "
            "not 0.",
        ),
        ('[[turns]]\nsend = "a"\n[turns.expect]\nmax_seconds = true\n', "not true."),
        (
            '[[turns]]\nsend = "a"\n[turns.expect]\nregex = "(unclosed"\n',
            "suite.toml:4: turn 1's expect.regex is not a valid regular expression: "
            "missing ), unterminated subpattern",
        ),
        (
            '[[turns]]\nsend = "a"\nexpect = "done"\n',
            "suite.toml:3: turn 1's expect must be a table, not a string.",
        ),
        ('name = 3\n[[turns]]\nsend = "a"\n', "suite.toml:1: name must be a non-empty string."),
        ('name = "x"\n', "suite.toml: no turns: add at least one [[turns]] table"),
        ("turns = []\n", "suite.toml:1: no turns: turns is empty."),
        ('turns = "hi"\n', "suite.toml:1: turns must be [[turns]] tables."),
    ],
)
def test_a_value_of_the_wrong_kind_is_named_with_its_line(source: str, message: str) -> None:
    assert message in error_of(source)


def test_invalid_toml_keeps_tomllibs_position() -> None:
    message = error_of('[[turns]]\nsend = "a\n')
    assert message.startswith("suite.toml: not valid TOML: ")
    assert "line 2" in message


def test_text_that_is_not_utf8_is_refused_with_its_line() -> None:
    message = error_of(b'[[turns]]\nsend = "caf\xe9"\n')
    assert message == "suite.toml:2: not UTF-8 text (byte 0xe9); save the file as UTF-8."


def test_a_byte_order_mark_is_allowed() -> None:
    assert parse_test_file(b'\xef\xbb\xbf[[turns]]\nsend = "hi"\n', "x.toml").turns[0].send == "hi"


def test_the_file_size_is_bounded_and_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b'\n[[turns]]\nsend = "a"\n')
    with pytest.raises(TestFileError, match=r"big.toml: too big for a test file \(over 1024 KB\)"):
        load_test_file(str(big))
    with pytest.raises(TestFileError, match=r"nope.toml: cannot read it: No such file"):
        load_test_file(str(tmp_path / "nope.toml"))
    good = tmp_path / "good.toml"
    good.write_text('[[turns]]\nsend = "a"\n', encoding="utf-8")
    assert load_test_file(str(good)).name == "good"


def test_a_file_name_with_control_characters_is_shown_inert() -> None:
    message = error_of("name = 3\n", "evil\x1b[2J.toml")
    assert "\x1b" not in message and "␛[2J" in message


def test_key_lines_follow_nested_arrays_of_tables_dotted_keys_and_quoted_keys() -> None:
    source = (
        "[[a]]\n"
        "x = 1\n"
        "[[a.b]]\n"
        "y = 2\n"
        "[[a]]\n"
        "[[a.b]]\n"
        "[[a.b]]\n"
        "z.w = [1, [2, 3], { q = 4 }]\n"
        '"quoted \\" key" = 5\n'
        "[a.c]\n"
        "m = '''\n''x'''''\n"
        "n = 2026-12-05T07:00:00Z # when\n"
    )
    lines = key_lines(source)
    assert lines[("a", 0, "x")] == 2
    assert lines[("a", 0, "b", 0, "y")] == 4
    assert lines[("a", 1)] == 5
    assert lines[("a", 1, "b", 1)] == 7
    assert lines[("a", 1, "b", 1, "z", "w", 2, "q")] == 8
    assert lines[("a", 1, "b", 1, 'quoted " key')] == 9
    assert lines[("a", 1, "c", "n")] == 13
    assert line_of(lines, ("a", 1, "b", 1, "nothing", "here")) == 7
    assert line_of(lines, ("nothing",)) is None


def test_key_lines_never_fail_on_text_they_cannot_follow() -> None:
    assert key_lines("[[turns]\n= broken") == {}


# ---------------------------------------------------------------------------------------------
# Expectations


def result(reply: str = "The price is 99 kr a month.", **fields: object) -> TurnResult:
    values: dict[str, object] = {
        "outcome": "done",
        "part_types": frozenset({"rich_text", "products"}),
        "to_headers": 0.01,
        "to_first_text": 0.2,
        "total": 1.0,
    }
    values.update(fields)
    return TurnResult(reply, **values)  # type: ignore[arg-type]


def expectations(source: str) -> Expectations:
    return parse(f'[[turns]]\nsend = "x"\n[turns.expect]\n{source}\n').turns[0].expect


def test_expectations_that_hold_report_nothing() -> None:
    expect = expectations(
        'contains = ["PRICE", "month"]\nnot_contains = ["sorry"]\nregex = "\\\\d+ kr"\n'
        'parts = ["products"]\nmax_seconds = 1\nmax_first_text_seconds = 0.2'
    )
    assert evaluate(expect, result()) == []


def test_each_failing_expectation_is_named_with_what_was_seen() -> None:
    expect = expectations(
        'contains = ["price", "euro"]\nnot_contains = ["MONTH"]\nregex = "EUR$"\n'
        'parts = ["products", "show_contact_form"]\nmax_seconds = 0.5\n'
        "max_first_text_seconds = 0.1"
    )
    assert [str(f) for f in evaluate(expect, result())] == [
        'contains "euro": the reply does not contain it',
        'not_contains "MONTH": the reply contains it',
        'regex "EUR$": the reply does not match it',
        "parts show_contact_form: it is not in the reply (its parts: products, rich_text)",
        "max_seconds = 0.5: it took 1.00 s",
        "max_first_text_seconds = 0.1: the first text took 0.20 s",
    ]


def test_the_outcome_is_done_unless_said_otherwise() -> None:
    failed = result("", outcome="error", error_code="stream_error", to_first_text=None)
    assert [str(f) for f in evaluate(Expectations(), failed)] == [
        "outcome = done: the turn ended error (stream_error)"
    ]
    assert evaluate(expectations('outcome = "error"'), failed) == []
    assert evaluate(expectations('error_code = "stream_error"'), failed) == []
    assert [str(f) for f in evaluate(expectations('error_code = "rate_limited"'), failed)] == [
        'error_code = "rate_limited": the error code was stream_error'
    ]
    assert [str(f) for f in evaluate(expectations('error_code = "x"'), result())] == [
        'error_code = "x": no error'
    ]


def test_missing_times_fail_their_limits() -> None:
    expect = expectations("max_seconds = 1\nmax_first_text_seconds = 1")
    assert [str(f) for f in evaluate(expect, result(total=None, to_first_text=None))] == [
        "max_seconds = 1: no time measured",
        "max_first_text_seconds = 1: no text arrived",
    ]


def test_a_step_that_could_not_be_played_reports_only_that() -> None:
    problem = Failure('choose "Sales"', "no suggestion or quick reply has that title")
    assert evaluate(Expectations(contains=("x",)), result(problem=problem)) == [problem]


def test_expectations_quote_long_and_hostile_text_inert() -> None:
    failure = evaluate(Expectations(contains=("\x1b]52;c;bad\x07" + "y" * 100,)), result())[0]
    assert "\x1b" not in failure.expectation and "\x07" not in failure.expectation
    assert failure.expectation.endswith('…"') and len(failure.expectation) < 80


# ---------------------------------------------------------------------------------------------
# Figures and the readable report


def test_percentiles_are_nearest_rank_values_that_were_measured() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 1.0)) == (
        50.0,
        95.0,
        100.0,
    )
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([], 0.5) is None


def test_the_figures_table_has_p50_p95_max_and_errors_by_code() -> None:
    figures = Figures()
    for index in range(20):
        figures.add(result(total=0.1 * (index + 1), to_first_text=0.01 * (index + 1)))
    figures.add(result(outcome="error", error_code="rate_limited", to_first_text=None))
    figures.add(result(outcome="error", error_code="rate_limited", to_first_text=None))
    figures.add(result(outcome="incomplete", to_first_text=None))
    table = figures_table(figures)
    assert re.search(r"done\s+1\.00 s\s+1\.90 s\s+2\.00 s\s+23", table), table
    assert re.search(r"first text\s+100 ms\s+190 ms\s+200 ms\s+20", table), table
    assert "errors by code: rate_limited 2, incomplete 1" in table


def case(number: int = 2, **fields: int) -> CaseId:
    # The second step's text has an ESC in it (a TOML escape): names must show it inert.
    test = parse(
        'name = "Pricing"\n[[turns]]\nsend = "a"\n[[turns]]\nsend = "What\\u001b does it cost?"\n'
    )
    return CaseId(test, test.turns[number - 1], **fields)


def test_a_failing_turn_shows_the_expectation_and_the_reply_trimmed_and_inert() -> None:
    reply = "Hello \x1b[31mred\x1b[0m\n\nworld " + "z" * 1000
    failures = [Failure('contains "price"', "the reply does not contain it")]
    text = turn_text(case(), result(reply), failures, many=False)
    lines = text.splitlines()
    assert lines[0].startswith("FAIL Pricing · turn 2: What␛ does it cost?  1.00 s")
    assert lines[1] == '     contains "price": the reply does not contain it'
    assert lines[2].startswith('     reply: "Hello ␛[31mred␛[0m world zzz')
    assert lines[2].endswith('…"') and len(lines[2]) < EXCERPT_CHARS + 20
    assert "\x1b" not in text
    passed = turn_text(case(1, visitor=3, round=2), result(), [], many=True)
    assert passed == "ok   Pricing · turn 1 (visitor 3, round 2): a  1.00 s\n"


def test_the_json_line_is_one_ascii_object_with_the_whole_reply() -> None:
    reply = "Price \x1b[2J 99 kr ✓"
    line = json_line(turn_json(case(), result(reply), [Failure("outcome = done", "x")]))
    assert line.endswith("\n") and line.count("\n") == 1 and line.isascii()
    record = json.loads(line)
    assert record["reply"] == reply
    assert record["passed"] is False
    assert record["failures"] == [{"expectation": "outcome = done", "reason": "x"}]
    assert record["timings"] == {"to_headers_ms": 10, "to_first_text_ms": 200, "total_ms": 1000}
    assert (record["test"], record["turn"], record["visitor"], record["round"]) == (
        "Pricing",
        2,
        1,
        1,
    )
    assert record["parts"] == ["products", "rich_text"]


def test_the_summary_groups_failures_of_the_same_step_and_counts_them() -> None:
    report = Report(many=True)
    report.add(case(1), result(), [])
    missing = [Failure('contains "x"', "the reply does not contain it")]
    for visitor in range(1, 4):
        report.add(case(2, visitor=visitor), result(f"nope {visitor}"), missing)
    report.add(case(2, visitor=4), result("slow"), [Failure("max_seconds = 1", "it took 2 s")])
    report.rate_limited(1.5)
    report.rate_limited(0.5)
    summary = report.summary()
    assert "5 turns: 1 passed, 4 failed" in summary
    assert (
        "Failures:\n"
        "  Pricing · turn 2: What␛ does it cost? (3 times)\n"
        '    contains "x": the reply does not contain it\n'
        '    reply: "nope 1"\n'
        "  Pricing · turn 2: What␛ does it cost?\n"
        "    max_seconds = 1: it took 2 s\n"
        '    reply: "slow"\n'
    ) in summary
    assert "rate limited: waited 2 times, 2.0 s in all" in summary
    assert "latency" in summary and "p95" in summary
    assert "Failures:" not in report.summary(list_failures=False)


def test_the_kinds_of_failure_kept_are_bounded_and_the_rest_counted() -> None:
    report = Report()
    for index in range(MAX_FAILURE_DETAILS + 5):
        report.add(case(2), result(), [Failure(f'contains "{index}"', "not there")])
    summary = report.summary()
    assert len(report.groups) == MAX_FAILURE_DETAILS
    assert summary.count("reply: ") == MAX_FAILURE_DETAILS
    assert "... and 5 more failed turns" in summary


# ---------------------------------------------------------------------------------------------
# JUnit XML


def test_junit_has_one_case_per_turn_and_parses_back_with_any_reply_text(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    writer = JUnitWriter(str(path))
    hostile = 'a\x00b\x01\x1b[2J\x7f\x85 <tag> & "quotes" ]]> \ud800 \ufffe end'
    writer.add(case(1), result(), [], many=False)
    writer.add(
        case(2),
        result(hostile),
        [
            Failure('contains "<price>"', "the reply does not contain it"),
            Failure("max_seconds = 1", "it took 2 s"),
        ],
        many=False,
    )
    other = parse('name = "Other & <more>"\n[[turns]]\nsend = "x\\u0000y"\n', "other.toml")
    writer.add(CaseId(other, other.turns[0]), result(), [], many=False)
    writer.finish()
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("3", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["Pricing", "Other & <more>"]
    assert [(s.get("tests"), s.get("failures")) for s in suites] == [("2", "1"), ("1", "0")]
    cases = root.iter("testcase")
    names = [c.get("name") for c in cases]
    assert names == ["turn 1: a", "turn 2: What␛ does it cost?", "turn 1: x␀y"]
    failures = list(root.iter("failure"))
    assert len(failures) == 1
    assert failures[0].get("message") == (
        'contains "<price>": the reply does not contain it; max_seconds = 1: it took 2 s'
    )
    assert failures[0].get("type") == 'contains "<price>"'
    body = failures[0].text or ""
    assert '<tag> & "quotes" ]]>' in body and "a␀b␁␛[2J␡" in body
    assert not list(tmp_path.glob(".junit-*"))  # written whole, then renamed into place


def test_xml_text_replaces_what_xml_cannot_hold() -> None:
    # The lone surrogate is marked by the one terminal-text rule (text.sanitize); U+FFFF and
    # U+FFFE, which XML 1.0 cannot hold, are replaced.
    shown = xml_text("ok\n\x00\x08\x0b\ud800\uffff\ufffe")
    assert shown == "ok\n␀␈␋⟨U+D800⟩\ufffd\ufffd"
    assert not {"\ud800", "\uffff", "\ufffe"} & set(shown)
    element = ET.fromstring(f"<r>{shown}</r>".encode())  # XML 1.0 takes it as it is
    assert element.text == shown


def test_junit_is_written_even_with_no_turns_played(tmp_path: Path) -> None:
    path = tmp_path / "empty.xml"
    JUnitWriter(str(path)).finish()
    assert ET.parse(path).getroot().get("tests") == "0"


# ---------------------------------------------------------------------------------------------
# Memory


def test_the_report_keeps_figures_not_replies_over_a_thousand_turns(tmp_path: Path) -> None:
    """30 KB replies, every turn failing, JUnit on: what the report holds must not grow with
    the replies (keeping them would be 30 MB here)."""
    report = Report(many=True, junit=JUnitWriter(str(tmp_path / "j.xml")))
    reply = "word " * 6000
    failures = [Failure('contains "price"', "the reply does not contain it")]
    out = io.StringIO()
    step = case(2)

    def play(turns: int) -> None:
        for index in range(turns):
            outcome = result(reply + str(index), total=index / 1000)
            played = CaseId(step.file, step.turn, visitor=index % 20 + 1, round=index // 20 + 1)
            report.add(played, outcome, failures)
            out.write(turn_text(played, outcome, failures, many=True))
            out.seek(0)
            out.truncate()

    tracemalloc.start()
    try:
        play(100)  # past the kept failure details
        before = tracemalloc.get_traced_memory()[0]
        play(1000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        assert report.junit is not None
        report.junit.finish()
    assert report.turns == 1100
    # Three doubles a turn, and the arrays' spare room: well under 100 KB for 1,000 turns.
    assert grown < 100_000, grown
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "1100"


def test_the_progress_line_is_redrawn_at_most_four_times_a_second_and_cleared() -> None:
    from dialogtui.commands.test import _Progress

    now = [0.0]
    stream = io.StringIO()
    progress = _Progress(stream, clock=lambda: now[0])
    progress.clear()  # nothing shown: nothing to clear
    progress.show(1, 0)
    now[0] = 0.1
    progress.show(2, 0)  # too soon
    now[0] = 0.3
    progress.show(3, 1)
    progress.clear()
    progress.show(4, 1)  # right after a clear: shown at once
    assert stream.getvalue() == (
        "\r1 turns played, 0 failed \r3 turns played, 1 failed \r\x1b[K\r4 turns played, 1 failed "
    )


def test_a_junit_file_that_cannot_be_written_is_said_at_the_end_not_mid_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = JUnitWriter(str(tmp_path / "j.xml"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "gone"))  # cases cannot be kept
    writer.add(case(1), result(), [], many=False)  # the run goes on
    writer.add(case(2), result(), [], many=False)
    with pytest.raises(OSError):
        writer.finish()
    assert not (tmp_path / "j.xml").exists()


def test_a_recorded_file_round_trips_any_text_and_names_codes_as_the_runner_does() -> None:
    from types import SimpleNamespace

    from dialogtui.api.models import ProductsPart, RichTextPart
    from dialogtui.testing.record import recorded_turns, test_file_text
    from dialogtui.text import FORMAT_CHARACTERS

    def message(role: str, text: str, **fields: object) -> SimpleNamespace:
        values: dict[str, object] = {"status": "done", "error": None, "figures": None}
        values["parts"] = None
        values.update(fields)
        return SimpleNamespace(role=role, text=text, **values)

    def stored_error(**fields: object) -> SimpleNamespace:
        return SimpleNamespace(**({"code": None, "status": None, "kind": "http"} | fields))

    hostile = 'a "quote" \\ back\x7f\x1b[2J tab\there\nnew line ø \ud800 \x9b2J \u202eevil'
    messages = [
        message("assistant", "Welcome!"),  # before any user message: dropped
        message("user", hostile),
        message(
            "assistant",
            "Our\x8d blanket\x1b]52;c;x\x07 costs 399 DKK.",
            parts=[RichTextPart(), ProductsPart()],
            figures={"total": 2.5},
        ),
        message("user", "busy?"),
        message("assistant", "", status="error", error=stored_error(status=429)),
        message("user", "broken?"),
        message("assistant", "", status="error", error=stored_error(status=502)),
        message("user", "   "),  # nothing to send: dropped
    ]
    text = test_file_text(recorded_turns(messages), name='Bot "A"', source="saved 7")
    test = parse_test_file(text.encode(), "rec.toml")
    assert test.name == 'Bot "A"'
    first, busy, broken = test.turns
    assert first.send == hostile.replace("\ud800", "\ufffd")
    assert (first.expect.parts, first.expect.max_seconds) == (("products",), 8.0)
    assert (busy.expect.outcome, busy.expect.error_code) == ("error", "rate_limited")
    assert broken.expect.error_code == "http_502"
    # No control or format character is written raw (TOML would take C1 and bidi raw).
    assert not re.search(f"[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f{FORMAT_CHARACTERS}]", text)
    # The hint is a TOML string in a comment: escaped, ready to uncomment.
    assert '# contains = ["Our\\u008d blanket\\u001b]52;c;x\\u0007 costs 399"]' in text
    assert "#   Our\ufffd blanket␛]52;c;x␇ costs 399 DKK." in text  # quoted, as shown
