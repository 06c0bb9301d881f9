#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Record mode under fio: with a checkpoint driver running, the journal has
# exactly one completion per request fio issued (per op), no sequence
# gaps, increasing checkpoints, ascending ids per checkpoint; the status
# counters agree.  Flushes from fio's fsync are journaled as flushes.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! why=$(dmr_prereq); then
	tap_skip fio.all "$why"
	exit 0
fi
if ! have_cmd fio || ! have_cmd jq; then
	tap_skip fio.all "fio or jq not installed"
	exit 0
fi
DMREPLAY=${DMREPLAY:-$DMR_TOP/tools/dm-replay/dmreplay}
if [[ ! -x $DMREPLAY ]]; then
	tap_skip fio.all "dmreplay not built ($DMREPLAY)"
	exit 0
fi

NAME=dmrt_fio
LEN=16384
S=$(scratch fio)
ckpt_pid='' cap_pid='' loopdev=''
cleanup() {
	stop_bg "$ckpt_pid"
	stop_bg "$cap_pid"
	dm_remove "$NAME"
	[[ -n $loopdev ]] && losetup -d "$loopdev" 2>/dev/null
	rm -rf "$S"
}
trap cleanup EXIT

# fio_total FILE DIR: sum of total_ios over jobs for read|write|sync
fio_total() { jq "[.jobs[].$2.total_ios] | add" "$1"; }

# run_case CASE LOWER FIO_ARGS...; FEAT: the table's feature arguments;
# SUBMIT=1: the driver is `dmreplay checkpoint --spin --submit`, which
# submits the requests itself (DM_REPLAY_CKPT_F_SUBMIT); SUBMIT=auto:
# `--spin --submit=auto`, which does so only while it delivers more
run_case() {
	local c=$1 lower=$2 j=$S/$1.jnl js=$S/$1.json sum r w f total st
	shift 2
	dm_remove "$NAME"
	if ! dm_create "$NAME" "0 $LEN replay $lower 0 record${FEAT:+ $FEAT}"; then
		tap_fail "fio.$c" "create failed"
		return
	fi
	"$DMR_TOOL" capture "$(journal_path "$NAME")" "$j" &
	cap_pid=$!
	if [[ ${SUBMIT:-0} == 1 ]]; then
		"$DMREPLAY" checkpoint "$NAME" --spin 1000000 --submit 2>"$S/$c.ckptd" &
	elif [[ ${SUBMIT:-0} == auto ]]; then
		"$DMREPLAY" checkpoint "$NAME" --spin 1000000 --submit=auto 2>"$S/$c.ckptd" &
	else
		"$DMR_TOOL" ckptd --interval 2 "$NAME" >"$S/$c.ckptd" &
	fi
	ckpt_pid=$!
	if ! fio --name=a --filename="/dev/mapper/$NAME" --direct=1 \
		--invalidate=0 --size=$((LEN * 512)) --randseed=42 \
		--output-format=json --output="$js" "$@" >/dev/null; then
		tap_fail "fio.$c" "fio failed: $(tail -5 "$js" 2>/dev/null)"
	fi
	stop_bg "$ckpt_pid"
	ckpt_pid=''
	stop_bg "$cap_pid"
	cap_pid=''
	keep "$j" "$js"
	if ! sum=$("$DMR_TOOL" check "$j"); then
		tap_fail "fio.$c.journal_valid" "$("$DMR_TOOL" check "$j" 2>&1 | tail -1)"
	else
		tap_ok "fio.$c.journal_valid"
	fi
	note "$c: $sum"
	r=$(fio_total "$js" read) w=$(fio_total "$js" write) f=$(fio_total "$js" sync)
	total=$((r + w + f))
	if [[ $(kv reads "$sum") == "$r" && $(kv writes "$sum") == "$w" ]] &&
		(($(kv flushes "$sum") == f)); then
		tap_ok "fio.$c.counts_match_fio"
	else
		tap_fail "fio.$c.counts_match_fio" "fio issued reads=$r writes=$w syncs=$f; journal: $sum"
	fi
	if ((r + w == 0)); then
		tap_fail "fio.$c.counts_match_fio" "fio did no I/O"
	fi
	st=$(dmsetup status "$NAME")
	note "$c: status $st"
	if [[ $(status_field "$NAME" delivered) == "$(kv completions "$sum")" &&
		$(status_field "$NAME" ids_issued) == "$(kv completions "$sum")" &&
		$(status_field "$NAME" held) == 0 &&
		$(status_field "$NAME" in_flight) == 0 &&
		$(status_field "$NAME" checkpoints) == "$(kv user "$sum")" &&
		$(status_field "$NAME" journal_lost) == 0 &&
		$(kv completions "$sum") == "$total" ]]; then
		tap_ok "fio.$c.status_matches_journal"
	else
		tap_fail "fio.$c.status_matches_journal" "status '$st' vs journal '$sum' vs fio $total"
	fi
	if [[ $(kv delivered "$(cat "$S/$c.ckptd")") == "$total" ]]; then
		tap_ok "fio.$c.driver_delivered_all"
	else
		tap_fail "fio.$c.driver_delivered_all" "driver: $(cat "$S/$c.ckptd"), fio issued $total"
	fi
	# submit_depth 1: every request is outstanding on arrival, so the
	# worker submits all of them; none otherwise.  --submit: all but
	# those mapped before the driver's first checkpoint.  --submit=auto
	# measures map() submitting, then itself, within its first 50 ms of
	# load: some of each, whatever it then chose.
	local want=0 by
	[[ ${FEAT:-} == *"submit_depth 1"* ]] && want=$(status_field "$NAME" ids_issued)
	by=$(status_field "$NAME" by_worker)
	if [[ ${SUBMIT:-0} == 1 ]] && ((by > 0 && by <= $(status_field "$NAME" ids_issued))); then
		tap_ok "fio.$c.by_worker"
	elif [[ ${SUBMIT:-0} == auto ]] && ((by > 0 && by < $(status_field "$NAME" ids_issued))) &&
		grep -q "probes=" "$S/$c.ckptd"; then
		tap_ok "fio.$c.by_worker"
	elif [[ ${SUBMIT:-0} != 1 && $by == "$want" ]]; then
		tap_ok "fio.$c.by_worker"
	else
		tap_fail "fio.$c.by_worker" "by_worker $by, ids $(status_field "$NAME" ids_issued), SUBMIT=${SUBMIT:-0}, expected $want (SUBMIT=1: 1 to ids; auto: 1 to ids - 1); driver: $(cat "$S/$c.ckptd")"
	fi
	# `dmreplay status` shows the same count.
	local shown
	shown=$("$DMREPLAY" status "$NAME" | awk '$1 == "by_worker" { print $2 }')
	if [[ $shown == "$(status_field "$NAME" by_worker)" ]]; then
		tap_ok "fio.$c.tool_by_worker"
	else
		tap_fail "fio.$c.tool_by_worker" "dmreplay status: by_worker '$shown', dmsetup status: $(status_field "$NAME" by_worker)"
	fi
	dm_remove "$NAME"
}

common=(--rw=randrw --rwmixread=60 --norandommap --io_size=3M --iodepth=8)
run_case libaio_4k "$DMR_RAM0" --ioengine=libaio --bs=4k "${common[@]}"
run_case libaio_mixed "$DMR_RAM0" --ioengine=libaio \
	--bssplit=4k/40:8k/20:16k/20:64k/20 "${common[@]}" --iodepth=16
run_case io_uring_mixed "$DMR_RAM0" --ioengine=io_uring \
	--bssplit=4k/50:32k/50 "${common[@]}"
run_case libaio_2jobs "$DMR_RAM0" --ioengine=libaio --bs=8k --numjobs=2 \
	"${common[@]}"
# The worker submits, with ids still in arrival order; then fio checks
# what it wrote (the verify reads are counted like the others).
FEAT="2 submit_depth 1" run_case io_uring_worker "$DMR_RAM0" --ioengine=io_uring \
	--bssplit=4k/50:32k/50 "${common[@]}" --iodepth=16
FEAT="2 submit_depth 1" run_case worker_verify "$DMR_RAM0" --ioengine=libaio \
	--rw=randwrite --bs=8k --io_size=2M --iodepth=8 --verify=crc32c \
	--verify_fatal=1
# The driver submits (checkpoint --submit): the same checks, and fio's.
SUBMIT=1 run_case io_uring_submit "$DMR_RAM0" --ioengine=io_uring \
	--bssplit=4k/50:32k/50 "${common[@]}" --iodepth=16
SUBMIT=1 run_case submit_verify "$DMR_RAM0" --ioengine=io_uring \
	--rw=randwrite --bs=8k --io_size=2M --iodepth=8 --verify=crc32c \
	--verify_fatal=1
# The driver as `--spin` runs it: it submits for a while, then not, or
# the other way round; a second of fio, so that it measures both.
SUBMIT=auto run_case io_uring_auto "$DMR_RAM0" --ioengine=io_uring \
	--bs=4k --rw=randrw --rwmixread=60 --norandommap --iodepth=16 \
	--time_based --runtime=1

# fsync=N on a lower device with a write cache: flushes are journaled.
modprobe loop 2>/dev/null
if truncate -s 64M "$S/loop.img" && loopdev=$(losetup -f --show "$S/loop.img"); then
	run_case libaio_fsync "$loopdev" --ioengine=libaio --rw=randwrite \
		--bs=4k --io_size=512k --iodepth=4 --fsync=8
	losetup -d "$loopdev"
	loopdev=''
else
	tap_skip fio.libaio_fsync "no loop device"
fi
exit 0
