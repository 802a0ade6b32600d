#!/usr/bin/env bash
# Gradescope autograder setup (runs once, as root, when Gradescope builds the image).
#
# Installs Python, bubblewrap, CPU torch (from the PyTorch CPU index: the ONLY download)
# and then dlcourse OFFLINE from the wheels inside this bundle (wheels/, written by
# make_bundle.sh), into a virtual environment that every user can read (the grader runs
# student code as an unprivileged user when bubblewrap cannot run).
#
# Overridable for a local dry run (tests/instructor/test_templates.py):
#   DLCOURSE_SOURCE_DIR   the unzipped bundle            (/autograder/source)
#   DLCOURSE_VENV         the virtual environment        (/opt/dlcourse)
#   DLCOURSE_SKIP_SYSTEM  1: no apt-get, no torch download (already installed)
#   DLCOURSE_VENV_OPTIONS extra `python3 -m venv` options (e.g. --system-site-packages)
#   DLCOURSE_PIP_OPTIONS  extra options for the offline install of dlcourse (e.g. --no-deps
#                         --ignore-installed, beside an existing dlcourse)
set -euo pipefail

SOURCE="${DLCOURSE_SOURCE_DIR:-/autograder/source}"
VENV="${DLCOURSE_VENV:-/opt/dlcourse}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

if [ "${DLCOURSE_SKIP_SYSTEM:-0}" != 1 ]; then
    apt-get update -q
    apt-get install -y -q python3 python3-venv python3-pip bubblewrap
fi

# shellcheck disable=SC2086 # the options are a list of words
python3 -m venv ${DLCOURSE_VENV_OPTIONS:-} "$VENV"
if [ "${DLCOURSE_SKIP_SYSTEM:-0}" != 1 ]; then
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$TORCH_SPEC" --index-url https://download.pytorch.org/whl/cpu
fi
# dlcourse and its other dependencies, from the bundle only (no index is consulted)
# shellcheck disable=SC2086
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-index --find-links "$SOURCE/wheels" ${DLCOURSE_PIP_OPTIONS:-} dlcourse
chmod -R a+rX "$VENV"
"$VENV/bin/python" -m dlcourse_cli --help > /dev/null
