#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bad table lines and messages, checked to the exact error text the
# target gives (dm core prints "<dev>: replay: <ti->error> (<errno>)") and
# the exact errno.  table_test.sh checks that each class of bad line gets
# some message of its own; this adds the exact texts, numbers at and past
# their limits (overflow, hex, signs, exact device end), devices of the
# wrong kind (directory, character device, 0:0) or too small (a tiny dm
# device below), and message arguments at their limits.  Lines at the
# limits that are valid must be accepted.  Nothing may stay behind
# (debugfs directories, devices) and the kernel log shows no warning.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=stress_lib.sh
source "$DMR_SELFTEST_DIR/stress_lib.sh"

if ! why=$(dmr_prereq); then
	tap_skip all "$why"
	exit 0
fi

NAME=dmrs_bad
TINY=dmrs_tiny
LEN=16384
r=$DMR_RAM0
ram_len=$(dev_sectors "$r")
tried=0
cleanup() { dm_remove "$NAME" "$TINY"; }
trap cleanup EXIT
mark=$(dmesg_mark)
dirs_before=$(ls "$DEBUGFS" 2>/dev/null | wc -l)

# dm core prints the errno with %pe: its name, or its number on a kernel
# without CONFIG_SYMBOLIC_ERRNAME (the debug kernel).
declare -A errno_nr=([-EINVAL]=-22 [-ENODEV]=-19 [-ENXIO]=-6)

# refused CASE "TABLE" "TEXT" [ERRNO]: creation fails, and the kernel log
# has exactly "replay: TEXT (ERRNO)" (ERRNO default -EINVAL).
refused() {
	local c=$1 table=$2 text=$3 errno=${4:--EINVAL} before out m
	tried=$((tried + 1))
	before=$(dmesg_mark)
	if dmsetup create "$NAME" --table "$table" 2>/dev/null; then
		tap_fail "line.$c" "accepted: '$table'"
		dm_remove "$NAME"
		return
	fi
	out=$(dmesg | tail -n +"$((before + 1))")
	m=$(grep -o 'device-mapper: table: [^ ]*: replay: .*' <<<"$out" | tail -1)
	m=${m#device-mapper: table: *: replay: }
	if [[ $m == "$text ($errno)" || $m == "$text (${errno_nr[$errno]})" ]]; then
		tap_ok "line.$c"
	else
		tap_fail "line.$c" "'$table': got '$m', want '$text ($errno)'"
	fi
	dm_remove "$NAME"
}

# accepted CASE "TABLE": a line at the limits that is valid
accepted() {
	tried=$((tried + 1))
	if dm_create "$NAME" "$2" && dmsetup message "$NAME" 0 checkpoint >/dev/null; then
		tap_ok "line.$1"
	else
		tap_fail "line.$1" "refused: '$2': $(dmesg | tail -1)"
	fi
	dm_remove "$NAME"
}

rec="0 $LEN replay $r"
refused args_none       "0 $LEN replay" "Not enough arguments: <dev_path> <offset> <record|replay>"
refused args_two        "$rec 0" "Not enough arguments: <dev_path> <offset> <record|replay>"
refused offset_word     "$rec x record" "Invalid device offset"
refused offset_hex      "$rec 0x10 record" "Invalid device offset"
refused offset_minus    "$rec -1 record" "Invalid device offset"
refused offset_space    "$rec 8k record" "Invalid device offset"
refused offset_2pow64   "$rec 18446744073709551616 record" "Invalid device offset"
refused offset_u64max   "$rec 18446744073709551615 record" "Device too small for offset and length"
refused offset_at_end   "0 8 replay $r $ram_len record" "Device too small for offset and length"
refused offset_past_end "0 8 replay $r $((ram_len - 7)) record" "Device too small for offset and length"
refused length_past_end "0 $((ram_len + 1)) replay $r 0 record" "Device too small for offset and length"
refused mode_case       "$rec 0 Record" "Invalid mode: not record or replay"
refused mode_prefix     "$rec 0 rec" "Invalid mode: not record or replay"
refused mode_suffix     "$rec 0 records" "Invalid mode: not record or replay"
refused nfeat_minus     "$rec 0 record -1 verify_data" "Invalid number of feature args"
refused nfeat_nine      "$rec 0 record 9 verify_data verify_data verify_data verify_data verify_data verify_data verify_data verify_data verify_data" "Invalid number of feature args"
refused nfeat_more_than_given "$rec 0 record 2 verify_data" "Invalid number of feature args"
refused nfeat_hex       "$rec 0 record 0x1 verify_data" "Invalid number of feature args"
refused nfeat_zero_extra "$rec 0 record 0 verify_data" "Too many arguments"
refused feat_case       "$rec 0 record 1 VERIFY_DATA" "Unknown feature"
refused feat_value_as_name "$rec 0 record 1 4096" "Unknown feature"
refused feat_dup_serialize "$rec 0 record 2 serialize_overlaps serialize_overlaps" "Duplicate feature"
refused feat_dup_nsub   "$rec 0 record 4 n_subbufs 2 n_subbufs 4" "Duplicate feature"
refused subbuf_no_value "$rec 0 record 1 subbuf_size" "Feature subbuf_size needs a value"
refused nsub_no_value   "$rec 0 record 2 verify_data n_subbufs" "Feature n_subbufs needs a value"
refused subbuf_4095     "$rec 0 record 2 subbuf_size 4095" "Invalid subbuf_size (4096 to 4194304)"
refused subbuf_4194368  "$rec 0 record 2 subbuf_size 4194368" "Invalid subbuf_size (4096 to 4194304)"
refused subbuf_not64    "$rec 0 record 2 subbuf_size 4097" "Invalid subbuf_size (not a multiple of 64)"
refused subbuf_hex      "$rec 0 record 2 subbuf_size 0x1000" "Invalid subbuf_size (4096 to 4194304)"
refused nsub_zero       "$rec 0 record 2 n_subbufs 0" "Invalid n_subbufs (2 to 1024)"
refused nsub_1025       "$rec 0 record 2 n_subbufs 1025" "Invalid n_subbufs (2 to 1024)"
refused nsub_minus      "$rec 0 record 2 n_subbufs -2" "Invalid n_subbufs (2 to 1024)"
refused extra_after_mode "$rec 0 record verify_data" "Invalid number of feature args"
refused dev_directory   "0 $LEN replay /dev 0 record" "Device lookup failed" -ENODEV
refused dev_char        "0 $LEN replay /dev/null 0 record" "Device lookup failed" -ENODEV
refused dev_zero        "0 $LEN replay 0:0 0 record" "Device lookup failed" -ENXIO
refused dev_empty_path  "0 $LEN replay /dev/mapper/$NAME-none 0 record" "Device lookup failed" -ENODEV
dm_create "$TINY" "0 64 linear $DMR_RAM1 0"
refused dev_too_small   "0 128 replay /dev/mapper/$TINY 0 record" "Device too small for offset and length"
refused dev_too_small_offset "0 64 replay /dev/mapper/$TINY 1 record" "Device too small for offset and length"
accepted dev_exact_fit  "0 63 replay /dev/mapper/$TINY 1 record"
dm_remove "$TINY"
accepted subbuf_4160    "$rec 0 record 2 subbuf_size 4160"
accepted nsub_two_min   "$rec 0 record 4 subbuf_size 4096 n_subbufs 2"
accepted nfeat_zero     "$rec 0 record 0"
accepted offset_last    "0 8 replay $r $((ram_len - 8)) record"
accepted by_devt        "0 $LEN replay $(stat -c '%t:%T' "$r" | { IFS=: read -r a b; echo "$((16#$a)):$((16#$b))"; }) 0 record"

# ---- messages ------------------------------------------------------------
# msg CASE "ARGS" "TEXT": refused with EINVAL and "replay: dm-N: TEXT"
msg() {
	local c=$1 args=$2 text=$3 before out m err
	tried=$((tried + 1))
	before=$(dmesg_mark)
	# shellcheck disable=SC2086
	if dmsetup message "$NAME" 0 -- $args 2>"$S/msg.err" >/dev/null; then
		tap_fail "message.$c" "accepted '$args'"
		return
	fi
	err=$(cat "$S/msg.err")
	out=$(dmesg | tail -n +"$((before + 1))")
	m=$(grep -o 'device-mapper: replay: dm-[0-9]*: .*' <<<"$out" | tail -1)
	m=${m#device-mapper: replay: dm-*: }
	if [[ $m == "$text" && $err == *"Invalid argument"* ]]; then
		tap_ok "message.$c"
	else
		tap_fail "message.$c" "'$args': got '$m' / '$err', want '$text' / Invalid argument"
	fi
}
S=$(scratch badinput)
trap 'cleanup; rm -rf "$S"' EXIT
if dm_create "$NAME" "$rec 0 record"; then
	msg unknown "frobnicate" "unknown message; use: checkpoint [<n>]"
	msg unknown_prefix "checkpoints" "unknown message; use: checkpoint [<n>]"
	msg three_args "checkpoint 1 2" "checkpoint takes at most one argument"
	msg word "checkpoint abc" "invalid checkpoint number 'abc'"
	msg minus "checkpoint -1" "invalid checkpoint number '-1'"
	msg trailing "checkpoint 5x" "invalid checkpoint number '5x'"
	msg zero "checkpoint 0" "checkpoint 0 is not after checkpoint 0"
	tried=$((tried + 1))
	if out=$(dmsetup message "$NAME" 0 checkpoint 7 2>&1); then
		tap_ok message.number_7
	else
		tap_fail message.number_7 "checkpoint 7 refused: $out"
	fi
	msg same "checkpoint 7" "checkpoint 7 is not after checkpoint 7"
	msg lower "checkpoint 6" "checkpoint 6 is not after checkpoint 7"
	# 2^64 + 8 must not wrap around to checkpoint 8
	msg overflow "checkpoint 18446744073709551624" "invalid checkpoint number '18446744073709551624'"
	tried=$((tried + 1))
	if dmsetup message "$NAME" 0 checkpoint 18446744073709551615 >/dev/null; then
		tap_ok message.u64_max
		msg after_max "checkpoint" "checkpoint 0 is not after checkpoint 18446744073709551615"
	else
		tap_fail message.u64_max "checkpoint 18446744073709551615 refused"
	fi
	dm_remove "$NAME"
fi
if dm_create "$NAME" "$rec 0 replay"; then
	msg replay_mode "checkpoint" "checkpoint message is for record mode only (replay: /dev/dm-replay)"
	msg replay_mode_n "checkpoint 3" "checkpoint message is for record mode only (replay: /dev/dm-replay)"
	dm_remove "$NAME"
fi

# ---- nothing left behind ----------------------------------------------------
if [[ $(ls "$DEBUGFS" 2>/dev/null | wc -l) == "$dirs_before" ]] && ! dm_exists "$NAME"; then
	tap_ok nothing_left
else
	tap_fail nothing_left "debugfs: $(ls "$DEBUGFS" | tr '\n' ' ')"
fi
note "bad inputs tried: $tried"
dmesg_clean kernel_log_clean "$mark"
exit 0
