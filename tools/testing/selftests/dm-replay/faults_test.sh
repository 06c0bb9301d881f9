#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Lower-device faults: dm-replay over the error target, over dm-flakey
# (all I/O failing, error_writes, drop_writes, corrupt_bio_byte), and
# over a lower device that disappears (dmsetup remove --force) with and
# without fio running.  With a checkpoint driver running, every error
# reaches the submitter as EIO, is journaled as a completion with status
# -5, is counted in lower_errors, and nothing hangs.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=stress_lib.sh
source "$DMR_SELFTEST_DIR/stress_lib.sh"

if ! why=$(stress_prereq fio); then
	tap_skip all "$why"
	exit 0
fi
if ! dmsetup targets | grep -q '^flakey'; then
	modprobe dm-flakey 2>/dev/null
fi

NAME=dmrs_flt
LOW=dmrs_fltlow
LEN=8192
N=$(stress_n 6 64)
S=$(scratch faults)
ck_pid='' cap_pid='' fio_pid=''
total_faults=0
cleanup() {
	stop_bg "$ck_pid"
	stop_bg "$cap_pid"
	[[ -n $fio_pid ]] && { kill "$fio_pid" 2>/dev/null; wait "$fio_pid" 2>/dev/null; }
	dm_remove "$NAME" "$LOW"
	rm -rf "$S"
}
trap cleanup EXIT
mark=$(dmesg_mark)

# io OP COUNT: COUNT single 4 KiB direct reads or writes at different
# offsets, each under a timeout; prints "ok=N eio=N other=N hung=N".
io() {
	local op=$1 n=$2 i ok=0 eio=0 other=0 hung=0 st
	for ((i = 0; i < n; i++)); do
		if [[ $op == read ]]; then
			timeout 30 dd if="/dev/mapper/$NAME" of="$S/rd" bs=4k count=1 \
				skip="$i" iflag=direct 2>"$S/dd.err"
		else
			timeout 30 dd if="$S/pattern" of="/dev/mapper/$NAME" bs=4k count=1 \
				seek="$i" oflag=direct conv=notrunc 2>"$S/dd.err"
		fi
		st=$?
		if ((st == 0)); then
			ok=$((ok + 1))
		elif ((st == 124)); then
			hung=$((hung + 1))
		elif grep -q 'Input/output error' "$S/dd.err"; then
			eio=$((eio + 1))
		else
			other=$((other + 1))
			note "dd $op $i: $(cat "$S/dd.err")"
		fi
	done
	echo "ok=$ok eio=$eio other=$other hung=$hung"
}
head -c 4096 /dev/zero | tr '\0' '\253' >"$S/pattern"

# setup CASE LOWER_TABLE: lower device, dm-replay on it, driver running
setup() {
	dm_remove "$NAME" "$LOW"
	if ! dm_create "$LOW" "$2"; then
		tap_fail "$1.setup" "lower table refused: $2"
		return 1
	fi
	if ! dm_create "$NAME" "0 $LEN replay /dev/mapper/$LOW 0 record 1 verify_data"; then
		tap_fail "$1.setup" "dm-replay create failed"
		return 1
	fi
	start_driver "$NAME" "$S/$1.jnl"
}

# finish CASE EXPECTED_EIO: stop the driver, check the journal has
# exactly that many -EIO completions, all of them in lower_errors.
finish() {
	local c=$1 want=$2 errs
	if stop_driver; then
		tap_ok "$c.driver_ok"
	else
		tap_fail "$c.driver_ok" "checkpoint driver or capture failed"
	fi
	check_journal "$c" "$NAME" "$S/$c.jnl" || return
	errs=$(status_field "$NAME" lower_errors)
	if [[ $(kv eio "$jsum") == "$want" && $(kv errors "$jsum") == "$want" && $errs == "$want" ]]; then
		tap_ok "$c.errors_journaled_eio"
	else
		tap_fail "$c.errors_journaled_eio" "want $want: journal eio=$(kv eio "$jsum") errors=$(kv errors "$jsum"), status lower_errors=$errs"
	fi
	total_faults=$((total_faults + want))
}

expect_io() { # case what got ok eio
	local c=$1 what=$2 got=$3
	if [[ $got == "ok=$4 eio=$5 other=0 hung=0" ]]; then
		tap_ok "$c.$what"
	else
		tap_fail "$c.$what" "want ok=$4 eio=$5: $got"
	fi
}

# ---- error target --------------------------------------------------------
if setup error "0 $LEN error"; then
	r=$(io read "$N") w=$(io write "$N")
	expect_io error reads_eio "$r" 0 "$N"
	expect_io error writes_eio "$w" 0 "$N"
	finish error $((2 * N))
fi

# ---- flakey, always down, no feature: every I/O fails --------------------
if setup flakey_all "0 $LEN flakey $DMR_RAM1 0 0 1"; then
	r=$(io read "$N") w=$(io write "$N")
	expect_io flakey_all reads_eio "$r" 0 "$N"
	expect_io flakey_all writes_eio "$w" 0 "$N"
	finish flakey_all $((2 * N))
fi

# ---- flakey error_writes: writes fail, reads pass ------------------------
if setup error_writes "0 $LEN flakey $DMR_RAM1 0 0 1 1 error_writes"; then
	r=$(io read "$N") w=$(io write "$N")
	expect_io error_writes reads_pass "$r" "$N" 0
	expect_io error_writes writes_eio "$w" 0 "$N"
	finish error_writes "$N"
fi

# ---- flakey drop_writes: writes "succeed", data not written --------------
dd if=/dev/zero of="$DMR_RAM1" bs=4k count=$((LEN / 8)) oflag=direct status=none
if setup drop_writes "0 $LEN flakey $DMR_RAM1 0 0 1 1 drop_writes"; then
	w=$(io write "$N")
	expect_io drop_writes writes_pass "$w" "$N" 0
	if [[ $(od -An -tx1 -N1 "$DMR_RAM1") == " 00" ]] && [[ $(io read 1) == "ok=1 eio=0 other=0 hung=0" ]] &&
		cmp -s "$S/rd" <(head -c 4096 /dev/zero); then
		tap_ok drop_writes.data_dropped
	else
		tap_fail drop_writes.data_dropped "dropped write reached the disk or read failed"
	fi
	finish drop_writes 0
fi

# ---- flakey corrupt_bio_byte on reads: status 0, data corrupted ----------
if setup corrupt "0 $LEN flakey $DMR_RAM1 0 0 1 5 corrupt_bio_byte 1 r 66 0"; then
	r=$(io read "$N")
	expect_io corrupt reads_pass "$r" "$N" 0
	if [[ $(od -An -tx1 -N1 "$S/rd") == " 42" ]]; then
		tap_ok corrupt.submitter_sees_corruption
	else
		tap_fail corrupt.submitter_sees_corruption "first byte $(od -An -tx1 -N1 "$S/rd"), want 42"
	fi
	finish corrupt 0
fi

# ---- the lower device disappears ------------------------------------------
if setup gone "0 $LEN linear $DMR_RAM1 0"; then
	r=$(io read 4)
	expect_io gone reads_before "$r" 4 0
	# remove --force: the lower device is open (by dm-replay), so dmsetup
	# replaces its table by the error target; it stays until dm-replay
	# lets go of it.
	timeout 60 dmsetup remove --force "$LOW" >"$S/rm.out" 2>&1
	st=$?
	if ((st == 124)); then
		tap_fail gone.remove_force_no_hang "dmsetup remove --force hung"
	else
		tap_ok gone.remove_force_no_hang
	fi
	r=$(io read "$N") w=$(io write "$N")
	expect_io gone reads_eio "$r" 0 "$N"
	expect_io gone writes_eio "$w" 0 "$N"
	finish gone $((2 * N))
	dm_remove "$NAME"
	if timeout 30 dmsetup remove "$LOW" 2>/dev/null || ! dm_exists "$LOW"; then
		tap_ok gone.lower_released
	else
		tap_fail gone.lower_released "lower device still busy after dm-replay was removed"
	fi
fi

# ---- the lower device disappears under fio ---------------------------------
if setup gone_fio "0 $LEN linear $DMR_RAM1 0"; then
	fio --name=g --filename="/dev/mapper/$NAME" --direct=1 --ioengine=libaio \
		--iodepth=16 --rw=randrw --bs=4k --size=$((LEN * 512)) \
		--time_based --runtime=600 --output="$S/gone_fio.out" >/dev/null 2>&1 &
	fio_pid=$!
	wait_field "$NAME" delivered 200 60
	timeout 60 dmsetup remove --force "$LOW" >/dev/null 2>&1
	end=$((SECONDS + 60))
	while kill -0 "$fio_pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.2; done
	if kill -0 "$fio_pid" 2>/dev/null; then
		tap_fail gone_fio.fio_stops "fio still running 60 s after the lower device went"
		kill -9 "$fio_pid"
		wait "$fio_pid"
	else
		wait "$fio_pid"
		st=$?
		if ((st != 0)) && grep -qi 'Input/output error\|err=' "$S/gone_fio.out"; then
			tap_ok gone_fio.fio_stops_with_eio
		else
			tap_fail gone_fio.fio_stops_with_eio "fio exit $st: $(grep -i -m2 err "$S/gone_fio.out")"
		fi
	fi
	fio_pid=''
	lerr=$(status_field "$NAME" lower_errors)
	if ((lerr > 0)); then
		tap_ok gone_fio.lower_errors_counted
	else
		tap_fail gone_fio.lower_errors_counted "lower_errors=$lerr"
	fi
	finish gone_fio "$lerr"
	dm_remove "$NAME" "$LOW"
fi

note "faults injected and journaled as -EIO: $total_faults"
dmesg_clean kernel_log_clean "$mark"
exit 0
