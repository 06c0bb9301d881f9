// SPDX-License-Identifier: GPL-2.0
/*
 * The control device /dev/dm-replay: ioctl results and errnos, sessions,
 * poll, SET_NEXT_ID.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "dmr_fixture.h"

FIXTURE(ctl) {
	struct dmr_dev a, b;
	int ctl, ctl2, fd;
	bool have_lin;
	struct dmr_io io[2];
};

FIXTURE_SETUP(ctl)
{
	const char *why = dmr_prereq_missing();

	self->ctl = self->ctl2 = self->fd = -1;
	if (why)
		SKIP(return, "%s", why);
	dmr_remove("dmrt_a");
	dmr_remove("dmrt_lin");
	ASSERT_EQ(0, dmr_create(&self->a, "dmrt_a", dmr_ram(0), DMR_SECTORS,
				"record", NULL));
	ASSERT_EQ(0, dmr_sh("dmsetup create dmrt_lin --table '0 %llu linear %s 0'",
			    DMR_SECTORS, dmr_ram(1)));
	self->have_lin = true;
	ASSERT_EQ(0, dmr_lookup(&self->b, "dmrt_lin"));
	self->ctl = dmr_ctl_open();
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", DMR_CTL_PATH,
				       strerror(-self->ctl));
	self->fd = open(self->a.path, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(ctl)
{
	int i;

	if (self->ctl >= 0)
		close(self->ctl);
	if (self->ctl2 >= 0)
		close(self->ctl2);
	dmr_teardown_dev("dmrt_a");
	for (i = 0; i < 2; i++) {
		dmr_io_wait(&self->io[i], 10000);
		dmr_io_free(&self->io[i]);
	}
	if (self->fd >= 0)
		close(self->fd);
	dmr_remove("dmrt_a");
	dmr_remove("dmrt_many");
	if (self->have_lin)
		dmr_remove("dmrt_lin");
}

TEST_F(ctl, version)
{
	struct dm_replay_version v;

	memset(&v, 0xff, sizeof(v));
	ASSERT_EQ(0, ioctl(self->ctl, DM_REPLAY_IOC_VERSION, &v));
	EXPECT_EQ(DM_REPLAY_VERSION, v.abi);
	EXPECT_EQ(DM_REPLAY_RECORD_SIZE, v.record_size);
	EXPECT_LT(0, v.max_expect);
	EXPECT_LT(0, v.max_attach);
	EXPECT_NE(0xffffffffU, v.max_expect);
}

TEST_F(ctl, attach_twice_eexist)
{
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->a));
	EXPECT_EQ(-EEXIST, dmr_attach(self->ctl, &self->a));
}

TEST_F(ctl, attach_other_session_ebusy)
{
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->a));
	self->ctl2 = dmr_ctl_open();
	ASSERT_LE(0, self->ctl2);
	EXPECT_EQ(-EBUSY, dmr_attach(self->ctl2, &self->a));
	/* Closing the first session detaches: the second may attach now. */
	close(self->ctl);
	self->ctl = -1;
	EXPECT_EQ(0, dmr_attach(self->ctl2, &self->a));
}

TEST_F(ctl, attach_not_replay_enodev)
{
	EXPECT_EQ(-ENODEV, dmr_attach(self->ctl, &self->b));
}

TEST_F(ctl, detach_unattached_enoent)
{
	EXPECT_EQ(-ENOENT, dmr_detach(self->ctl, &self->a));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->a));
	EXPECT_EQ(0, dmr_detach(self->ctl, &self->a));
	EXPECT_EQ(-ENOENT, dmr_detach(self->ctl, &self->a));
	/* Detached: attaching again works. */
	EXPECT_EQ(0, dmr_attach(self->ctl, &self->a));
}

/* Find the only checkpoint record of @kind; its number of completions. */
static int detach_completions(struct dmr_journal *j)
{
	ssize_t k = -1;
	int n = -1;

	while ((k = dmr_find(j, k + 1, DM_REPLAY_REC_CHECKPOINT)) >= 0)
		if (j->r[k].ckpt.kind == DM_REPLAY_CKPT_DETACH)
			n = n < 0 ? (int)le32toh(j->r[k].ckpt.nr_completions) : -2;
	return n;
}

/*
 * Nobody checkpoints a detached target: DETACH, and closing the session,
 * deliver what it holds at once, journaled as a "detach" checkpoint, and
 * the target goes on holding new completions.
 */
TEST_F_TIMEOUT(ctl, detach_and_close_deliver_held, 120)
{
	struct dmr_journal j;
	struct dmr_jsum sum;
	char err[256];

	ASSERT_EQ(0, dmr_journal_open(&j, self->a.jpath));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->a));
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_a", 1, 10000));
	ASSERT_EQ(0, dmr_detach(self->ctl, &self->a));
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_EQ(0, dmr_wait_held("dmrt_a", 0, 0));
	ASSERT_LE(0, dmr_journal_drain(&j));
	EXPECT_EQ(1, detach_completions(&j));

	/* Still holding; a session that closes lets go of it too. */
	self->ctl2 = dmr_ctl_open();
	ASSERT_LE(0, self->ctl2);
	ASSERT_EQ(0, dmr_attach(self->ctl2, &self->a));
	ASSERT_EQ(0, dmr_io_start(&self->io[1], self->fd, DMR_IO_WRITE, 4096,
				  4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_a", 1, 10000));
	EXPECT_FALSE(dmr_io_wait(&self->io[1], 300));
	close(self->ctl2);
	self->ctl2 = -1;
	EXPECT_TRUE(dmr_io_wait(&self->io[1], 10000));
	ASSERT_LE(0, dmr_journal_drain(&j));
	EXPECT_EQ(-2, detach_completions(&j)) TH_LOG("want two detach checkpoints");
	EXPECT_EQ(0, dmr_journal_check(&j, true, &sum, err, sizeof(err)))
		TH_LOG("journal: %s", err);
	EXPECT_EQ(2, sum.kind[DM_REPLAY_CKPT_DETACH]);
	EXPECT_EQ(2, sum.completions);
	/* Closed: another session may attach it. */
	EXPECT_EQ(0, dmr_attach(self->ctl, &self->a));
	dmr_journal_close(&j);
}

/* The limit counts dm-replay targets, not devices. */
TEST_F_TIMEOUT(ctl, attach_limit_counts_targets, 120)
{
	struct dm_replay_version v;
	struct dmr_dev many;
	char table[4096];
	size_t len = 0;
	unsigned int i;

	ASSERT_EQ(0, ioctl(self->ctl, DM_REPLAY_IOC_VERSION, &v));
	dmr_remove("dmrt_many");
	for (i = 0; i <= v.max_attach; i++)
		len += snprintf(table + len, sizeof(table) - len,
				"%u 8 replay %s %u record\n", i * 8, dmr_ram(1),
				i * 8);
	ASSERT_LT(len, sizeof(table));
	ASSERT_EQ(0, dmr_sh("printf '%%s' '%s' | dmsetup create dmrt_many",
			    table));
	ASSERT_EQ(0, dmr_lookup(&many, "dmrt_many"));
	EXPECT_EQ(-ENOSPC, dmr_attach(self->ctl, &many));
	EXPECT_EQ(-ENOENT, dmr_detach(self->ctl, &many));
	/* The failed attach left room for the fixture's device. */
	EXPECT_EQ(0, dmr_attach(self->ctl, &self->a));
	EXPECT_EQ(0, dmr_checkpoint(self->ctl, 1, NULL));
	EXPECT_EQ(0, dmr_remove("dmrt_many"));
}

TEST_F(ctl, checkpoint_nothing_attached_enolink)
{
	EXPECT_EQ(-ENOLINK, dmr_checkpoint(self->ctl, 1, NULL));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->a));
	ASSERT_EQ(0, dmr_detach(self->ctl, &self->a));
	EXPECT_EQ(-ENOLINK, dmr_checkpoint(self->ctl, 2, NULL));
}

TEST_F_TIMEOUT(ctl, checkpoint_not_increasing_einval, 120)
{
	struct dm_replay_checkpoint ck;

	ASSERT_EQ(0, dmr_attach(self->ctl, &self->a));
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_a", 1, 10000));
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 5, &ck));
	EXPECT_EQ(1, ck.delivered);
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_EQ(-EINVAL, dmr_checkpoint(self->ctl, 5, NULL));
	EXPECT_EQ(-EINVAL, dmr_checkpoint(self->ctl, 4, NULL));
	EXPECT_EQ(-EINVAL, dmr_checkpoint(self->ctl, 0, NULL));
	/* The message path checks the target's last number too. */
	ASSERT_EQ(0, dmr_io_start(&self->io[1], self->fd, DMR_IO_READ, 4096,
				  4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_a", 1, 10000));
	EXPECT_NE(0, dmr_msg_checkpoint("dmrt_a", 5));
	EXPECT_FALSE(dmr_io_wait(&self->io[1], 300));
	EXPECT_EQ(0, dmr_msg_checkpoint("dmrt_a", 10));
	ASSERT_TRUE(dmr_io_wait(&self->io[1], 10000));
	/* ... and the ioctl the target's (10), not only the session's (5). */
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_a", 1, 10000));
	EXPECT_EQ(-EINVAL, dmr_checkpoint(self->ctl, 8, NULL));
	EXPECT_FALSE(dmr_io_wait(&self->io[0], 300));
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 11, &ck));
	EXPECT_EQ(1, ck.delivered);
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
}

/*
 * An emulator reuses one struct for every checkpoint.  The out fields
 * must then be the new checkpoint's, on the empty path (which writes them
 * only when they are not 0 already) and on the full one.
 */
TEST_F_TIMEOUT(ctl, checkpoint_overwrites_stale_results, 120)
{
	struct dm_replay_checkpoint ck;

	ASSERT_EQ(0, dmr_attach(self->ctl, &self->a));
	memset(&ck, 0, sizeof(ck));
	ck.held = 77;
	ck.delivered = 5;
	ck.reordered = 4;
	ck.divergences = 3;
	ck.missing = 2;
	ck.checkpoint = 1;
	ASSERT_EQ(0, ioctl(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	EXPECT_EQ(0, ck.held);
	EXPECT_EQ(0, ck.delivered);
	EXPECT_EQ(0, ck.reordered);
	EXPECT_EQ(0, ck.divergences);
	EXPECT_EQ(0, ck.missing);

	/* One delivered, then the same struct for an empty checkpoint. */
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_a", 1, 10000));
	ck.held = 77;
	ck.checkpoint = 2;
	ASSERT_EQ(0, ioctl(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	EXPECT_EQ(1, ck.delivered);
	EXPECT_EQ(0, ck.held);
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	ck.checkpoint = 3;
	ASSERT_EQ(0, ioctl(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	EXPECT_EQ(0, ck.delivered);
	EXPECT_EQ(0, ck.held);
}

/*
 * Without CAP_SYS_ADMIN: opening a session fails, but a session opened
 * with it (inherited here, as an fd passed by a manager would be) works.
 */
static int child_without_cap(int ctl, const struct dmr_dev *d)
{
	struct dm_replay_checkpoint ck;
	struct dm_replay_version v;
	struct dm_replay_dev dev = { d->major, d->minor };
	int fd, fail = 0;

	if (dmr_drop_sys_admin())
		return 10;
	errno = 0;
	fd = open(DMR_CTL_PATH, O_RDWR | O_CLOEXEC);
	if (fd >= 0 || errno != EPERM)
		fail |= 1;
	if (fd >= 0)
		close(fd);
	if (ioctl(ctl, DM_REPLAY_IOC_VERSION, &v) || v.abi != DM_REPLAY_VERSION)
		fail |= 2;
	if (ioctl(ctl, DM_REPLAY_IOC_ATTACH, &dev))
		fail |= 4;
	if (dmr_checkpoint(ctl, 100, &ck) || ck.held)
		fail |= 8;
	return fail;
}

TEST_F(ctl, open_needs_cap_sys_admin_session_does_not)
{
	pid_t pid;
	int st;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_without_cap(self->ctl, &self->a));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_NE(10, WEXITSTATUS(st)) TH_LOG("capset failed");
	EXPECT_EQ(0, WEXITSTATUS(st))
		TH_LOG("without CAP_SYS_ADMIN: %s%s%s%s",
		       WEXITSTATUS(st) & 1 ? "open did not fail with EPERM; " : "",
		       WEXITSTATUS(st) & 2 ? "VERSION failed; " : "",
		       WEXITSTATUS(st) & 4 ? "ATTACH failed; " : "",
		       WEXITSTATUS(st) & 8 ? "CHECKPOINT failed" : "");
	/* The child's attach and checkpoint were this session's. */
	EXPECT_EQ(-EEXIST, dmr_attach(self->ctl, &self->a));
	EXPECT_EQ(-EINVAL, dmr_checkpoint(self->ctl, 100, NULL));
}

TEST_F(ctl, bad_ioctl_enotty)
{
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, _IO(DM_REPLAY_IOCTL_TYPE, 99)));
	EXPECT_EQ(ENOTTY, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, _IOR('X', 0, int), NULL));
	EXPECT_EQ(ENOTTY, errno);
}

TEST_F(ctl, bad_pointer_efault)
{
	void *bad = (void *)16;

	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, DM_REPLAY_IOC_VERSION, bad));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, DM_REPLAY_IOC_ATTACH, bad));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, DM_REPLAY_IOC_DETACH, bad));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->a));
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, DM_REPLAY_IOC_CHECKPOINT, bad));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, DM_REPLAY_IOC_SET_NEXT_ID, bad));
	EXPECT_EQ(EFAULT, errno);
}

static short poll_now(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) < 0)
		return -1;
	return p.revents;
}

TEST_F_TIMEOUT(ctl, poll_pollin_while_held, 120)
{
	struct dm_replay_checkpoint ck;

	ASSERT_EQ(0, dmr_attach(self->ctl, &self->a));
	EXPECT_EQ(0, poll_now(self->ctl, 0) & POLLIN);
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	/* poll must wake up by itself when the completion is held. */
	EXPECT_NE(0, poll_now(self->ctl, 10000) & POLLIN);
	EXPECT_EQ(1, dmr_wait_held("dmrt_a", 1, 0));
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 1, &ck));
	EXPECT_EQ(1, ck.delivered);
	EXPECT_EQ(0, ck.held);
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_EQ(0, poll_now(self->ctl, 0) & POLLIN);
}

TEST_F_TIMEOUT(ctl, set_next_id, 120)
{
	struct dm_replay_next_id nid = { .next_id = 1000000 };
	struct dmr_journal j;
	ssize_t c;

	ASSERT_EQ(0, dmr_attach(self->ctl, &self->a));
	ASSERT_EQ(0, ioctl(self->ctl, DM_REPLAY_IOC_SET_NEXT_ID, &nid));
	ASSERT_EQ(0, dmr_journal_open(&j, self->a.jpath));
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_a", 1, 10000));
	/* A request not delivered yet: SET_NEXT_ID must refuse. */
	nid.next_id = 5;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->ctl, DM_REPLAY_IOC_SET_NEXT_ID, &nid));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 1, NULL));
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(1, dmr_wait_held("dmrt_a", 1, 10000));
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 2, NULL));
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	ASSERT_LE(0, dmr_journal_drain(&j));
	c = dmr_find(&j, 0, DM_REPLAY_REC_COMPLETION);
	ASSERT_LE(0, c);
	EXPECT_EQ(1000000, le64toh(j.r[c].comp.id));
	c = dmr_find(&j, c + 1, DM_REPLAY_REC_COMPLETION);
	ASSERT_LE(0, c);
	EXPECT_EQ(1000001, le64toh(j.r[c].comp.id));
	{
		ssize_t k = dmr_find(&j, 0, DM_REPLAY_REC_CHECKPOINT);
		struct dmr_jsum sum;
		char err[256];

		/* SET_NEXT_ID is journaled as an id_base checkpoint. */
		ASSERT_LE(0, k);
		EXPECT_EQ(DM_REPLAY_CKPT_ID_BASE, j.r[k].ckpt.kind);
		EXPECT_EQ(0, le32toh(j.r[k].ckpt.nr_completions));
		EXPECT_EQ(1000000, le64toh(j.r[k].ckpt.ids));
		k = dmr_find(&j, k + 1, DM_REPLAY_REC_CHECKPOINT);
		ASSERT_LE(0, k);
		EXPECT_EQ(DM_REPLAY_CKPT_USER, j.r[k].ckpt.kind);
		/* "ids": next id at this point */
		EXPECT_EQ(1000001, le64toh(j.r[k].ckpt.ids));
		EXPECT_EQ(0, dmr_journal_check(&j, true, &sum, err, sizeof(err)))
			TH_LOG("journal: %s", err);
		EXPECT_EQ(2, sum.completions);
	}
	dmr_journal_close(&j);
}

DMR_HARNESS_MAIN
