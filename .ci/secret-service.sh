#!/bin/sh
# Install what tests/test_secret_service.py needs to run a real Secret Service:
# a D-Bus session bus (dbus-run-session) and gnome-keyring-daemon. Runs before the test
# command in CI; the test itself starts and stops the daemons. Idempotent and quiet:
# nothing is installed when both programs are already on PATH.
set -eu

if command -v dbus-run-session >/dev/null 2>&1 && command -v gnome-keyring-daemon >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# dbus-daemon provides dbus-run-session (the "dbus" package pulls it in on older releases);
# --no-install-recommends keeps the desktop prompter and its GTK stack out.
$SUDO apt-get install -y -qq --no-install-recommends dbus gnome-keyring >/dev/null

command -v dbus-run-session >/dev/null
command -v gnome-keyring-daemon >/dev/null
