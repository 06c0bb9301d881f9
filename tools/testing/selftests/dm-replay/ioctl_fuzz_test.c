// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl fuzzer for /dev/dm-replay.  For DMR_FUZZ_SECONDS (default 25; 120
 * with DMR_STRESS=full) several threads throw random and mutated ioctls
 * (valid commands with mutated arguments, valid type with random
 * number/size/direction, random commands; bad, unaligned, NULL and
 * half-mapped pointers; expect arrays of mutated completion records;
 * random device numbers) at sessions they open, poll and close at random,
 * while fio with verify runs on a dm-replay device driven by `dmreplay
 * checkpoint` and readers wait on two more devices (record and replay
 * mode) that the fuzzers attach and checkpoint.  Calls that sleep too long
 * are interrupted with a signal (EINTR).
 *
 * Passes when: every errno is one the contract names, the fuzzers keep
 * making progress (no call hangs), fio's verify passes, the checkpoint
 * driver and the journal consumer exit cleanly, the captured journal of
 * the fio device is whole and holds exactly what was delivered, every
 * waiting reader returns once the devices are suspended, and the kernel
 * log has no warning.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"
#include "dmr_fixture.h"

#define NTHREADS	3
#define NSESS		3
#define MAXERR		140
#define NEXP		70000

struct fuzz {
	struct dmr_dev load, a, b;
	dev_t ram;
	pthread_t th[NTHREADS];
	atomic_ullong started[NTHREADS];	/* ms of the current call, 0 idle */
	atomic_ullong calls, polls, reopen, interrupted;
	atomic_ullong by_errno[MAXERR + 1];	/* [0]: success */
	atomic_int bad_errno, stop;
	atomic_ullong ckpt_next;
	atomic_ullong next_id;	/* SET_NEXT_ID values: never reused ids */
	char *buf;		/* 2 pages, second one unmapped */
	struct dm_replay_expect *exp;
	unsigned int seed;
};

static int allowed(int e)
{
	switch (e) {
	case 0: case EPERM: case ENOTTY: case EFAULT: case EINVAL: case E2BIG:
	case ENODEV: case EEXIST: case EBUSY: case ENOSPC: case ENOENT:
	case ENOLINK: case EAGAIN: case ETIMEDOUT: case EINTR: case ENOMEM:
		return 1;
	}
	return 0;
}

static uint64_t rnd64(unsigned int *s)
{
	return ((uint64_t)rand_r(s) << 42) ^ ((uint64_t)rand_r(s) << 21) ^
	       (uint64_t)rand_r(s);
}

static void mutate(void *p, size_t len, unsigned int *s)
{
	unsigned char *c = p;
	int i, n = rand_r(s) % 4;

	for (i = 0; i < n && len; i++)
		c[rand_r(s) % len] ^= 1u << (rand_r(s) % 8);
}

static void pick_dev(struct fuzz *f, struct dm_replay_dev *d, unsigned int *s)
{
	const struct dmr_dev *dd;

	switch (rand_r(s) % 8) {
	case 0: case 1: case 2: dd = &f->a; break;
	case 3: case 4: dd = &f->b; break;
	case 5: dd = &f->load; break;
	case 6:
		d->major = major(f->ram);
		d->minor = minor(f->ram);
		return;
	default:
		d->major = rand_r(s) % 2 ? rand_r(s) : rand_r(s) % 300;
		d->minor = rand_r(s) % 2 ? rand_r(s) : rand_r(s) % 64;
		return;
	}
	d->major = dd->major;
	d->minor = dd->minor;
	if (rand_r(s) % 10 == 0)
		mutate(d, sizeof(*d), s);
}

static void fill_expect(struct fuzz *f, struct dm_replay_expect *e,
			unsigned int *s)
{
	memset(e, 0, sizeof(*e));
	pick_dev(f, &e->dev, s);
	e->rec.comp.type = rand_r(s) % 8 ? DM_REPLAY_REC_COMPLETION : rand_r(s);
	e->rec.comp.op = rand_r(s) % 3 ? DM_REPLAY_OP_READ : rand_r(s) % 16;
	e->rec.comp.id = htole64(rand_r(s) % 2 ? (uint64_t)(rand_r(s) % 4096) : rnd64(s));
	e->rec.comp.sector = htole64((rand_r(s) % 64) * 8);
	e->rec.comp.nr_sectors = htole32(rand_r(s) % 4 ? 8 : rand_r(s));
	e->rec.comp.status = htole32(rand_r(s) % 8 ? 0 : -EIO);
	e->rec.comp.flags = htole16(rand_r(s) % 4 ? 0 : rand_r(s));
	if (rand_r(s) % 6 == 0)
		mutate(e, sizeof(*e), s);
}

/* An argument for cmd: a pointer into f->buf, or a bad one. */
static void *make_arg(struct fuzz *f, unsigned int nr, char *mine,
		      unsigned int *s)
{
	struct dm_replay_checkpoint *ck = (void *)mine;
	unsigned int r = rand_r(s) % 100;

	if (r < 3)
		return NULL;
	if (r < 5)
		return (void *)(uintptr_t)rnd64(s);
	if (r < 7) /* runs into the unmapped page */
		return f->buf + 4096 - 1 - rand_r(s) % 64;
	memset(mine, 0, 512);
	switch (nr) {
	case 1: case 2:
		pick_dev(f, (void *)mine, s);
		break;
	case 3:
		ck->checkpoint = rand_r(s) % 10 ? atomic_fetch_add(&f->ckpt_next, 1 + rand_r(s) % 3)
					    : rnd64(s) % 100000;
		ck->flags = rand_r(s) % 3 ? 0 : rand_r(s) % 5 ? DM_REPLAY_CKPT_F_NOWAIT : (unsigned int)rand_r(s);
		ck->timeout_ms = rand_r(s) % 5 ? 1 + rand_r(s) % 50 : rand_r(s) % 2 ? 0 : rand_r(s);
		if (rand_r(s) % 2) {
			unsigned int i, n = rand_r(s) % 20 ? rand_r(s) % 6 :
					    rand_r(s) % 100 ? rand_r(s) % 200 :
					    rand_r(s) % NEXP;
			unsigned int at = rand_r(s) % (NEXP - n);

			bool clean = rand_r(s) % 2;

			/*
			 * Half of the lists are plausible: all for the replay
			 * device, well formed, so checkpoints match and wait.
			 */
			for (i = 0; i < n && i < 200; i++) {
				struct dm_replay_expect *e = &f->exp[at + i];

				fill_expect(f, e, s);
				if (clean) {
					e->dev.major = f->b.major;
					e->dev.minor = f->b.minor;
					e->rec.comp.type = DM_REPLAY_REC_COMPLETION;
					e->rec.comp.op = i % 2;
					e->rec.comp.nr_sectors = htole32(8);
					e->rec.comp.flags = 0;
				}
			}
			ck->records = (uintptr_t)&f->exp[at];
			ck->nr_records = n;
			if (rand_r(s) % 20 == 0)
				ck->nr_records = rand_r(s);
			if (rand_r(s) % 30 == 0)
				ck->records = rnd64(s);
		}
		ck->reserved = rand_r(s) % 20 ? 0 : rand_r(s);
		if (rand_r(s) % 10 == 0)
			mutate(ck, sizeof(*ck), s);
		break;
	case 4:
		/*
		 * Ids must not repeat in the fio device's journal: only ever
		 * move the next id up, by more than a run can issue.
		 */
		*(uint64_t *)mine = atomic_fetch_add(&f->next_id, 1ULL << 24);
		return mine;
	default:
		mutate(mine, 64, s);
		break;
	}
	/* occasionally misaligned */
	if (rand_r(s) % 20 == 0) {
		memmove(mine + 1, mine, 256);
		return mine + 1;
	}
	return mine;
}

static unsigned long make_cmd(unsigned int *nr, unsigned int *s)
{
	static const unsigned long ok[] = {
		DM_REPLAY_IOC_VERSION, DM_REPLAY_IOC_ATTACH, DM_REPLAY_IOC_DETACH,
		DM_REPLAY_IOC_CHECKPOINT, DM_REPLAY_IOC_CHECKPOINT,
		DM_REPLAY_IOC_CHECKPOINT, DM_REPLAY_IOC_ATTACH,
		DM_REPLAY_IOC_SET_NEXT_ID,
	};
	unsigned int r = rand_r(s) % 100;
	unsigned long cmd;

	if (r < 75) {
		cmd = ok[rand_r(s) % ARRAY_SIZE(ok)];
	} else if (r < 92) {
		cmd = _IOC(rand_r(s) % 4, DM_REPLAY_IOCTL_TYPE, rand_r(s) % 8,
			   rand_r(s) % 2 ? rand_r(s) % 512 : rand_r(s) % 0x4000);
	} else {
		cmd = (unsigned int)rand_r(s);
	}
	*nr = _IOC_TYPE(cmd) == DM_REPLAY_IOCTL_TYPE ? _IOC_NR(cmd) : 99;
	return cmd;
}

static struct fuzz *g_fuzz;

static void *fuzz_thread(void *arg)
{
	struct fuzz *f = g_fuzz;
	int t = (int)(intptr_t)arg, sess[NSESS], i, e;
	unsigned int s = f->seed + 7919 * t, nr;
	char *mine = malloc(1024);

	for (i = 0; i < NSESS; i++)
		sess[i] = open(DMR_CTL_PATH, O_RDWR | O_CLOEXEC);
	/*
	 * Thread 0 keeps the replay device in its first session and now and
	 * then waits there (10 s default timeout) for a plausible list: the
	 * main thread interrupts that wait with a signal.
	 */
	if (t == 0) {
		struct dm_replay_dev d = { f->b.major, f->b.minor };

		ioctl(sess[0], DM_REPLAY_IOC_ATTACH, &d);
	}
	while (!atomic_load(&f->stop) && mine) {
		int k = rand_r(&s) % NSESS;
		unsigned int r = rand_r(&s) % 100;

		if (t == 0 && r < 5) {
			struct dm_replay_checkpoint ck = { 0 };
			struct dm_replay_expect *e = &f->exp[NEXP - 4];
			struct dm_replay_dev d = { f->b.major, f->b.minor };

			for (i = 0; i < 4; i++) {
				fill_expect(f, &e[i], &s);
				e[i].dev = d;
				e[i].rec.comp.type = DM_REPLAY_REC_COMPLETION;
				e[i].rec.comp.op = DM_REPLAY_OP_READ;
				e[i].rec.comp.nr_sectors = htole32(8);
				e[i].rec.comp.flags = 0;
			}
			ioctl(sess[0], DM_REPLAY_IOC_ATTACH, &d);
			ck.checkpoint = atomic_fetch_add(&f->ckpt_next, 1);
			ck.records = (uintptr_t)e;
			ck.nr_records = 1 + rand_r(&s) % 4;
			atomic_store(&f->started[t], dmr_now_ms());
			i = ioctl(sess[0], DM_REPLAY_IOC_CHECKPOINT, &ck) ? errno : 0;
			atomic_store(&f->started[t], 0);
			atomic_fetch_add(&f->calls, 1);
			atomic_fetch_add(&f->by_errno[i <= MAXERR ? i : MAXERR], 1);
			if (i == EINTR)
				atomic_fetch_add(&f->interrupted, 1);
			if (!allowed(i)) {
				atomic_fetch_add(&f->bad_errno, 1);
				fprintf(stderr, "# unexpected errno %d (%s) from a waiting replay checkpoint\n",
					i, strerror(i));
			}
			continue;
		}
		if (r < 1 && !(t == 0 && k == 0)) {
			close(sess[k]);
			sess[k] = open(DMR_CTL_PATH, O_RDWR | O_CLOEXEC);
			atomic_fetch_add(&f->reopen, 1);
			continue;
		}
		if (r < 4) {
			struct pollfd p = { .fd = sess[k], .events = POLLIN };

			poll(&p, 1, 0);
			atomic_fetch_add(&f->polls, 1);
			continue;
		}
		{
			unsigned long cmd = make_cmd(&nr, &s);
			void *a = make_arg(f, nr, mine, &s);

			atomic_store(&f->started[t], dmr_now_ms());
			errno = 0;
			e = ioctl(sess[k], cmd, a) ? errno : 0;
			atomic_store(&f->started[t], 0);
			atomic_fetch_add(&f->calls, 1);
			if (e == EINTR)
				atomic_fetch_add(&f->interrupted, 1);
			atomic_fetch_add(&f->by_errno[e <= MAXERR ? e : MAXERR], 1);
			if (!allowed(e)) {
				atomic_fetch_add(&f->bad_errno, 1);
				fprintf(stderr, "# unexpected errno %d (%s) from cmd %#lx\n",
					e, strerror(e), cmd);
			}
		}
	}
	for (i = 0; i < NSESS; i++)
		close(sess[i]);
	free(mine);
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
}

static pid_t spawn(const char *cmd)
{
	pid_t pid = fork();

	if (!pid) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int stop_wait(pid_t pid, int sig, int timeout_ms)
{
	uint64_t end = dmr_now_ms() + timeout_ms;
	int st;

	if (pid <= 0)
		return -1;
	if (sig)
		kill(-pid, sig);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (dmr_now_ms() > end) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -2;
		}
		dmr_msleep(50);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

FIXTURE(fz) {
	struct fuzz f;
	pid_t fio, ckpt, cap;
	char dir[64];
};

FIXTURE_SETUP(fz)
{
	const char *why = dmr_prereq_missing();
	const char *top = getenv("DMR_TOP");
	char cmd[2048];
	struct stat st;

	memset(&self->f, 0, sizeof(self->f));
	self->fio = self->ckpt = self->cap = -1;
	if (why)
		SKIP(return, "%s", why);
	if (!top || strlen(top) > 512)
		top = "../../../..";
	snprintf(cmd, sizeof(cmd), "%s/tools/dm-replay/dmreplay", top);
	if (access(cmd, X_OK))
		SKIP(return, "dmreplay not built (tools/dm-replay/dmreplay)");
	if (dmr_sh("command -v fio >/dev/null"))
		SKIP(return, "fio not installed");
	snprintf(self->dir, sizeof(self->dir), "/tmp/dmr-fuzz.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	dmr_remove("dmrz_load");
	dmr_remove("dmrz_a");
	dmr_remove("dmrz_b");
	ASSERT_EQ(0, dmr_create(&self->f.load, "dmrz_load", dmr_ram(0), 16384,
				"record", "1 verify_data"));
	ASSERT_EQ(0, dmr_create(&self->f.a, "dmrz_a", dmr_ram(1), 16384,
				"record", "4 subbuf_size 4096 n_subbufs 4"));
	ASSERT_EQ(0, dmr_create(&self->f.b, "dmrz_b", dmr_ram(2), 16384,
				"replay", "4 subbuf_size 4096 n_subbufs 2"));
	ASSERT_EQ(0, stat(dmr_ram(3), &st));
	self->f.ram = st.st_rdev;
	snprintf(cmd, sizeof(cmd), "exec %s/tools/dm-replay/dmreplay capture dmrz_load -o %s/load.jnl",
		 top, self->dir);
	self->cap = spawn(cmd);
	snprintf(cmd, sizeof(cmd), "exec %s/tools/dm-replay/dmreplay checkpoint dmrz_load 2>%s/ckpt.out",
		 top, self->dir);
	self->ckpt = spawn(cmd);
	/*
	 * The fuzzers must not attach the fio device before the driver:
	 * wait until a read on it is delivered (by the driver's checkpoint).
	 */
	{
		struct dmr_io io = { 0 };
		int fd = open(self->f.load.path, O_RDONLY | O_DIRECT | O_CLOEXEC);
		bool done;

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, dmr_io_start(&io, fd, DMR_IO_READ, 0, 4096));
		done = dmr_io_wait(&io, 30000);
		if (!done) {
			dmr_teardown_dev("dmrz_load");
			dmr_io_wait(&io, 30000);
		}
		dmr_io_free(&io);
		close(fd);
		ASSERT_TRUE(done) TH_LOG("the checkpoint driver did not start");
	}
}

FIXTURE_TEARDOWN(fz)
{
	stop_wait(self->fio, SIGTERM, 30000);
	stop_wait(self->ckpt, SIGTERM, 30000);
	stop_wait(self->cap, SIGTERM, 30000);
	dmr_teardown_dev("dmrz_a");
	dmr_teardown_dev("dmrz_b");
	dmr_teardown_dev("dmrz_load");
	dmr_remove("dmrz_a");
	dmr_remove("dmrz_b");
	dmr_remove("dmrz_load");
	if (self->dir[0])
		dmr_sh("rm -rf %s", self->dir);
	free(self->f.exp);
	if (self->f.buf)
		munmap(self->f.buf, 4096);
}

static const char *stress(void)
{
	const char *s = getenv("DMR_STRESS");

	return s && *s ? s : "quick";
}

TEST_F_TIMEOUT(fz, fuzz_under_load, 900)
{
	struct fuzz *f = &self->f;
	const char *env = getenv("DMR_FUZZ_SECONDS");
	int secs = env ? atoi(env) : strcmp(stress(), "full") ? 25 : 120;
	struct dmr_io rd[4];
	struct sigaction sa = { .sa_handler = on_usr1 };
	int fda, fdb, i, e, st;
	uint64_t end, last_calls = 0, stall_since;
	struct dmr_journal j;
	struct dmr_jsum sum;
	struct dmr_status ls;
	char cmd[1024], err[256];

	f->buf = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, f->buf);
	ASSERT_EQ(0, munmap(f->buf + 4096, 4096));
	f->exp = calloc(NEXP, sizeof(*f->exp));
	ASSERT_NE(NULL, f->exp);
	f->seed = getenv("DMR_FUZZ_SEED") ? (unsigned int)atoi(getenv("DMR_FUZZ_SEED")) :
					    (unsigned int)time(NULL);
	f->ckpt_next = 1;
	f->next_id = 1ULL << 40;
	TH_LOG("seed %u, %d s", f->seed, secs);

	snprintf(cmd, sizeof(cmd),
		 "exec fio --name=fz --filename=%s --direct=1 --ioengine=libaio --iodepth=16 "
		 "--rw=randwrite --bs=4k --size=8M --randseed=11 --verify=crc32c "
		 "--verify_backlog=64 --verify_fatal=1 --time_based --runtime=%d "
		 "--output=%s/fio.out >/dev/null 2>&1", f->load.path, secs + 5, self->dir);
	self->fio = spawn(cmd);

	/* Readers that wait for the fuzzers' checkpoints (or the end). */
	fda = open(f->a.path, O_RDWR | O_DIRECT | O_CLOEXEC);
	fdb = open(f->b.path, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, fda);
	ASSERT_LE(0, fdb);
	memset(rd, 0, sizeof(rd));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, dmr_io_start(&rd[i], i < 2 ? fda : fdb,
					  i % 2 ? DMR_IO_WRITE : DMR_IO_READ,
					  4096 * i, 4096));

	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART: EINTR */
	g_fuzz = f;
	for (i = 0; i < NTHREADS; i++)
		ASSERT_EQ(0, pthread_create(&f->th[i], NULL, fuzz_thread,
					    (void *)(intptr_t)i));
	end = dmr_now_ms() + secs * 1000ULL;
	stall_since = dmr_now_ms();
	while (dmr_now_ms() < end) {
		uint64_t now = dmr_now_ms(), c = atomic_load(&f->calls);

		for (i = 0; i < NTHREADS; i++) {
			uint64_t t0 = atomic_load(&f->started[i]);

			if (t0 && now - t0 > 300)
				pthread_kill(f->th[i], SIGUSR1);
		}
		/* Reader I/O on a/b is done: start another. */
		for (i = 0; i < 4; i++) {
			if (dmr_io_wait(&rd[i], 0))
				dmr_io_start(&rd[i], i < 2 ? fda : fdb,
					     i % 2 ? DMR_IO_WRITE : DMR_IO_READ,
					     4096 * (i + 4 * (rand_r(&f->seed) % 16)),
					     4096);
		}
		if (c != last_calls) {
			last_calls = c;
			stall_since = now;
		}
		EXPECT_GT(10000, now - stall_since) TH_LOG("no ioctl returned for 10 s");
		if (now - stall_since > 10000)
			break;
		dmr_msleep(50);
	}
	atomic_store(&f->stop, 1);
	for (i = 0; i < NTHREADS; i++) {
		uint64_t until = dmr_now_ms() + 20000;

		while (atomic_load(&f->started[i]) && dmr_now_ms() < until) {
			pthread_kill(f->th[i], SIGUSR1);
			dmr_msleep(20);
		}
		pthread_join(f->th[i], NULL);
	}

	TH_LOG("ioctls %llu, polls %llu, reopened sessions %llu, interrupted %llu",
	       (unsigned long long)f->calls, (unsigned long long)f->polls,
	       (unsigned long long)f->reopen,
	       (unsigned long long)f->interrupted);
	for (e = 0; e <= MAXERR; e++)
		if (f->by_errno[e])
			TH_LOG("  %-10s %llu", e ? strerrorname_np(e) ?: "?" : "ok",
			       (unsigned long long)f->by_errno[e]);
	EXPECT_EQ(0, f->bad_errno);
	EXPECT_LT(1000, f->calls);

	/* Suspending releases whatever the readers still wait for. */
	dmr_sh("dmsetup suspend dmrz_a && dmsetup resume dmrz_a");
	dmr_sh("dmsetup suspend dmrz_b && dmsetup resume dmrz_b");
	for (i = 0; i < 4; i++) {
		EXPECT_TRUE(dmr_io_wait(&rd[i], 30000)) TH_LOG("reader %d hangs", i);
		dmr_io_free(&rd[i]);
	}
	close(fda);
	close(fdb);

	st = stop_wait(self->fio, 0, 120000);
	self->fio = -1;
	EXPECT_EQ(0, st) {
		dmr_sh("grep -i -m5 'err\\|verify' %s/fio.out >&2", self->dir);
	}
	st = stop_wait(self->ckpt, SIGTERM, 30000);
	self->ckpt = -1;
	EXPECT_EQ(0, st) {
		dmr_sh("cat %s/ckpt.out >&2", self->dir);
	}
	dmr_sh("cat %s/ckpt.out >&2", self->dir);
	st = stop_wait(self->cap, SIGTERM, 30000);
	self->cap = -1;
	EXPECT_EQ(0, st);

	snprintf(cmd, sizeof(cmd), "%s/load.jnl", self->dir);
	ASSERT_EQ(0, dmr_journal_load(&j, cmd));
	EXPECT_EQ(0, dmr_journal_check(&j, true, &sum, err, sizeof(err)))
		TH_LOG("journal of the fio device: %s", err);
	ASSERT_EQ(0, dmr_status("dmrz_load", &ls));
	EXPECT_EQ(ls.delivered, sum.completions);
	EXPECT_EQ(0, ls.journal_lost);
	EXPECT_EQ(0, ls.held);
	TH_LOG("fio device: %zu completions journaled, %llu delivered",
	       sum.completions, (unsigned long long)ls.delivered);
	dmr_journal_close(&j);
	EXPECT_EQ(0, dmr_sh("! dmesg | grep -E 'WARNING:|BUG:|Oops|general protection|blocked for more'"));
}

TEST_HARNESS_MAIN
