#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every dm-replay selftest and print one flat TAP stream:
#   ok N - <suite>.<case>   /   not ok N - ...   /   ok N - ... # SKIP why
# followed by the plan 1..N.  Runs as root in the guest (scripts/vm-run);
# exits non-zero if any case failed.
#
# Usage: run_tests.sh [SUITE...]   (default: all; suites are the test
#        program names without _test / _test.sh, e.g. control hold table)
# DMR_TIME_BUDGET=SECS: start no suite once SECS have passed; the suites
#        left out are named in a "# not run: ..." line (not counted).
set -uo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=${DMR_TOP:-$(cd "$dir/../../../.." && pwd)}
export DMR_TOP=$top
export PATH="$top/tools/dm-replay:$dir:$PATH"
TEST_TIMEOUT=${DMR_TEST_TIMEOUT:-900}

n=0
nfail=0

tap() { # status(ok|not ok) name [directive]
	n=$((n + 1))
	[[ $1 == "not ok" ]] && nfail=$((nfail + 1))
	printf '%s %d - %s%s\n' "$1" "$n" "$2" "${3:+ # $3}"
}

# Filter one program's output: re-number its ok/not ok lines with the
# suite prefix, drop its plans, turn everything else into TAP comments.
flatten() { # suite
	local suite=$1 line last='' got=0 plan='' status name rest rc=255
	while IFS= read -r line; do
		case $line in
		"__DMR_RC__ "*) rc=${line#__DMR_RC__ }; continue ;;
		"TAP version"*) continue ;;
		1..0*"# SKIP"*)
			# the whole program skipped: one case for it
			tap ok "$suite.all" "SKIP ${line#*# SKIP }"
			got=$((got + 1)) plan=1
			continue ;;
		1..*) plan=${line#1..}; plan=${plan%% *}; continue ;;
		esac
		if [[ $line =~ ^(not\ ok|ok)(\ [0-9]+)?(\ -)?\ ?(.*)$ ]]; then
			status=${BASH_REMATCH[1]} rest=${BASH_REMATCH[4]}
			got=$((got + 1))
			if [[ $rest =~ ^#\ *(SKIP|skip)\ ?(.*)$ ]]; then
				# kselftest_harness: "ok N # SKIP reason"; name is
				# on the preceding "#  OK  name" line.
				tap ok "$suite.${last:-case$got}" "SKIP ${BASH_REMATCH[2]}"
				continue
			fi
			local directive=''
			if [[ $rest == *" # "* ]]; then
				directive=${rest#* # }
				rest=${rest%% # *}
			fi
			name=${rest// /_}
			tap "$status" "$suite.$name" "$directive"
			last=''
			continue
		fi
		if [[ $line =~ ^#\ +(OK|FAIL|SKIP)\ +([^ ]+)$ ]]; then
			last=${BASH_REMATCH[2]}
		fi
		case $line in
		"#"*) printf '%s\n' "$line" ;;
		*) printf '# %s\n' "$line" ;;
		esac
	done
	echo "$got ${plan:-0} $rc" >"$tmpd/count"
}

run_suite() { # suite command...
	local suite=$1 rc got plan
	shift
	echo "# ===== $suite: $*"
	# flatten runs in this shell (it counts); the status comes last.
	flatten "$suite" < <(timeout -k 10 "$TEST_TIMEOUT" "$@" 2>&1
		echo "__DMR_RC__ $?")
	read -r got plan rc <"$tmpd/count" || true
	if ((got < plan)); then
		tap "not ok" "$suite.complete" "ran $got of $plan cases, exit $rc"
	elif ((rc != 0 && rc != 4)) && [[ $got == 0 ]]; then
		tap "not ok" "$suite.run" "exit status $rc"
	elif ((rc == 124 || rc == 137)); then
		tap "not ok" "$suite.timeout" "killed after ${TEST_TIMEOUT}s"
	fi
}

setup() {
	if [[ $(id -u) != 0 ]]; then
		echo "# run_tests.sh must run as root (in the VM: scripts/vm-run)"
		return 1
	fi
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
	modprobe dm-mod 2>/dev/null || true
	if [[ ! -e /dev/dm-replay ]]; then
		if [[ -f $top/dm-replay.ko ]]; then
			insmod "$top/dm-replay.ko" || true
		fi
	fi
	if [[ -e /sys/module/brd ]]; then
		rmmod brd 2>/dev/null || true
	fi
	if [[ ! -e /sys/module/brd ]]; then
		modprobe brd rd_nr=4 rd_size=65536 max_part=0 || true
	fi
	modprobe dm-flakey 2>/dev/null || true
	modprobe loop 2>/dev/null || true
	# mknodes needs /dev/mapper/control
	dmsetup mknodes >/dev/null 2>&1 || true
}

cleanup_devices() {
	local d
	for d in $(dmsetup ls 2>/dev/null | awk '$1 ~ /^dmr/ {print $1}'); do
		dmsetup remove --retry "$d" >/dev/null 2>&1 ||
			dmsetup remove --force "$d" >/dev/null 2>&1 || true
	done
}

main() {
	local all=(control hold ops table fio_record replay replay_ioctl badinput badioctl ioctl_fuzz suspend faults journal_stress clients concurrency driver submit) s suites
	tmpd=$(mktemp -d /tmp/dmr-run.XXXXXX)
	trap 'rm -rf "$tmpd"' EXIT
	suites=("$@")
	if ((${#suites[@]} == 0)); then
		# ours first, then any other *_test / *_test.sh found here
		suites=("${all[@]}")
		local f b
		for f in "$dir"/*_test "$dir"/*_test.sh; do
			[[ -f $f ]] || continue
			[[ $f == *.sh || -x $f ]] || continue
			b=$(basename "$f")
			b=${b%.sh}
			b=${b%_test}
			[[ " ${suites[*]} " == *" $b "* ]] || suites+=("$b")
		done
	fi
	echo "TAP version 13"
	setup || { tap "not ok" "setup" "prerequisites"; echo "1..$n"; return 1; }
	local budget=${DMR_TIME_BUDGET:-0} notrun=()
	[[ $budget =~ ^[0-9]+$ ]] || { echo "# DMR_TIME_BUDGET='$budget' is not a number of seconds"; return 2; }
	SECONDS=0
	for s in "${suites[@]}"; do
		if ((budget && SECONDS >= budget)); then
			notrun+=("$s")
			continue
		fi
		if [[ -x $dir/${s}_test ]]; then
			run_suite "$s" "$dir/${s}_test"
		elif [[ -f $dir/${s}_test.sh ]]; then
			run_suite "$s" bash "$dir/${s}_test.sh"
		else
			tap "not ok" "$s.run" "no ${s}_test (run make -C $dir first)"
		fi
		cleanup_devices
	done
	# After every device is gone the module must unload: nothing leaked.
	cleanup_devices
	local left
	left=$(dmsetup ls 2>/dev/null | awk '$1 ~ /^dmr/' | tr '\n' ' ')
	if [[ -n $left ]]; then
		tap "not ok" "module.devices_removed" "left: $left"
	else
		tap ok "module.devices_removed"
	fi
	if [[ -d /sys/kernel/debug/dm-replay ]] &&
		[[ -n $(ls /sys/kernel/debug/dm-replay 2>/dev/null) ]]; then
		tap "not ok" "module.debugfs_empty" "left: $(ls /sys/kernel/debug/dm-replay | tr '\n' ' ')"
	else
		tap ok "module.debugfs_empty"
	fi
	if [[ ! -e /sys/module/dm_replay ]]; then
		tap ok "module.rmmod" "SKIP dm_replay not loaded"
	elif rmmod dm_replay; then
		if [[ -e /sys/module/dm_replay || -e /dev/dm-replay ]]; then
			tap "not ok" "module.rmmod" "still present after rmmod"
		else
			tap ok "module.rmmod"
		fi
	else
		tap "not ok" "module.rmmod" "refcnt $(cat /sys/module/dm_replay/refcnt 2>/dev/null)"
	fi
	echo "1..$n"
	((${#notrun[@]})) &&
		echo "# not run: ${notrun[*]} (the time budget of ${budget}s was used up after ${SECONDS}s)"
	echo "# $((n - nfail)) of $n cases passed (skips count as passed)"
	((nfail == 0))
}

main "$@"
