#!/usr/bin/env bash
# test_cmd.sh DMREPLAY MKJOURNAL DATA_DIR OUT_DIR: host tests of the dmreplay
# command (TAP): argument parsing, the journal fixtures, dump/stats/export
# output checked with jq and python3's JSON parser.
# jq programs and sh -c scripts are single-quoted on purpose:
# shellcheck disable=SC2016
set -euo pipefail

dmr=$1 mkj=$2 data=$3 out=$4
tmp=$(mktemp -d "$out/cmd.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }

# expect DESC STATUS PATTERN CMD...: CMD exits STATUS and its stdout+stderr
# matches the grep -E PATTERN ("" for any).
expect() {
	local desc=$1 want=$2 pat=$3 rc=0
	shift 3
	"$@" >"$tmp/out" 2>&1 || rc=$?
	if [[ $rc != "$want" ]]; then
		not_ok "$desc" "exit status $rc, expected $want: $*" "$(head -c 600 "$tmp/out")"
	elif [[ -n $pat ]] && ! grep -qE -- "$pat" "$tmp/out"; then
		not_ok "$desc" "output lacks /$pat/: $*" "$(head -c 600 "$tmp/out")"
	else
		ok "$desc"
	fi
}

# check DESC CMD...: CMD succeeds (a jq -e test or similar).
check() {
	local desc=$1
	shift
	if "$@" >"$tmp/check" 2>&1; then ok "$desc"; else not_ok "$desc" "failed: $*" "$(head -c 600 "$tmp/check")"; fi
}

# ---- argument parsing ---------------------------------------------------------
expect "no command: usage, exit 2" 2 "^Usage: dmreplay COMMAND" "$dmr"
expect "--help: exit 0" 0 "^Usage: dmreplay COMMAND" "$dmr" --help
for c in create remove status checkpoint capture replay dump verify stats export; do
	expect "$c --help: exit 0" 0 "^Usage: dmreplay $c " "$dmr" "$c" --help
done
expect "unknown command named" 2 "unknown command 'frob'" "$dmr" frob
expect "unknown long option" 2 "dump: unknown option '--bogus'" "$dmr" dump --bogus x
expect "unknown short option" 2 "unknown option '-Z'" "$dmr" verify -Z x
expect "missing argument" 2 "dump: missing argument" "$dmr" dump
expect "create: missing arguments" 2 "missing arguments \(1 given, 3 needed\)" "$dmr" create r0
expect "replay: missing FILE" 2 "missing argument" "$dmr" replay r0
expect "extra argument" 2 "unexpected argument 'b'" "$dmr" verify a b
expect "option needs its argument" 2 "option '-o' needs an argument" "$dmr" capture r0 -o
expect "capture without -o" 2 "-o FILE is required" "$dmr" capture r0
expect "bad number" 2 "--count: 'abc' is not an unsigned number" "$dmr" checkpoint r0 --count abc
expect "negative number" 2 "--every: '-5' is not an unsigned number" "$dmr" checkpoint r0 --every -5
expect "--first 0 refused" 2 "start at 1" "$dmr" checkpoint r0 --first 0
expect "--spin with --every refused" 2 "--every and --spin exclude each other" "$dmr" checkpoint r0 --spin 100 --every 10
expect "--spin over a minute refused" 2 "--spin 60000001: at most 60000000 us" "$dmr" checkpoint r0 --spin 60000001
expect "--submit: unknown WHEN refused" 2 "--submit=sometimes: WHEN is always, never or auto" "$dmr" checkpoint r0 --spin 100 --submit=sometimes
expect "--submit=auto needs --spin" 2 "--submit needs --spin" "$dmr" checkpoint r0 --submit=auto
expect "--submit alone needs --spin" 2 "--submit needs --spin" "$dmr" checkpoint r0 --submit
expect "--session-fd out of range" 2 "--session-fd 4294967296: not a file descriptor" "$dmr" checkpoint r0 --session-fd 4294967296
expect "--session-fd not open" 1 "session fd 999: not an open file" "$dmr" checkpoint r0 --session-fd 999
expect "--session-fd a regular file" 1 "session fd 0: not the dm-replay control device" "$dmr" checkpoint r0 --session-fd 0 <"$dmr"
expect "--session-fd another device" 1 "VERSION on session fd 0: not the dm-replay control device \(ENOTTY\)" "$dmr" checkpoint r0 --session-fd 0 </dev/null
expect "create: bad mode" 2 "mode 'bogus': must be record or replay" "$dmr" create r0 /dev/null bogus
expect "create: DEV not a block device" 1 "BLKGETSIZE64 on /dev/null" "$dmr" create r0 /dev/null record
expect "export: unknown format" 2 "unknown format 'svg'" "$dmr" export x --format=svg
expect "replay: --timeout 0 refused" 2 "--timeout: 0 out of range" "$dmr" replay r0 f --timeout 0
expect "replay: --submit needs --spin" 2 "--submit needs --spin" "$dmr" replay r0 f --submit
expect "replay: --submit=auto needs --spin" 2 "--submit needs --spin" "$dmr" replay r0 f --submit=auto
expect "replay: --submit unknown WHEN refused" 2 "--submit=often: WHEN is always, never or auto" "$dmr" replay r0 f --spin --submit=often
expect "missing file named" 1 "open /nonexistent.journal: No such file" "$dmr" dump /nonexistent.journal
if [[ -e /dev/dm-replay ]]; then
	ok "checkpoint without the control device # SKIP /dev/dm-replay exists here"
else
	expect "checkpoint: missing control device named" 1 "open /dev/dm-replay: .*module loaded" \
		"$dmr" checkpoint r0 --count 1
fi

# ---- fixtures -------------------------------------------------------------------
kinds=(good truncated truncated-ckpt bad-magic bad-type bad-size wrong-version gap
	backwards short-ckpt reload id-base)
same=1
for k in "${kinds[@]}"; do
	"$mkj" "$k" "$tmp/$k.journal"
	cmp -s "$tmp/$k.journal" "$data/$k.journal" || { same=0; echo "# $k.journal differs from mkjournal $k"; }
done
if ((same)); then ok "tests/data fixtures match the test writer"; else not_ok "tests/data fixtures match the test writer"; fi

while read -r k rc pat; do
	expect "verify $k.journal: exit $rc" "$rc" "$pat" "$dmr" verify "$data/$k.journal"
done <<'EOT'
good 0 whole: 14 records, 1 headers, 3 checkpoints, 10 completions
reload 0 whole: 18 records, 2 headers, 4 checkpoints
id-base 0 whole: 9 records
truncated 1 truncated.journal: offset 832: truncated: 54 bytes
truncated-ckpt 1 offset 768: truncated: checkpoint 3 at offset 512 has 3 of 5
bad-magic 1 offset 0: bad magic
bad-type 1 offset 320: bad record type 9
bad-size 1 offset 0: record size 128
wrong-version 1 offset 0: journal version 2
gap 1 3 records lost
backwards 1 offset 512: checkpoint 2 does not follow checkpoint 3
short-ckpt 1 offset 448: checkpoint 2 at offset 256 has 2 of 3
EOT
# Inputs the fuzzer once crashed on: a clean verdict, never a crash.
for f in "$data"/crash-*.journal; do
	[[ -e $f ]] || continue
	rc=0
	"$dmr" verify "$f" >"$tmp/out" 2>&1 || rc=$?
	if ((rc <= 1)) && { ((rc == 0)) || grep -q offset "$tmp/out"; }; then
		ok "regression ${f##*/}: verify exit $rc"
	else
		not_ok "regression ${f##*/}" "exit $rc" "$(head -c 600 "$tmp/out")"
	fi
done

# ---- dump ---------------------------------------------------------------------------
"$dmr" dump --json "$data/good.journal" >"$tmp/good.json"
check "dump --json: 14 records, header first, ids 100..109" \
	jq -e 'length == 14 and .[0].type == "header" and .[0].dev_major == 253 and
	       .[0].dev_minor == 7 and .[0].id_base == 100 and
	       ([.[] | select(.type == "completion") | .id] == [range(100; 110)]) and
	       ([.[] | select(.type == "checkpoint") | .nr_completions] == [2, 3, 5]) and
	       ([.[] | .offset] == [range(0; 896; 64)])' "$tmp/good.json"
"$dmr" dump --json "$data/gap.journal" >"$tmp/gap.json"
check "dump --json: the gap is a lost entry with its count" \
	jq -e '[.[] | select(.type == "lost")] == [{"type": "lost", "offset": 512, "count": 3}]' \
	"$tmp/gap.json"
expect "dump: the gap is reported" 0 "^# 3 records lost before offset 512" "$dmr" dump "$data/gap.journal"
expect "dump from stdin" 0 "completion id 109 write 872\+16 fua" sh -c '"$1" dump - <"$2"' sh "$dmr" "$data/good.journal"
rc=0
"$dmr" dump --json "$data/bad-type.journal" >"$tmp/bad.json" 2>"$tmp/bad.err" || rc=$?
check "dump --json of a corrupt file: exit 1, valid JSON up to the error" \
	sh -c 'test '"$rc"' = 1 && grep -q "offset 320" "$1" && jq -e "length == 5" "$2"' sh "$tmp/bad.err" "$tmp/bad.json"

# ---- stats: numbers against the generated input (see tests/tools/jwriter.h) ----------
declare -A cnt=() sec=()
lats=() holds=() sizes=() ops=(read write flush)
for ((id = 100; id < 110; id++)); do
	op=$((id % 3)); name=${ops[$op]}
	s=$((op == 2 ? 0 : 8 << (id % 4)))
	cnt[$name]=$((${cnt[$name]:-0} + 1)); sec[$name]=$((${sec[$name]:-0} + s))
	lats+=($((10 * (id % 7 + 1)))); holds+=($((5 * (id % 5 + 1)))); sizes+=($((s * 512)))
done
sum() { local t=0 v; for v; do t=$((t + v)); done; echo "$t"; }
max() { printf '%s\n' "$@" | sort -n | tail -1; }
"$dmr" stats --json "$data/good.journal" >"$tmp/stats.json"
check "stats --json: counts and ops mix" \
	jq -e --argjson r "${cnt[read]}" --argjson w "${cnt[write]}" --argjson f "${cnt[flush]}" \
	   --argjson rs "${sec[read]}" --argjson ws "${sec[write]}" \
	   '.completions == 10 and .checkpoints == 3 and .lost == 0 and .kinds.user == 3 and
	    .ops.read == {"count": $r, "sectors": $rs} and .ops.write == {"count": $w, "sectors": $ws} and
	    .ops.flush.count == $f' "$tmp/stats.json"
check "stats --json: per checkpoint, sizes, latencies" \
	jq -e --argjson lsum "$(sum "${lats[@]}")" --argjson lmax "$(max "${lats[@]}")" \
	   --argjson hsum "$(sum "${holds[@]}")" --argjson hmax "$(max "${holds[@]}")" \
	   --argjson smax "$(max "${sizes[@]}")" \
	   '.per_checkpoint.min == 2 and .per_checkpoint.max == 5 and .per_checkpoint.count == 3 and
	    .lat_us.mean == $lsum / 10 and .lat_us.max == $lmax and
	    .hold_us.mean == $hsum / 10 and .hold_us.max == $hmax and
	    .size_bytes.max == $smax and ([.lat_us.hist[]] | add) == 10' "$tmp/stats.json"
expect "stats text" 0 "^  write +${cnt[write]} requests, ${sec[write]} sectors" "$dmr" stats "$data/good.journal"
expect "stats of a corrupt file fails" 1 "offset 0: bad magic" "$dmr" stats "$data/bad-magic.journal"

# ---- export ----------------------------------------------------------------------------
"$dmr" export "$data/reload.journal" --format=chrome-trace -o "$tmp/trace.json"
check "export: valid JSON (python3 -m json.tool)" python3 -m json.tool "$tmp/trace.json"
check "export: one track per target, checkpoints as instants, completions as X" \
	jq -e '.traceEvents as $e |
	       ([$e[] | select(.name == "process_name") | .args.name] == ["dm-replay 253:7"]) and
	       ([$e[] | select(.ph == "i") | .name] ==
	        ["checkpoint 1", "checkpoint 2", "checkpoint 3", "checkpoint 1"]) and
	       ([$e[] | select(.ph == "X" and .cat == "io")] | length) == 12 and
	       ([$e[] | select(.ph == "X" and .cat == "hold")] | length) == 12' "$tmp/trace.json"
check "export: durations and timestamps from lat_us, hold_us and time_ns" \
	jq -e '[.traceEvents[] | select(.cat == "io")] as $io |
	       all($io[]; .dur == .args.lat_us + .args.hold_us and
	           (.ts + .dur - (1000000 + .args.checkpoint * 1000) | fabs) < 0.01)' "$tmp/trace.json"
check "export: no overlapping slices in a lane" \
	jq -e '[.traceEvents[] | select(.cat == "io")] | group_by([.pid, .tid]) |
	       all(.[]; sort_by(.ts) as $l |
	           all(range(1; $l | length); $l[.].ts >= $l[. - 1].ts + $l[. - 1].dur - 0.001))' \
	"$tmp/trace.json"

echo "1..$n"
((failed == 0))
