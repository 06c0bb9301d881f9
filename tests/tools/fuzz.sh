#!/usr/bin/env bash
# fuzz.sh FUZZER DATA_DIR OUT_DIR SECONDS: run the journal reader's libFuzzer
# harness, corpus seeded from DATA_DIR/*.journal; print one TAP line.
# A crash input is left in OUT_DIR/crash-*: copy it to tests/data as
# crash-<what>.journal so the regression tests keep it.
set -euo pipefail

fuzzer=$1 data=$2 out=$3 secs=$4
corpus=$out/corpus
mkdir -p "$corpus"
cp "$data"/*.journal "$corpus"/
log=$out/fuzz.log
echo "1..1"
desc="libFuzzer journal reader, ${secs} s, corpus seeded from tests/data"
if "$fuzzer" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$out/" "$corpus" >"$log" 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	echo "ok 1 - $desc (${runs:-?} runs, no crash)"
else
	echo "not ok 1 - $desc"
	grep -E 'ERROR|SUMMARY|Test unit written' "$log" | sed 's/^/# /' | head -20
	exit 1
fi
