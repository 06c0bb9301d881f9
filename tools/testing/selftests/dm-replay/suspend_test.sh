#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Suspend, resume, reload and remove under load: fio with verify and a
# checkpoint driver run while the device is suspended/resumed, reloaded
# with its own table and suspended --noflush, >= 100 times each; fio's
# verify passes, the journal is whole and matches the delivered count,
# the driver stays attached through every reload.  Then removal: refused
# with EBUSY while open, --force and suspend+remove with a held request
# return the request and never hang, a deferred remove completes after
# the checkpoint.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=stress_lib.sh
source "$DMR_SELFTEST_DIR/stress_lib.sh"

if ! why=$(stress_prereq fio); then
	tap_skip all "$why"
	exit 0
fi

NAME=dmrs_sus
LEN=16384
N_SUSPEND=${DMR_SUSPEND_CYCLES:-$(stress_n 100 500)}
N_RELOAD=${DMR_RELOAD_CYCLES:-$(stress_n 100 500)}
N_NOFLUSH=$(stress_n 30 200)
N_DMSETUP=$(stress_n 5 50)
S=$(scratch suspend)
ck_pid='' cap_pid='' loop_pid='' dd_pid=''
cleanup() {
	touch "$S/stop"
	stop_bg "$ck_pid"
	stop_bg "$cap_pid"
	[[ -n $dd_pid ]] && { kill "$dd_pid" 2>/dev/null; wait "$dd_pid" 2>/dev/null; }
	[[ -n $loop_pid ]] && wait "$loop_pid" 2>/dev/null
	dm_remove "$NAME"
	rm -rf "$S"
}
trap cleanup EXIT
mark=$(dmesg_mark)

# The fio job: random writes verified (backlog and final pass), crc32c.
FIO_JOB=(--name=v --filename="/dev/mapper/$NAME" --direct=1 --ioengine=libaio
	--iodepth=16 --rw=randwrite --bs=4k --size=4M --randseed=7
	--verify=crc32c --verify_backlog=64 --verify_fatal=1 --do_verify=1)

fio_loop() {
	local i=0 fails=0
	while [[ ! -e $S/stop ]]; do
		if ! fio "${FIO_JOB[@]}" --output="$S/fio.out" >/dev/null 2>&1; then
			fails=$((fails + 1))
			cp "$S/fio.out" "$S/fio.fail.$i" 2>/dev/null
		fi
		i=$((i + 1))
	done
	echo "$i $fails" >"$S/fio.runs"
}

# fio_loop_start: fio_loop in the background (loop_pid) until $S/stop,
# once the device has delivered its first requests.
fio_loop_start() {
	rm -f "$S/stop" "$S/fio.runs" "$S"/fio.fail.*
	fio_loop &
	loop_pid=$!
	wait_field "$NAME" delivered 100 60 || note "fio slow to start: $(dmsetup status "$NAME")"
}

# fio_loop_stop FINISHED VERIFIED: stop fio_loop; test FINISHED, that it
# ends, and VERIFIED, that it ran and every run's verify passed.
fio_loop_stop() {
	local runs ffails
	touch "$S/stop"
	if ! timeout 300 tail --pid="$loop_pid" -f /dev/null; then
		tap_fail "$1" "fio loop still running 300 s after stop"
		kill "$loop_pid" 2>/dev/null
	fi
	wait "$loop_pid" 2>/dev/null
	loop_pid=''
	read -r runs ffails <"$S/fio.runs" 2>/dev/null || { runs=0; ffails=1; }
	note "fio verify runs: $runs, failed: $ffails"
	if ((runs > 0 && ffails == 0)); then
		tap_ok "$2"
	else
		tap_fail "$2" "$ffails of $runs runs failed: $(grep -h -i -m3 'verify\|err' "$S"/fio.fail.* 2>/dev/null)"
	fi
}

# ---- cycles under load -------------------------------------------------
if ! dm_create "$NAME" "0 $LEN replay $DMR_RAM0 0 record 1 verify_data"; then
	tap_fail create "create failed"
	exit 0
fi
table0=$(dmsetup table "$NAME")
start_driver "$NAME" "$S/j"
fio_loop_start

t0=$SECONDS
out=$("$DMR_STRESS_TOOL" cycle "$NAME" --suspend "$N_SUSPEND" \
	--reload "$N_RELOAD" --noflush "$N_NOFLUSH" --pause-ms 40 2>&1)
rc=$?
note "cycles: $out ($((SECONDS - t0)) s)"
if ((rc == 0)) && [[ $(kv suspend "$out") == "$N_SUSPEND" &&
	$(kv reload "$out") == "$N_RELOAD" &&
	$(kv noflush "$out") == "$N_NOFLUSH" ]]; then
	tap_ok cycles_under_load
else
	tap_fail cycles_under_load "wanted suspend=$N_SUSPEND reload=$N_RELOAD noflush=$N_NOFLUSH: $out"
fi

# The same with the dmsetup commands an admin types.
fails=0
for ((i = 0; i < N_DMSETUP; i++)); do
	{ dmsetup table "$NAME" | dmsetup load "$NAME" &&
		dmsetup suspend "$NAME" && dmsetup resume "$NAME" &&
		dmsetup suspend --noflush "$NAME" && dmsetup resume "$NAME"; } \
		>>"$S/dmsetup.log" 2>&1 || fails=$((fails + 1))
done
note "dmsetup reload+suspend --noflush cycles: $N_DMSETUP, failed $fails"
if ((fails == 0)); then
	tap_ok dmsetup_cycles_under_load
else
	tap_fail dmsetup_cycles_under_load "$fails of $N_DMSETUP failed: $(tail -3 "$S/dmsetup.log")"
fi

fio_loop_stop fio_finished fio_verify_during_cycles
# A last pass reads back what the last run wrote.
if fio "${FIO_JOB[@]}" --verify_only=1 --output="$S/fio.final" >/dev/null 2>&1; then
	tap_ok fio_verify_final
else
	tap_fail fio_verify_final "$(grep -i -m3 'verify\|err' "$S/fio.final")"
fi

if stop_driver; then
	tap_ok driver_survived
else
	tap_fail driver_survived "checkpoint driver or capture failed"
fi
note "driver: $driver_sum; status: $(dmsetup status "$NAME")"
if [[ $(status_field "$NAME" held) == 0 && $(status_field "$NAME" in_flight) == 0 ]]; then
	tap_ok nothing_held_after
else
	tap_fail nothing_held_after "status $(dmsetup status "$NAME")"
fi
if JCHECK_RELOADED=1 check_journal load "$NAME" "$S/j"; then
	# one header per table: the first, each reload
	want=$((1 + $(kv reload "$out") + N_DMSETUP))
	if [[ $(kv headers "$jsum") == "$want" ]]; then
		tap_ok header_per_reload
	else
		tap_fail header_per_reload "headers=$(kv headers "$jsum"), want $want"
	fi
fi
if [[ $(dmsetup table "$NAME") == "$table0" ]]; then
	tap_ok table_unchanged
else
	tap_fail table_unchanged "'$table0' -> '$(dmsetup table "$NAME")'"
fi
dm_remove "$NAME"

# ---- the submit worker -------------------------------------------------
# submit_depth 1: the worker submits every request.  Suspend and resume,
# plain and --noflush, with requests on its list: each returns, and fio's
# verify passes.
if dm_create "$NAME" "0 $LEN replay $DMR_RAM0 0 record 2 submit_depth 1"; then
	start_driver "$NAME" "$S/jw"
	fio_loop_start
	fails=0
	for ((i = 0; i < N_DMSETUP; i++)); do
		{ timeout 60 dmsetup suspend "$NAME" && dmsetup resume "$NAME" &&
			timeout 60 dmsetup suspend --noflush "$NAME" &&
			dmsetup resume "$NAME"; } >>"$S/worker.log" 2>&1 ||
			fails=$((fails + 1))
		sleep 0.1
	done
	if ((fails == 0)); then
		tap_ok worker.suspend_cycles
	else
		tap_fail worker.suspend_cycles "$fails of $N_DMSETUP failed: $(tail -3 "$S/worker.log")"
	fi
	fio_loop_stop worker.fio_finished worker.fio_verify
	stop_driver || note "driver: $driver_sum"
	by=$(status_field "$NAME" by_worker)
	if [[ $by -gt 0 && $by == "$(status_field "$NAME" ids_issued)" &&
		$(status_field "$NAME" held) == 0 &&
		$(status_field "$NAME" in_flight) == 0 ]]; then
		tap_ok worker.all_by_worker_none_left
	else
		tap_fail worker.all_by_worker_none_left "status $(dmsetup status "$NAME")"
	fi
	dm_remove "$NAME"
else
	tap_fail worker.create "create failed"
fi

# ---- remove ------------------------------------------------------------
# held_read: a direct read that stays held (no driver); sets dd_pid
held_read() {
	dd if="/dev/mapper/$NAME" of=/dev/null bs=4k count=1 iflag=direct 2>"$S/dd.err" &
	dd_pid=$!
	wait_field "$NAME" held 1 20
}
# dd_returns NAME: the held read returns within 30 s, successfully
dd_returns() {
	local end=$((SECONDS + 30)) st
	while kill -0 "$dd_pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
	if kill -0 "$dd_pid" 2>/dev/null; then
		tap_fail "$1" "the held read did not return within 30 s"
		kill "$dd_pid"
		wait "$dd_pid" 2>/dev/null
		dd_pid=''
		return 1
	fi
	wait "$dd_pid"
	st=$?
	dd_pid=''
	if ((st != 0)); then
		tap_fail "$1" "the held read failed: $(cat "$S/dd.err")"
		return 1
	fi
	tap_ok "$1"
}

dm_create "$NAME" "0 $LEN replay $DMR_RAM0 0 record" || tap_fail remove_create "create failed"
exec {fd}<"/dev/mapper/$NAME"
if dmsetup remove "$NAME" 2>"$S/rm.err"; then
	tap_fail remove_open_ebusy "removed while open"
elif grep -q "Device or resource busy" "$S/rm.err" && dm_exists "$NAME"; then
	tap_ok remove_open_ebusy
else
	tap_fail remove_open_ebusy "$(cat "$S/rm.err")"
fi
exec {fd}<&-
# held request, then remove: refused (open), request still held
if held_read; then
	if dmsetup remove "$NAME" 2>/dev/null; then
		tap_fail remove_held_ebusy "removed while a request is held"
	elif [[ $(status_field "$NAME" held) == 1 ]] && kill -0 "$dd_pid"; then
		tap_ok remove_held_ebusy
	else
		tap_fail remove_held_ebusy "held request gone: $(dmsetup status "$NAME")"
	fi
	# --force: loads the error table (a suspend): the request returns
	timeout 60 dmsetup remove --force "$NAME" >/dev/null 2>&1
	st=$?
	((st == 124)) && tap_fail remove_force_no_hang "dmsetup remove --force hung"
	((st != 124)) && tap_ok remove_force_no_hang
	dd_returns remove_force_returns_held
	dm_remove "$NAME"
	if dm_exists "$NAME"; then
		tap_fail remove_force_gone "device still there"
	else
		tap_ok remove_force_gone
	fi
else
	tap_fail remove_held_ebusy "read not held"
fi

# suspend, then remove while the held request's process still runs
dm_create "$NAME" "0 $LEN replay $DMR_RAM0 0 record"
if held_read; then
	if timeout 60 dmsetup suspend "$NAME"; then
		dd_returns suspend_returns_held
		if timeout 60 dmsetup remove "$NAME"; then
			tap_ok suspend_then_remove
		else
			tap_fail suspend_then_remove "remove after suspend failed"
		fi
	else
		tap_fail suspend_returns_held "dmsetup suspend failed or hung"
	fi
else
	tap_fail suspend_returns_held "read not held"
fi
dm_remove "$NAME"

# noflush suspend releases a held write too
dm_create "$NAME" "0 $LEN replay $DMR_RAM0 0 record"
dd if=/dev/zero of="/dev/mapper/$NAME" bs=4k count=1 oflag=direct 2>"$S/dd.err" &
dd_pid=$!
if wait_field "$NAME" held 1 20 && timeout 60 dmsetup suspend --noflush "$NAME"; then
	dd_returns noflush_returns_held_write
	dmsetup resume "$NAME"
else
	tap_fail noflush_returns_held_write "not held or suspend --noflush failed"
fi
dm_remove "$NAME"

# deferred remove: the device goes once the held request's opener closes
dm_create "$NAME" "0 $LEN replay $DMR_RAM0 0 record"
if held_read; then
	if dmsetup remove --deferred "$NAME" 2>"$S/rm.err"; then
		if ! kill -0 "$dd_pid" 2>/dev/null; then
			tap_fail deferred_remove "the held read returned before a checkpoint"
		fi
		dmsetup message "$NAME" 0 checkpoint >/dev/null
		dd_returns deferred_remove_checkpoint_delivers
		end=$((SECONDS + 20))
		while dm_exists "$NAME" && ((SECONDS < end)); do sleep 0.2; done
		if dm_exists "$NAME"; then
			tap_fail deferred_remove "device still there after the last close"
		else
			tap_ok deferred_remove
		fi
	else
		tap_fail deferred_remove "$(cat "$S/rm.err")"
	fi
else
	tap_fail deferred_remove "read not held"
fi
dm_remove "$NAME"
dmesg_clean kernel_log_clean "$mark"
exit 0
