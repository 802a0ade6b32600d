#!/usr/bin/env bash
# Gradescope autograder setup: install Python, CPU torch and a pinned dlcourse.
set -euo pipefail

# pin the grader: a released version or a tag of the course repository
DLCOURSE_SPEC="${DLCOURSE_SPEC:-dlcourse @ git+https://github.com/YOUR-COURSE/dlcourse@v0.1.0}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

apt-get update -q
apt-get install -y -q python3 python3-pip git
python3 -m pip install --disable-pip-version-check "$TORCH_SPEC" --index-url https://download.pytorch.org/whl/cpu
python3 -m pip install --disable-pip-version-check "$DLCOURSE_SPEC"
