#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Real clients on /dev/mapper/NAME as a raw image, all while a checkpoint
# driver and a journal consumer run: qemu-io (cache=none with aio=native
# and aio=io_uring, -P patterns verified by qemu-io itself, plus a
# negative control), qemu-img convert/compare both ways, fio with verify,
# and an ext4 filesystem made, filled, remounted, checksummed and checked
# with fsck.  Each client's exit status and output are checked; then the
# journal is whole and matches what the target delivered.
set -uo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=stress_lib.sh
source "$DMR_SELFTEST_DIR/stress_lib.sh"

if ! why=$(stress_prereq qemu-io qemu-img fio mkfs.ext4 fsck.ext4 sha256sum); then
	tap_skip all "$why"
	exit 0
fi

NAME=dmrs_cli
S=$(scratch clients)
MNT=$S/mnt
ck_pid='' cap_pid='' loopdev=''
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	stop_bg "$ck_pid"
	stop_bg "$cap_pid"
	dm_remove "$NAME"
	[[ -n $loopdev ]] && losetup -d "$loopdev"
	rm -rf "$S"
}
trap cleanup EXIT
mark=$(dmesg_mark)
DEV=/dev/mapper/$NAME
# A loop device has a write cache, so flushes and FUA reach dm-replay
# (on brd they are dropped above it).
modprobe loop 2>/dev/null
if ! truncate -s 64M "$S/lower.img" || ! loopdev=$(losetup -f --show "$S/lower.img"); then
	tap_skip all "no loop device"
	exit 0
fi
LEN=$(dev_sectors "$loopdev")

if ! dm_create "$NAME" "0 $LEN replay $loopdev 0 record"; then
	tap_fail create "create failed"
	exit 0
fi
start_driver "$NAME" "$S/j"

# ---- qemu-io ---------------------------------------------------------------
# qemu_io CASE AIO: write patterns (sync and aio, aligned and odd sizes),
# read them back verified; a wrong pattern must be reported.
qemu_io() {
	local c=$1 aio=$2 out st
	out=$(timeout 300 qemu-io -f raw --cache=none --aio="$aio" \
		-c 'write -P 0xab 0 1M' -c 'read -P 0xab 0 1M' \
		-c 'aio_write -P 0xcd 1M 192k' -c 'aio_write -P 0xce 2M 4k' -c aio_flush \
		-c 'aio_read -P 0xcd 1M 192k' -c 'aio_read -P 0xce 2M 4k' -c aio_flush \
		-c 'writev -P 0x5a 4M 64k 8k 4k' -c 'readv -P 0x5a 4M 76k' \
		-c 'flush' -c 'read -P 0xab 512k 512k' "$DEV" 2>&1)
	st=$?
	if grep -q -i 'io_uring.*not\|not.*io_uring\|Unknown.*aio\|invalid.*aio' <<<"$out"; then
		tap_skip "qemu_io_$c" "qemu-io has no aio=$aio: $(head -1 <<<"$out")"
		return
	fi
	if ((st == 0)) && ! grep -q -i 'fail\|error\|mismatch' <<<"$out" &&
		(($(grep -c '^wrote' <<<"$out") == 4 && $(grep -c '^read' <<<"$out") == 5)); then
		tap_ok "qemu_io_$c"
	else
		tap_fail "qemu_io_$c" "exit $st: $(tr '\n' '|' <<<"$out")"
	fi
	# negative control: qemu-io does verify the pattern
	out=$(timeout 120 qemu-io -f raw --cache=none --aio="$aio" \
		-c 'read -P 0x11 0 4k' "$DEV" 2>&1)
	if grep -q 'Pattern verification failed' <<<"$out"; then
		tap_ok "qemu_io_${c}_detects_mismatch"
	else
		tap_fail "qemu_io_${c}_detects_mismatch" "wrong pattern not reported: $out"
	fi
}
qemu_io native native
qemu_io io_uring io_uring

# ---- qemu-img ---------------------------------------------------------------
head -c $((LEN * 512)) /dev/urandom >"$S/src.img"
if timeout 300 qemu-img convert -n -f raw -O raw -t none "$S/src.img" "$DEV" 2>"$S/qi.err" &&
	timeout 300 qemu-img compare -f raw -F raw "$S/src.img" "$DEV" >"$S/qi.out" 2>&1; then
	tap_ok qemu_img_convert_to_dev
else
	tap_fail qemu_img_convert_to_dev "$(cat "$S/qi.err" "$S/qi.out" 2>/dev/null)"
fi
if timeout 300 qemu-img convert -f raw -O raw -T none "$DEV" "$S/copy.img" 2>"$S/qi.err" &&
	cmp -s "$S/src.img" "$S/copy.img"; then
	tap_ok qemu_img_convert_from_dev
else
	tap_fail qemu_img_convert_from_dev "$(cat "$S/qi.err")"
fi
# Invert one byte (a fixed value would already be there once in 256 runs).
off=$((3 * 1024 * 1024 + 7))
byte=$(od -An -tu1 -j "$off" -N1 "$S/copy.img")
# shellcheck disable=SC2059 # the format is the byte
printf "\\$(printf '%03o' $((byte ^ 255)))" | dd of="$S/copy.img" bs=1 seek="$off" conv=notrunc status=none
timeout 300 qemu-img compare -f raw -F raw "$DEV" "$S/copy.img" >"$S/qi.out" 2>&1
st=$?
if ((st == 1)) && grep -q 'Content mismatch at offset 3145728' "$S/qi.out"; then
	tap_ok qemu_img_compare_detects_change
else
	tap_fail qemu_img_compare_detects_change "exit $st: $(cat "$S/qi.out")"
fi
rm -f "$S/src.img" "$S/copy.img"

# ---- fio ------------------------------------------------------------------
if timeout 600 fio --name=c --filename="$DEV" --direct=1 --ioengine=io_uring \
	--iodepth=16 --rw=randwrite --bssplit=4k/50:16k/30:64k/20 \
	--size=16M --verify=crc32c --verify_fatal=1 --do_verify=1 \
	--output-format=json --output="$S/fio.json" >/dev/null 2>&1 &&
	[[ $(jq '[.jobs[].error] | add' "$S/fio.json") == 0 ]]; then
	tap_ok fio_verify
else
	tap_fail fio_verify "$(jq -c '[.jobs[] | {error, write: .write.total_ios, read: .read.total_ios}]' "$S/fio.json" 2>/dev/null)"
fi

# ---- ext4 -----------------------------------------------------------------
fs_ok=1
fs_step() { # what command...
	local what=$1
	shift
	if ! timeout 300 "$@" >"$S/fs.out" 2>&1; then
		tap_fail ext4 "$what failed: $(tail -3 "$S/fs.out")"
		fs_ok=0
		return 1
	fi
}
mkdir -p "$MNT"
if fs_step mkfs mkfs.ext4 -q -F -E nodiscard "$DEV" &&
	fs_step mount mount -t ext4 "$DEV" "$MNT"; then
	for i in 1 2 3 4; do
		head -c $((i * 1024 * 1024 + i * 4097)) /dev/urandom >"$MNT/f$i" || fs_ok=0
	done
	mkdir -p "$MNT/d" && for i in $(seq 50); do echo "$i" >"$MNT/d/$i"; done
	(cd "$MNT" && sha256sum f1 f2 f3 f4 >"$S/sums") || fs_ok=0
	sync
	fs_step umount umount "$MNT" &&
		fs_step remount mount -t ext4 -o ro "$DEV" "$MNT" &&
		(cd "$MNT" && sha256sum -c --quiet "$S/sums") >"$S/fs.out" 2>&1 || {
		fs_ok=0
		note "ext4 checksums: $(cat "$S/fs.out")"
	}
	[[ $(ls "$MNT/d" | wc -l) == 50 ]] || fs_ok=0
	fs_step umount2 umount "$MNT"
	fs_step fsck fsck.ext4 -fn "$DEV"
	((fs_ok)) && tap_ok ext4
fi

# ---- the journal -------------------------------------------------------------
if stop_driver; then
	tap_ok driver_ok
else
	tap_fail driver_ok "checkpoint driver or capture failed"
fi
note "driver: $driver_sum; status: $(dmsetup status "$NAME")"
if check_journal journal "$NAME" "$S/j"; then
	if (($(kv flushes "$("$DMR_TOOL" check "$S/j" 2>/dev/null)") > 0)); then
		tap_ok flushes_journaled
	else
		tap_fail flushes_journaled "no flush in the journal (ext4, qemu-io flush)"
	fi
fi
dm_remove "$NAME"
dmesg_clean kernel_log_clean "$mark"
exit 0
