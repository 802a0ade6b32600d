#!/usr/bin/env bash
# Grade shard I of N of a class: `grade-shard.sh I N` (1-based). Every shard runs the same
# command on the same submissions/ folder; `--shard I/N` picks its share by a hash of each
# submission's name, so shards never overlap and together cover the class, whatever the
# machine lists first. Re-running a shard resumes it (rows already graded are kept).
#
# Settings (environment): SUBMISSIONS (default submissions), GRADEBOOKS (default
# gradebook), TARGETS (space-separated, default all), JOBS (default: the cores),
# TIMEOUT (seconds per submission, default 900).
set -euo pipefail
shard="${1:?usage: grade-shard.sh I N}"
shards="${2:?usage: grade-shard.sh I N}"
targets=()
for t in ${TARGETS:-all}; do targets+=(--target "$t"); done
mkdir -p "${GRADEBOOKS:-gradebook}/shards"
dlcourse grade-batch "${SUBMISSIONS:-submissions}" \
  --out "${GRADEBOOKS:-gradebook}/shards/grades-${shard}-of-${shards}.csv" \
  --shard "${shard}/${shards}" "${targets[@]}" \
  --jobs "${JOBS:-$(nproc)}" --timeout-per-submission "${TIMEOUT:-900}" \
  --isolation auto --require-isolation
