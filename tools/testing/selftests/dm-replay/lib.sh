# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared helpers for the dm-replay shell selftests (sourced).
# Each test prints "ok - NAME", "not ok - NAME" or "ok - NAME # SKIP why";
# run_tests.sh numbers them and prefixes the suite.

DMR_SELFTEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DMR_TOOL=$DMR_SELFTEST_DIR/dmr_tool
DMR_RAM0=${DMR_RAM0:-/dev/ram0}
DMR_RAM1=${DMR_RAM1:-/dev/ram1}
DMR_RAM2=${DMR_RAM2:-/dev/ram2}
DMR_RAM3=${DMR_RAM3:-/dev/ram3}
DEBUGFS=/sys/kernel/debug/dm-replay

tap_ok() { echo "ok - $1"; }
tap_skip() { echo "ok - $1 # SKIP $2"; }
tap_fail() { # name why
	echo "# $1: $2"
	echo "not ok - $1"
}
# tap_check NAME COMMAND...: ok if COMMAND succeeds
tap_check() {
	local name=$1
	shift
	if "$@"; then tap_ok "$name"; else tap_fail "$name" "failed: $*"; fi
}
note() { echo "# $*"; }

# Field of `dmsetup status` by name (see dm-replay.rst "Status").
STATUS_FIELDS=(mode ids_issued in_flight held delivered checkpoints
	journal_bytes journal_full journal_lost lower_errors overlaps
	reordered div_missing div_shape div_status div_data last_checkpoint
	by_worker)
status_field() { # dmname field
	local -a f
	local i
	read -r -a f <<<"$(dmsetup status "$1")" || return 1
	[[ ${f[2]} == replay ]] || return 1
	for i in "${!STATUS_FIELDS[@]}"; do
		if [[ ${STATUS_FIELDS[$i]} == "$2" ]]; then
			echo "${f[$((i + 3))]}"
			return 0
		fi
	done
	return 1
}

dm_exists() { dmsetup info "$1" >/dev/null 2>&1; }

dm_remove() { # name...
	local d
	for d; do
		dm_exists "$d" || continue
		dmsetup remove --retry "$d" >/dev/null 2>&1 ||
			dmsetup remove --force --retry "$d" >/dev/null 2>&1 || true
	done
}

# kernel name (dm-N) of a dm device
dm_kname() {
	local mm
	mm=$(dmsetup info -c --noheadings -o major,minor --separator : "$1") || return 1
	basename "$(readlink "/sys/dev/block/$mm")"
}

journal_path() { echo "$DEBUGFS/$(dm_kname "$1")/journal"; }

# dm_create NAME TABLE: create and make the node
dm_create() {
	dmsetup create "$1" --table "$2" && dmsetup mknodes "$1"
}

dev_sectors() { blockdev --getsz "$1"; }

# Stop a background process started by this script (SIGTERM, then wait).
stop_bg() { # pid
	[[ -n ${1:-} ]] || return 0
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null
}

# Value of KEY=VAL in a line of KEY=VAL words.
kv() { # key line
	local w
	for w in $2; do
		[[ $w == "$1="* ]] && { echo "${w#*=}"; return 0; }
	done
	return 1
}

have_cmd() { command -v "$1" >/dev/null 2>&1; }

dmr_prereq() { # prints why not, returns 1 when a prerequisite is missing
	[[ $(id -u) == 0 ]] || { echo "needs root"; return 1; }
	[[ -e /dev/dm-replay ]] || { echo "/dev/dm-replay missing (module not loaded)"; return 1; }
	[[ -b $DMR_RAM0 && -b $DMR_RAM1 ]] || { echo "no ramdisks (modprobe brd rd_nr=4)"; return 1; }
	[[ -x $DMR_TOOL ]] || { echo "$DMR_TOOL not built (make -C $DMR_SELFTEST_DIR)"; return 1; }
	return 0
}

scratch() { # make and print a per-test scratch directory under /tmp
	mktemp -d "/tmp/dmr-${1:-test}.XXXXXX"
}

# Keep interesting artifacts when DMR_OUT is set.
keep() { # file... (copied to $DMR_OUT/selftests/)
	[[ -n ${DMR_OUT:-} ]] || return 0
	mkdir -p "$DMR_OUT/selftests" 2>/dev/null || return 0
	cp -f "$@" "$DMR_OUT/selftests/" 2>/dev/null || true
}
