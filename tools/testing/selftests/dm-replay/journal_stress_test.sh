#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Journal stress on a tiny journal (subbuf_size 4096 n_subbufs 2, 56
# records a checkpoint): a consumer that stops reading, a consumer that
# restarts, and a suspend while the journal is completely full.  With
# fio and a checkpoint driver running, no completion is delivered without
# its record: the captured stream has no sequence gap, its completions are
# what the target delivered, journal_full > 0 and the driver saw EAGAIN.
# A suspend with a full journal still delivers everything and accounts
# for every record it could not write (journal_lost == dropped == gap).
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=stress_lib.sh
source "$DMR_SELFTEST_DIR/stress_lib.sh"

if ! why=$(stress_prereq fio); then
	tap_skip all "$why"
	exit 0
fi

NAME=dmrs_jnl
LEN=16384
TINY="4 subbuf_size 4096 n_subbufs 2"
RUNTIME=$(stress_n 20 90)
S=$(scratch jstress)
ck_pid='' cap_pid='' fio_pid=''
cleanup() {
	[[ -n $cap_pid ]] && kill -CONT "$cap_pid" 2>/dev/null
	stop_bg "$ck_pid"
	stop_bg "$cap_pid"
	[[ -n $fio_pid ]] && { kill "$fio_pid" 2>/dev/null; wait "$fio_pid" 2>/dev/null; }
	dm_remove "$NAME"
	rm -rf "$S"
}
trap cleanup EXIT
mark=$(dmesg_mark)

start_fio() { # case
	fio --name=j --filename="/dev/mapper/$NAME" --direct=1 --ioengine=libaio \
		--iodepth=32 --rw=randrw --bs=4k --size=$((LEN * 512)) \
		--time_based --runtime="$RUNTIME" --randseed=3 --verify=crc32c --verify_backlog=32 \
		--output="$S/$1.fio" >/dev/null 2>&1 &
	fio_pid=$!
}
wait_fio() { # case
	local st end=$((SECONDS + 300))
	while kill -0 "$fio_pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.2; done
	if kill -0 "$fio_pid" 2>/dev/null; then
		tap_fail "$1.fio_ok" "fio did not finish in 300 s: $(dmsetup status "$NAME")"
		kill -9 "$fio_pid"
		wait "$fio_pid"
		fio_pid=''
		return 1
	fi
	wait "$fio_pid"
	st=$?
	fio_pid=''
	if ((st == 0)); then
		tap_ok "$1.fio_ok"
	else
		tap_fail "$1.fio_ok" "fio exit $st: $(grep -i -m3 'err\|verify' "$S/$1.fio")"
	fi
}
create() {
	dm_remove "$NAME"
	dm_create "$NAME" "0 $LEN replay $DMR_RAM0 0 record $TINY"
}

# ---- the consumer stops reading ------------------------------------------
c=stopped
if create; then
	start_driver "$NAME" "$S/$c.jnl"
	start_fio "$c"
	wait_field "$NAME" delivered 50 60
	kill -STOP "$cap_pid"
	if wait_field "$NAME" journal_full 1 60; then
		tap_ok "$c.journal_full"
	else
		tap_fail "$c.journal_full" "journal_full stays 0: $(dmsetup status "$NAME")"
	fi
	# Stalled: deliveries stop while nobody reads (at most a journal's
	# worth more), requests wait held.
	sleep 1
	d1=$(status_field "$NAME" delivered)
	sleep 3
	d2=$(status_field "$NAME" delivered)
	held=$(status_field "$NAME" held)
	note "$c: delivered $d1 -> $d2 while the consumer is stopped, held $held"
	if ((d2 - d1 <= 127 && held > 0)); then
		tap_ok "$c.stalls_while_unread"
	else
		tap_fail "$c.stalls_while_unread" "delivered $d1 -> $d2, held $held"
	fi
	kill -CONT "$cap_pid"
	wait_fio "$c"
	if stop_driver; then
		tap_ok "$c.driver_ok"
	else
		tap_fail "$c.driver_ok" "driver or capture failed"
	fi
	note "$c: driver $driver_sum"
	if (($(kv eagain "$driver_sum") > 0)); then
		tap_ok "$c.driver_saw_eagain"
	else
		tap_fail "$c.driver_saw_eagain" "$driver_sum"
	fi
	check_journal "$c" "$NAME" "$S/$c.jnl"
fi

# ---- the consumer restarts ------------------------------------------------
c=restart
if create; then
	start_driver "$NAME" "$S/$c.jnl"
	start_fio "$c"
	files=("$S/$c.jnl")
	for ((k = 1; k <= $(stress_n 3 10); k++)); do
		wait_field "$NAME" delivered $((k * 200)) 60
		stop_bg "$cap_pid"
		# no consumer for a while: the journal fills up
		wait_field "$NAME" journal_full "$k" 10
		"$DMREPLAY" capture "$NAME" -o "$S/$c.jnl.$k" 2>>"$S/$c.jnl.capture" &
		cap_pid=$!
		wait_file "$S/$c.jnl.$k"
		files+=("$S/$c.jnl.$k")
	done
	wait_fio "$c"
	stop_driver || note "$c: driver or capture failed"
	note "$c: consumers ${#files[@]}, driver $driver_sum, status $(dmsetup status "$NAME")"
	check_journal "$c" "$NAME" "${files[@]}"
	if (($(status_field "$NAME" journal_full) > 0)); then
		tap_ok "$c.journal_full"
	else
		tap_fail "$c.journal_full" "journal_full 0"
	fi
fi

# ---- suspend with a completely full journal -------------------------------
c=suspend_full
if create; then
	start_driver "$NAME" "$S/$c.jnl"
	start_fio "$c"
	wait_field "$NAME" delivered 50 60
	kill -STOP "$cap_pid"
	wait_field "$NAME" journal_full 1 60
	wait_field "$NAME" held 16 30
	held=$(status_field "$NAME" held)
	delivered0=$(status_field "$NAME" delivered)
	if timeout 60 dmsetup suspend "$NAME"; then
		tap_ok "$c.suspend_no_hang"
	else
		tap_fail "$c.suspend_no_hang" "dmsetup suspend failed or hung"
	fi
	lost=$(status_field "$NAME" journal_lost)
	dropped=$(cat "$DEBUGFS/$(dm_kname "$NAME")/dropped")
	delivered1=$(status_field "$NAME" delivered)
	note "$c: held $held at suspend, delivered $delivered0 -> $delivered1, journal_lost $lost, dropped $dropped"
	if (($(status_field "$NAME" held) == 0 && delivered1 >= delivered0 + held)); then
		tap_ok "$c.suspend_delivers_all"
	else
		tap_fail "$c.suspend_delivers_all" "$(dmsetup status "$NAME")"
	fi
	dmsetup resume "$NAME"
	kill -CONT "$cap_pid"
	wait_fio "$c"
	stop_driver || note "$c: driver or capture failed"
	jsum=$("$DMR_STRESS_TOOL" jscan "$S/$c.jnl" 2>"$S/jscan.err")
	st=$?
	note "$c: journal $jsum"
	lost=$(status_field "$NAME" journal_lost)
	if ((st == 0)) && [[ $(kv gap_records "$jsum") == "$lost" && $dropped -le $lost ]] &&
		[[ $(cat "$DEBUGFS/$(dm_kname "$NAME")/dropped") == "$lost" ]]; then
		tap_ok "$c.losses_accounted"
	else
		tap_fail "$c.losses_accounted" "jscan exit $st ($(head -2 "$S/jscan.err")), gap_records=$(kv gap_records "$jsum") journal_lost=$lost dropped=$dropped"
	fi
	# what was not lost adds up: journaled completions + lost records
	# (completions and their checkpoint records) cover every delivery
	comp=$(kv completions "$jsum")
	delivered=$(status_field "$NAME" delivered)
	if ((comp <= delivered && comp + lost >= delivered)); then
		tap_ok "$c.counts_add_up"
	else
		tap_fail "$c.counts_add_up" "journaled $comp + lost $lost vs delivered $delivered"
	fi
fi
dm_remove "$NAME"
dmesg_clean kernel_log_clean "$mark"
exit 0
