# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Helpers of the reliability suites (suspend, faults, journal_stress,
# clients, badinput); sourced after lib.sh.
#
# DMR_STRESS=quick (default, sized for CI under TCG) or full (longer runs,
# more cycles).  stress_n QUICK FULL prints the number for the mode.

DMR_STRESS=${DMR_STRESS:-quick}
DMREPLAY=${DMREPLAY:-${DMR_TOP:-$DMR_SELFTEST_DIR/../../../..}/tools/dm-replay/dmreplay}
DMR_STRESS_TOOL=$DMR_SELFTEST_DIR/dmr_stress

stress_n() { # quick full
	if [[ $DMR_STRESS == full ]]; then echo "$2"; else echo "$1"; fi
}

# stress_prereq [cmd...]: prints why not and fails when a prerequisite is
# missing (the suites then SKIP with that reason).
stress_prereq() {
	local c
	dmr_prereq || return 1
	[[ -x $DMREPLAY ]] || { echo "dmreplay not built ($DMREPLAY)"; return 1; }
	[[ -x $DMR_STRESS_TOOL ]] || { echo "$DMR_STRESS_TOOL not built (make -C $DMR_SELFTEST_DIR)"; return 1; }
	for c; do
		have_cmd "$c" || { echo "$c not installed"; return 1; }
	done
	return 0
}

# wait_field NAME FIELD MIN [TIMEOUT_S]: wait until FIELD >= MIN
wait_field() {
	local end=$((SECONDS + ${4:-20})) v
	while :; do
		v=$(status_field "$1" "$2") || return 1
		((v >= $3)) && return 0
		((SECONDS >= end)) && return 1
		sleep 0.1
	done
}

# wait_file FILE: until it exists (a consumer started), up to 10 s
wait_file() {
	local end=$((SECONDS + 10))
	while [[ ! -e $1 ]] && ((SECONDS < end)); do sleep 0.05; done
}

# Start the checkpoint driver and the journal consumer of NAME in the
# background: sets ck_pid and cap_pid; journal in FILE, driver's summary
# in FILE.ckpt.
start_driver() { # name file
	jfile=$2
	"$DMREPLAY" capture "$1" -o "$2" 2>"$2.capture" &
	cap_pid=$!
	wait_file "$2"
	"$DMREPLAY" checkpoint "$1" 2>"$2.ckpt" &
	ck_pid=$!
}

# stop_driver: stop both (SIGTERM; SIGKILL after 60 s, which fails);
# fails if either exited badly.  The driver's "checkpoints=N
# delivered=N eagain=N" is left in $driver_sum.
stop_driver() {
	local rc=0 st p what
	driver_sum=''
	for what in ck cap; do
		if [[ $what == ck ]]; then p=${ck_pid:-}; else p=${cap_pid:-}; fi
		[[ -n $p ]] || continue
		kill -TERM "$p" 2>/dev/null
		if ! timeout 60 tail --pid="$p" -f /dev/null; then
			note "$what ($p) still running 60 s after SIGTERM: killed"
			kill -KILL "$p" 2>/dev/null
			rc=1
		fi
		wait "$p"
		st=$?
		if ((st != 0)); then
			note "$what exit $st: $(tail -3 "$jfile.$([[ $what == ck ]] && echo ckpt || echo capture)" 2>/dev/null)"
			rc=1
		fi
	done
	ck_pid='' cap_pid=''
	driver_sum=$(grep -o 'checkpoints=[0-9]* delivered=[0-9]*.*' "$jfile.ckpt" 2>/dev/null | tail -1)
	return $rc
}

# check_journal CASE NAME FILE...: the captured stream is whole, the
# completions journaled since the last header (the current table) are
# exactly the completions the table delivered (status), and the user
# checkpoints' completions are what the checkpoint driver delivered (if
# one ran: $driver_sum).  Sets $jsum.
check_journal() {
	local c=$1 name=$2 delivered lost
	shift 2
	if ! jsum=$("$DMR_STRESS_TOOL" jscan "$@" 2>"$S/jscan.err"); then
		tap_fail "$c.journal_valid" "$(head -3 "$S/jscan.err") ($jsum)"
		return 1
	fi
	note "$c: journal $jsum"
	delivered=$(status_field "$name" delivered)
	lost=$(status_field "$name" journal_lost)
	if [[ $(kv gap_records "$jsum") != 0 || $lost != 0 ]]; then
		tap_fail "$c.journal_valid" "records lost: gap_records=$(kv gap_records "$jsum") journal_lost=$lost"
		return 1
	fi
	tap_ok "$c.journal_valid"
	# A reload writes the new table's header at load time: until the
	# resume the old table still delivers, after that header.  With
	# reloads ($JCHECK_RELOADED) the current table's count is a lower
	# bound; the driver's count below is exact.
	if [[ -n ${JCHECK_RELOADED:-} ]] && (($(kv tail_completions "$jsum") >= delivered)); then
		tap_ok "$c.delivered_eq_journaled"
	elif [[ $(kv tail_completions "$jsum") == "$delivered" ]]; then
		tap_ok "$c.delivered_eq_journaled"
	else
		tap_fail "$c.delivered_eq_journaled" "status delivered=$delivered, journal completions of this table=$(kv tail_completions "$jsum")"
		return 1
	fi
	[[ -n ${driver_sum:-} ]] || return 0
	if [[ $(kv user_completions "$jsum") == "$(kv delivered "$driver_sum")" ]]; then
		tap_ok "$c.driver_delivered_eq_journaled"
	else
		tap_fail "$c.driver_delivered_eq_journaled" "driver: $driver_sum; journal: user_completions=$(kv user_completions "$jsum")"
		return 1
	fi
}

# The kernel log since MARK has no warning, oops or BUG.
dmesg_mark() { dmesg | wc -l; }
dmesg_clean() { # name mark
	local bad
	bad=$(dmesg | tail -n +"$(($2 + 1))" |
		grep -E 'WARNING:|BUG:|Oops|general protection|INFO: task .* blocked|list_(add|del) corruption|refcount_t' | head -5)
	if [[ -z $bad ]]; then
		tap_ok "$1"
	else
		tap_fail "$1" "kernel log: $bad"
	fi
}
