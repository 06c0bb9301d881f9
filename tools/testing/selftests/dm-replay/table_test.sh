#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Table lines: `dmsetup table` round trip, every malformed line refused
# with its own message, target messages.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! why=$(dmr_prereq); then
	tap_skip table.all "$why"
	exit 0
fi

NAME=dmrt_tab
LEN=16384
dm_remove "$NAME"
trap 'dm_remove "$NAME"' EXIT

# ---- round trip --------------------------------------------------------
round_trip() { # case mode features...
	local c=$1 mode=$2 t1 t2 w
	shift 2
	local feat=${*:+$# $*}
	dm_remove "$NAME"
	if ! dm_create "$NAME" "0 $LEN replay $DMR_RAM0 8 $mode${feat:+ $feat}"; then
		tap_fail "round_trip.$c" "create refused: 0 $LEN replay $DMR_RAM0 8 $mode $feat"
		return
	fi
	t1=$(dmsetup table "$NAME")
	# Every given feature shows up in the table.
	for w in "$@"; do
		if ! grep -qw -- "$w" <<<"$t1"; then
			tap_fail "round_trip.$c" "'$w' missing from table '$t1'"
			dm_remove "$NAME"
			return
		fi
	done
	if [[ $t1 != "0 $LEN replay "*" 8 $mode"* ]]; then
		tap_fail "round_trip.$c" "unexpected table '$t1'"
	elif ! dmsetup load "$NAME" --table "$t1"; then
		tap_fail "round_trip.$c" "dmsetup load refused its own table '$t1'"
	elif ! dmsetup resume "$NAME"; then
		tap_fail "round_trip.$c" "resume after load failed"
	else
		t2=$(dmsetup table "$NAME")
		if [[ $t1 == "$t2" ]]; then
			tap_ok "round_trip.$c"
		else
			tap_fail "round_trip.$c" "table changed on reload: '$t1' -> '$t2'"
		fi
	fi
	dm_remove "$NAME"
}

round_trip plain record
round_trip replay replay
round_trip verify record verify_data
round_trip serialize record serialize_overlaps
round_trip geometry record subbuf_size 8192 n_subbufs 4
round_trip all record subbuf_size 65536 n_subbufs 3 verify_data serialize_overlaps
round_trip all_replay replay verify_data serialize_overlaps subbuf_size 4096 n_subbufs 2
round_trip limits_low record subbuf_size 4096 n_subbufs 1024
round_trip limits_high record subbuf_size 4194304 n_subbufs 2
round_trip submit_depth record submit_depth 8
round_trip submit_depth_max replay submit_depth 65536 serialize_overlaps
round_trip every_feature record subbuf_size 8192 n_subbufs 4 verify_data serialize_overlaps submit_depth 1

# Status after creation: mode and zero counters.
if dm_create "$NAME" "0 $LEN replay $DMR_RAM0 0 replay"; then
	st=$(dmsetup status "$NAME")
	# all zero but journal_bytes: the header record (64 bytes); no checkpoint yet
	if [[ $st =~ ^0\ $LEN\ replay\ replay(\ 0){5}\ 64(\ 0){11}$ ]]; then
		tap_ok status.fresh_replay
	else
		tap_fail status.fresh_replay "status '$st'"
	fi
	dm_remove "$NAME"
else
	tap_fail status.fresh_replay "create failed"
fi

# ---- bad lines ---------------------------------------------------------
ram_len=$(dev_sectors "$DMR_RAM0")
declare -A msg_of_class=()
bad_before=$(ls "$DEBUGFS" 2>/dev/null | wc -l)

# bad CLASS CASE TABLE: creation must fail with a dm-replay message
bad() {
	local class=$1 c=$2 table=$3 before out m
	before=$(dmesg | wc -l)
	if dmsetup create "$NAME" --table "$table" 2>/dev/null; then
		tap_fail "bad_line.$class.$c" "accepted: '$table'"
		dm_remove "$NAME"
		return
	fi
	out=$(dmesg | tail -n +"$((before + 1))")
	m=$(grep -o 'device-mapper: table: [^ ]*: replay: .*' <<<"$out" | tail -1)
	m=${m#device-mapper: table: *: replay: }
	m=${m% (-*)}
	if [[ -z $m ]]; then
		tap_fail "bad_line.$class.$c" "no 'device-mapper: table: ...: replay: <error>' in dmesg for '$table'; got: $out"
	elif [[ $m == "Unknown error" || $m == "" ]]; then
		tap_fail "bad_line.$class.$c" "generic message '$m' for '$table'"
	else
		note "$class.$c: $m"
		tap_ok "bad_line.$class.$c"
		# remember the first message of each class
		[[ -n ${msg_of_class[$class]:-} ]] || msg_of_class[$class]=$m
	fi
	dm_remove "$NAME"
}

r=$DMR_RAM0
bad missing_args no_args      "0 $LEN replay"
bad missing_args dev_only     "0 $LEN replay $r"
bad missing_args no_mode      "0 $LEN replay $r 0"
bad extra_args after_features "0 $LEN replay $r 0 record 1 verify_data junk"
bad extra_args two_extra      "0 $LEN replay $r 0 record 2 subbuf_size 4096 n_subbufs 2"
bad bad_offset word           "0 $LEN replay $r abc record"
bad bad_offset negative       "0 $LEN replay $r -8 record"
bad bad_offset trailing       "0 $LEN replay $r 8x record"
bad past_end offset           "0 $LEN replay $r $((ram_len - LEN + 8)) record"
bad past_end length           "0 $((ram_len + 8)) replay $r 0 record"
bad bad_mode word             "0 $LEN replay $r 0 play"
bad bad_mode empty_like       "0 $LEN replay $r 0 RECORD"
bad unknown_feature word      "0 $LEN replay $r 0 record 1 frobnicate"
bad duplicate_feature verify  "0 $LEN replay $r 0 record 2 verify_data verify_data"
bad duplicate_feature subbuf  "0 $LEN replay $r 0 record 4 subbuf_size 4096 subbuf_size 8192"
bad bad_feature_count too_many "0 $LEN replay $r 0 record 3 verify_data"
bad bad_feature_count word    "0 $LEN replay $r 0 record x verify_data"
bad bad_feature_count no_value "0 $LEN replay $r 0 record 1 subbuf_size"
bad bad_subbuf_size small     "0 $LEN replay $r 0 record 2 subbuf_size 2048"
bad bad_subbuf_size unaligned "0 $LEN replay $r 0 record 2 subbuf_size 4100"
bad bad_subbuf_size big       "0 $LEN replay $r 0 record 2 subbuf_size 8388608"
bad bad_subbuf_size word      "0 $LEN replay $r 0 record 2 subbuf_size lots"
bad bad_n_subbufs one         "0 $LEN replay $r 0 record 2 n_subbufs 1"
bad bad_n_subbufs big         "0 $LEN replay $r 0 record 2 n_subbufs 1025"
bad bad_n_subbufs word        "0 $LEN replay $r 0 record 2 n_subbufs many"
bad bad_submit_depth big      "0 $LEN replay $r 0 record 2 submit_depth 65537"
bad bad_submit_depth negative "0 $LEN replay $r 0 record 2 submit_depth -1"
bad bad_submit_depth word     "0 $LEN replay $r 0 record 2 submit_depth deep"
bad bad_feature_count depth_no_value "0 $LEN replay $r 0 record 1 submit_depth"
bad duplicate_feature depth   "0 $LEN replay $r 0 record 4 submit_depth 1 submit_depth 2"
bad nonexistent_device path   "0 $LEN replay /dev/dmrt-no-such-device 0 record"
bad nonexistent_device devt   "0 $LEN replay 250:250 0 record"

# Every class has its own message.
dups=''
classes=("${!msg_of_class[@]}")
for ((i = 0; i < ${#classes[@]}; i++)); do
	for ((k = i + 1; k < ${#classes[@]}; k++)); do
		a=${classes[$i]} b=${classes[$k]}
		if [[ ${msg_of_class[$a]} == "${msg_of_class[$b]}" ]]; then
			dups+="$a/$b='${msg_of_class[$a]}' "
		fi
	done
done
if ((${#classes[@]} < 11)); then
	tap_fail bad_line.messages_distinct "only ${#classes[@]} of 11 classes gave a message"
elif [[ -n $dups ]]; then
	tap_fail bad_line.messages_distinct "classes share a message: $dups"
else
	tap_ok bad_line.messages_distinct
fi

bad_after=$(ls "$DEBUGFS" 2>/dev/null | wc -l)
if [[ $bad_before == "$bad_after" ]] && ! dm_exists "$NAME"; then
	tap_ok bad_line.nothing_left
else
	tap_fail bad_line.nothing_left "debugfs entries $bad_before -> $bad_after: $(ls "$DEBUGFS" | tr '\n' ' ')"
fi

# ---- messages ----------------------------------------------------------
if dm_create "$NAME" "0 $LEN replay $DMR_RAM0 0 record"; then
	tap_check message.checkpoint_idle dmsetup message "$NAME" 0 checkpoint
	if dmsetup message "$NAME" 0 frobnicate 2>/dev/null; then
		tap_fail message.unknown_refused "accepted 'frobnicate'"
	else
		tap_ok message.unknown_refused
	fi
	if dmsetup message "$NAME" 0 checkpoint abc 2>/dev/null; then
		tap_fail message.bad_number_refused "accepted 'checkpoint abc'"
	else
		tap_ok message.bad_number_refused
	fi
	if dmsetup message "$NAME" 0 checkpoint 1 2 2>/dev/null; then
		tap_fail message.extra_arg_refused "accepted 'checkpoint 1 2'"
	else
		tap_ok message.extra_arg_refused
	fi
	dm_remove "$NAME"
else
	tap_fail message.create "create failed"
fi
if dm_create "$NAME" "0 $LEN replay $DMR_RAM0 0 replay"; then
	if dmsetup message "$NAME" 0 checkpoint 2>/dev/null; then
		tap_fail message.checkpoint_replay_refused "replay target took a checkpoint message"
	else
		tap_ok message.checkpoint_replay_refused
	fi
	dm_remove "$NAME"
else
	tap_fail message.replay_create "create failed"
fi
exit 0
