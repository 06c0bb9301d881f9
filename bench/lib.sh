# shellcheck shell=bash
# What the side benchmarks run in the VM (cross-cpu, profile, neighbour,
# driver-policy, replay-wait, module-ab) share: the VM check, the
# ramdisk, a record-mode session (`dmreplay capture` and `dmreplay
# checkpoint`) started and stopped around a run, fio's 4 KiB random
# reads at QD32, and a median.  Sourced, not run; `make bench`
# (bench/guest) has its own, with error files and checks per case.

bench=bench/$(basename "$0")
dmreplay=${DMR_TOP:-.}/tools/dm-replay/dmreplay
# 64 MiB of the ramdisk, in 512-byte sectors: every table's length.
# shellcheck disable=SC2034 # for the scripts that source this
sectors=$((64 * 2048))

# Where capture and the driver run: CPU 1, apart from fio on CPU 0.
rec_on_cap=(taskset -c 1)
rec_on_drv=(taskset -c 1)
rec_drv_err=/dev/null	# the driver's summary line, if a script wants it

# Refuse to run outside scripts/vm-run, then work from the top.
bench_init() {
	[[ ${DMR_VM:-} == 1 ]] || { echo "$bench: runs only inside scripts/vm-run (DMR_VM=1)" >&2; exit 2; }
	cd "$DMR_TOP" || exit 2
}

bench_clocksource() {
	cat /sys/devices/system/clocksource/clocksource0/current_clocksource
}

# bench_ram N: N ramdisks of 256 MiB, /dev/ram0 to /dev/ram$((N - 1)).
bench_ram() {
	modprobe brd rd_nr="$1" rd_size=262144
}

# bench_remove NAME...: remove dm devices, quietly; for an EXIT trap.
bench_remove() {
	local d
	for d in "$@"; do
		dmsetup remove "$d" 2>/dev/null || true
	done
}

# record_start NAME JOURNAL [DRIVER OPTION...]: capture NAME's journal to
# JOURNAL and start `dmreplay checkpoint NAME` with the options (none: it
# sleeps in poll() until something is held).
record_start() {
	local name=$1 journal=$2
	shift 2
	"${rec_on_cap[@]}" "$dmreplay" capture "$name" -o "$journal" 2>/dev/null &
	rec_cap=$!
	"${rec_on_drv[@]}" "$dmreplay" checkpoint "$name" "$@" 2>"$rec_drv_err" &
	rec_drv=$!
	sleep 0.3
}

# record_stop: stop the driver, then the capture.
record_stop() {
	kill -TERM "$rec_drv" 2>/dev/null || true
	wait "$rec_drv" 2>/dev/null || true
	kill -TERM "$rec_cap" 2>/dev/null || true
	wait "$rec_cap" 2>/dev/null || true
}

# fio_iops NAME [RW [QD [OPTION...]]]: fio's IOPS (reads and writes) of
# 4 KiB requests, RW (randread) at depth QD (32), on /dev/mapper/NAME,
# fio on CPU 0, with any more fio OPTIONs; ENGINE (io_uring), RT (2 s,
# after 1 s).
fio_iops() {
	taskset -c 0 fio --name=r --filename="/dev/mapper/$1" --direct=1 --ioengine="${ENGINE:-io_uring}" \
		--rw="${2:-randread}" --bs=4k --iodepth="${3:-32}" --time_based --runtime="${RT:-2}" \
		--ramp_time=1 --size=64m --output-format=json "${@:4}" 2>/dev/null |
		jq -r '.jobs[0] | .read.iops + .write.iops | floor'
}

# randread_iops NAME: fio_iops NAME, 4 KiB random reads at QD32.
randread_iops() { fio_iops "$1"; }

# median VALUE...: the median of the numbers given.
median() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
