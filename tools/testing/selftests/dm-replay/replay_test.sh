#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Replay mode: record an fio workload with `dmreplay checkpoint` +
# `dmreplay capture`, restore the starting disk, replay it with
# `dmreplay replay` while re-running the same workload (several times),
# and compare the replay's own journal with the recording.  Then inject
# divergences (missing request, other shape, changed data, lower error)
# and check each is detected.  serialize_overlaps makes overlapping
# read-after-write data identical.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! why=$(dmr_prereq); then
	tap_skip replay.all "$why"
	exit 0
fi
DMREPLAY=${DMREPLAY:-$DMR_TOP/tools/dm-replay/dmreplay}
if [[ ! -x $DMREPLAY ]]; then
	tap_skip replay.all "dmreplay not built ($DMREPLAY)"
	exit 0
fi
if ! have_cmd fio; then
	tap_skip replay.all "fio not installed"
	exit 0
fi

NAME=dmrt_rep
LOW=dmrt_replow
LEN=16384
S=$(scratch replay)
declare -a bg=()
cleanup() {
	local p
	for p in "${bg[@]}"; do stop_bg "$p"; done
	dm_remove "$NAME" "$LOW"
	rm -rf "$S"
}
trap cleanup EXIT

# Starting state: random data on the lower device, saved to a file.
make_base() {
	dd if=/dev/urandom of="$S/base.img" bs=1M count=$((LEN / 2048)) status=none &&
		restore_base
}
restore_base() { # [lower]
	dd if="$S/base.img" of="${1:-$DMR_RAM0}" bs=1M oflag=direct conv=notrunc status=none
}

# " N word..." for a space-separated feature list (empty for none)
feat_args() {
	local -a w
	read -r -a w <<<"$1"
	((${#w[@]})) && echo " ${#w[@]} ${w[*]}"
	return 0
}

# Same fio job for record and replay.  refill_buffers + scramble_buffers=0:
# write payloads come from the seeded generator only (not the clock).
FIO_BASE=(--direct=1 --invalidate=0 --randseed=1234 --refill_buffers
	--scramble_buffers=0 --norandommap --size=$((LEN * 512)) --numjobs=1)
run_fio() { # out args...
	local out=$1
	shift
	fio --name=w --filename="/dev/mapper/$NAME" "${FIO_BASE[@]}" "$@" \
		--output="$out" >/dev/null 2>&1
}

# record CASE LOWER FEATURES FIO_ARGS...: journal in $S/CASE.rec
record() {
	local c=$1 lower=$2 feat=$3 cap ck rc=0
	shift 3
	dm_remove "$NAME"
	dm_create "$NAME" "0 $LEN replay $lower 0 record$(feat_args "$feat")" || return 1
	"$DMREPLAY" capture "$NAME" -o "$S/$c.rec" 2>"$S/$c.rec.capture" &
	cap=$!
	"$DMREPLAY" checkpoint "$NAME" --id-base 1000 2>"$S/$c.rec.ckpt" &
	ck=$!
	bg=("$cap" "$ck")
	run_fio "$S/$c.rec.fio" "$@" || rc=1
	stop_bg "$ck"
	stop_bg "$cap"
	bg=()
	dmsetup status "$NAME" >"$S/$c.rec.status"
	dm_remove "$NAME"
	keep "$S/$c.rec"
	return $rc
}

# replay CASE JOURNAL LOWER FEATURES FIO_ARGS...: sets rp_rc (dmreplay
# replay exit), rp_fio (fio exit), status in $S/CASE.rep.status, the
# replay's own journal in $S/CASE.rep.  RP_ARGS: more dmreplay replay
# options (words), such as --spin.
replay() {
	local c=$1 jnl=$2 lower=$3 feat=$4 cap rp args=()
	shift 4
	read -r -a args <<<"${RP_ARGS:-}"
	rp_rc=255 rp_fio=255
	dm_remove "$NAME"
	dm_create "$NAME" "0 $LEN replay $lower 0 replay$(feat_args "$feat")" || return 1
	rm -f "$S/ready"
	"$DMREPLAY" capture "$NAME" -o "$S/$c.rep" 2>"$S/$c.rep.capture" &
	cap=$!
	"$DMREPLAY" replay "$NAME" "$jnl" --timeout "${RP_TIMEOUT:-60000}" \
		--ready "$S/ready" "${args[@]}" >"$S/$c.rep.out" 2>&1 &
	rp=$!
	bg=("$cap" "$rp")
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -e $S/ready ]] && break
		sleep 0.05
	done
	if [[ ! -e $S/ready ]]; then
		note "$c: dmreplay replay never got ready: $(cat "$S/$c.rep.out")"
	fi
	run_fio "$S/$c.rep.fio" "$@" &
	local fio_pid=$!
	wait "$rp"
	rp_rc=$?
	# A diverged replay may leave completions held: suspend releases them.
	timeout 20 tail --pid="$fio_pid" -f /dev/null
	if kill -0 "$fio_pid" 2>/dev/null; then
		note "$c: fio still blocked 20 s after dmreplay replay exited: suspending"
		if ! timeout 30 dmsetup suspend "$NAME"; then
			tap_fail "replay.$c.suspend_releases" "dmsetup suspend of the replay target hung for 30 s with fio blocked"
		fi
		timeout 30 dmsetup resume "$NAME"
		# Requests fio submits after the resume are held again: keep
		# releasing them until fio is done.
		local k
		for ((k = 0; k < 60; k++)); do
			kill -0 "$fio_pid" 2>/dev/null || break
			timeout 30 dmsetup suspend "$NAME"
			timeout 30 dmsetup resume "$NAME"
			sleep 0.5
		done
		if kill -0 "$fio_pid" 2>/dev/null; then
			note "$c: fio still blocked after suspend; killing it"
			kill -KILL "$fio_pid"
		fi
	fi
	wait "$fio_pid"
	rp_fio=$?
	dmsetup status "$NAME" >"$S/$c.rep.status"
	stop_bg "$cap"
	bg=()
	note "$c: replay exit $rp_rc, fio exit $rp_fio, status $(cat "$S/$c.rep.status")"
	note "$c: $(tail -3 "$S/$c.rep.out" | tr '\n' ' ')"
	dm_remove "$NAME"
	keep "$S/$c.rep" "$S/$c.rep.out"
}

# Field of a saved status line.
sfield() { # file field
	local -a f
	local i
	read -r -a f <"$1"
	for i in "${!STATUS_FIELDS[@]}"; do
		[[ ${STATUS_FIELDS[$i]} == "$2" ]] && { echo "${f[$((i + 3))]}"; return; }
	done
}

# Completions as "ckpt op sector nr" (+ id with ids=1) per line.
shapes() { # journal with_ids
	"$DMR_TOOL" dump "$1" | awk -v ids="$2" '$1 == "R" {
		split($2, c, "="); split($3, d, "="); split($4, o, "=");
		split($5, s, "="); split($6, n, "=");
		print c[2], o[2], s[2], n[2], (ids ? d[2] : "") }'
}
crcs() { "$DMR_TOOL" dump "$1" | awk '$1 == "R" { print $3, $NF }'; }

# Sections to run (all by default): faithful overlaps divergence data status
# unprivileged
SECTIONS=" ${DMR_REPLAY_SECTIONS:-faithful overlaps divergence data status unprivileged} "
want() { [[ $SECTIONS == *" $1 "* ]]; }

# ---- faithful replay, several workloads, several times -------------------
if ! make_base; then
	tap_fail replay.base "cannot write the starting state to $DMR_RAM0"
	exit 0
fi

faithful() { # case features fio-args...
	local c=$1 feat=$2 run ok
	shift 2
	restore_base
	if ! record "$c" "$DMR_RAM0" "$feat" "$@"; then
		tap_fail "replay.$c.record" "recording failed: $(cat "$S/$c.rec.ckpt" 2>/dev/null)"
		return
	fi
	if ! "$DMR_TOOL" check "$S/$c.rec" >"$S/$c.rec.sum"; then
		tap_fail "replay.$c.record" "bad recording: $("$DMR_TOOL" check "$S/$c.rec" 2>&1 | tail -1)"
		return
	fi
	note "$c: recorded $(cat "$S/$c.rec.sum")"
	tap_ok "replay.$c.record"
	# Run 1 waits for late requests asleep; run 2 polls (--spin), and
	# chooses who submits (--submit=auto, the default); run 3 polls and
	# always submits the requests itself.
	local -a how=("" "--spin" "--spin --submit=always")
	for run in 1 2 3; do
		restore_base
		RP_ARGS=${how[run - 1]} replay "$c.$run" "$S/$c.rec" "$DMR_RAM0" "$feat" "$@"
		ok=1
		if ((rp_rc != 0 || rp_fio != 0)); then
			tap_fail "replay.$c.run$run" "dmreplay replay exit $rp_rc, fio exit $rp_fio"
			continue
		fi
		local f
		for f in div_missing div_shape div_status div_data; do
			if [[ $(sfield "$S/$c.$run.rep.status" $f) != 0 ]]; then
				ok=0
				note "$f = $(sfield "$S/$c.$run.rep.status" $f)"
			fi
		done
		# Same completions, same checkpoints, same order (and ids).
		if ! diff <(shapes "$S/$c.rec" 1) <(shapes "$S/$c.$run.rep" 1) >"$S/diff"; then
			ok=0
			note "replay journal differs from the recording:"
			head -10 "$S/diff" | sed 's/^/#   /'
		fi
		if [[ $feat == *verify_data* ]] &&
			! diff <(crcs "$S/$c.rec") <(crcs "$S/$c.$run.rep") >/dev/null; then
			ok=0
			note "crc32c of the data differ between record and replay"
		fi
		# Who submitted: map() only asleep; the replay itself with
		# --submit=always; auto reports its measurements.
		local by
		by=$(sfield "$S/$c.$run.rep.status" by_worker)
		if ((run == 1 && by != 0 || run == 3 && by == 0)); then
			ok=0
			note "run $run: by_worker $by (want 0 asleep, more with --submit=always)"
		fi
		if ((run == 2)) && ! grep -q ' probes=[0-9]* submitting=[0-9]* starved=' "$S/$c.$run.rep.out"; then
			ok=0
			note "run 2: no probes= in the summary: $(tail -1 "$S/$c.$run.rep.out")"
		fi
		if ((ok)); then
			tap_ok "replay.$c.run$run"
		else
			tap_fail "replay.$c.run$run" "replay did not reproduce the recording"
		fi
	done
}

want faithful && faithful libaio_randrw "" --ioengine=libaio --rw=randrw --rwmixread=50 \
	--bssplit=4k/50:16k/30:64k/20 --iodepth=8 --io_size=2M
want faithful && faithful io_uring_randrw "verify_data" --ioengine=io_uring --rw=randrw \
	--rwmixread=60 --bssplit=4k/60:8k/40 --iodepth=12 --io_size=1M

# ---- serialize_overlaps: overlapping read-after-write data ---------------
# brd finishes a request inside submit_bio, so nothing is ever in flight
# at it: put dm-delay (20 ms) under the target.  16 blocks, 16 in flight:
# almost every request overlaps another.
OVL=(--ioengine=libaio --rw=randrw --rwmixread=50 --bs=4k --iodepth=16
	--io_size=256k --size=64k)
overlaps() { # case features
	local c=$1 feat=$2 o
	dm_remove "$LOW"
	restore_base
	if ! dm_create "$LOW" "0 $LEN delay $DMR_RAM0 0 20" ||
		! record "$c" "/dev/mapper/$LOW" "$feat" "${OVL[@]}"; then
		tap_fail "replay.$c.overlaps_counted" "recording over dm-delay failed"
		return
	fi
	o=$(sfield "$S/$c.rec.status" overlaps)
	if [[ ${o:-0} -gt 0 ]]; then
		tap_ok "replay.$c.overlaps_counted"
	else
		tap_fail "replay.$c.overlaps_counted" "no overlaps counted: $(cat "$S/$c.rec.status")"
	fi
	restore_base
	replay "$c" "$S/$c.rec" "/dev/mapper/$LOW" "$feat" "${OVL[@]}"
	dm_remove "$LOW"
	if [[ $feat == *serialize_overlaps* ]]; then
		if ((rp_rc == 0)) && [[ $(sfield "$S/$c.rep.status" div_data) == 0 ]] &&
			diff <(crcs "$S/$c.rec") <(crcs "$S/$c.rep") >/dev/null; then
			tap_ok "replay.$c.same_data"
		else
			tap_fail "replay.$c.same_data" "exit $rp_rc, status $(cat "$S/$c.rep.status")"
		fi
	else
		# Without serialization the data may or may not differ: report only.
		note "$c (no serialize_overlaps): replay exit $rp_rc, div_data $(sfield "$S/$c.rep.status" div_data)"
	fi
}
if want overlaps; then
	modprobe dm-delay 2>/dev/null
	if dmsetup targets | grep -q '^delay'; then
		overlaps serialize_overlaps "verify_data serialize_overlaps"
		overlaps unserialized "verify_data"
	else
		tap_skip replay.serialize_overlaps.same_data "dm-delay not available"
	fi
fi

# ---- injected divergences ------------------------------------------------
DIV=(--ioengine=libaio --rw=randrw --rwmixread=50 --bs=4k --iodepth=4 --io_size=256k)
want divergence && restore_base &&
if ! record div "$DMR_RAM0" "" "${DIV[@]}"; then
	tap_fail replay.divergence.record "recording failed"
else
	# missing: the workload stops early, the rest never comes.
	note "divergence: recorded $("$DMR_TOOL" check "$S/div.rec")"
	restore_base
	# (the timeout also covers fio's start: under TCG that takes seconds)
	RP_TIMEOUT=15000 replay missing "$S/div.rec" "$DMR_RAM0" "" \
		"${DIV[@]}" --io_size=128k
	m=$(sfield "$S/missing.rep.status" div_missing)
	dl=$(sfield "$S/missing.rep.status" delivered)
	if ((rp_rc != 0)) && [[ ${m:-0} -ge 1 && ${dl:-0} -ge 16 ]]; then
		tap_ok replay.divergence.missing
	else
		tap_fail replay.divergence.missing "exit $rp_rc, div_missing ${m:-?}, delivered ${dl:-?} (want >= 16: the first half replays)"
	fi

	# shape: the journal says another sector for one request.
	"$DMR_TOOL" edit "$S/div.rec" "$S/div.shape.rec" --nth 5 --sector-add 1
	restore_base
	RP_TIMEOUT=20000 replay shape "$S/div.shape.rec" "$DMR_RAM0" "" "${DIV[@]}"
	m=$(sfield "$S/shape.rep.status" div_shape)
	if ((rp_rc != 0)) && [[ ${m:-0} -ge 1 ]]; then
		tap_ok replay.divergence.shape
	else
		tap_fail replay.divergence.shape "exit $rp_rc, div_shape ${m:-?}"
	fi
fi

# data: recorded with verify_data, one byte of the start state changed.
SEQ=(--ioengine=libaio --rw=read --bs=4k --iodepth=4 --io_size=256k)
want data && restore_base &&
if ! record data "$DMR_RAM0" "verify_data" "${SEQ[@]}"; then
	tap_fail replay.divergence.data "recording failed"
else
	restore_base
	replay data_same "$S/data.rec" "$DMR_RAM0" "verify_data" "${SEQ[@]}"
	m0=$(sfield "$S/data_same.rep.status" div_data)
	restore_base
	# flip one byte in block 10
	printf '\x01' | cmp -s - <(dd if="$DMR_RAM0" bs=1 skip=40967 count=1 status=none) &&
		b='\x02' || b='\x01'
	printf "$b" | dd of="$DMR_RAM0" bs=1 seek=40967 conv=notrunc status=none
	blockdev --flushbufs "$DMR_RAM0"
	replay data "$S/data.rec" "$DMR_RAM0" "verify_data" "${SEQ[@]}"
	m=$(sfield "$S/data.rep.status" div_data)
	if [[ $m0 == 0 ]] && ((rp_rc != 0)) && [[ ${m:-0} -ge 1 ]]; then
		tap_ok replay.divergence.data
	else
		tap_fail replay.divergence.data "unchanged disk: div_data ${m0:-?}; changed byte: exit $rp_rc, div_data ${m:-?}"
	fi
fi

# status: a lower error only in replay (dm-flakey under the replay target).
modprobe dm-flakey 2>/dev/null
if ! want status; then
	:
elif ! dmsetup targets | grep -q '^flakey'; then
	tap_skip replay.divergence.status "dm-flakey not available"
else
	restore_base "$DMR_RAM0"
	dm_remove "$LOW"
	if dm_create "$LOW" "0 $LEN linear $DMR_RAM0 0" &&
		record status "/dev/mapper/$LOW" "" "${SEQ[@]}"; then
		dm_remove "$LOW"
		restore_base
		dm_create "$LOW" "0 $LEN flakey $DMR_RAM0 0 0 1"
		replay status "$S/status.rec" "/dev/mapper/$LOW" "" "${SEQ[@]}" \
			--continue_on_error=all
		m=$(sfield "$S/status.rep.status" div_status)
		if ((rp_rc != 0)) && [[ ${m:-0} -ge 1 ]]; then
			tap_ok replay.divergence.status
		else
			tap_fail replay.divergence.status "exit $rp_rc, div_status ${m:-?}"
		fi
	else
		tap_fail replay.divergence.status "recording over linear failed"
	fi
	dm_remove "$LOW"
fi

# unprivileged: a manager opens the session; the checkpoint driver runs
# without CAP_SYS_ADMIN on the file it inherits (--session-fd).
nocap=(setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin --)
if ! want unprivileged; then
	:
elif ! have_cmd setpriv; then
	tap_skip replay.unprivileged_driver "setpriv (util-linux) not installed"
elif ! dm_create "$NAME" "0 $LEN replay $DMR_RAM0 0 record"; then
	tap_fail replay.unprivileged_driver "create failed"
else
	rc=0
	"${nocap[@]}" "$DMREPLAY" checkpoint "$NAME" --count 1 >"$S/np.open" 2>&1 || rc=$?
	if ((rc != 1)) || ! grep -q "opening it needs CAP_SYS_ADMIN" "$S/np.open"; then
		tap_fail replay.unprivileged_driver "without CAP_SYS_ADMIN, opening a session: exit $rc, $(tail -1 "$S/np.open")"
	else
		"${nocap[@]}" "$DMREPLAY" checkpoint "$NAME" --session-fd 3 --count 1 \
			3<>/dev/dm-replay 2>"$S/np.ckpt" &
		ck=$!
		bg=("$ck")
		dd if="/dev/mapper/$NAME" of=/dev/null bs=4k count=1 iflag=direct status=none &
		dd=$!
		for _ in $(seq 200); do kill -0 "$ck" 2>/dev/null || break; sleep 0.1; done
		rc=0
		if kill -0 "$ck" 2>/dev/null; then
			rc=timeout
			stop_bg "$ck"
		else
			wait "$ck" || rc=$?
		fi
		bg=()
		for _ in $(seq 50); do kill -0 "$dd" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$dd" 2>/dev/null && rc="$rc, dd still waiting"
		dm_remove "$NAME"	# delivers what is still held: dd ends
		wait "$dd"
		if [[ $rc == 0 ]] && grep -q "delivered=1 " "$S/np.ckpt"; then
			tap_ok replay.unprivileged_driver
		else
			tap_fail replay.unprivileged_driver "driver on an inherited session: exit $rc, $(tail -2 "$S/np.ckpt")"
		fi
	fi
	dm_remove "$NAME"
fi
exit 0
