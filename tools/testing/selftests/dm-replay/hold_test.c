// SPDX-License-Identifier: GPL-2.0
/*
 * Record mode: completions are held until a checkpoint, delivered in
 * ascending id order, journaled exactly; journal full; suspend, reload
 * and remove release held completions; lower errors; the lower latency
 * and the hold time in the journal; which requests count as overlaps;
 * two targets in one session.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "dmr_fixture.h"

#define NIO 16

FIXTURE(hold) {
	struct dmr_dev d, d2;
	char lower_name[64];	/* extra dm device under d (flakey) */
	char name[64], name2[64];
	int ctl, fd, fd2;
	struct dmr_journal j, j2;
	struct dmr_io io[NIO];
};

FIXTURE_SETUP(hold)
{
	const char *why = dmr_prereq_missing();

	self->ctl = self->fd = self->fd2 = -1;
	self->j.fd = self->j2.fd = -1;
	if (why)
		SKIP(return, "%s", why);
	snprintf(self->name, sizeof(self->name), "dmrt_h");
	dmr_remove("dmrt_h");
	dmr_remove("dmrt_h2");
	dmr_remove("dmrt_low");
	self->ctl = dmr_ctl_open();
	ASSERT_LE(0, self->ctl) TH_LOG("open %s: %s", DMR_CTL_PATH,
				       strerror(-self->ctl));
}

FIXTURE_TEARDOWN(hold)
{
	int i;

	if (self->ctl >= 0)
		close(self->ctl);
	if (self->name[0])
		dmr_teardown_dev(self->name);
	if (self->name2[0])
		dmr_teardown_dev(self->name2);
	for (i = 0; i < NIO; i++) {
		if (!dmr_io_wait(&self->io[i], 10000))
			TH_LOG("I/O %d still blocked after suspend", i);
		dmr_io_free(&self->io[i]);
	}
	if (self->fd >= 0)
		close(self->fd);
	if (self->fd2 >= 0)
		close(self->fd2);
	dmr_journal_close(&self->j);
	dmr_journal_close(&self->j2);
	if (self->name[0])
		dmr_remove(self->name);
	if (self->name2[0])
		dmr_remove(self->name2);
	if (self->lower_name[0])
		dmr_remove(self->lower_name);
}

/* Create self->d (name) over lower, open it, open its journal. */
static int mkdev(struct __test_metadata *_metadata, FIXTURE_DATA(hold) *self,
		 const char *lower, const char *features)
{
	if (dmr_create(&self->d, self->name, lower, DMR_SECTORS, "record",
		       features))
		return -1;
	self->fd = open(self->d.path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (self->fd < 0) {
		TH_LOG("open %s: %s", self->d.path, strerror(errno));
		return -1;
	}
	return dmr_journal_open(&self->j, self->d.jpath);
}

/* The single completion delivered by the last checkpoint in j. */
static ssize_t last_ckpt(const struct dmr_journal *j)
{
	ssize_t i;

	for (i = (ssize_t)j->n - 1; i >= 0; i--)
		if (j->r[i].type == DM_REPLAY_REC_CHECKPOINT)
			return i;
	return -1;
}

static void check_journal(struct __test_metadata *_metadata,
			  const struct dmr_journal *j, struct dmr_jsum *sum)
{
	char err[256];

	EXPECT_EQ(0, dmr_journal_check(j, true, sum, err, sizeof(err)))
		TH_LOG("journal: %s", err);
}

TEST_F_TIMEOUT(hold, read_held_until_ioctl_checkpoint, 120)
{
	struct dm_replay_checkpoint ck;
	struct dmr_status st;
	struct dmr_jsum sum;
	ssize_t k;

	ASSERT_EQ(0, mkdev(_metadata, self, dmr_ram(0), NULL));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d));
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 4096,
				  4096));
	EXPECT_FALSE(dmr_io_wait(&self->io[0], 300))
		TH_LOG("O_DIRECT read returned without a checkpoint");
	ASSERT_EQ(1, dmr_wait_held(self->name, 1, 10000));
	ASSERT_EQ(0, dmr_status(self->name, &st));
	EXPECT_STREQ("record", st.mode);
	EXPECT_EQ(1, st.ids_issued);
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(0, st.delivered);
	EXPECT_EQ(0, st.checkpoints);
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 1, &ck));
	EXPECT_EQ(1, ck.delivered);
	EXPECT_EQ(0, ck.held);
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000))
		TH_LOG("read not delivered by the checkpoint");
	EXPECT_EQ(4096, self->io[0].ret);
	ASSERT_EQ(0, dmr_status(self->name, &st));
	EXPECT_EQ(0, st.held);
	EXPECT_EQ(1, st.delivered);
	EXPECT_EQ(1, st.checkpoints);
	ASSERT_LE(0, dmr_journal_drain(&self->j));
	check_journal(_metadata, &self->j, &sum);
	EXPECT_EQ(st.journal_bytes, self->j.n * DM_REPLAY_RECORD_SIZE);
	ASSERT_EQ(3, self->j.n);
	EXPECT_EQ(DM_REPLAY_MODE_RECORD, le32toh(self->j.r[0].hdr.mode));
	EXPECT_EQ(DMR_SECTORS, le64toh(self->j.r[0].hdr.target_sectors));
	EXPECT_EQ(self->d.major, le32toh(self->j.r[0].hdr.dev_major));
	EXPECT_EQ(self->d.minor, le32toh(self->j.r[0].hdr.dev_minor));
	k = last_ckpt(&self->j);
	ASSERT_EQ(1, k);
	EXPECT_EQ(DM_REPLAY_CKPT_USER, self->j.r[k].ckpt.kind);
	EXPECT_EQ(1, le64toh(self->j.r[k].ckpt.checkpoint));
	EXPECT_EQ(1, le32toh(self->j.r[k].ckpt.nr_completions));
	EXPECT_EQ(0, le64toh(self->j.r[k].ckpt.held_after));
	EXPECT_EQ(DM_REPLAY_OP_READ, self->j.r[2].comp.op);
	EXPECT_EQ(8, le64toh(self->j.r[2].comp.sector));
	EXPECT_EQ(8, le32toh(self->j.r[2].comp.nr_sectors));
	EXPECT_EQ(0, (int32_t)le32toh(self->j.r[2].comp.status));
	EXPECT_EQ(1, le64toh(self->j.r[2].comp.checkpoint));
	EXPECT_EQ(0, le16toh(self->j.r[2].comp.flags) & DM_REPLAY_F_UNHELD);
	/* Held for at least the 300 ms we waited. */
	EXPECT_LE(250000, le32toh(self->j.r[2].comp.hold_us));
}

TEST_F_TIMEOUT(hold, read_held_until_message_checkpoint, 120)
{
	ssize_t k;
	uint64_t first;

	/* No session attached: the message alone must deliver. */
	ASSERT_EQ(0, mkdev(_metadata, self, dmr_ram(0), NULL));
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	EXPECT_FALSE(dmr_io_wait(&self->io[0], 300));
	ASSERT_EQ(1, dmr_wait_held(self->name, 1, 10000));
	ASSERT_EQ(0, dmr_msg_checkpoint(self->name, 0));
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_EQ(4096, self->io[0].ret);
	ASSERT_LE(0, dmr_journal_drain(&self->j));
	k = last_ckpt(&self->j);
	ASSERT_LE(0, k);
	first = le64toh(self->j.r[k].ckpt.checkpoint);
	EXPECT_LT(0, first);
	/* Explicit number, then the default must be last + 1. */
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(1, dmr_wait_held(self->name, 1, 10000));
	ASSERT_EQ(0, dmr_msg_checkpoint(self->name, first + 40));
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(1, dmr_wait_held(self->name, 1, 10000));
	ASSERT_EQ(0, dmr_msg_checkpoint(self->name, 0));
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	ASSERT_LE(0, dmr_journal_drain(&self->j));
	ASSERT_EQ(7, self->j.n);
	EXPECT_EQ(first + 40, le64toh(self->j.r[3].ckpt.checkpoint));
	EXPECT_EQ(first + 41, le64toh(self->j.r[5].ckpt.checkpoint));
	/* A checkpoint with nothing held delivers nothing and is not journaled. */
	ASSERT_EQ(0, dmr_msg_checkpoint(self->name, 0));
	ASSERT_EQ(0, dmr_journal_drain(&self->j));
}

TEST_F_TIMEOUT(hold, write_held_and_passed_through, 120)
{
	unsigned char *buf;
	struct dmr_jsum sum;
	int rfd;

	ASSERT_EQ(0, mkdev(_metadata, self, dmr_ram(0), NULL));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d));
	ASSERT_EQ(0, posix_memalign((void **)&self->io[0].buf, 4096, 8192));
	memset(self->io[0].buf, 0xa5, 8192);
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_WRITE,
				  1 << 20, 8192));
	EXPECT_FALSE(dmr_io_wait(&self->io[0], 300));
	ASSERT_EQ(1, dmr_wait_held(self->name, 1, 10000));
	/* The data reached the lower device although the write is held. */
	ASSERT_EQ(0, posix_memalign((void **)&buf, 4096, 8192));
	rfd = open(dmr_ram(0), O_RDONLY | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, rfd);
	ASSERT_EQ(8192, pread(rfd, buf, 8192, 1 << 20));
	close(rfd);
	EXPECT_EQ(0xa5, buf[0]);
	EXPECT_EQ(0xa5, buf[8191]);
	free(buf);
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 1, NULL));
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_EQ(8192, self->io[0].ret);
	/* Read back through the target. */
	memset(self->io[0].buf, 0, 8192);
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ,
				  1 << 20, 8192));
	ASSERT_EQ(1, dmr_wait_held(self->name, 1, 10000));
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 2, NULL));
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_EQ(0xa5, ((unsigned char *)self->io[0].buf)[4096]);
	ASSERT_LE(0, dmr_journal_drain(&self->j));
	check_journal(_metadata, &self->j, &sum);
	ASSERT_EQ(5, self->j.n);
	EXPECT_EQ(DM_REPLAY_OP_WRITE, self->j.r[2].comp.op);
	EXPECT_EQ(2048, le64toh(self->j.r[2].comp.sector));
	EXPECT_EQ(16, le32toh(self->j.r[2].comp.nr_sectors));
	EXPECT_EQ(DM_REPLAY_OP_READ, self->j.r[4].comp.op);
	EXPECT_LT(le64toh(self->j.r[2].comp.id), le64toh(self->j.r[4].comp.id));
}

/* Several threads each with one request per round; strict rounds. */
TEST_F_TIMEOUT(hold, rounds_from_threads_ascending, 300)
{
	int round, i, nthreads = 8;
	struct dm_replay_checkpoint ck;
	struct dmr_jsum sum;
	size_t pos = 1;

	ASSERT_EQ(0, mkdev(_metadata, self, dmr_ram(0), NULL));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d));
	for (round = 0; round < 3; round++) {
		for (i = 0; i < nthreads; i++)
			ASSERT_EQ(0, dmr_io_start(&self->io[i], self->fd,
						  i & 1 ? DMR_IO_WRITE : DMR_IO_READ,
						  (off_t)(i * 16 + round) * 4096,
						  4096 << (i % 3)));
		ASSERT_EQ(nthreads, dmr_wait_held(self->name, nthreads, 10000));
		for (i = 0; i < nthreads; i++)
			EXPECT_FALSE(__atomic_load_n(&self->io[i].done,
						     __ATOMIC_ACQUIRE));
		ASSERT_EQ(0, dmr_checkpoint(self->ctl, round + 1, &ck));
		EXPECT_EQ(nthreads, ck.delivered);
		for (i = 0; i < nthreads; i++) {
			ASSERT_TRUE(dmr_io_wait(&self->io[i], 10000));
			EXPECT_EQ(4096 << (i % 3), self->io[i].ret);
		}
		ASSERT_LE(0, dmr_journal_drain(&self->j));
		ASSERT_EQ(pos + 1 + nthreads, self->j.n);
		EXPECT_EQ(DM_REPLAY_REC_CHECKPOINT, self->j.r[pos].type);
		EXPECT_EQ(nthreads, le32toh(self->j.r[pos].ckpt.nr_completions));
		/* Every thread's request is in the checkpoint, once. */
		for (i = 0; i < nthreads; i++) {
			size_t k, found = 0;

			for (k = pos + 1; k < self->j.n; k++) {
				const struct dm_replay_rec_completion *c =
					&self->j.r[k].comp;

				if (le64toh(c->sector) == (uint64_t)(i * 16 + round) * 8 &&
				    le32toh(c->nr_sectors) == (8U << (i % 3)) &&
				    c->op == (i & 1 ? DM_REPLAY_OP_WRITE :
					      DM_REPLAY_OP_READ))
					found++;
			}
			EXPECT_EQ(1, found) TH_LOG("round %d thread %d", round, i);
		}
		pos = self->j.n;
	}
	check_journal(_metadata, &self->j, &sum);
	EXPECT_EQ(3 * nthreads, sum.completions);
}

struct worker {
	pthread_t th;
	int fd, idx, nops;
	unsigned int seed;
	struct { uint8_t op; uint64_t sector; uint32_t nr; } *ops;
	int failed;
};

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	void *buf;
	int i;

	if (posix_memalign(&buf, 4096, 65536))
		return NULL;
	memset(buf, w->idx, 65536);
	for (i = 0; i < w->nops; i++) {
		size_t len = 4096 << (rand_r(&w->seed) % 5);	/* 4k..64k */
		off_t off = (off_t)(rand_r(&w->seed) % (DMR_SECTORS / 8 - 16)) * 4096;
		bool wr = rand_r(&w->seed) & 1;
		ssize_t r = wr ? pwrite(w->fd, buf, len, off) :
				 pread(w->fd, buf, len, off);

		if (r != (ssize_t)len)
			w->failed++;
		w->ops[i].op = wr ? DM_REPLAY_OP_WRITE : DM_REPLAY_OP_READ;
		w->ops[i].sector = off / 512;
		w->ops[i].nr = len / 512;
	}
	free(buf);
	return NULL;
}

struct ckpt_driver {
	pthread_t th;
	int ctl;
	volatile int stop;
	uint64_t next;
	struct dmr_journal *j;
	int errors, eagain;
	uint64_t journaled;
};

static void *ckpt_fn(void *arg)
{
	struct ckpt_driver *c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		struct dm_replay_checkpoint ck;
		int r = dmr_checkpoint(c->ctl, c->next, &ck);

		if (r == 0) {
			c->next++;
			if (ck.delivered)
				c->journaled++;
		}
		else if (r == -EAGAIN)
			c->eagain++;
		else
			c->errors++;
		if (dmr_journal_drain(c->j) < 0)
			c->errors++;
		dmr_msleep(5);
	}
	return NULL;
}

static int cmp_op(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* Free-running threads with a checkpoint driver; journal == issued I/O. */
TEST_F_TIMEOUT(hold, threads_with_driver_journal_matches_io, 600)
{
	enum { T = 4, K = 25 };
	struct worker w[T];
	struct ckpt_driver cd = { 0 };
	struct dmr_status st;
	struct dmr_jsum sum;
	struct { uint8_t op; uint8_t pad[7]; uint64_t sector; uint64_t nr; }
		want[T * K], got[T * K];
	size_t n = 0, g = 0, i;
	int t, k;

	memset(want, 0, sizeof(want));
	memset(got, 0, sizeof(got));
	ASSERT_EQ(0, mkdev(_metadata, self, dmr_ram(0), NULL));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d));
	cd.ctl = self->ctl;
	cd.next = 1;
	cd.j = &self->j;
	ASSERT_EQ(0, pthread_create(&cd.th, NULL, ckpt_fn, &cd));
	for (t = 0; t < T; t++) {
		w[t].fd = self->fd;
		w[t].idx = t;
		w[t].nops = K;
		w[t].seed = 1234 + t;
		w[t].failed = 0;
		w[t].ops = calloc(K, sizeof(*w[t].ops));
		ASSERT_EQ(0, pthread_create(&w[t].th, NULL, worker_fn, &w[t]));
	}
	for (t = 0; t < T; t++)
		pthread_join(w[t].th, NULL);
	__atomic_store_n(&cd.stop, 1, __ATOMIC_RELEASE);
	pthread_join(cd.th, NULL);
	EXPECT_EQ(0, cd.errors);
	for (t = 0; t < T; t++)
		EXPECT_EQ(0, w[t].failed);
	ASSERT_LE(0, dmr_journal_drain(&self->j));
	check_journal(_metadata, &self->j, &sum);
	EXPECT_EQ(T * K, sum.completions);
	EXPECT_EQ(0, sum.errors);
	EXPECT_EQ(cd.journaled, sum.checkpoints);
	ASSERT_EQ(0, dmr_status(self->name, &st));
	EXPECT_EQ(T * K, st.ids_issued);
	EXPECT_EQ(T * K, st.delivered);
	EXPECT_EQ(0, st.held);
	EXPECT_EQ(sum.checkpoints, st.checkpoints);
	EXPECT_EQ(st.journal_bytes, self->j.n * DM_REPLAY_RECORD_SIZE);
	EXPECT_EQ(T * K - 1, sum.max_id - sum.min_id)
		TH_LOG("ids not contiguous");
	for (t = 0; t < T; t++) {
		for (k = 0; k < K; k++, n++) {
			want[n].op = w[t].ops[k].op;
			want[n].sector = w[t].ops[k].sector;
			want[n].nr = w[t].ops[k].nr;
		}
		free(w[t].ops);
	}
	for (i = 0; i < self->j.n && g < T * K; i++) {
		const struct dm_replay_rec_completion *c = &self->j.r[i].comp;

		if (self->j.r[i].type != DM_REPLAY_REC_COMPLETION)
			continue;
		got[g].op = c->op;
		got[g].sector = le64toh(c->sector);
		got[g].nr = le32toh(c->nr_sectors);
		g++;
	}
	ASSERT_EQ(n, g);
	qsort(want, n, sizeof(want[0]), cmp_op);
	qsort(got, g, sizeof(got[0]), cmp_op);
	EXPECT_EQ(0, memcmp(want, got, sizeof(want[0]) * n))
		TH_LOG("journaled op/sector/length differ from the I/O issued");
}

TEST_F_TIMEOUT(hold, journal_full_eagain_then_retry, 300)
{
	struct dm_replay_checkpoint ck;
	struct dmr_status st;
	struct dmr_jsum sum;
	int i, round, nio = 8, issued = 0;
	bool full = false;
	uint64_t n = 1;

	ASSERT_EQ(0, mkdev(_metadata, self, dmr_ram(0),
			   "4 subbuf_size 4096 n_subbufs 2"));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d));
	/* Nobody reads the journal: 8 KiB hold at most 128 records. */
	for (round = 0; round < 40 && !full; round++) {
		for (i = 0; i < nio; i++)
			ASSERT_EQ(0, dmr_io_start(&self->io[i], self->fd,
						  DMR_IO_READ, i * 4096, 4096));
		issued += nio;
		ASSERT_EQ(nio, dmr_wait_held(self->name, nio, 10000));
		i = dmr_checkpoint(self->ctl, n, &ck);
		if (i == -EAGAIN) {
			full = true;
			break;
		}
		ASSERT_EQ(0, i);
		n++;
		for (i = 0; i < nio; i++)
			ASSERT_TRUE(dmr_io_wait(&self->io[i], 10000));
	}
	ASSERT_TRUE(full) TH_LOG("no -EAGAIN after %d checkpoints of %d records "
				 "into an 8 KiB journal", round, nio + 1);
	/* Nothing delivered: the reads stay blocked. */
	for (i = 0; i < nio; i++)
		EXPECT_FALSE(__atomic_load_n(&self->io[i].done, __ATOMIC_ACQUIRE));
	dmr_msleep(300);
	for (i = 0; i < nio; i++)
		EXPECT_FALSE(__atomic_load_n(&self->io[i].done, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, dmr_status(self->name, &st));
	EXPECT_EQ(1, st.journal_full);
	EXPECT_EQ(nio, st.held);
	EXPECT_EQ(0, st.journal_lost);
	/* The message path fails the same way. */
	EXPECT_NE(0, dmr_msg_checkpoint(self->name, n + 1));
	ASSERT_EQ(0, dmr_status(self->name, &st));
	EXPECT_EQ(2, st.journal_full);
	EXPECT_EQ(nio, st.held);
	/* Read the journal, retry: it fits now. */
	ASSERT_LT(0, dmr_journal_drain(&self->j));
	i = dmr_checkpoint(self->ctl, n + 2, &ck);
	if (i) {
		ssize_t more;

		ASSERT_EQ(0, dmr_status(self->name, &st));
		TH_LOG("retry after reading %zu records (journal_bytes %lu, "
		       "%d checkpoints before -EAGAIN): %s", self->j.n,
		       st.journal_bytes, round, strerror(-i));
		more = dmr_journal_drain(&self->j);
		i = dmr_checkpoint(self->ctl, n + 3, &ck);
		TH_LOG("second read got %zd more records, second retry: %s",
		       more, strerror(-i));
	}
	ASSERT_EQ(0, i);
	EXPECT_EQ(nio, ck.delivered);
	for (i = 0; i < nio; i++)
		EXPECT_TRUE(dmr_io_wait(&self->io[i], 10000));
	ASSERT_LE(0, dmr_journal_drain(&self->j));
	check_journal(_metadata, &self->j, &sum);
	EXPECT_EQ(issued, sum.completions);
	ASSERT_EQ(0, dmr_status(self->name, &st));
	EXPECT_EQ(issued, st.delivered);
	EXPECT_EQ(0, st.journal_lost);
}

/* Run cmd in the background; returns pid. */
static pid_t spawn_sh(const char *cmd)
{
	pid_t pid = fork();

	if (pid == 0) {
		dup2(2, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Wait for pid up to ms; returns exit status or -1 on timeout. */
static int wait_pid_ms(pid_t pid, int ms)
{
	uint64_t end = dmr_now_ms() + ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		if (dmr_now_ms() >= end)
			return -1;
		dmr_msleep(10);
	}
}

TEST_F_TIMEOUT(hold, suspend_releases_held, 120)
{
	char cmd[128];
	ssize_t k;
	pid_t pid;

	ASSERT_EQ(0, mkdev(_metadata, self, dmr_ram(0), NULL));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d));
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(0, dmr_io_start(&self->io[1], self->fd, DMR_IO_WRITE, 8192,
				  4096));
	ASSERT_EQ(2, dmr_wait_held(self->name, 2, 10000));
	snprintf(cmd, sizeof(cmd), "dmsetup suspend %s", self->name);
	pid = spawn_sh(cmd);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, wait_pid_ms(pid, 10000)) TH_LOG("dmsetup suspend hung");
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
	EXPECT_TRUE(dmr_io_wait(&self->io[1], 10000));
	EXPECT_EQ(4096, self->io[0].ret);
	EXPECT_EQ(4096, self->io[1].ret);
	ASSERT_LE(0, dmr_journal_drain(&self->j));
	k = last_ckpt(&self->j);
	ASSERT_LE(0, k);
	EXPECT_EQ(DM_REPLAY_CKPT_SUSPEND, self->j.r[k].ckpt.kind);
	EXPECT_EQ(2, le32toh(self->j.r[k].ckpt.nr_completions));
	ASSERT_EQ(k + 3, self->j.n);
	ASSERT_EQ(0, dmr_sh("dmsetup resume %s", self->name));
	/* Holding again after resume. */
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	EXPECT_FALSE(dmr_io_wait(&self->io[0], 300))
		TH_LOG("not holding after resume");
	ASSERT_EQ(1, dmr_wait_held(self->name, 1, 10000));
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 100, NULL));
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
	{
		struct dmr_jsum sum;

		ASSERT_LE(0, dmr_journal_drain(&self->j));
		check_journal(_metadata, &self->j, &sum);
		EXPECT_EQ(3, sum.completions);
		EXPECT_EQ(1, sum.kind[DM_REPLAY_CKPT_SUSPEND]);
	}
}

TEST_F_TIMEOUT(hold, reload_releases_held_and_writes_header, 120)
{
	char cmd[256];
	struct dmr_jsum sum;
	pid_t pid;

	ASSERT_EQ(0, mkdev(_metadata, self, dmr_ram(0), NULL));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d));
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(1, dmr_wait_held(self->name, 1, 10000));
	snprintf(cmd, sizeof(cmd),
		 "dmsetup reload %s --table '0 %llu replay %s 0 record' && "
		 "dmsetup resume %s", self->name, DMR_SECTORS, dmr_ram(0),
		 self->name);
	pid = spawn_sh(cmd);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, wait_pid_ms(pid, 10000)) TH_LOG("reload + resume hung/failed");
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
	ASSERT_LE(0, dmr_journal_drain(&self->j));
	check_journal(_metadata, &self->j, &sum);
	EXPECT_EQ(2, sum.headers) TH_LOG("no header for the reloaded table");
	EXPECT_EQ(1, sum.kind[DM_REPLAY_CKPT_SUSPEND]);
	EXPECT_EQ(1, sum.completions);
	/* Still attached after the reload (rst: "keeps it attached"). */
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	EXPECT_FALSE(dmr_io_wait(&self->io[0], 300));
	ASSERT_EQ(1, dmr_wait_held(self->name, 1, 10000));
	EXPECT_EQ(-EEXIST, dmr_attach(self->ctl, &self->d));
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 7, NULL));
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000));
}

TEST_F_TIMEOUT(hold, remove_force_releases_held, 120)
{
	char cmd[128], out[64];
	pid_t pid;
	int st;

	ASSERT_EQ(0, mkdev(_metadata, self, dmr_ram(0), NULL));
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(1, dmr_wait_held(self->name, 1, 10000));
	dmr_journal_close(&self->j);
	snprintf(cmd, sizeof(cmd), "dmsetup remove --force --retry %s",
		 self->name);
	pid = spawn_sh(cmd);
	ASSERT_LT(0, pid);
	EXPECT_TRUE(dmr_io_wait(&self->io[0], 10000))
		TH_LOG("held read not released by remove --force");
	EXPECT_EQ(4096, self->io[0].ret);
	close(self->fd);
	self->fd = -1;
	st = wait_pid_ms(pid, 20000);
	EXPECT_EQ(0, st) TH_LOG("dmsetup remove --force: %d", st);
	EXPECT_NE(0, dmr_sh_out(out, sizeof(out), "dmsetup info %s 2>/dev/null",
				self->name));
}

FIXTURE(lowerr) {
	FIXTURE_DATA(hold) h;
	const char *why;	/* skip reason found by setup */
};

FIXTURE_VARIANT(lowerr) {
	const char *table;	/* lower table, %s = ram device, %llu = len */
	enum dmr_io_kind kind;
};

FIXTURE_VARIANT_ADD(lowerr, flakey_read) {
	.table = "0 %llu flakey %s 0 0 1", .kind = DMR_IO_READ,
};

FIXTURE_VARIANT_ADD(lowerr, flakey_error_writes) {
	.table = "0 %llu flakey %s 0 0 1 1 error_writes", .kind = DMR_IO_WRITE,
};

FIXTURE_VARIANT_ADD(lowerr, error_target_read) {
	.table = "0 %llu error", .kind = DMR_IO_READ,
};

/*
 * Set up @h for a target over "dmrt_low", a dm device of @table (%llu:
 * its length, %s: a ramdisk).  *@why says why the tests must skip: a
 * missing prerequisite or dm-@lower_target.
 */
static void lower_setup(struct __test_metadata *_metadata,
			FIXTURE_DATA(hold) *h, const char **why,
			const char *lower_target, const char *table)
{
	static char missing[64];
	char line[256];
	struct stat sb;

	memset(h, 0, sizeof(*h));
	h->ctl = h->fd = h->fd2 = -1;
	h->j.fd = h->j2.fd = -1;
	*why = dmr_prereq_missing();
	if (*why)
		return;
	dmr_remove("dmrt_h");
	dmr_remove("dmrt_low");
	if (lower_target &&
	    dmr_sh("modprobe dm-%s 2>/dev/null || dmsetup targets | grep -q %s",
		   lower_target, lower_target)) {
		snprintf(missing, sizeof(missing), "dm-%s not available",
			 lower_target);
		*why = missing;
		return;
	}
	snprintf(h->name, sizeof(h->name), "dmrt_h");
	snprintf(line, sizeof(line), table, DMR_SECTORS, dmr_ram(1));
	ASSERT_EQ(0, dmr_sh("dmsetup create dmrt_low --table '%s' && "
			    "dmsetup mknodes dmrt_low", line));
	snprintf(h->lower_name, sizeof(h->lower_name), "dmrt_low");
	ASSERT_EQ(0, stat("/dev/mapper/dmrt_low", &sb));
	h->ctl = dmr_ctl_open();
	ASSERT_LE(0, h->ctl);
}

FIXTURE_SETUP(lowerr)
{
	lower_setup(_metadata, &self->h, &self->why,
		    strstr(variant->table, "flakey") ? "flakey" : NULL,
		    variant->table);
}

FIXTURE_TEARDOWN(lowerr)
{
	hold_teardown(_metadata, &self->h, NULL);
}

TEST_F_TIMEOUT(lowerr, lower_error_reaches_submitter, 120)
{
	FIXTURE_DATA(hold) *h = &self->h;
	struct dmr_status st;
	struct dmr_jsum sum;
	ssize_t c;

	if (self->why)
		SKIP(return, "%s", self->why);
	ASSERT_EQ(0, mkdev(_metadata, h, "/dev/mapper/dmrt_low", NULL));
	ASSERT_EQ(0, dmr_attach(h->ctl, &h->d));
	ASSERT_EQ(0, dmr_io_start(&h->io[0], h->fd, variant->kind, 4096, 4096));
	EXPECT_FALSE(dmr_io_wait(&h->io[0], 300))
		TH_LOG("a failed request must be held too");
	ASSERT_EQ(1, dmr_wait_held(h->name, 1, 10000));
	ASSERT_EQ(0, dmr_checkpoint(h->ctl, 1, NULL));
	ASSERT_TRUE(dmr_io_wait(&h->io[0], 10000));
	EXPECT_EQ(-1, h->io[0].ret);
	EXPECT_EQ(EIO, h->io[0].err);
	ASSERT_EQ(0, dmr_status(h->name, &st));
	EXPECT_EQ(1, st.lower_errors);
	ASSERT_LE(0, dmr_journal_drain(&h->j));
	check_journal(_metadata, &h->j, &sum);
	c = dmr_find(&h->j, 0, DM_REPLAY_REC_COMPLETION);
	ASSERT_LE(0, c);
	EXPECT_EQ(-EIO, (int32_t)le32toh(h->j.r[c].comp.status));
	EXPECT_EQ(variant->kind == DMR_IO_READ ? DM_REPLAY_OP_READ :
		  DM_REPLAY_OP_WRITE, h->j.r[c].comp.op);
	EXPECT_EQ(1, sum.errors);
}

/*
 * Tests over a dm-delay that parks each request for an hour: nothing comes
 * back until release_lower() suspends the lower device, whose presuspend
 * hands every parked request on.  So the test, not a timer, says how long
 * a request stays at the lower device, and a slow kernel (a debug one
 * under TCG) has all the time it needs between the requests it starts.
 */
#define PARK_MS		3600000
#define STR_(x)		#x
#define STR(x)		STR_(x)

FIXTURE(parked) {
	FIXTURE_DATA(hold) h;
	const char *why;	/* skip reason found by setup */
};

FIXTURE_SETUP(parked)
{
	lower_setup(_metadata, &self->h, &self->why, "delay",
		    "0 %llu delay %s 0 " STR(PARK_MS));
}

FIXTURE_TEARDOWN(parked)
{
	/* A test that stopped early leaves requests parked: hand them on. */
	if (self->h.lower_name[0])
		dmr_teardown_dev(self->h.lower_name);
	hold_teardown(_metadata, &self->h, NULL);
}

/* Hand every request parked at the lower device on; 0 on success. */
static int release_lower(FIXTURE_DATA(hold) *h)
{
	return dmr_sh("dmsetup suspend %s && dmsetup resume %s",
		      h->lower_name, h->lower_name);
}

/* Wait until @name has @n requests in flight; false if status fails. */
static bool wait_in_flight(const char *name, uint64_t n, int timeout_ms,
			   struct dmr_status *st)
{
	uint64_t end = dmr_now_ms() + timeout_ms;

	while (!dmr_status(name, st)) {
		if (st->in_flight >= n || dmr_now_ms() >= end)
			return true;
		dmr_msleep(5);
	}
	return false;
}

/*
 * The journal's times: lat_us is how long the lower device took, hold_us
 * how long the completion was held after that.  The test waits before
 * releasing the request for the first, and before checkpointing for the
 * second; timer slack only adds to either.
 */
#define PARK_WAIT_MS	1000
#define HOLD_WAIT_MS	300

TEST_F_TIMEOUT(parked, lower_latency_and_hold_time_journaled, 120)
{
	FIXTURE_DATA(hold) *h = &self->h;
	struct dmr_status st;
	struct dmr_jsum sum;
	uint32_t lat, hold;
	ssize_t c;

	if (self->why)
		SKIP(return, "%s", self->why);
	ASSERT_EQ(0, mkdev(_metadata, h, "/dev/mapper/dmrt_low", NULL));
	ASSERT_EQ(0, dmr_attach(h->ctl, &h->d));
	ASSERT_EQ(0, dmr_io_start(&h->io[0], h->fd, DMR_IO_READ, 4096, 4096));
	ASSERT_TRUE(wait_in_flight(h->name, 1, 10000, &st));
	ASSERT_EQ(1, st.in_flight);
	dmr_msleep(PARK_WAIT_MS);
	ASSERT_EQ(0, release_lower(h));
	ASSERT_EQ(1, dmr_wait_held(h->name, 1, 10000));
	dmr_msleep(HOLD_WAIT_MS);
	ASSERT_EQ(0, dmr_checkpoint(h->ctl, 1, NULL));
	ASSERT_TRUE(dmr_io_wait(&h->io[0], 10000));
	EXPECT_EQ(4096, h->io[0].ret);
	ASSERT_LE(0, dmr_journal_drain(&h->j));
	check_journal(_metadata, &h->j, &sum);
	c = dmr_find(&h->j, 0, DM_REPLAY_REC_COMPLETION);
	ASSERT_LE(0, c);
	lat = le32toh(h->j.r[c].comp.lat_us);
	hold = le32toh(h->j.r[c].comp.hold_us);
	/* The upper bounds catch a wrapped clock. */
	EXPECT_LE(PARK_WAIT_MS * 1000, lat);
	EXPECT_GT(60000000, lat);
	EXPECT_LE(HOLD_WAIT_MS * 1000, hold);
	EXPECT_GT(60000000, hold);
}

/*
 * Which requests count as overlaps: two that share a sector while both
 * are in flight, where one of them writes.  Each request stays parked at
 * dm-delay while the next one starts.
 */
TEST_F_TIMEOUT(parked, overlaps_counted_only_where_one_writes, 180)
{
	static const struct {
		enum dmr_io_kind kind;
		off_t off;
		size_t len;
		uint64_t overlaps;	/* the count once it is in flight */
		const char *what;
	} step[] = {
		{ DMR_IO_READ, 0, 4096, 0, "a read" },
		{ DMR_IO_READ, 0, 4096, 0, "a read over a read" },
		{ DMR_IO_WRITE, 8192, 4096, 0, "a write apart from both" },
		{ DMR_IO_WRITE, 0, 4096, 1, "a write over the reads" },
		{ DMR_IO_READ, 8192, 8192, 2, "a read over the first write" },
		{ DMR_IO_READ, 16384, 4096, 2, "a read apart from all" },
		{ DMR_IO_WRITE, 4096, 4096, 2, "a write between the others" },
		{ DMR_IO_WRITE, 4096, 4096, 3, "a write over that write" },
	};
	FIXTURE_DATA(hold) *h = &self->h;
	struct dmr_status st;
	uint64_t start;
	unsigned int i;

	if (self->why)
		SKIP(return, "%s", self->why);
	ASSERT_EQ(0, mkdev(_metadata, h, "/dev/mapper/dmrt_low", NULL));
	ASSERT_EQ(0, dmr_attach(h->ctl, &h->d));
	start = dmr_now_ms();
	for (i = 0; i < ARRAY_SIZE(step); i++) {
		ASSERT_EQ(0, dmr_io_start(&h->io[i], h->fd, step[i].kind,
					  step[i].off, step[i].len));
		ASSERT_TRUE(wait_in_flight(h->name, i + 1, 10000, &st));
		ASSERT_EQ(i + 1, st.in_flight)
			TH_LOG("step %u (%s) not in flight", i, step[i].what);
		EXPECT_EQ(step[i].overlaps, st.overlaps)
			TH_LOG("step %u: %s", i, step[i].what);
	}
	TH_LOG("%u steps in %llu ms", i,
	       (unsigned long long)(dmr_now_ms() - start));
	/* None is held before the lower device hands them all on. */
	ASSERT_EQ(0, dmr_status(h->name, &st));
	ASSERT_EQ(0, st.held);
	ASSERT_EQ(0, release_lower(h));
	ASSERT_EQ(i, dmr_wait_held(h->name, i, 10000));
	ASSERT_EQ(0, dmr_checkpoint(h->ctl, 1, NULL));
	for (i = 0; i < ARRAY_SIZE(step); i++) {
		ASSERT_TRUE(dmr_io_wait(&h->io[i], 10000));
		EXPECT_EQ((ssize_t)step[i].len, h->io[i].ret);
	}
}

/*
 * A checkpoint delivers and journals in id order, whatever order the
 * lower device ended the requests in.  Here dm-delay parks reads only,
 * so a write started after a read ends before it.
 */
TEST_F_TIMEOUT(parked, delivered_in_id_order_not_end_order, 120)
{
	FIXTURE_DATA(hold) *h = &self->h;
	const struct dm_replay_rec_completion *c[2];
	struct dm_replay_checkpoint ck;
	struct dmr_status st;
	struct dmr_jsum sum;
	ssize_t i, k;

	if (self->why)
		SKIP(return, "%s", self->why);
	ASSERT_EQ(0, dmr_sh("dmsetup reload %s --table '0 %llu delay %s 0 "
			    STR(PARK_MS) " %s 0 0' && dmsetup resume %s",
			    h->lower_name, DMR_SECTORS, dmr_ram(1),
			    dmr_ram(1), h->lower_name));
	ASSERT_EQ(0, mkdev(_metadata, h, "/dev/mapper/dmrt_low", NULL));
	ASSERT_EQ(0, dmr_attach(h->ctl, &h->d));
	ASSERT_EQ(0, dmr_io_start(&h->io[0], h->fd, DMR_IO_READ, 0, 4096));
	ASSERT_TRUE(wait_in_flight(h->name, 1, 10000, &st));
	ASSERT_EQ(1, st.in_flight);
	ASSERT_EQ(0, dmr_io_start(&h->io[1], h->fd, DMR_IO_WRITE, 8192, 4096));
	ASSERT_EQ(1, dmr_wait_held(h->name, 1, 10000));
	ASSERT_EQ(0, release_lower(h));
	ASSERT_EQ(2, dmr_wait_held(h->name, 2, 10000));
	ASSERT_EQ(0, dmr_checkpoint(h->ctl, 1, &ck));
	EXPECT_EQ(2, ck.delivered);
	for (i = 0; i < 2; i++) {
		ASSERT_TRUE(dmr_io_wait(&h->io[i], 10000));
		EXPECT_EQ(4096, h->io[i].ret);
	}
	ASSERT_LE(0, dmr_journal_drain(&h->j));
	check_journal(_metadata, &h->j, &sum);
	for (i = 0, k = -1; i < 2; i++) {
		k = dmr_find(&h->j, k + 1, DM_REPLAY_REC_COMPLETION);
		ASSERT_LE(0, k);
		c[i] = &h->j.r[k].comp;
	}
	/* The write ended first at the lower device... */
	EXPECT_EQ(DM_REPLAY_OP_WRITE, c[1]->op);
	EXPECT_GT(le64toh(c[0]->lower_seq), le64toh(c[1]->lower_seq));
	/* ...and the read, which has the lower id, is journaled first. */
	EXPECT_EQ(DM_REPLAY_OP_READ, c[0]->op);
	EXPECT_LT(le64toh(c[0]->id), le64toh(c[1]->id));
}

/* Two devices in one session share the id space. */
TEST_F_TIMEOUT(hold, two_devices_one_session_share_ids, 180)
{
	struct dm_replay_checkpoint ck;
	struct dmr_jsum s1, s2;
	uint64_t ids[8] = { 0 };
	int i, devs[8];
	ssize_t k;

	ASSERT_EQ(0, mkdev(_metadata, self, dmr_ram(0), NULL));
	snprintf(self->name2, sizeof(self->name2), "dmrt_h2");
	ASSERT_EQ(0, dmr_create(&self->d2, self->name2, dmr_ram(1),
				DMR_SECTORS, "record", NULL));
	self->fd2 = open(self->d2.path, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, self->fd2);
	ASSERT_EQ(0, dmr_journal_open(&self->j2, self->d2.jpath));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d2));
	/* Submit one at a time, alternating in a fixed irregular pattern. */
	for (i = 0; i < 8; i++) {
		int dev = (0x5a >> i) & 1;
		int before = 0, j;

		for (j = 0; j < i; j++)
			before += devs[j] == dev;
		devs[i] = dev;
		ASSERT_EQ(0, dmr_io_start(&self->io[i], dev ? self->fd2 : self->fd,
					  DMR_IO_READ, (off_t)i * 4096, 4096));
		ASSERT_EQ(before + 1, dmr_wait_held(dev ? self->name2 : self->name,
						    before + 1, 5000));
	}
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 1, &ck));
	EXPECT_EQ(8, ck.delivered);
	for (i = 0; i < 8; i++)
		ASSERT_TRUE(dmr_io_wait(&self->io[i], 10000));
	ASSERT_LE(0, dmr_journal_drain(&self->j));
	ASSERT_LE(0, dmr_journal_drain(&self->j2));
	check_journal(_metadata, &self->j, &s1);
	check_journal(_metadata, &self->j2, &s2);
	EXPECT_EQ(8, s1.completions + s2.completions);
	for (k = 0; k < (ssize_t)self->j.n; k++)
		if (self->j.r[k].type == DM_REPLAY_REC_COMPLETION &&
		    le64toh(self->j.r[k].comp.sector) / 8 < 8)
			ids[le64toh(self->j.r[k].comp.sector) / 8] =
				le64toh(self->j.r[k].comp.id);
	for (k = 0; k < (ssize_t)self->j2.n; k++)
		if (self->j2.r[k].type == DM_REPLAY_REC_COMPLETION &&
		    le64toh(self->j2.r[k].comp.sector) / 8 < 8)
			ids[le64toh(self->j2.r[k].comp.sector) / 8] =
				le64toh(self->j2.r[k].comp.id);
	for (i = 1; i < 8; i++)
		EXPECT_LT(ids[i - 1], ids[i])
			TH_LOG("id of request %d not after the one before", i);
	/* Both journals name the same checkpoint. */
	k = dmr_find(&self->j2, 0, DM_REPLAY_REC_CHECKPOINT);
	ASSERT_LE(0, k);
	EXPECT_EQ(1, le64toh(self->j2.r[k].ckpt.checkpoint));
	k = dmr_find(&self->j, 0, DM_REPLAY_REC_CHECKPOINT);
	ASSERT_LE(0, k);
	EXPECT_EQ(1, le64toh(self->j.r[k].ckpt.checkpoint));
}

/* One dm device with two replay targets: two journals, dm-N and dm-N@start. */
TEST_F_TIMEOUT(hold, two_targets_one_table, 120)
{
	char jp2[300];
	struct dm_replay_checkpoint ck;
	struct dmr_jsum s1, s2;
	ssize_t c;
	unsigned long long half = DMR_SECTORS / 2;

	ASSERT_EQ(0, dmr_sh("printf '0 %llu replay %s 0 record\\n%llu %llu replay %s 0 record\\n' | "
			    "dmsetup create %s", half, dmr_ram(0), half, half,
			    dmr_ram(1), self->name));
	ASSERT_EQ(0, dmr_lookup(&self->d, self->name));
	self->fd = open(self->d.path, O_RDWR | O_DIRECT | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, dmr_journal_open(&self->j, self->d.jpath));
	snprintf(jp2, sizeof(jp2), DMR_DEBUGFS "/%s@%llu/journal",
		 self->d.kname, half);
	ASSERT_EQ(0, dmr_journal_open(&self->j2, jp2));
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->d));
	ASSERT_EQ(0, dmr_io_start(&self->io[0], self->fd, DMR_IO_READ, 0, 4096));
	ASSERT_EQ(0, dmr_io_start(&self->io[1], self->fd, DMR_IO_READ,
				  half * 512 + 4096, 4096));
	dmr_msleep(300);
	EXPECT_FALSE(__atomic_load_n(&self->io[0].done, __ATOMIC_ACQUIRE));
	EXPECT_FALSE(__atomic_load_n(&self->io[1].done, __ATOMIC_ACQUIRE));
	ASSERT_EQ(0, dmr_checkpoint(self->ctl, 1, &ck));
	EXPECT_EQ(2, ck.delivered);
	ASSERT_TRUE(dmr_io_wait(&self->io[0], 10000));
	ASSERT_TRUE(dmr_io_wait(&self->io[1], 10000));
	ASSERT_LE(0, dmr_journal_drain(&self->j));
	ASSERT_LE(0, dmr_journal_drain(&self->j2));
	check_journal(_metadata, &self->j, &s1);
	check_journal(_metadata, &self->j2, &s2);
	EXPECT_EQ(1, s1.completions);
	EXPECT_EQ(1, s2.completions);
	c = dmr_find(&self->j2, 0, DM_REPLAY_REC_COMPLETION);
	ASSERT_LE(0, c);
	EXPECT_EQ(half + 8, le64toh(self->j2.r[c].comp.sector));
	EXPECT_EQ(half, le64toh(self->j2.r[0].hdr.target_sectors));
}

DMR_HARNESS_MAIN
