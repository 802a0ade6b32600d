#!/usr/bin/env bash
# Build Gradescope's autograder.zip: setup.sh, run_autograder and wheels/ holding the
# dlcourse wheel built from this repository plus the wheels of its dependencies other than
# torch, so that setup.sh installs dlcourse offline (torch comes from the PyTorch CPU index).
#
#   templates/gradescope/make_bundle.sh [OUT.zip]        (default: ./autograder.zip)
#
# Environment: DLCOURSE_REPO (the repository to build, default this one), PYTHON (python3),
# DLCOURSE_BUNDLE_PYTHON (the Python version of the Gradescope image, 3.10 on Ubuntu 22.04),
# DLCOURSE_BUNDLE_DEPS (0: leave the dependency wheels out; setup.sh then needs them
# installed already, as in the project's tests).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="${DLCOURSE_REPO:-$(cd "$HERE/../.." && pwd)}"
OUT="${1:-autograder.zip}"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
PYTHON="${PYTHON:-python3}"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

mkdir -p "$STAGE/wheels"
cp "$HERE/setup.sh" "$HERE/run_autograder" "$STAGE/"
chmod 755 "$STAGE/setup.sh" "$STAGE/run_autograder"
"$PYTHON" -m pip wheel --disable-pip-version-check -q --no-deps --no-build-isolation -w "$STAGE/wheels" "$REPO"
if [ "${DLCOURSE_BUNDLE_DEPS:-1}" = 1 ]; then
    # every dependency except torch (and torch's own, which come with it from the CPU index)
    wheel="$(ls "$STAGE"/wheels/dlcourse-*.whl)"
    "$PYTHON" - "$wheel" > "$STAGE/requirements.txt" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    for line in z.read(meta).decode().splitlines():
        if line.startswith("Requires-Dist:") and "extra ==" not in line and not line.split(":", 1)[1].strip().startswith("torch"):
            print(line.split(":", 1)[1].strip())
PY
    "$PYTHON" -m pip download --disable-pip-version-check -q --only-binary=:all: \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
        --python-version "${DLCOURSE_BUNDLE_PYTHON:-3.10}" -d "$STAGE/wheels" -r "$STAGE/requirements.txt"
    rm "$STAGE/requirements.txt"
fi
rm -f "$OUT"
# zip the files, not their folder (Gradescope wants setup.sh at the root); keep modes
"$PYTHON" - "$STAGE" "$OUT" <<'PY'
import os, sys, zipfile
stage, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for folder, _, files in os.walk(stage):
        for name in sorted(files):
            path = os.path.join(folder, name)
            info = zipfile.ZipInfo.from_file(path, os.path.relpath(path, stage))
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read())
PY
echo "$OUT"
