"""Attachments: files read, typed and checked (`dialogtui.attachments`), sent by the real CLI
to the real dev server, which checks what arrived; refused files send and record nothing."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

import httpx
import pytest

from dialogtui.attachments import (
    ACTION_MAX_ENCODED,
    MAX_ATTACHMENTS,
    MESSAGE_MAX_BYTES,
    MESSAGE_MAX_ENCODED,
    AttachmentError,
    clean_path,
    load,
    sniff_mime,
)
from dialogtui.cli import main
from dialogtui.devserver import DEMO_API_KEY, DEMO_CHATBOT_ID, DevServer
from dialogtui.store import DB_FILENAME, TranscriptStore


def jpeg(width: int = 64, height: int = 48, padding: int = 0) -> bytes:
    """A minimal JPEG header (SOI, APP0, SOF0 with the size, EOI): enough to be sniffed and
    measured; `padding` bytes in a comment segment make it as large as a test needs."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    comments = b""
    while padding > 0:
        chunk = min(padding, 65533)
        comments += b"\xff\xfe" + struct.pack(">H", chunk + 2) + b"x" * chunk
        padding -= chunk
    return b"\xff\xd8" + app0 + comments + sof0 + b"\xff\xd9"


def png(width: int = 4, height: int = 3) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x10\x20\x30" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("DIALOGTUI_DATA_DIR", str(data))
    monkeypatch.setenv("DIALOGTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DIALOGTUI_API_KEY", DEMO_API_KEY)
    return data


def send(server: DevServer, text: str, *extra: str) -> int:
    return main(
        ["send", "--base-url", server.base_url, "--chatbot-id", DEMO_CHATBOT_ID, *extra, text]
    )


def saved_messages(data: Path) -> list[str]:
    if not (data / DB_FILENAME).exists():
        return []
    with TranscriptStore.open(data / DB_FILENAME) as store:
        return [m.text for c in store.conversations() for m in store.messages(c.id)]


# -- reading and typing a file -----------------------------------------------------------------


def test_the_type_comes_from_the_bytes_then_the_name(tmp_path: Path) -> None:
    assert sniff_mime(jpeg(), "notes.txt") == "image/jpeg"  # the bytes win over the name
    assert sniff_mime(png()) == "image/png"
    assert sniff_mime(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_mime(b"%PDF-1.7\n") == "application/pdf"
    assert sniff_mime(b"hello", "notes.txt") == "text/plain"
    # A name that claims an image the bytes do not show is not believed.
    assert sniff_mime(b"hello", "photo.jpg") == "application/octet-stream"
    assert sniff_mime(b"\x00\x01", "blob") == "application/octet-stream"


def test_a_photo_becomes_an_image_part_of_bare_base64(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg())
    attachment = load(str(photo))
    part = attachment.message_part()
    assert part == {
        "type": "image",
        "data": base64.b64encode(jpeg()).decode(),
        "mime": "image/jpeg",
        "filename": "photo.jpg",
    }
    assert not part["data"].startswith("data:")
    assert attachment.action_attachment() == {
        "filename": "photo.jpg",
        "mime_type": "image/jpeg",
        "data_base64": part["data"],
    }
    notes = tmp_path / "notes.txt"
    notes.write_text("two lines\nof notes\n")
    assert load(str(notes)).message_part()["type"] == "file"


def test_the_sdk_limits_agree_with_its_base64_caps() -> None:
    # 5 MiB of bytes is 6,990,508 base64 characters (the TypeSpec cap) to within padding.
    assert len(base64.b64encode(b"\x00" * MESSAGE_MAX_BYTES)) - MESSAGE_MAX_ENCODED in range(0, 4)
    assert len(base64.b64encode(b"\x00" * 2 * 1024 * 1024)) - ACTION_MAX_ENCODED in range(0, 4)


def test_refusals_name_the_file_and_the_reason(tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(jpeg(padding=MESSAGE_MAX_BYTES))
    with pytest.raises(AttachmentError, match=r"big\.jpg: it is 5\.0 MiB; the most one"):
        load(str(big))
    with pytest.raises(AttachmentError, match="no such file"):
        load(str(tmp_path / "missing.png"))
    with pytest.raises(AttachmentError, match="it is a directory"):
        load(str(tmp_path))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(AttachmentError, match="the file is empty"):
        load(str(empty))
    notes = tmp_path / "notes.txt"
    notes.write_text("text")
    with pytest.raises(AttachmentError, match="this accepts image/png, image/jpeg"):
        load(str(notes), accepted=["image/png", "image/jpeg"])
    small = tmp_path / "small.jpg"
    small.write_bytes(jpeg(padding=3000))
    with pytest.raises(AttachmentError, match=r"the most one attachment may be is 2 KB \(the"):
        load(str(small), limit=2048, limit_source="the prompt's limit")


def test_an_unreadable_path_is_refused(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg())
    with pytest.raises(AttachmentError, match="not a directory"):
        load(str(photo / "inside.jpg"))
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(AttachmentError, match=r"dangling\.jpg: no such file"):
        load(str(tmp_path / "dangling.jpg"))


def test_a_dropped_path_is_cleaned(tmp_path: Path) -> None:
    assert clean_path("'/tmp/my photo.jpg'") == "/tmp/my photo.jpg"
    assert clean_path('"/tmp/a.png"\n') == "/tmp/a.png"
    assert clean_path("file:///tmp/my%20photo.jpg") == "/tmp/my photo.jpg"
    assert clean_path("/tmp/my\\ photo.jpg") == "/tmp/my photo.jpg"
    assert clean_path("~/x.png") == str(Path.home() / "x.png")


# -- the real CLI against the real server ------------------------------------------------------


def test_send_attach_sends_an_image_part_the_server_checks(
    server: DevServer, dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg(64, 48))
    assert send(server, "what is this?", "--attach", str(photo)) == 0
    out = capsys.readouterr().out
    assert server.stats.attachments == [
        {
            "type": "image",
            "mime": "image/jpeg",
            "filename": "photo.jpg",
            "bytes": len(jpeg(64, 48)),
            "pixels": "64x48",
        }
    ]
    assert "I received your photo: image/jpeg, 64x48" in out
    assert "named photo.jpg" in out
    assert "what is this?" in saved_messages(dirs)


def test_send_attach_is_repeatable_and_sends_files_too(
    server: DevServer, dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo, notes = tmp_path / "a.png", tmp_path / "notes.txt"
    photo.write_bytes(png())
    notes.write_text("order 1234\n")
    assert send(server, "two files", "--attach", str(photo), "--attach", str(notes)) == 0
    kinds = [(a["type"], a["mime"], a["filename"]) for a in server.stats.attachments]
    assert kinds == [("image", "image/png", "a.png"), ("file", "text/plain", "notes.txt")]
    assert "I received your file: text/plain" in capsys.readouterr().out


@pytest.mark.parametrize("problem", ["oversized", "missing", "directory", "too_many"])
def test_a_refused_file_sends_nothing_and_records_nothing(
    problem: str,
    server: DevServer,
    dirs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg())
    args: list[str]
    if problem == "oversized":
        big = tmp_path / "big.jpg"
        big.write_bytes(jpeg(padding=MESSAGE_MAX_BYTES + 1))
        args, expected = ["--attach", str(big)], "big.jpg: it is 5.0 MiB"
    elif problem == "missing":
        args, expected = ["--attach", str(tmp_path / "nope.jpg")], "nope.jpg: no such file"
    elif problem == "directory":
        args, expected = ["--attach", str(tmp_path)], "it is a directory"
    else:
        args = ["--attach", str(photo)] * (MAX_ATTACHMENTS + 1)
        expected = f"a message carries at most {MAX_ATTACHMENTS}"
    assert send(server, "what is this?", *args) == 2
    captured = capsys.readouterr()
    assert expected in captured.err
    assert captured.out == ""
    assert server.stats.count("POST /messages") == 0
    assert server.stats.count("POST /auth") == 0, "refused before anything opened"
    assert saved_messages(dirs) == []


def test_a_server_that_refuses_the_upload_is_reported_clearly(
    server: DevServer, dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg())
    server.config.scenario = "upload_too_large"
    assert send(server, "what is this?", "--attach", str(photo)) == 6
    err = capsys.readouterr().err
    assert "attachment is too large for the server" in err
    assert server.stats.attachments == []
    # Without an attachment the same server answers normally.
    assert send(server, "just text") == 0


def test_the_server_checks_the_bytes_against_the_declared_type(server: DevServer) -> None:
    token = httpx.post(
        f"{server.base_url}/api/v1/chat/auth",
        auth=(DEMO_API_KEY, ""),
        json={"chatbot_id": DEMO_CHATBOT_ID},
    ).json()["token"]
    lie = {"type": "image", "mime": "image/png", "data": base64.b64encode(jpeg()).decode()}
    answer = httpx.post(
        f"{server.base_url}/api/v1/chat/messages",
        headers={"Authorization": f"Bearer {token}"},
        json={"message": {"parts": [{"type": "text", "text": "hi"}, lie]}},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["params"] == [
        {"field": "mime", "message": "The image data is not image/png"}
    ]


# -- run scripts -------------------------------------------------------------------------------


def run(server: DevServer, script: Path, *extra: str) -> int:
    return main(
        ["run", "--base-url", server.base_url, "--chatbot-id", DEMO_CHATBOT_ID, *extra, str(script)]
    )


def test_a_script_attaches_files_to_the_next_message(
    server: DevServer, dirs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "photo.jpg").write_bytes(jpeg(32, 16))
    (tmp_path / "notes.txt").write_text("order 1234\n")
    script = tmp_path / "turns.txt"
    script.write_text(
        "hello\n@attach photo.jpg\n@attach notes.txt\nwhat are these?\n\\@attach is a word\n"
    )
    assert run(server, script, "--json") == 0
    import json

    turns = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [t["message"] for t in turns] == ["hello", "what are these?", "@attach is a word"]
    assert "I received your photo: image/jpeg, 32x16" in turns[1]["text"]
    assert "I received your" not in turns[0]["text"] + turns[2]["text"]
    assert [(a["filename"], a["bytes"]) for a in server.stats.attachments] == [
        ("photo.jpg", len(jpeg(32, 16))),
        ("notes.txt", len("order 1234\n")),
    ]


@pytest.mark.parametrize(
    ("script_text", "expected"),
    [
        ("hello\n@attach missing.jpg\nsecond\n", "Script line 2: Cannot attach"),
        ("hello\n@attach photo.jpg\n", "ends with `@attach` lines but no message"),
    ],
)
def test_a_script_with_a_bad_attachment_sends_nothing(
    script_text: str,
    expected: str,
    server: DevServer,
    dirs: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "photo.jpg").write_bytes(jpeg())
    script = tmp_path / "turns.txt"
    script.write_text(script_text)
    assert run(server, script) == 2
    assert expected in capsys.readouterr().err
    assert server.stats.count("POST /messages") == 0
    assert saved_messages(dirs) == []


# -- the dev server's side, over HTTP ----------------------------------------------------------


def _token(server: DevServer) -> dict[str, str]:
    token = httpx.post(
        f"{server.base_url}/api/v1/chat/auth",
        auth=(DEMO_API_KEY, ""),
        json={"chatbot_id": DEMO_CHATBOT_ID},
    ).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_the_server_answers_banners_session_and_forms_in_the_sdk_shapes(
    server: DevServer,
) -> None:
    headers = _token(server)
    api = f"{server.base_url}/api/v1/chat"
    banners = httpx.get(
        f"{api}/banners", params={"url": "https://s.test/products/x"}, headers=headers
    )
    assert banners.status_code == 200
    (banner,) = banners.json()["banners"]
    assert set(banner) == {
        "id",
        "message",
        "background_color",
        "text_color",
        "cta_url",
        "cta_label",
        "cta_style",
        "dismissible",
    }
    fallback = httpx.get(f"{api}/banners", params={"url": "https://s.test/cart"}, headers=headers)
    assert [b["id"] for b in fallback.json()["banners"]] == ["20"], "the default one"
    server.config.scenario = "no_banners"
    assert httpx.get(f"{api}/banners", headers=headers).json()["error"]["code"] == "not_found"
    server.config.scenario = "ok"
    session = httpx.get(f"{api}/session", headers=headers).json()
    assert session["values"] == [] and "metadata" in session
    form = httpx.get(f"{api}/forms/salesLead", headers=headers).json()
    assert (form["form_id"], form["name"], form["min_filled_fields"]) == (
        "salesLead",
        "Sales lead",
        1,
    )
    missing = httpx.get(f"{api}/forms/nope", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_the_server_refuses_an_action_attachment_over_2_mib(server: DevServer) -> None:
    headers = _token(server)
    api = f"{server.base_url}/api/v1/chat"
    # A support ticket marker to answer: the demo opens one for "ticket".
    with httpx.stream(
        "POST",
        f"{api}/messages",
        headers=headers,
        json={"message": {"parts": [{"type": "text", "text": "ticket"}]}},
    ) as reply:
        body = "".join(reply.iter_text())
    import json

    done = body.split("event: done\n", 1)[1].split("\n", 1)[0].removeprefix("data: ")
    (marker,) = [
        p for p in json.loads(done)["message"]["parts"] if p["type"] == "show_support_ticket"
    ]
    part_id = marker["part_id"]
    big = base64.b64encode(b"x" * (2 * 1024 * 1024 + 1)).decode()
    action = {
        "type": "support_ticket",
        "name": "Ada",
        "email": "ada@example.com",
        "message": "broken",
        "attachments": [
            {"filename": "big.bin", "mime_type": "application/octet-stream", "data_base64": big}
        ],
    }
    answer = httpx.post(
        f"{api}/actions", headers=headers, json={"part_id": part_id, "action": action}
    )
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"
    action["attachments"] = [{"filename": "a.txt", "data_base64": "aGk="}]
    answer = httpx.post(
        f"{api}/actions", headers=headers, json={"part_id": part_id, "action": action}
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["params"][0]["field"] == "action.attachments.0"
    assert server.stats.actions == [], "nothing refused is recorded"
