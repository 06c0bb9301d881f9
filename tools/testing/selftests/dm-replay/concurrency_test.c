// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency: several targets, several sessions, several threads
 * checkpointing one session at once, message checkpoints, submitters
 * writing and reading back their own blocks, sessions attaching and
 * detaching a device under I/O, and a device created, attached, given a
 * held request and force-removed in a loop while its session checkpoints.
 * Runs DMR_CONC_SECONDS (20; 90 with DMR_STRESS=full).  Then: no I/O error
 * or data mismatch, no errno outside the contract, every held request
 * returned, every journal whole and equal to what its target delivered.
 *
 * A reader spinning on a tiny journal while checkpoints fill it gets every
 * record once, in order.
 *
 * Last, the module: rmmod is refused while a dm-replay device exists,
 * while a journal file is open (even after its device is gone) and while
 * /dev/dm-replay is open, works after, and the module loads again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "kselftest_harness.h"
#include "dmr_fixture.h"

#define NDEV	4
#define IO_PER	2

struct conc {
	struct dmr_dev d[NDEV];
	int fd[NDEV];
	int s0, s1;
	atomic_ullong next0, next1, next3;
	atomic_int stop_io, stop_ck;
	atomic_ullong ios[NDEV], io_err, mismatch;
	atomic_ullong ck_ok, ck_calls, bad_errno, msgs, msg_fail;
	atomic_ullong att_ok, att_busy, rm_cycles, rm_io_ok, rm_io_eio;
	atomic_ullong rm_hung;
	struct dmr_journal j[NDEV];
	atomic_int jerr;
};

static struct conc *C;

static void bad_errno(const char *what, int e)
{
	if (atomic_fetch_add(&C->bad_errno, 1) < 10)
		fprintf(stderr, "# %s: unexpected %s\n", what, strerror(e));
}

static void *io_thread(void *arg)
{
	int id = (int)(intptr_t)arg, dev = id / IO_PER, k = id % IO_PER;
	unsigned int seed = id * 31 + 1;
	char *w, *r;
	uint64_t n = 0;

	if (posix_memalign((void **)&w, 4096, 4096) ||
	    posix_memalign((void **)&r, 4096, 4096))
		return NULL;
	while (!atomic_load(&C->stop_io)) {
		/* each thread owns blocks k, k + IO_PER, ... */
		off_t off = 4096 * (off_t)(k + IO_PER * (rand_r(&seed) % 512));

		memset(w, (int)(id * 16 + n++ % 16), 4096);
		memcpy(w, &n, sizeof(n));
		if (pwrite(C->fd[dev], w, 4096, off) != 4096 ||
		    pread(C->fd[dev], r, 4096, off) != 4096) {
			atomic_fetch_add(&C->io_err, 1);
			fprintf(stderr, "# io dev %d: %s\n", dev, strerror(errno));
			break;
		}
		if (memcmp(w, r, 4096))
			atomic_fetch_add(&C->mismatch, 1);
		atomic_fetch_add(&C->ios[dev], 2);
	}
	free(w);
	free(r);
	return NULL;
}

/* Checkpoint session s (0 or 1) as fast as possible. */
static void *ck_thread(void *arg)
{
	int which = (int)(intptr_t)arg;
	int s = which ? C->s1 : C->s0;
	atomic_ullong *next = which ? &C->next1 : &C->next0;

	while (!atomic_load(&C->stop_ck)) {
		int r = dmr_checkpoint(s, atomic_fetch_add(next, 1), NULL);

		atomic_fetch_add(&C->ck_calls, 1);
		if (!r)
			atomic_fetch_add(&C->ck_ok, 1);
		else if (r != -EINVAL && r != -EAGAIN) /* EINVAL: raced number */
			bad_errno("checkpoint", -r);
		dmr_msleep(1);
	}
	return NULL;
}

/* Message checkpoints on device 1 race with the ioctl ones. */
static void *msg_thread(void *arg)
{
	(void)arg;
	while (!atomic_load(&C->stop_ck)) {
		if (dmr_sh("dmsetup message %s 0 checkpoint >/dev/null 2>&1",
			   C->d[1].name))
			atomic_fetch_add(&C->msg_fail, 1);
		atomic_fetch_add(&C->msgs, 1);
		dmr_msleep(100);
	}
	return NULL;
}

/* Two of these fight over device 3: attach, checkpoint, detach. */
static void *attach_thread(void *arg)
{
	int s = dmr_ctl_open();
	unsigned int seed = (unsigned int)(intptr_t)arg;

	while (s >= 0 && !atomic_load(&C->stop_ck)) {
		int r = dmr_attach(s, &C->d[3]), i;

		if (r == -EBUSY) {
			atomic_fetch_add(&C->att_busy, 1);
			dmr_msleep(1);
			continue;
		}
		if (r) {
			bad_errno("attach", -r);
			continue;
		}
		atomic_fetch_add(&C->att_ok, 1);
		for (i = 0; i < 1 + (int)(rand_r(&seed) % 5); i++) {
			/*
			 * One counter for both sessions: a number must be
			 * above the target's last one, whoever took it.
			 */
			r = dmr_checkpoint(s, atomic_fetch_add(&C->next3, 1), NULL);
			if (r && r != -EAGAIN)
				bad_errno("checkpoint dev3", -r);
		}
		r = dmr_detach(s, &C->d[3]);
		if (r)
			bad_errno("detach", -r);
	}
	if (s >= 0)
		close(s);
	return NULL;
}

static void *journal_thread(void *arg)
{
	int i;

	(void)arg;
	while (!atomic_load(&C->stop_ck)) {
		for (i = 0; i < NDEV; i++)
			if (dmr_journal_drain(&C->j[i]) < 0)
				atomic_store(&C->jerr, 1);
		dmr_msleep(20);
	}
	return NULL;
}

/* Ephemeral device: create, attach, hold a read, force-remove. */
static void *remove_thread(void *arg)
{
	int s = dmr_ctl_open();

	(void)arg;
	while (s >= 0 && !atomic_load(&C->stop_io)) {
		struct dmr_dev e;
		struct dmr_io io = { 0 };
		int fd, r;

		if (dmr_sh("dmsetup create dmrc_eph --table '0 2048 replay %s 16384 record 4 subbuf_size 4096 n_subbufs 2' >/dev/null 2>&1",
			   dmr_ram(3)) || dmr_lookup(&e, "dmrc_eph")) {
			fprintf(stderr, "# remove_thread: create failed\n");
			atomic_fetch_add(&C->io_err, 1);
			break;
		}
		r = dmr_attach(s, &e);
		if (r)
			bad_errno("attach eph", -r);
		fd = open(e.path, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (fd >= 0 && !dmr_io_start(&io, fd, DMR_IO_READ, 0, 4096)) {
			dmr_wait_held("dmrc_eph", 1, 1000);
			/*
			 * Every other cycle a checkpoint delivers it first;
			 * otherwise the removal's table swap must release it.
			 */
			if (atomic_fetch_add(&C->rm_cycles, 1) % 2) {
				r = dmr_checkpoint(s, C->rm_cycles, NULL);
				if (r && r != -EAGAIN)
					bad_errno("checkpoint eph", -r);
			}
			dmr_sh("dmsetup remove --force dmrc_eph >/dev/null 2>&1");
			if (!dmr_io_wait(&io, 30000)) {
				atomic_fetch_add(&C->rm_hung, 1);
				fprintf(stderr, "# held read on a force-removed device hangs\n");
				break;
			}
			if (io.ret == 4096)
				atomic_fetch_add(&C->rm_io_ok, 1);
			else if (io.err == EIO)
				atomic_fetch_add(&C->rm_io_eio, 1);
			else
				bad_errno("read on removed device", io.err);
			dmr_io_free(&io);
		}
		if (fd >= 0)
			close(fd);
		/* detach may race with the removal: ENOENT is fine */
		r = dmr_detach(s, &e);
		if (r && r != -ENOENT)
			bad_errno("detach eph", -r);
		if (dmr_remove("dmrc_eph"))
			break;
	}
	if (s >= 0)
		close(s);
	return NULL;
}

FIXTURE(conc) {
	struct conc c;
};

FIXTURE_SETUP(conc)
{
	const char *why = dmr_prereq_missing();
	char name[32];
	int i;

	memset(&self->c, 0, sizeof(self->c));
	self->c.s0 = self->c.s1 = -1;
	for (i = 0; i < NDEV; i++)
		self->c.fd[i] = -1;
	if (why)
		SKIP(return, "%s", why);
	dmr_remove("dmrc_eph");
	for (i = 0; i < NDEV; i++) {
		snprintf(name, sizeof(name), "dmrc_%d", i);
		dmr_remove(name);
		ASSERT_EQ(0, dmr_create(&self->c.d[i], name, dmr_ram(i), 8192,
					"record", i == 2 ? "4 subbuf_size 4096 n_subbufs 2" : NULL));
		self->c.fd[i] = open(self->c.d[i].path, O_RDWR | O_DIRECT | O_CLOEXEC);
		ASSERT_LE(0, self->c.fd[i]);
		ASSERT_EQ(0, dmr_journal_open(&self->c.j[i], self->c.d[i].jpath));
	}
}

FIXTURE_TEARDOWN(conc)
{
	char name[32];
	int i;

	if (self->c.s0 >= 0)
		close(self->c.s0);
	if (self->c.s1 >= 0)
		close(self->c.s1);
	for (i = 0; i < NDEV; i++) {
		snprintf(name, sizeof(name), "dmrc_%d", i);
		dmr_teardown_dev(name);
		if (self->c.fd[i] >= 0)
			close(self->c.fd[i]);
		if (self->c.j[i].fd > 0)
			dmr_journal_close(&self->c.j[i]);
		dmr_remove(name);
	}
	dmr_remove("dmrc_eph");
}

TEST_F_TIMEOUT(conc, sessions_threads_removal, 900)
{
	const char *env = getenv("DMR_CONC_SECONDS"), *st = getenv("DMR_STRESS");
	int secs = env ? atoi(env) : st && !strcmp(st, "full") ? 90 : 20;
	pthread_t io[NDEV * IO_PER], ck[3], msg, att[2], jt, rm;
	struct dmr_status s;
	struct dmr_jsum sum;
	char err[256];
	int i;

	C = &self->c;
	C->s0 = dmr_ctl_open();
	C->s1 = dmr_ctl_open();
	ASSERT_LE(0, C->s0);
	ASSERT_LE(0, C->s1);
	ASSERT_EQ(0, dmr_attach(C->s0, &C->d[0]));
	ASSERT_EQ(0, dmr_attach(C->s0, &C->d[1]));
	ASSERT_EQ(0, dmr_attach(C->s1, &C->d[2]));
	C->next0 = C->next1 = C->next3 = 1;

	ASSERT_EQ(0, pthread_create(&jt, NULL, journal_thread, NULL));
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&ck[i], NULL, ck_thread,
					    (void *)(intptr_t)(i == 2)));
	ASSERT_EQ(0, pthread_create(&msg, NULL, msg_thread, NULL));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&att[i], NULL, attach_thread,
					    (void *)(intptr_t)(i + 1)));
	for (i = 0; i < NDEV * IO_PER; i++)
		ASSERT_EQ(0, pthread_create(&io[i], NULL, io_thread,
					    (void *)(intptr_t)i));
	ASSERT_EQ(0, pthread_create(&rm, NULL, remove_thread, NULL));

	dmr_msleep(secs * 1000);
	atomic_store(&C->stop_io, 1);
	for (i = 0; i < NDEV * IO_PER; i++)
		pthread_join(io[i], NULL);
	pthread_join(rm, NULL);
	atomic_store(&C->stop_ck, 1);
	for (i = 0; i < 3; i++)
		pthread_join(ck[i], NULL);
	pthread_join(msg, NULL);
	for (i = 0; i < 2; i++)
		pthread_join(att[i], NULL);
	pthread_join(jt, NULL);

	TH_LOG("%d s: ios %llu/%llu/%llu/%llu, checkpoints %llu of %llu calls, messages %llu (%llu refused), dev3 attached %llu times (%llu EBUSY), force-removed %llu (held read: %llu ok, %llu EIO)",
	       secs, C->ios[0], C->ios[1], C->ios[2], C->ios[3], C->ck_ok,
	       C->ck_calls, C->msgs, C->msg_fail, C->att_ok, C->att_busy,
	       C->rm_cycles, C->rm_io_ok, C->rm_io_eio);
	EXPECT_EQ(0, C->io_err);
	EXPECT_EQ(0, C->mismatch);
	EXPECT_EQ(0, C->bad_errno);
	EXPECT_EQ(0, C->rm_hung);
	EXPECT_LT(0, C->rm_cycles);
	EXPECT_EQ(0, C->jerr);
	for (i = 0; i < NDEV; i++) {
		EXPECT_LT(0, C->ios[i]) TH_LOG("no I/O on device %d", i);
		ASSERT_EQ(0, dmr_status(C->d[i].name, &s));
		EXPECT_EQ(0, s.held);
		EXPECT_EQ(0, s.in_flight);
		EXPECT_EQ(0, s.journal_lost);
		ASSERT_LE(0, dmr_journal_drain(&C->j[i]));
		EXPECT_EQ(0, dmr_journal_check(&C->j[i], true, &sum, err, sizeof(err)))
			TH_LOG("journal of device %d: %s", i, err);
		EXPECT_EQ(s.delivered, sum.completions) TH_LOG("device %d", i);
		EXPECT_EQ(C->ios[i], sum.completions) TH_LOG("device %d", i);
	}
}

/*
 * A reader that never sleeps, on a journal of two 4 KiB sub-buffers, while
 * checkpoints fill it: the reader is nearly always caught up when the
 * writer switches sub-buffers.  Every record must come out once, in
 * order.  relay_file_read() (kernel/relay.c) reads the writer's positions
 * without its lock and, in this race, moves the read position back a
 * whole buffer: the reader gets a sub-buffer the writer has not yet
 * refilled.
 */
struct spin {
	struct dmr_dev d;
	int fd, ctl;
	struct dmr_journal j;
	atomic_int stop_io, stop;
	atomic_ullong ios, reads, ckpts, io_err, jerr;
};

static void *spin_io(void *arg)
{
	struct spin *S = arg;
	char *b;
	off_t off = 0;

	if (posix_memalign((void **)&b, 4096, 4096))
		return NULL;
	memset(b, 0x5a, 4096);
	while (!atomic_load(&S->stop_io)) {
		if (pwrite(S->fd, b, 4096, off) != 4096) {
			atomic_fetch_add(&S->io_err, 1);
			break;
		}
		off = (off + 4096) % (512 * 4096);
		atomic_fetch_add(&S->ios, 1);
	}
	free(b);
	return NULL;
}

static void *spin_ck(void *arg)
{
	struct spin *S = arg;
	uint64_t n = 1;

	while (!atomic_load(&S->stop)) {
		int r = dmr_checkpoint(S->ctl, n++, NULL);

		if (!r)
			atomic_fetch_add(&S->ckpts, 1);
		else if (r != -EAGAIN)
			atomic_store(&S->jerr, 1);
	}
	return NULL;
}

static void *spin_reader(void *arg)
{
	struct spin *S = arg;

	while (!atomic_load(&S->stop)) {
		if (dmr_journal_drain(&S->j) < 0)
			atomic_store(&S->jerr, 1);
		atomic_fetch_add(&S->reads, 1);
	}
	return NULL;
}

FIXTURE(journal) {
	struct spin s;
};

FIXTURE_SETUP(journal)
{
	const char *why = dmr_prereq_missing();

	memset(&self->s, 0, sizeof(self->s));
	self->s.fd = self->s.ctl = -1;
	self->s.j.fd = -1;
	if (why)
		SKIP(return, "%s", why);
	dmr_remove("dmrc_spin");
	ASSERT_EQ(0, dmr_create(&self->s.d, "dmrc_spin", dmr_ram(0), 8192,
				"record", "4 subbuf_size 4096 n_subbufs 2"));
	self->s.fd = open(self->s.d.path, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, self->s.fd);
	ASSERT_EQ(0, dmr_journal_open(&self->s.j, self->s.d.jpath));
	self->s.ctl = dmr_ctl_open();
	ASSERT_LE(0, self->s.ctl);
}

FIXTURE_TEARDOWN(journal)
{
	if (self->s.ctl >= 0)
		close(self->s.ctl);
	if (self->s.j.fd > 0)
		dmr_journal_close(&self->s.j);
	if (self->s.fd >= 0)
		close(self->s.fd);
	dmr_remove("dmrc_spin");
}

TEST_F_TIMEOUT(journal, reader_spins_across_switches, 600)
{
	const char *env = getenv("DMR_CONC_SECONDS");
	int secs = env ? atoi(env) : 20, i;
	struct spin *S = &self->s;
	pthread_t io[4], ck, rd;
	struct dmr_status st;
	struct dmr_jsum sum;
	char err[256];

	ASSERT_EQ(0, dmr_attach(S->ctl, &S->d));
	ASSERT_EQ(0, pthread_create(&rd, NULL, spin_reader, S));
	ASSERT_EQ(0, pthread_create(&ck, NULL, spin_ck, S));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&io[i], NULL, spin_io, S));
	dmr_msleep(secs * 1000);
	atomic_store(&S->stop_io, 1);
	/* the writers wait for their last checkpoint */
	for (i = 0; i < 4; i++)
		pthread_join(io[i], NULL);
	atomic_store(&S->stop, 1);
	pthread_join(ck, NULL);
	pthread_join(rd, NULL);

	ASSERT_EQ(0, dmr_status(S->d.name, &st));
	ASSERT_LE(0, dmr_journal_drain(&S->j));
	TH_LOG("%d s: %llu writes, %llu checkpoints, %llu reads, %zu records, %llu lost",
	       secs, S->ios, S->ckpts, S->reads, S->j.n,
	       (unsigned long long)st.journal_lost);
	EXPECT_EQ(0, S->io_err);
	EXPECT_EQ(0, S->jerr);
	EXPECT_LT(1000, S->j.n) TH_LOG("too few records to cross sub-buffers");
	EXPECT_EQ(0, st.held);
	EXPECT_EQ(0, st.journal_lost);
	EXPECT_EQ(0, dmr_journal_check(&S->j, true, &sum, err, sizeof(err)))
		TH_LOG("%s", err);
	EXPECT_EQ(st.delivered, sum.completions);
	EXPECT_EQ(S->ios, sum.completions);
}

/* Is the loaded module's build id that of this .ko? */
static int find_ko(char *path, size_t len)
{
	const char *top = getenv("DMR_TOP");

	if (!top)
		top = "../../../..";
	return dmr_sh_out(path, len,
		"sys=$(od -An -tx1 -v /sys/module/dm_replay/notes/.note.gnu.build-id 2>/dev/null | tr -d ' \\n' | tail -c 40); "
		"[ -n \"$sys\" ] || exit 1; "
		"for k in \"$DMR_MODULE\" %s/.cache/debug-kernel/dm-replay.ko %s/dm-replay.ko; do "
		"  [ -f \"$k\" ] || continue; "
		"  id=$(readelf -n \"$k\" 2>/dev/null | awk '/Build ID/ {print $3}'); "
		"  [ \"$id\" = \"$sys\" ] && { printf %%s \"$k\"; exit 0; }; "
		"done; exit 1", top, top);
}

TEST(module_unload_refused_while_in_use)
{
	const char *why = dmr_prereq_missing();
	struct dmr_dev d;
	char ko[512];
	int ctl, jfd;

	if (why)
		SKIP(return, "%s", why);
	if (find_ko(ko, sizeof(ko)))
		SKIP(return, "the loaded dm_replay's .ko was not found (set DMR_MODULE) to reload it after rmmod");
	dmr_remove("dmrc_u");
	/* Every other dm-replay device must be gone for the last step. */
	ASSERT_EQ(0, dmr_sh("! dmsetup table 2>/dev/null | grep -q ' replay '"))
		TH_LOG("other dm-replay devices exist");
	ASSERT_EQ(0, dmr_create(&d, "dmrc_u", dmr_ram(0), 1024, "record", NULL));
	jfd = open(d.jpath, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, jfd);
	EXPECT_NE(0, dmr_sh("rmmod dm_replay 2>/dev/null")) TH_LOG("rmmod with a device");
	ASSERT_EQ(0, access("/sys/module/dm_replay", F_OK));
	ASSERT_EQ(0, dmr_remove("dmrc_u"));
	/* The journal's file operations are the module's. */
	EXPECT_NE(0, dmr_sh("rmmod dm_replay 2>/dev/null")) TH_LOG("rmmod with a journal file open");
	ASSERT_EQ(0, access("/sys/module/dm_replay", F_OK));
	close(jfd);
	ctl = dmr_ctl_open();
	ASSERT_LE(0, ctl);
	EXPECT_NE(0, dmr_sh("rmmod dm_replay 2>/dev/null")) TH_LOG("rmmod with the control device open");
	ASSERT_EQ(0, access("/sys/module/dm_replay", F_OK));
	close(ctl);
	EXPECT_EQ(0, dmr_sh("rmmod dm_replay"));
	EXPECT_NE(0, access("/sys/module/dm_replay", F_OK));
	EXPECT_NE(0, access(DMR_CTL_PATH, F_OK));
	EXPECT_NE(0, access(DMR_DEBUGFS, F_OK));
	/* Load it again for whatever runs next. */
	ASSERT_EQ(0, dmr_sh("insmod %s", ko));
	ASSERT_EQ(0, dmr_sh("for i in $(seq 50); do [ -e %s ] && exit 0; sleep 0.1; done; exit 1",
			    DMR_CTL_PATH));
	ASSERT_EQ(0, dmr_create(&d, "dmrc_u", dmr_ram(0), 1024, "record", NULL));
	EXPECT_EQ(0, dmr_remove("dmrc_u"));
}

TEST_HARNESS_MAIN
