// SPDX-License-Identifier: GPL-2.0
/*
 * DM_REPLAY_CKPT_F_SUBMIT: a session that checkpoints with it submits
 * its targets' requests itself.  map() only queues them; the next
 * checkpoint (with or without the flag) submits them, and one that
 * finishes while it is submitted is delivered by that same checkpoint.
 * A request handed over wakes poll().  A checkpoint without the flag, a
 * suspend or closing the session hands submission back, and nothing
 * handed over is left unsubmitted.  Replay mode too.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "dmr_fixture.h"

#define OFF	8192		/* the block every test writes */
#define BLK	4096
#define BASE_ID	700000ULL

FIXTURE(sub) {
	struct dmr_dev d;
	int ctl, fd, lower;
	struct dmr_journal j;
	struct dmr_io io[2];
	void *blk;
};

FIXTURE_SETUP(sub)
{
	self->ctl = self->fd = self->lower = -1;
	self->j.fd = -1;
	self->blk = NULL;
	dmr_remove("dmrt_sub");
	ASSERT_EQ(0, posix_memalign(&self->blk, BLK, BLK));
	self->lower = open(dmr_ram(0), O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, self->lower) TH_LOG("open %s: %s", dmr_ram(0),
					 strerror(errno));
	/* The block starts as zeros; the tests write 0x5a over it. */
	memset(self->blk, 0, BLK);
	ASSERT_EQ(BLK, pwrite(self->lower, self->blk, BLK, OFF));
	self->ctl = dmr_ctl_open();
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", DMR_CTL_PATH,
				       strerror(-self->ctl));
}

FIXTURE_TEARDOWN(sub)
{
	int i;

	if (self->ctl >= 0)
		close(self->ctl);
	dmr_teardown_dev("dmrt_sub");
	for (i = 0; i < 2; i++) {
		if (!dmr_io_wait(&self->io[i], 10000))
			TH_LOG("I/O %d still blocked after suspend", i);
		dmr_io_free(&self->io[i]);
	}
	if (self->fd >= 0)
		close(self->fd);
	if (self->lower >= 0)
		close(self->lower);
	dmr_journal_close(&self->j);
	dmr_remove("dmrt_sub");
	free(self->blk);
}

static int mkdev(struct __test_metadata *_metadata, FIXTURE_DATA(sub) *self,
		 const char *mode)
{
	if (dmr_create(&self->d, "dmrt_sub", dmr_ram(0), DMR_SECTORS, mode,
		       NULL))
		return -1;
	self->fd = open(self->d.path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (self->fd < 0) {
		TH_LOG("open %s: %s", self->d.path, strerror(errno));
		return -1;
	}
	if (dmr_journal_open(&self->j, self->d.jpath))
		return -1;
	return dmr_attach(self->ctl, &self->d);
}

static int ckpt(int ctl, uint64_t n, uint32_t flags,
		struct dm_replay_checkpoint *ck)
{
	memset(ck, 0, sizeof(*ck));
	ck->checkpoint = n;
	ck->flags = flags;
	return ioctl(ctl, DM_REPLAY_IOC_CHECKPOINT, ck) ? -errno : 0;
}

/* Whether the lower device's block at OFF holds the tests' 0x5a data. */
static bool lower_written(FIXTURE_DATA(sub) *self)
{
	unsigned char *b = self->blk;

	if (pread(self->lower, b, BLK, OFF) != BLK)
		return false;
	return b[0] == 0x5a && b[BLK - 1] == 0x5a;
}

static bool wait_lower_written(FIXTURE_DATA(sub) *self, int timeout_ms)
{
	uint64_t end = dmr_now_ms() + timeout_ms;

	while (!lower_written(self)) {
		if (dmr_now_ms() >= end)
			return false;
		dmr_msleep(5);
	}
	return true;
}

/* Wait until the target has taken n ids; returns its status. */
static int wait_ids(const char *name, uint64_t n, struct dmr_status *st)
{
	uint64_t end = dmr_now_ms() + 10000;

	for (;;) {
		if (dmr_status(name, st))
			return -1;
		if (st->ids_issued >= n)
			return 0;
		if (dmr_now_ms() >= end)
			return -1;
		dmr_msleep(5);
	}
}

/* Start a write of 0x5a at OFF and wait until map() has taken it. */
static void write_mapped(struct __test_metadata *_metadata,
			 FIXTURE_DATA(sub) *self, int i, uint64_t ids,
			 struct dmr_status *st)
{
	ASSERT_EQ(0, dmr_io_start(&self->io[i], self->fd, DMR_IO_WRITE, OFF,
				  BLK));
	ASSERT_EQ(0, wait_ids("dmrt_sub", ids, st));
}

/*
 * A record device whose session submits (checkpoint 1 with the flag),
 * and a write (io[0], id 1) that map() handed over to it.
 */
static void handed_over_write(struct __test_metadata *_metadata,
			      FIXTURE_DATA(sub) *self)
{
	struct dm_replay_checkpoint ck;
	struct dmr_status st;

	ASSERT_EQ(0, mkdev(_metadata, self, "record"));
	ASSERT_EQ(0, ckpt(self->ctl, 1, DM_REPLAY_CKPT_F_SUBMIT, &ck));
	write_mapped(_metadata, self, 0, 1, &st);
	EXPECT_EQ(1, st.by_worker) TH_LOG("map() did not hand the write over");
	EXPECT_FALSE(lower_written(self))
		TH_LOG("the write reached the lower device before a checkpoint");
}

/*
 * The second write (io[1], id 2) is submitted by map(): its data is on
 * the lower device before checkpoint @n, which delivers it.
 */
static void map_submits(struct __test_metadata *_metadata,
			FIXTURE_DATA(sub) *self, uint64_t n)
{
	struct dm_replay_checkpoint ck;
	struct dmr_status st;

	memset(self->blk, 0, BLK);
	ASSERT_EQ(BLK, pwrite(self->lower, self->blk, BLK, OFF));
	write_mapped(_metadata, self, 1, 2, &st);
	EXPECT_TRUE(wait_lower_written(self, 5000))
		TH_LOG("map() did not submit: the session still does");
	ASSERT_EQ(1, dmr_wait_held("dmrt_sub", 1, 10000));
	ASSERT_EQ(0, dmr_status("dmrt_sub", &st));
	EXPECT_EQ(1, st.by_worker);
	ASSERT_EQ(0, ckpt(self->ctl, n, 0, &ck));
	EXPECT_EQ(1, ck.delivered);
	ASSERT_TRUE(dmr_io_wait(&self->io[1], 10000));
}

TEST_F_TIMEOUT(sub, handed_over_until_next_checkpoint, 120)
{
	struct dm_replay_checkpoint ck;
	struct pollfd p = { .events = POLLIN };
	struct dmr_status st;
	struct dmr_jsum sum;
	char err[256];

	ASSERT_EQ(0, mkdev(_metadata, self, "record"));
	ASSERT_EQ(0, ckpt(self->ctl, 1, DM_REPLAY_CKPT_F_SUBMIT, &ck));
	EXPECT_EQ(0, ck.delivered);
	p.fd = self->ctl;
	EXPECT_EQ(0, poll(&p, 1, 0)) TH_LOG("poll() ready with nothing to do");

	write_mapped(_metadata, self, 0, 1, &st);
	dmr_msleep(300);
	ASSERT_EQ(0, dmr_status("dmrt_sub", &st));
	EXPECT_EQ(1, st.by_worker) TH_LOG("map() did not hand the write over");
	EXPECT_EQ(1, st.in_flight);
	EXPECT_EQ(0, st.held);
	EXPECT_FALSE(lower_written(self))
		TH_LOG("the write reached the lower device before a checkpoint");
	EXPECT_FALSE(__atomic_load_n(&self->io[0].done, __ATOMIC_ACQUIRE));
	/* Nothing is held, but the session has work: poll() says so. */
	EXPECT_EQ(1, poll(&p, 1, 1000));
	EXPECT_TRUE(p.revents & POLLIN);

	/* brd finishes it while it is submitted: delivered at once. */
	ASSERT_EQ(0, ckpt(self->ctl, 2, DM_REPLAY_CKPT_F_SUBMIT, &ck));
	EXPECT_EQ(1, ck.delivered);
	EXPECT_EQ(0, ck.held);
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_EQ(BLK, self->io[0].ret);
	EXPECT_TRUE(lower_written(self));
	ASSERT_EQ(0, dmr_status("dmrt_sub", &st));
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(1, st.delivered);
	ASSERT_LE(0, dmr_journal_drain(&self->j));
	EXPECT_EQ(0, dmr_journal_check(&self->j, true, &sum, err, sizeof(err)))
		TH_LOG("journal: %s", err);
	EXPECT_EQ(1, sum.completions);
	EXPECT_EQ(2, sum.last_checkpoint);
}

TEST_F_TIMEOUT(sub, checkpoint_without_flag_hands_back, 120)
{
	struct dm_replay_checkpoint ck;

	handed_over_write(_metadata, self);
	/* The plain checkpoint still submits (and delivers) what waits. */
	ASSERT_EQ(0, ckpt(self->ctl, 2, 0, &ck));
	EXPECT_EQ(1, ck.delivered);
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_EQ(BLK, self->io[0].ret);

	/* map() submits again: the data is there before any checkpoint. */
	map_submits(_metadata, self, 3);
}

TEST_F_TIMEOUT(sub, suspend_submits_what_was_handed_over, 120)
{
	handed_over_write(_metadata, self);
	/* dm waits for the write: it must be submitted, then released. */
	ASSERT_EQ(0, dmr_sh("timeout 20 dmsetup suspend dmrt_sub"))
		TH_LOG("suspend hung or failed with a request handed over");
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_EQ(BLK, self->io[0].ret);
	EXPECT_TRUE(lower_written(self));
	ASSERT_EQ(0, dmr_sh("dmsetup resume dmrt_sub"));

	/* The suspend ended the hand-over: map() submits until asked again. */
	map_submits(_metadata, self, 2);
}

TEST_F_TIMEOUT(sub, closing_the_session_hands_back, 120)
{
	handed_over_write(_metadata, self);
	EXPECT_FALSE(lower_written(self));
	/* Nobody checkpoints any more: the worker submits it ... */
	close(self->ctl);
	self->ctl = -1;
	EXPECT_TRUE(wait_lower_written(self, 5000))
		TH_LOG("a request handed over to a closed session was not submitted");
	/* ... and it is held for the next checkpoint, like any other. */
	ASSERT_EQ(1, dmr_wait_held("dmrt_sub", 1, 10000));
	EXPECT_FALSE(dmr_io_wait(&self->io[0], 200));
	ASSERT_EQ(0, dmr_msg_checkpoint("dmrt_sub", 0));
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_EQ(BLK, self->io[0].ret);
}

TEST_F_TIMEOUT(sub, replay_waiting_checkpoint_submits, 120)
{
	struct dm_replay_next_id nid = { .next_id = BASE_ID };
	struct dm_replay_checkpoint ck;
	struct dm_replay_expect e;
	struct dmr_status st;

	ASSERT_EQ(0, mkdev(_metadata, self, "replay"));
	ASSERT_EQ(0, ioctl(self->ctl, DM_REPLAY_IOC_SET_NEXT_ID, &nid));
	ASSERT_EQ(0, ckpt(self->ctl, 1, DM_REPLAY_CKPT_F_SUBMIT, &ck));
	write_mapped(_metadata, self, 0, 1, &st);
	dmr_msleep(200);
	ASSERT_EQ(0, dmr_status("dmrt_sub", &st));
	EXPECT_EQ(1, st.by_worker);
	EXPECT_EQ(0, st.held);
	EXPECT_FALSE(lower_written(self));

	/* The recorded completion: the write, id BASE_ID, at OFF. */
	memset(&e, 0, sizeof(e));
	e.dev.major = self->d.major;
	e.dev.minor = self->d.minor;
	e.rec.comp.type = DM_REPLAY_REC_COMPLETION;
	e.rec.comp.id = htole64(BASE_ID);
	e.rec.comp.op = DM_REPLAY_OP_WRITE;
	e.rec.comp.sector = htole64(OFF / 512);
	e.rec.comp.nr_sectors = htole32(BLK / 512);
	memset(&ck, 0, sizeof(ck));
	ck.checkpoint = 2;
	ck.flags = DM_REPLAY_CKPT_F_SUBMIT | DM_REPLAY_CKPT_F_SPIN;
	ck.timeout_ms = 10000;
	ck.records = (uintptr_t)&e;
	ck.nr_records = 1;
	ASSERT_EQ(0, ioctl(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck))
		TH_LOG("replay checkpoint: %s", strerror(errno));
	EXPECT_EQ(1, ck.delivered);
	EXPECT_EQ(0, ck.divergences);
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_EQ(BLK, self->io[0].ret);
	EXPECT_TRUE(lower_written(self));
}

DMR_HARNESS_MAIN
