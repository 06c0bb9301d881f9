// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input to the control device, beyond control_test: every ioctl with
 * wrong sizes, directions, types and numbers, bad pointers in and inside
 * the arguments, reserved bits and fields, out-of-range device numbers,
 * expect records that name nothing, replay checkpoints too large for the
 * journal, too many attached devices, the dm-replay ioctls on other files
 * and other files' ioctls on it, read/write/seek/mmap, and a session
 * used without CAP_SYS_ADMIN.  Each must fail with its own errno (see
 * dm-replay.rst) and leave the session usable.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "dmr_fixture.h"

/* errno of ioctl(fd, cmd, arg), 0 on success */
static int ioc(int fd, unsigned long cmd, void *arg)
{
	errno = 0;
	return ioctl(fd, cmd, arg) ? errno : 0;
}

FIXTURE(bad) {
	struct dmr_dev rec, rep;
	int ctl;
	struct dm_replay_version v;
};

FIXTURE_SETUP(bad)
{
	const char *why = dmr_prereq_missing();

	self->ctl = -1;
	if (why)
		SKIP(return, "%s", why);
	dmr_remove("dmrb_rec");
	dmr_remove("dmrb_rep");
	ASSERT_EQ(0, dmr_create(&self->rec, "dmrb_rec", dmr_ram(0),
				DMR_SECTORS, "record", NULL));
	ASSERT_EQ(0, dmr_create(&self->rep, "dmrb_rep", dmr_ram(1),
				DMR_SECTORS, "replay",
				"4 subbuf_size 4096 n_subbufs 2"));
	self->ctl = dmr_ctl_open();
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(0, ioc(self->ctl, DM_REPLAY_IOC_VERSION, &self->v));
}

FIXTURE_TEARDOWN(bad)
{
	if (self->ctl >= 0)
		close(self->ctl);
	dmr_teardown_dev("dmrb_rec");
	dmr_teardown_dev("dmrb_rep");
	dmr_remove("dmrb_rec");
	dmr_remove("dmrb_rep");
}

/* Commands that are not ours, in every way one can get them wrong. */
TEST_F(bad, wrong_commands_enotty)
{
	static const struct {
		unsigned long cmd;
		const char *what;
	} cmds[] = {
		{ _IOR(DM_REPLAY_IOCTL_TYPE, 0, __u32), "VERSION, size 4" },
		{ _IOW(DM_REPLAY_IOCTL_TYPE, 0, struct dm_replay_version), "VERSION, write" },
		{ _IOWR(DM_REPLAY_IOCTL_TYPE, 0, struct dm_replay_version), "VERSION, rw" },
		{ _IO(DM_REPLAY_IOCTL_TYPE, 0), "VERSION, no data" },
		{ _IOW(DM_REPLAY_IOCTL_TYPE, 1, __u64[2]), "ATTACH, size 16" },
		{ _IOR(DM_REPLAY_IOCTL_TYPE, 1, struct dm_replay_dev), "ATTACH, read" },
		{ _IOW(DM_REPLAY_IOCTL_TYPE, 2, __u32), "DETACH, size 4" },
		{ _IOW(DM_REPLAY_IOCTL_TYPE, 3, struct dm_replay_checkpoint), "CHECKPOINT, write only" },
		{ _IOWR(DM_REPLAY_IOCTL_TYPE, 3, char[sizeof(struct dm_replay_checkpoint) - 8]), "CHECKPOINT, short" },
		{ _IOWR(DM_REPLAY_IOCTL_TYPE, 3, char[sizeof(struct dm_replay_checkpoint) + 8]), "CHECKPOINT, long" },
		{ _IOW(DM_REPLAY_IOCTL_TYPE, 4, __u32), "SET_NEXT_ID, size 4" },
		{ _IOWR(DM_REPLAY_IOCTL_TYPE, 4, struct dm_replay_next_id), "SET_NEXT_ID, rw" },
		{ _IO(DM_REPLAY_IOCTL_TYPE, 5), "number 5" },
		{ _IOWR(DM_REPLAY_IOCTL_TYPE, 255, __u64), "number 255" },
		{ _IOR(DM_REPLAY_IOCTL_TYPE + 1, 0, struct dm_replay_version), "other type" },
		{ _IOR(0, 0, struct dm_replay_version), "type 0" },
		{ BLKGETSIZE64, "BLKGETSIZE64" },
		{ FIONREAD, "FIONREAD" },
		{ 0, "0" },
		{ ~0UL, "~0" },
	};
	__u64 buf[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(ENOTTY, ioc(self->ctl, cmds[i].cmd, buf))
			TH_LOG("%s (%#lx)", cmds[i].what, cmds[i].cmd);
	}
	/* The session still works. */
	EXPECT_EQ(0, dmr_attach(self->ctl, &self->rec));
}

TEST_F(bad, bad_pointers_efault)
{
	void *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *ro = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *bad[] = { NULL, (void *)1, (void *)0xffff800000000000ULL,
			(void *)~0UL, NULL };
	struct dm_replay_checkpoint *ck, *stale;
	struct dm_replay_dev *d;
	unsigned int i;

	ASSERT_NE(MAP_FAILED, page);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_EQ(0, munmap((char *)page + 4096, 4096));
	/*
	 * Valid checkpoints 1 and 2, in memory the kernel may not write:
	 * the first with a stale result, the second with its out fields 0.
	 */
	stale = ro;
	stale->checkpoint = 1;
	stale->delivered = 1;
	stale[1].checkpoint = 2;
	ASSERT_EQ(0, mprotect(ro, 4096, PROT_READ));
	/* Straddling the end of the mapping. */
	bad[4] = (char *)page + 4096 - 4;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(EFAULT, ioc(self->ctl, DM_REPLAY_IOC_VERSION, bad[i])) TH_LOG("%p", bad[i]);
		EXPECT_EQ(EFAULT, ioc(self->ctl, DM_REPLAY_IOC_ATTACH, bad[i])) TH_LOG("%p", bad[i]);
		EXPECT_EQ(EFAULT, ioc(self->ctl, DM_REPLAY_IOC_DETACH, bad[i])) TH_LOG("%p", bad[i]);
		EXPECT_EQ(EFAULT, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, bad[i])) TH_LOG("%p", bad[i]);
		EXPECT_EQ(EFAULT, ioc(self->ctl, DM_REPLAY_IOC_SET_NEXT_ID, bad[i])) TH_LOG("%p", bad[i]);
	}
	/* Output to read-only memory. */
	EXPECT_EQ(EFAULT, ioc(self->ctl, DM_REPLAY_IOC_VERSION, ro));
	/*
	 * A checkpoint whose result cannot be written back.  An empty one
	 * whose output fields already hold its result (0) writes nothing.
	 */
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->rec));
	EXPECT_EQ(EFAULT, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, stale));
	EXPECT_EQ(0, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, stale + 1));
	/* Records pointer inside the argument. */
	ck = page;
	memset(ck, 0, sizeof(*ck));
	ck->checkpoint = 1000;
	ck->nr_records = 1;
	ck->records = 16;
	EXPECT_EQ(EFAULT, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, ck));
	ck->records = 0;
	EXPECT_EQ(EFAULT, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, ck));
	/* The array runs into the unmapped page. */
	ck->records = (uintptr_t)page + 4096 - sizeof(struct dm_replay_expect) / 2;
	EXPECT_EQ(EFAULT, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, ck));
	ck->nr_records = 3;
	ck->records = (uintptr_t)page + 4096 - 2 * sizeof(struct dm_replay_expect);
	EXPECT_EQ(EFAULT, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, ck));
	/* Device argument at the end of the mapping (fits exactly). */
	d = (void *)((char *)page + 4096 - sizeof(*d));
	d->major = self->rec.major;
	d->minor = self->rec.minor;
	EXPECT_EQ(0, ioc(self->ctl, DM_REPLAY_IOC_DETACH, d));
	munmap(page, 4096);
	munmap(ro, 4096);
}

TEST_F(bad, checkpoint_bad_fields_einval)
{
	struct dm_replay_checkpoint ck;

	ASSERT_EQ(0, dmr_attach(self->ctl, &self->rec));
	memset(&ck, 0, sizeof(ck));
	ck.checkpoint = 10;
	ck.flags = 1U << 3;
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck)) TH_LOG("flags bit 3");
	ck.flags = 1U << 31;
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck)) TH_LOG("flags bit 31");
	ck.flags = 0;
	ck.reserved = 1;
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck)) TH_LOG("reserved");
	ck.reserved = 0;
	ck.nr_records = self->v.max_expect + 1;
	EXPECT_EQ(E2BIG, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck)) TH_LOG("max_expect + 1");
	ck.nr_records = ~0U;
	EXPECT_EQ(E2BIG, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck)) TH_LOG("~0 records");
	/* None of those took the number: 10 still works, 0 never. */
	memset(&ck, 0, sizeof(ck));
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck)) TH_LOG("checkpoint 0");
	ck.checkpoint = 10;
	EXPECT_EQ(0, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	ck.checkpoint = ~0ULL;
	EXPECT_EQ(0, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck)) TH_LOG("after ~0");
}

TEST_F(bad, attach_bad_devices)
{
	struct dm_replay_dev d;
	struct stat st;

	d.major = 1U << 12;	/* MAJOR is 12 bits */
	d.minor = self->rec.minor;
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_ATTACH, &d));
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_DETACH, &d));
	d.major = self->rec.major;
	d.minor = 1U << 20;	/* MINOR is 20 bits */
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_ATTACH, &d));
	d.major = ~0U;
	d.minor = ~0U;
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_ATTACH, &d));
	d.major = 0;
	d.minor = 0;
	EXPECT_EQ(ENODEV, ioc(self->ctl, DM_REPLAY_IOC_ATTACH, &d));
	EXPECT_EQ(ENOENT, ioc(self->ctl, DM_REPLAY_IOC_DETACH, &d));
	/* A block device that is not a dm device. */
	ASSERT_EQ(0, stat(dmr_ram(2), &st));
	d.major = major(st.st_rdev);
	d.minor = minor(st.st_rdev);
	EXPECT_EQ(ENODEV, ioc(self->ctl, DM_REPLAY_IOC_ATTACH, &d));
	/* The control device's own number. */
	ASSERT_EQ(0, stat(DMR_CTL_PATH, &st));
	d.major = major(st.st_rdev);
	d.minor = minor(st.st_rdev);
	EXPECT_EQ(ENODEV, ioc(self->ctl, DM_REPLAY_IOC_ATTACH, &d));
	/* Right minor, wrong major. */
	d.major = self->rec.major + 1;
	d.minor = self->rec.minor;
	EXPECT_EQ(ENODEV, ioc(self->ctl, DM_REPLAY_IOC_ATTACH, &d));
	EXPECT_EQ(0, dmr_attach(self->ctl, &self->rec));
}

static void expect_for(struct dm_replay_expect *e, const struct dmr_dev *d,
		       __u64 id)
{
	memset(e, 0, sizeof(*e));
	e->dev.major = d->major;
	e->dev.minor = d->minor;
	e->rec.comp.type = DM_REPLAY_REC_COMPLETION;
	e->rec.comp.op = DM_REPLAY_OP_READ;
	e->rec.comp.id = htole64(id);
	e->rec.comp.sector = htole64(8 * id);
	e->rec.comp.nr_sectors = htole32(8);
}

TEST_F(bad, expect_names_nothing_einval)
{
	struct dm_replay_checkpoint ck;
	struct dm_replay_expect e[2];

	/* Record-only session: an expect list has no replay target. */
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->rec));
	expect_for(&e[0], &self->rec, 1);
	memset(&ck, 0, sizeof(ck));
	ck.checkpoint = 1;
	ck.records = (uintptr_t)e;
	ck.nr_records = 1;
	ck.flags = DM_REPLAY_CKPT_F_NOWAIT;
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	EXPECT_EQ(DM_REPLAY_DIV_NODEV, ck.first.kind);
	EXPECT_EQ(0, ck.delivered);

	/* Replay target attached, but the expect names the record one. */
	ASSERT_EQ(0, dmr_attach(self->ctl, &self->rep));
	memset(&ck, 0, sizeof(ck));
	ck.checkpoint = 2;
	ck.records = (uintptr_t)e;
	ck.nr_records = 1;
	ck.flags = DM_REPLAY_CKPT_F_NOWAIT;
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	EXPECT_EQ(DM_REPLAY_DIV_NODEV, ck.first.kind);
	EXPECT_EQ(0, ck.first.index);

	/* A record that is not a completion. */
	expect_for(&e[0], &self->rep, 1);
	expect_for(&e[1], &self->rep, 2);
	e[1].rec.type = DM_REPLAY_REC_HEADER;
	memset(&ck, 0, sizeof(ck));
	ck.checkpoint = 3;
	ck.records = (uintptr_t)e;
	ck.nr_records = 2;
	ck.flags = DM_REPLAY_CKPT_F_NOWAIT;
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	EXPECT_EQ(1, ck.first.index);
	e[1].rec.type = 0x7f;
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));

	/* Nothing was submitted: a missing request times out at once. */
	memset(&ck, 0, sizeof(ck));
	ck.checkpoint = 4;
	ck.records = (uintptr_t)e;
	ck.nr_records = 1;
	ck.flags = DM_REPLAY_CKPT_F_NOWAIT;
	EXPECT_EQ(ETIMEDOUT, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	EXPECT_EQ(1, ck.missing);
	EXPECT_EQ(DM_REPLAY_DIV_MISSING, ck.first.kind);
	ck.checkpoint = 5;
	ck.flags = 0;
	ck.timeout_ms = 1;
	EXPECT_EQ(ETIMEDOUT, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	/* It delivered nothing: the same number may be tried again. */
	EXPECT_EQ(ETIMEDOUT, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	/* An empty list delivers nothing and succeeds, then 5 is used. */
	ck.nr_records = 0;
	EXPECT_EQ(0, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	EXPECT_EQ(EINVAL, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
}

TEST_F(bad, replay_checkpoint_too_large_enospc)
{
	struct dm_replay_checkpoint ck;
	struct dm_replay_expect *e;
	unsigned int i, n = 200;	/* the tiny journal takes 56 */

	ASSERT_EQ(0, dmr_attach(self->ctl, &self->rep));
	e = calloc(n, sizeof(*e));
	ASSERT_NE(NULL, e);
	for (i = 0; i < n; i++)
		expect_for(&e[i], &self->rep, i + 1);
	memset(&ck, 0, sizeof(ck));
	ck.checkpoint = 1;
	ck.records = (uintptr_t)e;
	ck.nr_records = n;
	ck.flags = DM_REPLAY_CKPT_F_NOWAIT;
	EXPECT_EQ(ENOSPC, ioc(self->ctl, DM_REPLAY_IOC_CHECKPOINT, &ck));
	free(e);
}

TEST_F_TIMEOUT(bad, attach_too_many_enospc, 300)
{
	unsigned int i, n = self->v.max_attach + 1;
	struct dmr_dev *d = calloc(n, sizeof(*d));
	char name[32];
	int r;

	ASSERT_NE(NULL, d);
	ASSERT_GE(64, n);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "dmrb_m%u", i);
		dmr_remove(name);
		ASSERT_EQ(0, dmr_sh("dmsetup create %s --table '0 64 replay %s %u record 4 subbuf_size 4096 n_subbufs 2'",
				    name, dmr_ram(2), i * 64));
		ASSERT_EQ(0, dmr_lookup(&d[i], name));
	}
	for (i = 0; i < n; i++) {
		r = dmr_attach(self->ctl, &d[i]);
		if (i < self->v.max_attach) {
			EXPECT_EQ(0, r) TH_LOG("attach %u: %s", i, strerror(-r));
		} else {
			EXPECT_EQ(-ENOSPC, r);
		}
	}
	/* Detaching one makes room. */
	EXPECT_EQ(0, dmr_detach(self->ctl, &d[0]));
	EXPECT_EQ(0, dmr_attach(self->ctl, &d[n - 1]));
	EXPECT_EQ(-ENOSPC, dmr_attach(self->ctl, &d[0]));
	/* Removing an attached device makes room too. */
	snprintf(name, sizeof(name), "dmrb_m%u", 1);
	EXPECT_EQ(0, dmr_remove(name));
	EXPECT_EQ(0, dmr_attach(self->ctl, &d[0]));
	close(self->ctl);
	self->ctl = -1;
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "dmrb_m%u", i);
		EXPECT_EQ(0, dmr_remove(name));
	}
	free(d);
}

/* Our ioctls on other files, and the control file's other operations. */
TEST_F(bad, wrong_files_and_ops)
{
	struct dm_replay_version v;
	char buf[64];
	int fd;

	fd = open(self->rec.path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(ENOTTY, ioc(fd, DM_REPLAY_IOC_VERSION, &v)) TH_LOG("dm-replay block device");
	close(fd);
	fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	/* dm core's own answer (EINVAL in 6.1); it must not succeed */
	EXPECT_NE(0, ioc(fd, DM_REPLAY_IOC_VERSION, &v)) TH_LOG("dm control");
	close(fd);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(ENOTTY, ioc(fd, DM_REPLAY_IOC_VERSION, &v)) TH_LOG("/dev/null");
	close(fd);

	errno = 0;
	EXPECT_EQ(-1, read(self->ctl, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno) TH_LOG("read");
	errno = 0;
	EXPECT_EQ(-1, write(self->ctl, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno) TH_LOG("write");
	errno = 0;
	EXPECT_EQ(-1, lseek(self->ctl, 0, SEEK_SET));
	EXPECT_EQ(ESPIPE, errno) TH_LOG("lseek");
	errno = 0;
	EXPECT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->ctl, 0));
	EXPECT_EQ(ENODEV, errno) TH_LOG("mmap");
	/* Read-only and write-only opens are sessions like any other. */
	fd = open(DMR_CTL_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ioc(fd, DM_REPLAY_IOC_VERSION, &v));
	EXPECT_EQ(0, dmr_attach(fd, &self->rec));
	EXPECT_EQ(-EBUSY, dmr_attach(self->ctl, &self->rec));
	close(fd);
	EXPECT_EQ(0, dmr_attach(self->ctl, &self->rec));
}

static int child_no_cap(int ctl)
{
	struct dm_replay_next_id nid = { 5 };
	int fail = 0;

	if (dmr_drop_sys_admin())
		return 100;
	/* The session's own ioctls need only the file; errors stay errors. */
	if (ioc(ctl, DM_REPLAY_IOC_DETACH, NULL) != EFAULT)
		fail |= 1;
	if (ioc(ctl, DM_REPLAY_IOC_SET_NEXT_ID, &nid) != EPERM)
		fail |= 2;
	if (ioc(ctl, _IO(DM_REPLAY_IOCTL_TYPE, 77), NULL) != ENOTTY)
		fail |= 4;
	if (ioc(ctl, DM_REPLAY_IOC_CHECKPOINT, (void *)16) != EFAULT)
		fail |= 8;
	/* A new session without the capability: open fails. */
	{
		int fd = open(DMR_CTL_PATH, O_RDWR);

		if (fd >= 0 || errno != EPERM)
			fail |= 16;
		if (fd >= 0)
			close(fd);
	}
	return fail;
}

TEST_F(bad, no_cap_sys_admin)
{
	pid_t pid;
	int st;

	ASSERT_EQ(0, dmr_attach(self->ctl, &self->rec));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_no_cap(self->ctl));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_NE(100, WEXITSTATUS(st)) TH_LOG("capset failed");
	EXPECT_EQ(0, WEXITSTATUS(st))
		TH_LOG("wrong errno without CAP_SYS_ADMIN: mask %#x (1 DETACH bad ptr not EFAULT, 2 SET_NEXT_ID not EPERM, 4 unknown not ENOTTY, 8 CHECKPOINT bad ptr not EFAULT, 16 open not EPERM)",
		       WEXITSTATUS(st));
	/* Nothing changed: still attached here. */
	EXPECT_EQ(-EEXIST, dmr_attach(self->ctl, &self->rec));
}

TEST_HARNESS_MAIN
