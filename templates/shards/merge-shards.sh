#!/usr/bin/env bash
# Join the shards' gradebooks (and their report folders) into GRADEBOOKS/grades.csv, and
# count what the whole class got wrong (grades-mistakes.csv and .md beside it).
# Fails (exit 2), writing nothing, when shards disagree on columns, a submission is in two
# shards, or a shard has a torn row (resume that shard first).
set -euo pipefail
dir="${GRADEBOOKS:-gradebook}"
dlcourse gradebook merge "${dir}/grades.csv" "${dir}"/shards/grades-*-of-*.csv
