#!/usr/bin/env bash
# The GPU path as one short script for a lent GPU machine: the references checked and
# graded with --device cuda under each isolation mode that runs there, then (optionally)
# the test suite. Everything lands in ${OUT:-gpu-out}: log.txt and reports.tar.gz.
#   GPU_CHAPTERS="ch1 ch4" GPU_ISOLATION="auto python" GPU_SUITE=0 bash benchmarks/gpu_check.sh
set -u
OUT="${OUT:-gpu-out}"; mkdir -p "$OUT"
work="$(mktemp -d)"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"
{
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
"$PY" -c "from grader import isolation as i; print('isolation auto ->', i.choose('auto'), '| bwrap:', i.why_not('bwrap') or 'ok', '| user:', i.why_not('user') or 'ok')"
for iso in ${GPU_ISOLATION:-auto}; do
  for ch in ${GPU_CHAPTERS:-ch1 ch2 ch3 ch4 ch5 ch6 ch7 ch8 ch9 ch10 ch11}; do
    start=$(date +%s%N)
    DLCOURSE_ISOLATION=$iso timeout 300 "$PY" -m dlcourse_cli check "$ch" --path solutions --device cuda --json > "$work/check_${iso}_$ch.json" 2> "$work/check_${iso}_$ch.err"
    code=$?
    echo "check $ch --device cuda ($iso): exit $code, $(( ($(date +%s%N) - start) / 1000000 )) ms, $("$PY" -c "import json,sys; r=json.load(open(sys.argv[1])); print(r['score'], '/', r['max_score'], r.get('isolation'))" "$work/check_${iso}_$ch.json" 2>/dev/null)"
  done
done
if [ -n "${GPU_GRADE:-all}" ]; then
  start=$(date +%s%N)
  timeout 400 "$PY" -m dlcourse_cli grade ${GPU_GRADE:-all} --submission solutions --device cuda --json "$work/grade_cuda.json" --quiet 2> "$work/grade_cuda.err"
  echo "grade ${GPU_GRADE:-all} --device cuda: exit $?, $(( ($(date +%s%N) - start) / 1000000 )) ms"
  "$PY" - "$work/grade_cuda.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("grade cuda:", r["score"], "/", r["max_score"], "isolation", r.get("isolation"))
for e in r["exercises"]:
    if e["score"] < e["max_score"]:
        print("  short:", e["id"], e["score"], "/", e["max_score"], [c.get("message", "")[:300] for c in e.get("checks", []) if c.get("status") != "passed"][:2])
PY
fi
for f in "$work"/*.json; do
  "$PY" - "$f" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as exc:
    print(sys.argv[1], "unreadable:", exc); sys.exit()
for e in r["exercises"]:
    for c in e["checks"]:
        if c["status"] != "passed":
            print(sys.argv[1].rsplit("/", 1)[-1], e["id"], c["name"], c["status"], c["message"][:300].replace("\n", " "))
PY
done
if [ "${GPU_SUITE:-1}" = 1 ]; then
  timeout "${SUITE_TIMEOUT:-240}" "$PY" -m pytest -q -n "${SUITE_JOBS:-12}" -p no:cacheprovider 2>&1 | tail -40
fi
} 2>&1 | tee "$OUT/log.txt"
tar -czf "$OUT/reports.tar.gz" -C "$work" . 2>/dev/null
rm -rf "$work"
