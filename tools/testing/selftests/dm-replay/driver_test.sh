#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The checkpoint driver, `dmreplay checkpoint`: asleep in poll() it uses no
# CPU while nothing is held; with --spin USEC it polls (uses its CPU) for
# USEC after a delivery, then sleeps in poll() again, still wakes for the
# next request, and stops on SIGTERM while it spins.  Each request is a
# direct read that only finishes when the driver delivers it.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! why=$(dmr_prereq); then
	tap_skip all "$why"
	exit 0
fi
DMREPLAY=${DMREPLAY:-$DMR_TOP/tools/dm-replay/dmreplay}
if [[ ! -x $DMREPLAY ]]; then
	tap_skip all "dmreplay not built ($DMREPLAY)"
	exit 0
fi

NAME=dmrt_drv
S=$(scratch driver)
drv=''
cleanup() {
	stop_bg "$drv"
	dm_remove "$NAME"
	rm -rf "$S"
}
trap cleanup EXIT

TICK=$(getconf CLK_TCK)

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
	local -a f
	# Fields after the command name, which is in parentheses.
	read -r -a f <<<"$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null)"
	((${#f[@]} > 12)) || return 1	# gone
	echo $((f[11] + f[12]))
}

# cpu_percent PID SECS: share of one CPU PID used over the next SECS;
# prints nothing if PID is gone.
cpu_percent() {
	local a b
	a=$(cpu_ticks "$1") || return 1
	sleep "$2"
	b=$(cpu_ticks "$1") || return 1
	echo $(((b - a) * 100 / (TICK * $2)))
}

# one_read: a direct 4 KiB read of the device; it finishes only when the
# driver delivers it.  Fails if that takes over 10 s; the read is then
# released by a suspend (a held read cannot be killed).
one_read() {
	local pid _
	dd if="/dev/mapper/$NAME" of=/dev/null bs=4k count=1 iflag=direct \
		status=none &
	pid=$!
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		dmsetup suspend "$NAME" && dmsetup resume "$NAME"
		wait "$pid"
		return 1
	fi
	wait "$pid"
}

# start_driver ARGS...: a record-mode device and the driver on it.
start_driver() {
	stop_bg "$drv"
	drv=''
	dm_remove "$NAME"
	dm_create "$NAME" "0 8192 replay $DMR_RAM0 0 record" || return 1
	"$DMREPLAY" checkpoint "$NAME" "$@" 2>"$S/driver.err" &
	drv=$!
	sleep 0.3
}

# stop_driver: stop it; its "checkpoints=N delivered=N ..." line is the
# last of $S/driver.err.
stop_driver() {
	stop_bg "$drv"
	drv=''
}

# Without --spin: delivers, and sleeps between requests.
if start_driver; then
	if one_read; then tap_ok poll_delivers; else tap_fail poll_delivers "read not delivered in 10 s"; fi
	p=$(cpu_percent "$drv" 1)
	if [[ -z $p ]]; then
		tap_fail poll_sleeps_when_idle "driver $drv exited"
	elif ((p <= 10)); then
		tap_ok poll_sleeps_when_idle
	else
		tap_fail poll_sleeps_when_idle "idle driver used ${p}% of a CPU"
	fi
	stop_driver
else
	tap_fail poll_delivers "could not create $NAME"
fi

# --spin 30 s: after a delivery it polls, using its CPU.
if start_driver --spin 30000000; then
	p=-1
	one_read && p=$(cpu_percent "$drv" 1)
	if [[ -z $p ]]; then
		tap_fail spin_polls_after_delivery "driver $drv exited"
	elif ((p < 0)); then
		tap_fail spin_polls_after_delivery "read not delivered in 10 s"
	elif ((p >= 50)); then
		tap_ok spin_polls_after_delivery
	else
		tap_fail spin_polls_after_delivery "spinning driver used only ${p}% of a CPU"
	fi
	# SIGTERM ends it while it spins, not when the spin would end.
	t0=$(date +%s%N)
	stop_driver
	ms=$((($(date +%s%N) - t0) / 1000000))
	if ((ms < 3000)); then
		tap_ok spin_stops_on_signal
	else
		tap_fail spin_stops_on_signal "SIGTERM took ${ms} ms to stop a spinning driver"
	fi
else
	tap_fail spin_polls_after_delivery "could not create $NAME"
fi

# --spin 0.2 s: sleeps once 0.2 s passed with nothing delivered, then still
# wakes for the next request.
if start_driver --spin 200000; then
	p=-1
	one_read && sleep 1.5 && p=$(cpu_percent "$drv" 1)
	if [[ -z $p ]]; then
		tap_fail spin_sleeps_when_idle "driver $drv exited"
	elif ((p < 0)); then
		tap_fail spin_sleeps_when_idle "first read not delivered in 10 s"
	elif ((p <= 10)); then
		tap_ok spin_sleeps_when_idle
	else
		tap_fail spin_sleeps_when_idle "driver idle for 1.5 s still used ${p}% of a CPU"
	fi
	if one_read; then
		tap_ok spin_wakes_for_request
	else
		tap_fail spin_wakes_for_request "read after the spin ended not delivered in 10 s"
	fi
	stop_driver
	out=$(tail -1 "$S/driver.err")
	if [[ $(kv delivered "$out") == 2 ]]; then
		tap_ok spin_counts
	else
		tap_fail spin_counts "driver reported '$out', expected delivered=2"
	fi
else
	tap_fail spin_sleeps_when_idle "could not create $NAME"
fi
exit 0
