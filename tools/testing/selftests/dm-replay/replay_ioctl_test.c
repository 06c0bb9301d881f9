// SPDX-License-Identifier: GPL-2.0
/*
 * Replay mode at the ioctl level: the checkpoint delivers exactly the
 * expected completions in the given order, leaves unexpected ones held,
 * times out on a missing one, gives up its wait on a signal or a
 * suspend, reports shape and unattached-device divergences.  Every test
 * runs twice: waiting for late requests asleep, and polling
 * (DM_REPLAY_CKPT_F_SPIN).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "dmr_fixture.h"

#define BASE_ID 500000ULL

FIXTURE(rp) {
	struct dmr_dev d, d2;
	int ctl, fd;
	struct dmr_journal j;
	struct dmr_io io[4];
	bool made2;
	uint32_t flags;
};

FIXTURE_VARIANT(rp) {
	uint32_t flags;
};

FIXTURE_VARIANT_ADD(rp, sleep) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(rp, spin) {
	.flags = DM_REPLAY_CKPT_F_SPIN,
};

FIXTURE_SETUP(rp)
{
	struct dm_replay_next_id nid = { .next_id = BASE_ID };

	self->ctl = self->fd = -1;
	self->j.fd = -1;
	self->flags = variant->flags;
	dmr_remove("dmrt_rp");
	dmr_remove("dmrt_rp2");
	ASSERT_EQ(0, dmr_create(&self->d, "dmrt_rp", dmr_ram(0), DMR_SECTORS,
				"replay", NULL));
	self->fd = open(self->d.path, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, dmr_journal_open(&self->j, self->d.jpath));
	self->ctl = dmr_ctl_open();
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d));
	ASSERT_EQ(0, ioctl(self->ctl, DM_REPLAY_IOC_SET_NEXT_ID, &nid));
}

FIXTURE_TEARDOWN(rp)
{
	int i;

	if (self->ctl >= 0)
		close(self->ctl);
	dmr_teardown_dev("dmrt_rp");
	for (i = 0; i < 4; i++) {
		dmr_io_wait(&self->io[i], 10000);
		dmr_io_free(&self->io[i]);
	}
	if (self->fd >= 0)
		close(self->fd);
	dmr_journal_close(&self->j);
	dmr_remove("dmrt_rp");
	if (self->made2)
		dmr_remove("dmrt_rp2");
}

static void expect_read(struct dm_replay_expect *e, const struct dmr_dev *d,
			uint64_t id, uint64_t sector)
{
	memset(e, 0, sizeof(*e));
	e->dev.major = d->major;
	e->dev.minor = d->minor;
	e->rec.comp.type = DM_REPLAY_REC_COMPLETION;
	e->rec.comp.op = DM_REPLAY_OP_READ;
	e->rec.comp.id = htole64(id);
	e->rec.comp.sector = htole64(sector);
	e->rec.comp.nr_sectors = htole32(8);
}

/* A replay checkpoint, waiting the variant's way. */
static int replay_ckpt(FIXTURE_DATA(rp) *self, uint64_t n,
		       struct dm_replay_expect *e, unsigned int nr,
		       unsigned int timeout_ms, struct dm_replay_checkpoint *ck)
{
	memset(ck, 0, sizeof(*ck));
	ck->checkpoint = n;
	ck->flags = self->flags;
	ck->timeout_ms = timeout_ms;
	ck->records = (uintptr_t)e;
	ck->nr_records = nr;
	return ioctl(self->ctl, DM_REPLAY_IOC_CHECKPOINT, ck) ? -errno : 0;
}

/* Completion records of the replay's own journal, in order. */
static size_t comp_ids(struct dmr_journal *j, uint64_t *ids, size_t max)
{
	size_t i, n = 0;

	dmr_journal_drain(j);
	for (i = 0; i < j->n && n < max; i++)
		if (j->r[i].type == DM_REPLAY_REC_COMPLETION)
			ids[n++] = le64toh(j->r[i].comp.id);
	return n;
}

TEST_F_TIMEOUT(rp, delivers_expected_in_given_order, 120)
{
	struct dm_replay_expect e[2];
	struct dm_replay_checkpoint ck;
	uint64_t ids[4];

	/* Two reads: ids BASE (sector 8) then BASE+1 (sector 16). */
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 4096, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_rp", 1, 10000));
	ASSERT_EQ(0, dmr_io_start(&self->io[1], self->fd, DMR_IO_READ, 8192, 4096));
	ASSERT_EQ(2, dmr_wait_held("dmrt_rp", 2, 10000));
	EXPECT_FALSE(dmr_io_wait(&self->io[0], 300))
		TH_LOG("replay mode delivered without a checkpoint");
	/* Recorded order: the second first. */
	expect_read(&e[0], &self->d, BASE_ID + 1, 16);
	expect_read(&e[1], &self->d, BASE_ID, 8);
	ASSERT_EQ(0, replay_ckpt(self, 1, e, 2, 5000, &ck));
	EXPECT_EQ(2, ck.delivered);
	EXPECT_EQ(0, ck.divergences);
	EXPECT_EQ(0, ck.missing);
	EXPECT_EQ(0, ck.reordered);
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_TRUE(dmr_io_wait(&self->io[1], 10000));
	ASSERT_EQ(2, comp_ids(&self->j, ids, 4));
	EXPECT_EQ(BASE_ID + 1, ids[0]);
	EXPECT_EQ(BASE_ID, ids[1]);
}

TEST_F_TIMEOUT(rp, unexpected_stays_held, 120)
{
	struct dm_replay_expect e[1];
	struct dm_replay_checkpoint ck;
	struct dmr_status st;

	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 4096, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_rp", 1, 10000));
	ASSERT_EQ(0, dmr_io_start(&self->io[1], self->fd, DMR_IO_READ, 8192, 4096));
	ASSERT_EQ(2, dmr_wait_held("dmrt_rp", 2, 10000));
	expect_read(&e[0], &self->d, BASE_ID, 8);
	ASSERT_EQ(0, replay_ckpt(self, 1, e, 1, 5000, &ck));
	EXPECT_EQ(1, ck.delivered);
	EXPECT_EQ(1, ck.held);
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_FALSE(dmr_io_wait(&self->io[1], 300))
		TH_LOG("a completion the checkpoint did not expect was delivered");
	ASSERT_EQ(0, dmr_status("dmrt_rp", &st));
	EXPECT_EQ(1, st.held);
	EXPECT_STREQ("replay", st.mode);
	expect_read(&e[0], &self->d, BASE_ID + 1, 16);
	ASSERT_EQ(0, replay_ckpt(self, 2, e, 1, 5000, &ck));
	EXPECT_EQ(1, ck.delivered);
	EXPECT_TRUE(dmr_io_wait(&self->io[1], 10000));
}

static uint64_t thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct late {
	int fd;
	volatile int done;
	ssize_t ret;
};

static void *late_read(void *arg)
{
	struct late *l = arg;
	void *buf;

	dmr_msleep(500);
	if (posix_memalign(&buf, 4096, 4096))
		return NULL;
	l->ret = pread(l->fd, buf, 4096, 4096);
	free(buf);
	__atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

TEST_F_TIMEOUT(rp, waits_for_late_request, 120)
{
	struct dm_replay_expect e[1];
	struct dm_replay_checkpoint ck;
	struct late l = { .fd = self->fd };
	pthread_t th;
	uint64_t t0, wall, cpu;

	/* The checkpoint comes first; the request 500 ms later. */
	expect_read(&e[0], &self->d, BASE_ID, 8);
	t0 = dmr_now_ms();
	cpu = thread_cpu_ms();
	ASSERT_EQ(0, pthread_create(&th, NULL, late_read, &l));
	ASSERT_EQ(0, replay_ckpt(self, 1, e, 1, 10000, &ck));
	cpu = thread_cpu_ms() - cpu;
	wall = dmr_now_ms() - t0;
	EXPECT_EQ(1, ck.delivered);
	EXPECT_LE(400, wall);
	pthread_join(th, NULL);
	EXPECT_EQ(4096, l.ret);
	/* The wait is the variant's: asleep, or polling on this CPU. */
	if (self->flags & DM_REPLAY_CKPT_F_SPIN) {
		EXPECT_LE(wall * 4 / 10, cpu)
			TH_LOG("spinning wait of %llu ms used %llu ms of CPU",
			       (unsigned long long)wall, (unsigned long long)cpu);
	} else {
		EXPECT_GE(wall / 5, cpu)
			TH_LOG("sleeping wait of %llu ms used %llu ms of CPU",
			       (unsigned long long)wall, (unsigned long long)cpu);
	}
}

TEST_F_TIMEOUT(rp, missing_times_out_and_delivers_nothing, 120)
{
	struct dm_replay_expect e[2];
	struct dm_replay_checkpoint ck;
	struct dmr_status st;
	uint64_t t0;

	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 4096, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_rp", 1, 10000));
	expect_read(&e[0], &self->d, BASE_ID, 8);
	expect_read(&e[1], &self->d, BASE_ID + 1, 16);	/* never comes */
	t0 = dmr_now_ms();
	EXPECT_EQ(-ETIMEDOUT, replay_ckpt(self, 1, e, 2, 700, &ck));
	EXPECT_LE(600, dmr_now_ms() - t0);
	EXPECT_EQ(0, ck.delivered);
	EXPECT_EQ(1, ck.missing);
	EXPECT_EQ(DM_REPLAY_DIV_MISSING, ck.first.kind);
	EXPECT_EQ(1, ck.first.index);
	EXPECT_EQ(BASE_ID + 1, le64toh(ck.first.expected.comp.id));
	EXPECT_FALSE(dmr_io_wait(&self->io[0], 300))
		TH_LOG("a timed-out checkpoint delivered something");
	ASSERT_EQ(0, dmr_status("dmrt_rp", &st));
	EXPECT_EQ(1, st.div_missing);
	EXPECT_EQ(1, st.held);
	/* The target keeps working: the next checkpoint delivers it. */
	ASSERT_EQ(0, replay_ckpt(self, 2, e, 1, 5000, &ck));
	EXPECT_EQ(1, ck.delivered);
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
}

/* After @ms, signal @th (no SA_RESTART) or suspend and resume @name. */
struct interrupter {
	pthread_t th;
	const char *name;
	int ms;
	int rc;
};

static void on_usr1(int sig)
{
	(void)sig;
}

static void *interrupt_later(void *arg)
{
	struct interrupter *in = arg;

	dmr_msleep(in->ms);
	if (in->name)
		in->rc = dmr_sh("dmsetup suspend %s && dmsetup resume %s",
				in->name, in->name);
	else
		in->rc = pthread_kill(in->th, SIGUSR1);
	return NULL;
}

TEST_F_TIMEOUT(rp, signal_ends_wait_eintr, 120)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	struct interrupter in = { .th = pthread_self(), .ms = 300 };
	struct dm_replay_expect e[1];
	struct dm_replay_checkpoint ck;
	pthread_t th;
	uint64_t t0;
	int r;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, &old));
	expect_read(&e[0], &self->d, BASE_ID, 8);	/* never comes */
	t0 = dmr_now_ms();
	ASSERT_EQ(0, pthread_create(&th, NULL, interrupt_later, &in));
	r = replay_ckpt(self, 1, e, 1, 10000, &ck);
	pthread_join(th, NULL);
	sigaction(SIGUSR1, &old, NULL);
	EXPECT_EQ(0, in.rc);
	EXPECT_EQ(-EINTR, r);
	EXPECT_GT(5000, dmr_now_ms() - t0) TH_LOG("the signal did not end the wait");
	EXPECT_EQ(0, ck.delivered);
	/* Not a divergence: nothing was missing yet. */
	EXPECT_EQ(0, ck.divergences);
}

TEST_F_TIMEOUT(rp, suspend_ends_wait_ebusy, 120)
{
	struct interrupter in = { .name = "dmrt_rp", .ms = 300 };
	struct dm_replay_expect e[1];
	struct dm_replay_checkpoint ck;
	pthread_t th;
	uint64_t t0;
	int r;

	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 4096, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_rp", 1, 10000));
	expect_read(&e[0], &self->d, BASE_ID + 1, 16);	/* never comes */
	t0 = dmr_now_ms();
	ASSERT_EQ(0, pthread_create(&th, NULL, interrupt_later, &in));
	r = replay_ckpt(self, 1, e, 1, 10000, &ck);
	pthread_join(th, NULL);
	EXPECT_EQ(0, in.rc) TH_LOG("dmsetup suspend/resume failed");
	EXPECT_EQ(-EBUSY, r);
	EXPECT_GT(5000, dmr_now_ms() - t0) TH_LOG("the suspend did not end the wait");
	/* The suspend released the held read, the checkpoint did not. */
	EXPECT_EQ(0, ck.delivered);
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
}

TEST_F_TIMEOUT(rp, shape_divergence_delivers_in_place, 120)
{
	struct dm_replay_expect e[1];
	struct dm_replay_checkpoint ck;
	struct dmr_status st;

	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 4096, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_rp", 1, 10000));
	expect_read(&e[0], &self->d, BASE_ID, 24);	/* journal: other sector */
	ASSERT_EQ(0, replay_ckpt(self, 1, e, 1, 2000, &ck));
	EXPECT_EQ(1, ck.delivered);
	EXPECT_EQ(1, ck.divergences);
	EXPECT_EQ(DM_REPLAY_DIV_SHAPE, ck.first.kind);
	EXPECT_EQ(8, ck.first.actual_sector);
	EXPECT_EQ(BASE_ID, ck.first.actual_id);
	EXPECT_EQ(24, le64toh(ck.first.expected.comp.sector));
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
	ASSERT_EQ(0, dmr_status("dmrt_rp", &st));
	EXPECT_EQ(1, st.div_shape);
}

TEST_F_TIMEOUT(rp, reordered_by_shape, 120)
{
	struct dm_replay_expect e[1];
	struct dm_replay_checkpoint ck;
	struct dmr_status st;

	/* Same shape, other id (the guest's ids drifted by 7). */
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 4096, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_rp", 1, 10000));
	expect_read(&e[0], &self->d, BASE_ID + 7, 8);
	ASSERT_EQ(0, replay_ckpt(self, 1, e, 1, 2000, &ck));
	EXPECT_EQ(1, ck.delivered);
	EXPECT_EQ(1, ck.reordered);
	EXPECT_EQ(0, ck.divergences);
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
	ASSERT_EQ(0, dmr_status("dmrt_rp", &st));
	EXPECT_EQ(1, st.reordered);
}

TEST_F_TIMEOUT(rp, expect_unattached_device_nodev, 120)
{
	struct dm_replay_expect e[1];
	struct dm_replay_checkpoint ck;
	int r;

	ASSERT_EQ(0, dmr_create(&self->d2, "dmrt_rp2", dmr_ram(1), DMR_SECTORS,
				"replay", NULL));
	self->made2 = true;
	expect_read(&e[0], &self->d2, BASE_ID, 8);
	r = replay_ckpt(self, 1, e, 1, 500, &ck);
	EXPECT_NE(0, r == 0 ? ck.divergences : 1);
	EXPECT_EQ(DM_REPLAY_DIV_NODEV, ck.first.kind)
		TH_LOG("checkpoint returned %d (%s)", r, strerror(-r));
	EXPECT_EQ(0, ck.delivered);
}

TEST_F(rp, bad_records_pointer_efault)
{
	struct dm_replay_checkpoint ck;

	EXPECT_EQ(-EFAULT, replay_ckpt(self, 1, (void *)16, 1, 100, &ck));
}

DMR_HARNESS_MAIN
