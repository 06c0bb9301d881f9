// SPDX-License-Identifier: GPL-2.0
/*
 * Flush, FUA, discard and write-zeroes requests are held and journaled
 * with the right op and flags.  The lower device is a loop device over a
 * tmpfs file: it has a write cache (flush), and discard / write-zeroes
 * (punch hole); brd in 6.1 has neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "dmr_fixture.h"

#define IMG "/tmp/dmrt_ops.img"

FIXTURE(ops) {
	struct dmr_dev d;
	char loop[64];
	int ctl, fd;
	struct dmr_journal j;
	struct dmr_io io;
	bool made;
	const char *why;	/* skip reason found by setup */
};

FIXTURE_SETUP(ops)
{
	const char *why = dmr_prereq_missing();
	char *nl;

	self->ctl = self->fd = -1;
	self->j.fd = -1;
	if (why)
		SKIP(return, "%s", why);
	dmr_remove("dmrt_ops");
	if (dmr_sh("modprobe loop 2>/dev/null; test -e /dev/loop-control || "
		   "test -e /dev/loop0")) {
		self->why = "no loop device support";
		return;
	}
	ASSERT_EQ(0, dmr_sh("rm -f " IMG " && truncate -s 64M " IMG));
	ASSERT_EQ(0, dmr_sh_out(self->loop, sizeof(self->loop),
				"losetup -f --show " IMG));
	nl = strchr(self->loop, '\n');
	if (nl)
		*nl = 0;
	ASSERT_EQ(0, strncmp(self->loop, "/dev/loop", 9))
		TH_LOG("losetup said '%s'", self->loop);
	ASSERT_EQ(0, dmr_create(&self->d, "dmrt_ops", self->loop, DMR_SECTORS,
				"record", NULL));
	self->made = true;
	self->ctl = dmr_ctl_open();
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d));
	ASSERT_EQ(0, dmr_journal_open(&self->j, self->d.jpath));
}

FIXTURE_TEARDOWN(ops)
{
	if (self->ctl >= 0)
		close(self->ctl);
	if (self->made)
		dmr_teardown_dev("dmrt_ops");
	dmr_io_wait(&self->io, 10000);
	dmr_io_free(&self->io);
	if (self->fd >= 0)
		close(self->fd);
	dmr_journal_close(&self->j);
	if (self->made)
		dmr_remove("dmrt_ops");
	if (self->loop[0])
		dmr_sh("losetup -d %s", self->loop);
	dmr_sh("rm -f " IMG);
}

/*
 * Start the request, check that it is held, then checkpoint until it
 * returns (some ops become several requests, e.g. a zeroout fallback).
 */
static void run_held(struct __test_metadata *_metadata,
		     FIXTURE_DATA(ops) *self, int oflags,
		     enum dmr_io_kind kind, off_t off, size_t len)
{
	uint64_t n = 1, end;

	if (self->why)
		SKIP(return, "%s", self->why);
	self->fd = open(self->d.path, O_RDWR | O_CLOEXEC | oflags);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, dmr_io_start(&self->io, self->fd, kind, off, len));
	EXPECT_FALSE(dmr_io_wait(&self->io, 300))
		TH_LOG("request returned without a checkpoint");
	end = dmr_now_ms() + 20000;
	while (!dmr_io_wait(&self->io, 20) && dmr_now_ms() < end) {
		dmr_checkpoint(self->ctl, n++, NULL);
		dmr_journal_drain(&self->j);
	}
	ASSERT_TRUE(__atomic_load_n(&self->io.done, __ATOMIC_ACQUIRE));
	ASSERT_LE(0, dmr_journal_drain(&self->j));
}

/* First completion record with op, or -1. */
static ssize_t find_op(const struct dmr_journal *j, unsigned int op)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		if (j->r[i].type == DM_REPLAY_REC_COMPLETION &&
		    j->r[i].comp.op == op)
			return i;
	return -1;
}

static void dump(struct __test_metadata *_metadata, const struct dmr_journal *j)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		if (j->r[i].type == DM_REPLAY_REC_COMPLETION)
			TH_LOG("journal: %s sector %llu nr %u flags %#x status %d",
			       dmr_op_name(j->r[i].comp.op),
			       (unsigned long long)le64toh(j->r[i].comp.sector),
			       le32toh(j->r[i].comp.nr_sectors),
			       le16toh(j->r[i].comp.flags),
			       (int32_t)le32toh(j->r[i].comp.status));
}

TEST_F_TIMEOUT(ops, flush, 120)
{
	char wc[64] = "";
	ssize_t c;

	dmr_sh_out(wc, sizeof(wc), "cat /sys/block/%s/queue/write_cache",
		   self->d.kname);
	if (strncmp(wc, "write back", 10))
		SKIP(return, "dm device has no write cache ('%s'): block layer drops flushes", wc);
	run_held(_metadata, self, O_DIRECT, DMR_IO_FSYNC, 0, 0);
	EXPECT_EQ(0, self->io.ret);
	c = find_op(&self->j, DM_REPLAY_OP_FLUSH);
	ASSERT_LE(0, c) dump(_metadata, &self->j);
	EXPECT_EQ(0, le32toh(self->j.r[c].comp.nr_sectors));
	EXPECT_EQ(0, (int32_t)le32toh(self->j.r[c].comp.status));
}

TEST_F_TIMEOUT(ops, fua_write, 120)
{
	ssize_t c;

	run_held(_metadata, self, O_DIRECT | O_DSYNC, DMR_IO_WRITE, 65536, 4096);
	EXPECT_EQ(4096, self->io.ret);
	c = find_op(&self->j, DM_REPLAY_OP_WRITE);
	ASSERT_LE(0, c) dump(_metadata, &self->j);
	EXPECT_EQ(128, le64toh(self->j.r[c].comp.sector));
	EXPECT_EQ(8, le32toh(self->j.r[c].comp.nr_sectors));
	EXPECT_NE(0, le16toh(self->j.r[c].comp.flags) & DM_REPLAY_F_FUA)
		dump(_metadata, &self->j);
}

TEST_F_TIMEOUT(ops, discard, 120)
{
	uint64_t total = 0;
	size_t i;
	ssize_t c;

	run_held(_metadata, self, 0, DMR_IO_DISCARD, 1 << 20, 65536);
	EXPECT_EQ(0, self->io.ret) TH_LOG("BLKDISCARD: %s", strerror(self->io.err));
	c = find_op(&self->j, DM_REPLAY_OP_DISCARD);
	ASSERT_LE(0, c) dump(_metadata, &self->j);
	EXPECT_EQ(2048, le64toh(self->j.r[c].comp.sector));
	for (i = 0; i < self->j.n; i++)
		if (self->j.r[i].type == DM_REPLAY_REC_COMPLETION &&
		    self->j.r[i].comp.op == DM_REPLAY_OP_DISCARD)
			total += le32toh(self->j.r[i].comp.nr_sectors);
	EXPECT_EQ(128, total);
}

/* fallocate(PUNCH_HOLE) on a block device: write-zeroes without NOUNMAP. */
TEST_F_TIMEOUT(ops, write_zeroes_punch, 120)
{
	ssize_t c;

	run_held(_metadata, self, 0, DMR_IO_PUNCH, 1 << 20, 65536);
	EXPECT_EQ(0, self->io.ret) TH_LOG("fallocate: %s", strerror(self->io.err));
	c = find_op(&self->j, DM_REPLAY_OP_WRITE_ZEROES);
	ASSERT_LE(0, c) dump(_metadata, &self->j);
	EXPECT_EQ(2048, le64toh(self->j.r[c].comp.sector));
	EXPECT_EQ(128, le32toh(self->j.r[c].comp.nr_sectors));
	EXPECT_EQ(0, le16toh(self->j.r[c].comp.flags) & DM_REPLAY_F_NOUNMAP);
	EXPECT_EQ(0, (int32_t)le32toh(self->j.r[c].comp.status));
}

/* BLKZEROOUT: write-zeroes with NOUNMAP (the loop/tmpfs may refuse it). */
TEST_F_TIMEOUT(ops, write_zeroes_nounmap, 120)
{
	ssize_t c;

	run_held(_metadata, self, 0, DMR_IO_ZEROOUT, 1 << 20, 65536);
	EXPECT_EQ(0, self->io.ret) TH_LOG("BLKZEROOUT: %s", strerror(self->io.err));
	c = find_op(&self->j, DM_REPLAY_OP_WRITE_ZEROES);
	ASSERT_LE(0, c) dump(_metadata, &self->j);
	EXPECT_EQ(2048, le64toh(self->j.r[c].comp.sector));
	EXPECT_NE(0, le16toh(self->j.r[c].comp.flags) & DM_REPLAY_F_NOUNMAP)
		dump(_metadata, &self->j);
}

DMR_HARNESS_MAIN
