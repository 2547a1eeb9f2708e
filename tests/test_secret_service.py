"""CredentialStore against a real Secret Service: gnome-keyring on a private D-Bus session.

The test runs this same file as a child process inside `dbus-run-session`; the child
starts `gnome-keyring-daemon --foreground --unlock --components=secrets` (so it owns and
stops the daemon itself), lets keyring detect its backend the normal way, then stores,
reads, rotates and deletes a credential through `CredentialStore`, and checks each step
independently through `secretstorage`. Everything lives in a throwaway HOME.

CI runs `.ci/secret-service.sh` first and sets DIALOGTUI_REQUIRE_SECRET_SERVICE=1: then a
missing tool or a daemon that does not start is a failure, never a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REQUIRED_ENV = "DIALOGTUI_REQUIRE_SECRET_SERVICE"
TOOLS = ("dbus-run-session", "gnome-keyring-daemon")
CHILD_FLAG = "--child"
RESULT_PREFIX = "RESULT "
CHILD_TIMEOUT = 60.0


# --- the child: runs inside dbus-run-session ----------------------------------------------


def _wait_for_secrets_service(daemon: subprocess.Popen[bytes], deadline: float) -> None:
    """Wait until our daemon owns org.freedesktop.secrets on this session bus.

    NameHasOwner, not secretstorage's availability check: that one also answers yes for a
    merely *activatable* service, which would let D-Bus start a second, locked daemon.
    """
    from jeepney import DBus
    from jeepney.io.blocking import open_dbus_connection

    with open_dbus_connection(bus="SESSION") as conn:
        while True:
            reply = conn.send_and_get_reply(DBus().NameHasOwner("org.freedesktop.secrets"))
            if reply.body[0]:
                return
            if daemon.poll() is not None:
                raise RuntimeError(f"gnome-keyring-daemon exited with {daemon.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("gnome-keyring-daemon did not register org.freedesktop.secrets")
            time.sleep(0.02)


def _items(service: str, username: str) -> list[str]:
    """Secrets stored under (service, username), read straight from the Secret Service."""
    import secretstorage

    conn = secretstorage.dbus_init()
    try:
        collection = secretstorage.get_default_collection(conn)
        found = collection.search_items({"service": service, "username": username})
        return [item.get_secret().decode() for item in found]
    finally:
        conn.close()


def _files_containing(root: Path, *needles: str) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(n.encode() in data for n in needles):
                hits.append(str(path.relative_to(root)))
    return hits


def _exercise_store(root: Path) -> dict[str, Any]:
    import secrets

    import keyring

    from dialogtui.credentials import CredentialStore, keyring_backend_usable

    backend = keyring.get_keyring()  # detected as a user would get it: no set_keyring here
    usable, detail = keyring_backend_usable()
    key, token, rotated = (
        f"ss-{what}-{secrets.token_hex(12)}" for what in ("key", "token", "rotated")
    )

    store = CredentialStore("https://api.dialogintelligens.dk", "ss-bot")
    other = CredentialStore("https://dev.api.dialogintelligens.dk", "ss-bot")
    result: dict[str, Any] = {
        "backend": f"{type(backend).__module__}.{type(backend).__name__}",
        "usable": usable,
        "detail": detail,
    }

    store.save_api_key(key)
    store.save_visitor_token(token)
    loaded = store.load()
    result["loaded_ok"] = (loaded.api_key, loaded.visitor_token, loaded.source) == (
        key,
        token,
        "keyring",
    )
    result["direct_key_ok"] = _items(store.service, "api_key") == [key]
    result["direct_token_ok"] = _items(store.service, "visitor_token") == [token]
    result["other_bot_empty"] = other.load().source == "none"
    status = store.status()
    result["status"] = {
        k: status[k] for k in ("api_key_stored", "visitor_token_stored", "keyring_usable")
    }
    result["status_has_no_values"] = key not in json.dumps(status) and token not in json.dumps(
        status
    )

    store.save_visitor_token(rotated)
    result["rotation_replaces"] = _items(store.service, "visitor_token") == [rotated]

    result["deleted"] = store.delete()
    result["after_delete_source"] = store.load().source
    result["direct_after_delete"] = len(
        _items(store.service, "api_key") + _items(store.service, "visitor_token")
    )
    result["deleted_again"] = store.delete()
    # The keyring files are gnome-keyring's own, encrypted: no secret may appear in clear anywhere.
    result["files_with_secret"] = _files_containing(root, key, token, rotated)
    return result


def child_main(root: Path) -> int:
    password = os.urandom(16).hex()  # unlocks (and creates) the throwaway login keyring
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert daemon.stdin is not None
        daemon.stdin.write(password.encode())
        daemon.stdin.close()
        _wait_for_secrets_service(daemon, time.monotonic() + 15)
        result = _exercise_store(root)
    finally:
        daemon.terminate()
        try:
            daemon.wait(5)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        stderr = daemon.stderr.read().decode(errors="replace") if daemon.stderr else ""
        if stderr.strip():
            print(f"gnome-keyring-daemon stderr:\n{stderr}", file=sys.stderr)
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


# --- the test ------------------------------------------------------------------------------


def _missing_requirements() -> list[str]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    for module in ("secretstorage", "jeepney"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"python package {module}")
    return missing


def _child_env(root: Path) -> dict[str, str]:
    home = root / "home"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DIALOGTUI_", "XDG_", "DBUS_", "GNOME_KEYRING", "KEYRING_", "PYTHON_KEYRING")
        )
        and k not in ("DISPLAY", "WAYLAND_DISPLAY", "SSH_AUTH_SOCK")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        DIALOGTUI_CONFIG_DIR=str(root / "dialogtui/config"),
        DIALOGTUI_DATA_DIR=str(root / "dialogtui/data"),
        DIALOGTUI_LOG_DIR=str(root / "dialogtui/log"),
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")])
        ),
    )
    return env


def test_store_read_delete_through_a_real_secret_service() -> None:
    import pytest

    required = os.environ.get(REQUIRED_ENV) == "1"
    missing = _missing_requirements()
    if missing:
        reason = (
            f"no real Secret Service here: missing {', '.join(missing)} "
            f"(run .ci/secret-service.sh, or apt install dbus gnome-keyring)"
        )
        if required:
            pytest.fail(f"{REQUIRED_ENV}=1 but {reason}")
        pytest.skip(reason)

    # A short path: gnome-keyring puts its control socket under HOME, and AF_UNIX paths
    # are limited to ~107 bytes, which pytest's tmp_path can exceed.
    with tempfile.TemporaryDirectory(prefix="dtss-") as tmp:
        root = Path(tmp)
        (root / "home").mkdir(mode=0o700)
        cmd = [
            "dbus-run-session",
            "--",
            sys.executable,
            str(Path(__file__).resolve()),
            CHILD_FLAG,
            str(root),
        ]
        try:
            proc = subprocess.run(
                cmd,
                env=_child_env(root),
                cwd=root,
                capture_output=True,
                text=True,
                timeout=CHILD_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(
                f"the Secret Service session did not finish in {CHILD_TIMEOUT:.0f}s: {exc.stderr!r}"
            )

    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    assert proc.returncode == 0 and lines, (
        f"the Secret Service session failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    result = json.loads(lines[-1].removeprefix(RESULT_PREFIX))

    assert result["backend"] == "keyring.backends.SecretService.Keyring", result
    assert result["usable"] is True, result
    assert result["loaded_ok"] and result["direct_key_ok"] and result["direct_token_ok"], result
    assert result["other_bot_empty"], result
    assert result["status"] == {
        "api_key_stored": True,
        "visitor_token_stored": True,
        "keyring_usable": True,
    }
    assert result["status_has_no_values"], result
    assert result["rotation_replaces"], result
    assert result["deleted"] is True and result["deleted_again"] is False, result
    assert result["after_delete_source"] == "none" and result["direct_after_delete"] == 0, result
    assert result["files_with_secret"] == [], result


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == CHILD_FLAG:
    raise SystemExit(child_main(Path(sys.argv[2])))
