#!/usr/bin/env bash
# The GPU path, as one short script for a lent GPU machine (see README, "GPU"):
# every chapter's references checked and graded with --device cuda, then the test suite.
# Writes logs and JSON reports under ${OUT:-gpu-out}.
set -u
OUT="${OUT:-gpu-out}"; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null
for ch in ch1 ch2 ch3 ch4 ch5 ch6 ch7 ch8 ch9 ch10 ch11; do
  start=$(date +%s%N)
  timeout 300 "$PY" -m dlcourse_cli check "$ch" --path solutions --device cuda --json > "$OUT/check_$ch.json" 2> "$OUT/check_$ch.err"
  code=$?
  echo "check $ch --device cuda: exit $code, $(( ($(date +%s%N) - start) / 1000000 )) ms, $("$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['score'], '/', r['max_score'])" "$OUT/check_$ch.json" 2>/dev/null)"
done
start=$(date +%s%N)
timeout 400 "$PY" -m dlcourse_cli grade all --submission solutions --device cuda --json "$OUT/grade_cuda.json" --quiet 2> "$OUT/grade_cuda.err"
echo "grade all --device cuda: exit $?, $(( ($(date +%s%N) - start) / 1000000 )) ms"
"$PY" - "$OUT/grade_cuda.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("grade all cuda:", r["score"], "/", r["max_score"])
for e in r["exercises"]:
    if e["score"] < e["max_score"]:
        print("  short:", e["id"], e["score"], "/", e["max_score"], [c.get("message", "")[:300] for c in e.get("checks", []) if c.get("status") != "passed"][:2])
PY

# the test suite (CPU paths; tests that build a virtual environment need a package index)
if [ "${GPU_SUITE:-1}" = 1 ]; then
  timeout "${SUITE_TIMEOUT:-240}" "$PY" -m pytest -q -n "${SUITE_JOBS:-12}" -p no:cacheprovider 2>&1 | tail -40 > "$OUT/suite.log"
  tail -15 "$OUT/suite.log"
fi
