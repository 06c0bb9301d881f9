// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt-bench: checkpoint-cost microbenchmarks for `make bench` (runs in the VM).
 *
 *   ckpt-bench empty DEV [--iters N] [--reps R]
 *	Per-call time of an empty DM_REPLAY_IOC_CHECKPOINT (nothing held)
 *	against getppid() and DM_REPLAY_IOC_VERSION, interleaved in the
 *	same process so that they see the same machine.
 *   ckpt-bench held DEV -k K[,K...] [--reps R] [--block N] [--bs BYTES]
 *	Make K completions held (K O_DIRECT reads in flight at once through
 *	Linux native AIO, raw syscalls), wait until the target's status
 *	shows K held, then time the one CHECKPOINT that delivers them.
 *	With several K, the Ks take turns in blocks of N (default 3) timed
 *	checkpoints, each block led by an untimed one; one object per K.
 *   ckpt-bench hold DEV -k K [--bs BYTES] [--before CMD] [--during CMD]
 *	Run CMD before submitting, make K completions held, run CMD
 *	again while they are held, then deliver them (for memory deltas).
 *   ckpt-bench emu DEV -k QD [--iters N] [--bs BYTES] [--plain]
 *	An emulator's I/O thread: keep QD random O_DIRECT reads in flight
 *	through native AIO and, in the same thread, checkpoint before every
 *	reap, as an emulator's main loop would (no second process, so no
 *	wakeup crosses CPUs).  Runs N requests.  --plain: no session and no
 *	checkpoint, for the same loop on dm-linear.
 *   ckpt-bench pingpong [--iters N] [--reps R] [--cpu C]
 *	Round trip between two processes over pipes (one wakeup each way):
 *	the least one checkpoint-driver cycle costs (the I/O submitter wakes
 *	the driver, the driver's checkpoint wakes the submitter).  With
 *	--cpu both run on CPU C, else anywhere.
 *
 * DEV is the dm device (/dev/mapper/NAME); the device-mapper name for
 * `dmsetup status` is taken from its basename.  Results are one JSON
 * object on stdout (held: one line per K).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/aio_abi.h>
#include <linux/dm-ioctl.h>
#include <linux/dm-replay.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "ckpt-bench";

struct sess;
static struct sess *live_sess;
static void release_held(void);

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/*
	 * Completions held for this process would keep its exit waiting in
	 * exit_aio() forever: deliver them first.
	 */
	release_held();
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? (double)v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static void print_array(const char *key, const uint64_t *v, size_t n)
{
	printf("\"%s\":[", key);
	for (size_t i = 0; i < n; i++)
		printf("%s%" PRIu64, i ? "," : "", v[i]);
	printf("]");
}

/* ---- the dm-replay session ---------------------------------------------- */

struct sess {
	int fd;
	struct dm_replay_dev dev;
	uint64_t next_ckpt;
	const char *dm_name;	/* for dmsetup status */
};

static void sess_open(struct sess *s, const char *devpath)
{
	struct stat st;
	const char *slash = strrchr(devpath, '/');

	if (stat(devpath, &st))
		die("stat %s: %s", devpath, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		die("%s: not a block device", devpath);
	s->dev.major = major(st.st_rdev);
	s->dev.minor = minor(st.st_rdev);
	s->dm_name = slash ? slash + 1 : devpath;
	s->fd = open("/dev/dm-replay", O_RDWR | O_CLOEXEC);
	if (s->fd < 0)
		die("open /dev/dm-replay: %s", strerror(errno));
	if (ioctl(s->fd, DM_REPLAY_IOC_ATTACH, &s->dev))
		die("DM_REPLAY_IOC_ATTACH %s (%u:%u): %s", devpath, s->dev.major,
		    s->dev.minor, strerror(errno));
	/*
	 * Checkpoint numbers must exceed every earlier one of the target,
	 * from earlier runs of this program too: start at the realtime clock
	 * in ns, which no earlier run can have counted up to (one per call).
	 */
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	s->next_ckpt = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	live_sess = s;
}

/*
 * One record-mode checkpoint; returns the number delivered (the ioctl
 * itself returns 0 and reports it in .delivered), or -1 with errno.
 */
static int checkpoint(struct sess *s, struct dm_replay_checkpoint *ck)
{
	memset(ck, 0, sizeof(*ck));
	ck->checkpoint = s->next_ckpt++;
	if (ioctl(s->fd, DM_REPLAY_IOC_CHECKPOINT, ck))
		return -1;
	return (int)ck->delivered;
}

static void release_held(void)
{
	struct dm_replay_checkpoint ck;
	struct sess *s = live_sess;

	live_sess = NULL;	/* die() may be called from here */
	for (int i = 0; s && i < 1000; i++) {
		if (checkpoint(s, &ck) < 0) {
			if (errno != EAGAIN)
				break;
			usleep(1000);	/* journal full: the reader drains it */
			continue;
		}
		if (!ck.held)
			break;
	}
}

/*
 * Field 6 (held) of the status line: start len replay mode ids in_flight
 * held ...  Read with DM_TABLE_STATUS on /dev/mapper/control rather than
 * by running dmsetup, so that waiting does not fork between timed calls.
 */
static long held_now(const struct sess *s)
{
	static int ctl = -1;
	union {
		struct dm_ioctl dmi;
		char buf[16384];
	} u;
	unsigned long long ids, infl, held;
	struct dm_target_spec *spec;
	char mode[32];

	if (ctl < 0 && (ctl = open("/dev/mapper/control", O_RDWR | O_CLOEXEC)) < 0)
		die("open /dev/mapper/control: %s", strerror(errno));
	memset(&u, 0, sizeof(u));
	u.dmi.version[0] = DM_VERSION_MAJOR;
	u.dmi.version[1] = 0;
	u.dmi.version[2] = 0;
	u.dmi.data_size = sizeof(u);
	u.dmi.data_start = sizeof(u.dmi);
	snprintf(u.dmi.name, sizeof(u.dmi.name), "%s", s->dm_name);
	if (ioctl(ctl, DM_TABLE_STATUS, &u.dmi))
		die("DM_TABLE_STATUS %s: %s", s->dm_name, strerror(errno));
	if (u.dmi.flags & DM_BUFFER_FULL_FLAG || u.dmi.target_count < 1)
		die("DM_TABLE_STATUS %s: no status", s->dm_name);
	spec = (struct dm_target_spec *)(u.buf + u.dmi.data_start);
	if (strcmp(spec->target_type, "replay") ||
	    sscanf((char *)(spec + 1), "%31s %llu %llu %llu", mode, &ids, &infl, &held) != 4)
		die("%s: not a dm-replay status: %s %s", s->dm_name, spec->target_type,
		    (char *)(spec + 1));
	return (long)held;
}

static void wait_held(const struct sess *s, long k)
{
	uint64_t t0 = now_ns();
	long h;

	while ((h = held_now(s)) < k) {
		if (now_ns() - t0 > 60000000000ULL)
			die("%s: only %ld of %ld completions held after 60 s", s->dm_name, h, k);
		usleep(1000);
	}
	if (h > k)
		die("%s: %ld completions held, expected %ld (other I/O on the device?)",
		    s->dm_name, h, k);
}

/* ---- Linux native AIO by raw syscalls (no libaio) ----------------------- */

struct aio {
	aio_context_t ctx;
	int fd;
	long k;
	size_t bs;
	char *buf;
	struct iocb *cbs;
	struct iocb **cbp;
	struct io_event *ev;
	uint64_t dev_bytes;
};

static void aio_setup_k(struct aio *a, const char *devpath, long k, size_t bs)
{
	uint64_t size;

	a->k = k;
	a->bs = bs;
	a->fd = open(devpath, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (a->fd < 0)
		die("open %s O_DIRECT: %s", devpath, strerror(errno));
	if (ioctl(a->fd, _IOR(0x12, 114, size_t), &size))	/* BLKGETSIZE64 */
		die("BLKGETSIZE64 %s: %s", devpath, strerror(errno));
	a->dev_bytes = size;
	if ((uint64_t)k * bs > size)
		die("%s: %ld requests of %zu bytes do not fit in %" PRIu64 " bytes",
		    devpath, k, bs, size);
	if (syscall(SYS_io_setup, (unsigned int)k, &a->ctx))
		die("io_setup(%ld): %s (raise /proc/sys/fs/aio-max-nr?)", k, strerror(errno));
	/* All reads may share one buffer: the data is not looked at. */
	if (posix_memalign((void **)&a->buf, 4096, bs))
		die("out of memory");
	a->cbs = calloc((size_t)k, sizeof(*a->cbs));
	a->cbp = calloc((size_t)k, sizeof(*a->cbp));
	a->ev = calloc((size_t)k, sizeof(*a->ev));
	if (!a->cbs || !a->cbp || !a->ev)
		die("out of memory for %ld iocbs", k);
	for (long i = 0; i < k; i++) {
		a->cbs[i].aio_fildes = (uint32_t)a->fd;
		a->cbs[i].aio_lio_opcode = IOCB_CMD_PREAD;
		a->cbs[i].aio_buf = (uint64_t)(uintptr_t)a->buf;
		a->cbs[i].aio_nbytes = bs;
		a->cbs[i].aio_offset = (int64_t)((uint64_t)i * bs);
		a->cbp[i] = &a->cbs[i];
	}
}

static void aio_submit_all(struct aio *a)
{
	long done = 0;

	while (done < a->k) {
		long n = syscall(SYS_io_submit, a->ctx, a->k - done, a->cbp + done);

		if (n < 0 && errno == EAGAIN) {
			usleep(100);
			continue;
		}
		if (n <= 0)
			die("io_submit: %s", n < 0 ? strerror(errno) : "submitted nothing");
		done += n;
	}
}

static void aio_reap_all(struct aio *a)
{
	long got = 0;

	while (got < a->k) {
		long n = syscall(SYS_io_getevents, a->ctx, 1, a->k - got, a->ev, NULL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("io_getevents: %s", strerror(errno));
		for (long i = 0; i < n; i++)
			if (a->ev[i].res != (int64_t)a->bs)
				die("a read returned %lld, expected %zu", (long long)a->ev[i].res, a->bs);
		got += n;
	}
}

/* Deliver everything held (a journal may take it in several checkpoints). */
static uint64_t deliver_all(struct sess *s, long k)
{
	struct dm_replay_checkpoint ck;
	uint64_t delivered = 0;
	int tries = 0, n;

	while (delivered < (uint64_t)k) {
		n = checkpoint(s, &ck);
		if (n < 0 && errno == EAGAIN && ++tries < 10000) {
			usleep(1000);	/* the journal reader has to catch up */
			continue;
		}
		if (n < 0)
			die("CHECKPOINT: %s", strerror(errno));
		delivered += (uint64_t)n;
	}
	return delivered;
}

/* ---- commands ----------------------------------------------------------- */

#define MAX_KS 16

struct opts {
	long iters, reps, k, cpu, block;
	long ks[MAX_KS];	/* -k's list; ks[0] == k */
	int nk;
	size_t bs;
	bool plain;
	const char *before, *during;
};

/* -k: one count, or for held a comma-separated list of them. */
static void parse_ks(const char *arg, struct opts *o)
{
	const char *p = arg;

	o->nk = 0;
	do {
		char *end;
		long v;

		if (o->nk == MAX_KS)
			die("-k '%s': more than %d counts", arg, MAX_KS);
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || end == p || (*end && *end != ',') || v <= 0)
			die("-k '%s': '%.*s' is not a positive number", arg,
			    (int)strcspn(p, ","), p);
		if (*end && !end[1])
			die("-k '%s' ends in a comma", arg);
		o->ks[o->nk++] = v;
		p = *end ? end + 1 : end;
	} while (*p);
	o->k = o->ks[0];
}

static void parse(int argc, char **argv, struct opts *o, const char **dev)
{
	static const struct option lo[] = {
		{ "iters", required_argument, NULL, 'n' },
		{ "reps", required_argument, NULL, 'r' },
		{ "k", required_argument, NULL, 'k' },
		{ "block", required_argument, NULL, 'l' },
		{ "bs", required_argument, NULL, 'b' },
		{ "before", required_argument, NULL, 'B' },
		{ "during", required_argument, NULL, 'D' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "plain", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c;

	while ((c = getopt_long(argc, argv, "n:r:k:b:B:D:c:l:ph", lo, NULL)) != -1) {
		char *end;
		long v = 0;

		if (strchr("nrbl", c)) {
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0)
				die("--%s: '%s' is not a positive number",
				    c == 'n' ? "iters" : c == 'r' ? "reps" :
				    c == 'l' ? "block" : "bs",
				    optarg);
		}
		switch (c) {
		case 'n': o->iters = v; break;
		case 'r': o->reps = v; break;
		case 'l': o->block = v; break;
		case 'k': parse_ks(optarg, o); break;
		case 'b':
			if (v % 512)
				die("--bs: %ld is not a multiple of 512", v);
			o->bs = (size_t)v;
			break;
		case 'B': o->before = optarg; break;
		case 'D': o->during = optarg; break;
		case 'p': o->plain = true; break;
		case 'c':
			errno = 0;
			o->cpu = strtol(optarg, &end, 10);
			if (errno || *end || o->cpu < 0)
				die("--cpu: '%s' is not a CPU number", optarg);
			break;
		case 'h':
			printf("Usage: %s empty DEV [--iters N] [--reps R]\n"
			       "       %s held DEV -k K[,K...] [--reps R] [--block N] [--bs BYTES]\n"
			       "       %s hold DEV -k K [--bs BYTES] [--before CMD] [--during CMD]\n"
			       "       %s emu DEV -k QD [--iters N] [--bs BYTES] [--plain]\n"
			       "       %s pingpong [--iters N] [--reps R] [--cpu C]\n"
			       "Checkpoint-cost microbenchmarks on dm-replay device DEV\n"
			       "(/dev/mapper/NAME, a record-mode target); JSON on stdout.\n",
			       prog, prog, prog, prog, prog);
			exit(0);
		default:
			exit(2);
		}
	}
	if (!dev) {
		if (optind != argc)
			die("unexpected argument '%s'", argv[optind]);
		return;
	}
	if (optind != argc - 1)
		die("expected one DEV argument (try --help)");
	*dev = argv[optind];
}

static void run_cmd(const char *what, const char *cmd)
{
	int rc;

	if (!cmd)
		return;
	rc = system(cmd);
	if (rc != 0)
		die("%s command failed (status %d): %s", what, rc, cmd);
}

/* Empty checkpoint vs getppid vs VERSION ioctl, interleaved per rep. */
static int cmd_empty(const char *dev, struct opts *o)
{
	uint64_t *t_pp = calloc((size_t)o->reps, 8), *t_ck = calloc((size_t)o->reps, 8);
	uint64_t *t_ver = calloc((size_t)o->reps, 8);
	struct dm_replay_checkpoint ck;
	struct dm_replay_version ver;
	struct sess s;

	if (!t_pp || !t_ck || !t_ver)
		die("out of memory");
	sess_open(&s, dev);
	if (held_now(&s))
		die("%s: completions are held; the empty checkpoint needs an idle device", dev);
	for (long r = 0; r < o->reps; r++) {
		uint64_t t0 = now_ns();
		volatile pid_t sink = 0;

		for (long i = 0; i < o->iters; i++)
			sink += (pid_t)syscall(SYS_getppid);
		t_pp[r] = now_ns() - t0;
		(void)sink;
		t0 = now_ns();
		for (long i = 0; i < o->iters; i++) {
			int n = checkpoint(&s, &ck);

			if (n != 0)
				die("empty CHECKPOINT returned %d (%s)", n, n < 0 ? strerror(errno) :
				    "delivered something: other I/O on the device?");
		}
		t_ck[r] = now_ns() - t0;
		t0 = now_ns();
		for (long i = 0; i < o->iters; i++)
			if (ioctl(s.fd, DM_REPLAY_IOC_VERSION, &ver))
				die("DM_REPLAY_IOC_VERSION: %s", strerror(errno));
		t_ver[r] = now_ns() - t0;
	}
	printf("{\"iters\":%ld,\"reps\":%ld,", o->iters, o->reps);
	print_array("getppid_total_ns", t_pp, (size_t)o->reps);
	printf(",");
	print_array("checkpoint_total_ns", t_ck, (size_t)o->reps);
	printf(",");
	print_array("version_total_ns", t_ver, (size_t)o->reps);
	printf(",\"getppid_ns\":%.1f,\"checkpoint_ns\":%.1f,\"version_ioctl_ns\":%.1f}\n",
	       median(t_pp, (size_t)o->reps) / (double)o->iters,
	       median(t_ck, (size_t)o->reps) / (double)o->iters,
	       median(t_ver, (size_t)o->reps) / (double)o->iters);
	return 0;
}

/* Make k completions held, then time the one checkpoint that delivers them. */
static uint64_t time_held(struct sess *s, struct aio *a, long k)
{
	struct dm_replay_version ver;
	struct dm_replay_checkpoint ck;
	uint64_t t0, t;
	int n;

	a->k = k;
	aio_submit_all(a);
	wait_held(s, k);
	/* Warm the ioctl path as the empty-checkpoint loop has it. */
	if (ioctl(s->fd, DM_REPLAY_IOC_VERSION, &ver))
		die("DM_REPLAY_IOC_VERSION: %s", strerror(errno));
	for (int tries = 0;; tries++) {
		t0 = now_ns();
		n = checkpoint(s, &ck);
		t = now_ns() - t0;
		if (n >= 0 || errno != EAGAIN || tries > 5000)
			break;
		usleep(1000);	/* journal full: let the reader drain it */
	}
	if (n != k)
		die("CHECKPOINT with %ld held delivered %d (%s)", k, n,
		    n < 0 ? strerror(errno) : "not all: journal too small?");
	aio_reap_all(a);
	return t;
}

/*
 * Time --reps checkpoints that each deliver k held completions, for each
 * k of the list.  The ks take turns in blocks of --block timed
 * checkpoints, so that a host whose speed drifts over seconds weighs on
 * every k alike; each block starts with one untimed checkpoint of its k,
 * so that every timed one follows one of the same size (after a larger
 * one, a small checkpoint runs beside the journal reader catching up).
 */
static int cmd_held(const char *dev, struct opts *o)
{
	uint64_t *t = calloc((size_t)(o->reps * o->nk), 8);
	struct sess s;
	struct aio a = { 0 };
	long kmax = 0;

	if (!t)
		die("out of memory");
	for (int j = 0; j < o->nk; j++)
		if (o->ks[j] > kmax)
			kmax = o->ks[j];
	sess_open(&s, dev);
	aio_setup_k(&a, dev, kmax, o->bs);
	if (held_now(&s))
		die("%s: completions are already held", dev);
	for (long r = 0; r < o->reps; r += o->block) {
		for (int j = 0; j < o->nk; j++) {
			if (o->nk > 1)
				time_held(&s, &a, o->ks[j]);
			for (long i = r; i < r + o->block && i < o->reps; i++)
				t[j * o->reps + i] = time_held(&s, &a, o->ks[j]);
		}
	}
	for (int j = 0; j < o->nk; j++) {
		printf("{\"k\":%ld,\"reps\":%ld,\"bs\":%zu,\"block\":%ld,",
		       o->ks[j], o->reps, o->bs, o->nk > 1 ? o->block : o->reps);
		print_array("checkpoint_ns", &t[j * o->reps], (size_t)o->reps);
		printf(",\"median_ns\":%.1f}\n", median(&t[j * o->reps], (size_t)o->reps));
	}
	return 0;
}

/* Hold k completions while a command looks at memory use. */
static int cmd_hold(const char *dev, struct opts *o)
{
	struct sess s;
	struct aio a = { 0 };
	uint64_t t0, t_sub, t_ck, delivered;

	sess_open(&s, dev);
	aio_setup_k(&a, dev, o->k, o->bs);
	if (held_now(&s))
		die("%s: completions are already held", dev);
	run_cmd("--before", o->before);
	t0 = now_ns();
	aio_submit_all(&a);
	wait_held(&s, o->k);
	t_sub = now_ns() - t0;
	run_cmd("--during", o->during);
	t0 = now_ns();
	delivered = deliver_all(&s, o->k);
	t_ck = now_ns() - t0;
	aio_reap_all(&a);
	printf("{\"k\":%ld,\"bs\":%zu,\"submit_ns\":%" PRIu64 ",\"deliver_ns\":%" PRIu64
	       ",\"delivered\":%" PRIu64 "}\n", o->k, o->bs, t_sub, t_ck, delivered);
	return 0;
}

static uint64_t xorshift64(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Point iocb i at a random bs-aligned offset of the device. */
static void emu_aim(struct aio *a, long i, uint64_t *seed)
{
	a->cbs[i].aio_offset = (int64_t)(xorshift64(seed) % (a->dev_bytes / a->bs) * a->bs);
}

/*
 * An emulator's I/O thread: submit, checkpoint, reap, resubmit, all in
 * one thread.  Completions that are not held yet when the checkpoint
 * runs (an asynchronous lower device) are picked up by the next one.
 */
static int cmd_emu(const char *dev, struct opts *o)
{
	struct dm_replay_checkpoint ck;
	struct aio a = { 0 };
	uint64_t seed = 0x9e3779b97f4a7c15ULL, t0, t, done = 0, ckpts = 0;
	uint64_t delivered = 0, full = 0;
	struct sess s;
	long k = o->k, n, i;

	if (!o->plain)
		sess_open(&s, dev);
	aio_setup_k(&a, dev, k, o->bs);
	for (i = 0; i < k; i++)
		emu_aim(&a, i, &seed);
	t0 = now_ns();
	aio_submit_all(&a);
	while (done < (uint64_t)o->iters) {
		if (!o->plain) {
			int d = checkpoint(&s, &ck);

			if (d < 0 && errno != EAGAIN)
				die("CHECKPOINT: %s", strerror(errno));
			full += d < 0;
			ckpts += d > 0;
			delivered += d > 0 ? (uint64_t)d : 0;
		}
		n = syscall(SYS_io_getevents, a.ctx, o->plain ? 1 : 0, k, a.ev, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("io_getevents: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			struct iocb *cb = (struct iocb *)(uintptr_t)a.ev[i].obj;

			if (a.ev[i].res != (int64_t)a.bs)
				die("a read returned %lld, expected %zu",
				    (long long)a.ev[i].res, a.bs);
			emu_aim(&a, cb - a.cbs, &seed);
			a.cbp[i] = cb;
		}
		done += (uint64_t)n;
		for (i = 0; i < n;) {
			long m = syscall(SYS_io_submit, a.ctx, n - i, a.cbp + i);

			if (m <= 0)
				die("io_submit: %s", m < 0 ? strerror(errno) : "submitted nothing");
			i += m;
		}
	}
	t = now_ns() - t0;
	if (!o->plain)
		deliver_all(&s, k);
	aio_reap_all(&a);
	printf("{\"qd\":%ld,\"bs\":%zu,\"requests\":%" PRIu64 ",\"ns\":%" PRIu64
	       ",\"iops\":%.1f,\"checkpoints\":%" PRIu64 ",\"per_checkpoint\":%.2f"
	       ",\"journal_full\":%" PRIu64 "}\n", k, o->bs, done, t, done * 1e9 / (double)t,
	       ckpts, ckpts ? (double)delivered / (double)ckpts : 0.0, full);
	return 0;
}

static void pin(long cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity CPU %ld: %s", cpu, strerror(errno));
}

static int cmd_pingpong(struct opts *o)
{
	uint64_t *t = calloc((size_t)o->reps, 8);
	int ab[2], ba[2], status;
	char c = 0;
	pid_t pid;

	if (!t || pipe(ab) || pipe(ba))
		die("pipe: %s", strerror(errno));
	pin(o->cpu);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (!pid) {
		close(ab[1]);
		close(ba[0]);
		for (;;) {
			if (read(ab[0], &c, 1) != 1)
				_exit(0);
			if (write(ba[1], &c, 1) != 1)
				_exit(1);
		}
	}
	for (long r = 0; r < o->reps; r++) {
		uint64_t t0 = now_ns();

		for (long i = 0; i < o->iters; i++)
			if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
				die("pipe round trip: %s", strerror(errno));
		t[r] = now_ns() - t0;
	}
	close(ab[1]);
	close(ba[0]);
	waitpid(pid, &status, 0);
	printf("{\"iters\":%ld,\"reps\":%ld,\"cpu\":%ld,", o->iters, o->reps, o->cpu);
	print_array("total_ns", t, (size_t)o->reps);
	printf(",\"round_trip_ns\":%.1f}\n", median(t, (size_t)o->reps) / (double)o->iters);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .iters = 100000, .reps = 5, .k = 1, .ks = { 1 }, .nk = 1,
			  .block = 3, .bs = 4096, .cpu = -1 };
	const char *dev, *cmd;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("Usage: %s empty|held|hold|emu DEV [OPTION...] | pingpong [OPTION...]; %s empty --help\n",
		       prog, prog);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "pingpong")) {
		parse(argc - 1, argv + 1, &o, NULL);
		return cmd_pingpong(&o);
	}
	parse(argc - 1, argv + 1, &o, &dev);
	if (o.nk > 1 && strcmp(cmd, "held"))
		die("%s: -k takes one count (a list is for held)", cmd);
	if (!strcmp(cmd, "empty"))
		return cmd_empty(dev, &o);
	if (!strcmp(cmd, "held"))
		return cmd_held(dev, &o);
	if (!strcmp(cmd, "hold"))
		return cmd_hold(dev, &o);
	if (!strcmp(cmd, "emu"))
		return cmd_emu(dev, &o);
	die("unknown command '%s' (empty, held, hold, emu or pingpong)", cmd);
}
