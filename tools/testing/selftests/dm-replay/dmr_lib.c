// SPDX-License-Identifier: GPL-2.0
/* Shared helpers for the dm-replay selftests; see dmr_lib.h. */
#include "dmr_lib.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

uint64_t dmr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dmr_msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int run_cmd(const char *cmd, char *out, size_t len)
{
	FILE *p;
	size_t got = 0;
	int st;

	if (!out) {
		char *full;

		if (asprintf(&full, "exec 1>&2; %s", cmd) < 0)
			return -1;
		st = system(full);
		free(full);
		return st == -1 ? -1 : (WIFEXITED(st) ? WEXITSTATUS(st) : 128);
	}
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (len)
		out[0] = 0;
	while (len && got < len - 1) {
		size_t n = fread(out + got, 1, len - 1 - got, p);

		if (!n)
			break;
		got += n;
	}
	if (len)
		out[got] = 0;
	/* drain the rest */
	{
		char sink[256];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return st == -1 ? -1 : (WIFEXITED(st) ? WEXITSTATUS(st) : 128);
}

int dmr_sh(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	r = run_cmd(cmd, NULL, 0);
	free(cmd);
	return r;
}

int dmr_sh_out(char *out, size_t len, const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	r = run_cmd(cmd, out, len);
	free(cmd);
	return r;
}

uint64_t dmr_dev_sectors(const char *path)
{
	uint64_t bytes = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return 0;
	if (ioctl(fd, BLKGETSIZE64, &bytes))
		bytes = 0;
	close(fd);
	return bytes >> 9;
}

int dmr_lookup(struct dmr_dev *d, const char *name)
{
	char link[256], target[256];
	struct stat st;
	ssize_t n;

	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->path, sizeof(d->path), "/dev/mapper/%s", name);
	dmr_sh("dmsetup mknodes %s", name);
	if (stat(d->path, &st) || !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "dmr_lookup: %s: not a block device\n",
			d->path);
		return -1;
	}
	d->major = major(st.st_rdev);
	d->minor = minor(st.st_rdev);
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", d->major,
		 d->minor);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0) {
		fprintf(stderr, "dmr_lookup: readlink %s: %s\n", link,
			strerror(errno));
		return -1;
	}
	target[n] = 0;
	snprintf(d->kname, sizeof(d->kname), "%s", basename(target));
	snprintf(d->jpath, sizeof(d->jpath), DMR_DEBUGFS "/%s/journal",
		 d->kname);
	return 0;
}

int dmr_create(struct dmr_dev *d, const char *name, const char *lower,
	       uint64_t sectors, const char *mode, const char *features)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->lower, sizeof(d->lower), "%s", lower);
	if (!sectors)
		sectors = dmr_dev_sectors(lower);
	if (!sectors) {
		fprintf(stderr, "dmr_create: cannot size %s\n", lower);
		return -1;
	}
	d->sectors = sectors;
	if (dmr_sh("dmsetup create %s --table '0 %llu replay %s 0 %s %s'",
		   name, (unsigned long long)sectors, lower, mode,
		   features ? features : "")) {
		fprintf(stderr, "dmr_create: dmsetup create %s failed\n",
			name);
		return -1;
	}
	return dmr_lookup(d, name);
}

int dmr_remove(const char *name)
{
	char out[64];
	int i;

	for (i = 0; i < 50; i++) {
		if (dmr_sh_out(out, sizeof(out), "dmsetup info %s 2>/dev/null",
			       name))
			return 0;	/* gone */
		if (!dmr_sh("dmsetup remove %s 2>/dev/null", name))
			return 0;
		dmr_msleep(100);
	}
	fprintf(stderr, "dmr_remove: cannot remove %s\n", name);
	return -1;
}

int dmr_status(const char *name, struct dmr_status *st)
{
	char out[1024];
	unsigned long long start, len;
	int n;

	memset(st, 0, sizeof(*st));
	if (dmr_sh_out(out, sizeof(out), "dmsetup status %s", name))
		return -1;
	n = sscanf(out, "%llu %llu replay %15s %lu %lu %lu %lu %lu %lu %lu "
		   "%lu %lu %lu %lu %lu %lu %lu %lu %lu %lu",
		   &start, &len, st->mode, &st->ids_issued, &st->in_flight,
		   &st->held, &st->delivered, &st->checkpoints,
		   &st->journal_bytes, &st->journal_full, &st->journal_lost,
		   &st->lower_errors, &st->overlaps, &st->reordered,
		   &st->div_missing, &st->div_shape, &st->div_status,
		   &st->div_data, &st->last_checkpoint, &st->by_worker);
	if (n != 20) {
		fprintf(stderr, "dmr_status: %s: unparsable status '%s'\n",
			name, out);
		return -1;
	}
	return 0;
}

uint64_t dmr_wait_held(const char *name, uint64_t n, int timeout_ms)
{
	uint64_t end = dmr_now_ms() + timeout_ms;
	struct dmr_status st;

	for (;;) {
		if (dmr_status(name, &st))
			return 0;
		if (st.held >= n || dmr_now_ms() >= end)
			return st.held;
		dmr_msleep(20);
	}
}

int dmr_msg_checkpoint(const char *name, uint64_t n)
{
	if (n)
		return dmr_sh("dmsetup message %s 0 checkpoint %llu", name,
			      (unsigned long long)n);
	return dmr_sh("dmsetup message %s 0 checkpoint", name);
}

int dmr_ctl_open(void)
{
	int fd = open(DMR_CTL_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int dmr_attach(int ctl, const struct dmr_dev *d)
{
	struct dm_replay_dev dev = { .major = d->major, .minor = d->minor };

	return ioctl(ctl, DM_REPLAY_IOC_ATTACH, &dev) ? -errno : 0;
}

int dmr_detach(int ctl, const struct dmr_dev *d)
{
	struct dm_replay_dev dev = { .major = d->major, .minor = d->minor };

	return ioctl(ctl, DM_REPLAY_IOC_DETACH, &dev) ? -errno : 0;
}

int dmr_checkpoint(int ctl, uint64_t n, struct dm_replay_checkpoint *out)
{
	struct dm_replay_checkpoint ck;
	int r;

	memset(&ck, 0, sizeof(ck));
	ck.checkpoint = n;
	r = ioctl(ctl, DM_REPLAY_IOC_CHECKPOINT, &ck) ? -errno : 0;
	if (out)
		*out = ck;
	return r;
}

int dmr_journal_open(struct dmr_journal *j, const char *path)
{
	memset(j, 0, sizeof(*j));
	j->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (j->fd < 0) {
		fprintf(stderr, "dmr_journal_open: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int journal_push(struct dmr_journal *j, const void *rec)
{
	if (j->n == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 1024;
		void *p = realloc(j->r, cap * sizeof(*j->r));

		if (!p)
			return -1;
		j->r = p;
		j->cap = cap;
	}
	memcpy(&j->r[j->n++], rec, DM_REPLAY_RECORD_SIZE);
	return 0;
}

static ssize_t journal_feed(struct dmr_journal *j, const unsigned char *p,
			    size_t n)
{
	ssize_t added = 0;

	while (n) {
		size_t take = DM_REPLAY_RECORD_SIZE - j->partial;

		if (take > n)
			take = n;
		memcpy(j->tail + j->partial, p, take);
		j->partial += take;
		p += take;
		n -= take;
		if (j->partial == DM_REPLAY_RECORD_SIZE) {
			if (journal_push(j, j->tail))
				return -1;
			j->partial = 0;
			added++;
		}
	}
	return added;
}

ssize_t dmr_journal_drain(struct dmr_journal *j)
{
	static unsigned char buf[64 * 1024];
	ssize_t added = 0, n, a;

	for (;;) {
		n = read(j->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "dmr_journal_drain: read: %s\n",
				strerror(errno));
			return -1;
		}
		if (n == 0)
			return added;
		a = journal_feed(j, buf, n);
		if (a < 0)
			return -1;
		added += a;
	}
}

void dmr_journal_close(struct dmr_journal *j)
{
	if (j->fd > 0)
		close(j->fd);
	free(j->r);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
}

int dmr_journal_load(struct dmr_journal *j, const char *file)
{
	if (dmr_journal_open(j, file))
		return -1;
	if (dmr_journal_drain(j) < 0)
		return -1;
	if (j->partial) {
		fprintf(stderr, "%s: %zu trailing bytes (not a record)\n",
			file, j->partial);
		return -1;
	}
	return 0;
}

/* A request id, and how many SET_NEXT_ID (id_base records) came before. */
struct epoch_id {
	uint64_t epoch, id;
};

static int cmp_epoch_id(const void *a, const void *b)
{
	const struct epoch_id *x = a, *y = b;

	if (x->epoch != y->epoch)
		return x->epoch < y->epoch ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); \
		       goto out; } while (0)

int dmr_journal_check(const struct dmr_journal *j, bool ascending,
		      struct dmr_jsum *sum, char *err, size_t errlen)
{
	uint64_t ck = 0, prev_id = 0, last_user = 0, epoch = 0;
	struct epoch_id *ids = NULL;
	size_t i, nids = 0, left = 0;
	bool have_last_user = false, have_prev = false;
	int ret = -1;

	memset(sum, 0, sizeof(*sum));
	err[0] = 0;
	sum->min_id = UINT64_MAX;
	if (!j->n)
		FAIL("empty journal");
	ids = calloc(j->n, sizeof(*ids));
	if (!ids)
		FAIL("out of memory");
	for (i = 0; i < j->n; i++) {
		const union dm_replay_rec *r = &j->r[i];
		uint64_t seq = le64toh(r->hdr.seq);

		if (i == 0) {
			if (r->type != DM_REPLAY_REC_HEADER)
				FAIL("record 0 has type %u, not a header",
				     r->type);
			sum->first_seq = seq;
		} else if (seq != sum->last_seq + 1) {
			FAIL("record %zu: seq %llu after %llu (gap/disorder)",
			     i, (unsigned long long)seq,
			     (unsigned long long)sum->last_seq);
		}
		sum->last_seq = seq;
		switch (r->type) {
		case DM_REPLAY_REC_HEADER:
			if (left)
				FAIL("record %zu: header inside checkpoint",
				     i);
			if (le64toh(r->hdr.magic) != DM_REPLAY_MAGIC ||
			    r->hdr.version != DM_REPLAY_VERSION ||
			    le16toh(r->hdr.rec_size) != DM_REPLAY_RECORD_SIZE)
				FAIL("record %zu: bad header magic/version/size",
				     i);
			sum->headers++;
			break;
		case DM_REPLAY_REC_CHECKPOINT:
			if (left)
				FAIL("record %zu: checkpoint while %zu completions of checkpoint %llu missing",
				     i, left, (unsigned long long)ck);
			ck = le64toh(r->ckpt.checkpoint);
			left = le32toh(r->ckpt.nr_completions);
			if (!left && r->ckpt.kind != DM_REPLAY_CKPT_ID_BASE)
				FAIL("record %zu: checkpoint %llu (kind %u) with 0 completions",
				     i, (unsigned long long)ck, r->ckpt.kind);
			if (left && r->ckpt.kind == DM_REPLAY_CKPT_ID_BASE)
				FAIL("record %zu: id_base checkpoint with %zu completions",
				     i, left);
			if (r->ckpt.kind <= DM_REPLAY_CKPT_DETACH)
				sum->kind[r->ckpt.kind]++;
			/* Ids restart: they are unique only until the next one. */
			if (r->ckpt.kind == DM_REPLAY_CKPT_ID_BASE)
				epoch++;
			if (r->ckpt.kind == DM_REPLAY_CKPT_USER) {
				if (have_last_user && ck <= last_user)
					FAIL("record %zu: user checkpoint %llu not above %llu",
					     i, (unsigned long long)ck,
					     (unsigned long long)last_user);
				last_user = ck;
				have_last_user = true;
			}
			sum->last_checkpoint = ck;
			sum->checkpoints++;
			have_prev = false;
			break;
		case DM_REPLAY_REC_COMPLETION: {
			uint64_t id = le64toh(r->comp.id);

			if (!left)
				FAIL("record %zu: completion id %llu outside a checkpoint",
				     i, (unsigned long long)id);
			if (le64toh(r->comp.checkpoint) != ck)
				FAIL("record %zu: completion names checkpoint %llu inside checkpoint %llu",
				     i, (unsigned long long)le64toh(r->comp.checkpoint),
				     (unsigned long long)ck);
			if (ascending && have_prev && id <= prev_id)
				FAIL("record %zu: id %llu after id %llu in checkpoint %llu",
				     i, (unsigned long long)id,
				     (unsigned long long)prev_id,
				     (unsigned long long)ck);
			prev_id = id;
			have_prev = true;
			left--;
			ids[nids].epoch = epoch;
			ids[nids++].id = id;
			sum->completions++;
			sum->by_op[r->comp.op & 15]++;
			if (r->comp.status)
				sum->errors++;
			if (id < sum->min_id)
				sum->min_id = id;
			if (id > sum->max_id)
				sum->max_id = id;
			break;
		}
		default:
			FAIL("record %zu: unknown type %u", i, r->type);
		}
	}
	if (left)
		FAIL("journal ends with %zu completions of checkpoint %llu missing",
		     left, (unsigned long long)ck);
	qsort(ids, nids, sizeof(*ids), cmp_epoch_id);
	for (i = 1; i < nids; i++)
		if (!cmp_epoch_id(&ids[i], &ids[i - 1]))
			FAIL("id %llu delivered twice (after %llu SET_NEXT_IDs)",
			     (unsigned long long)ids[i].id,
			     (unsigned long long)ids[i].epoch);
	ret = 0;
out:
	free(ids);
	return ret;
}

static void *io_thread(void *arg)
{
	struct dmr_io *io = arg;
	ssize_t r = 0;
	uint64_t range[2] = { io->off, io->len };

	switch (io->kind) {
	case DMR_IO_READ:
		r = pread(io->fd, io->buf, io->len, io->off);
		break;
	case DMR_IO_WRITE:
		r = pwrite(io->fd, io->buf, io->len, io->off);
		break;
	case DMR_IO_FSYNC:
		r = fsync(io->fd);
		break;
	case DMR_IO_FDATASYNC:
		r = fdatasync(io->fd);
		break;
	case DMR_IO_DISCARD:
		r = ioctl(io->fd, BLKDISCARD, range);
		break;
	case DMR_IO_ZEROOUT:
		r = ioctl(io->fd, BLKZEROOUT, range);
		break;
	case DMR_IO_PUNCH:
		r = fallocate(io->fd, FALLOC_FL_PUNCH_HOLE |
			      FALLOC_FL_KEEP_SIZE, io->off, io->len);
		break;
	}
	io->ret = r;
	io->err = r < 0 ? errno : 0;
	__atomic_store_n(&io->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

int dmr_io_start(struct dmr_io *io, int fd, enum dmr_io_kind kind,
		 off_t off, size_t len)
{
	void *buf = io->buf;

	memset(io, 0, sizeof(*io));
	io->buf = buf;
	io->fd = fd;
	io->kind = kind;
	io->off = off;
	io->len = len;
	if (!io->buf && len && (kind == DMR_IO_READ || kind == DMR_IO_WRITE)) {
		if (posix_memalign(&io->buf, 4096, len))
			return -1;
		memset(io->buf, 0x5a, len);
	}
	if (pthread_create(&io->th, NULL, io_thread, io))
		return -1;
	io->started = true;
	return 0;
}

bool dmr_io_wait(struct dmr_io *io, int timeout_ms)
{
	uint64_t end = dmr_now_ms() + timeout_ms;

	if (!io->started)
		return true;
	while (!__atomic_load_n(&io->done, __ATOMIC_ACQUIRE)) {
		if (dmr_now_ms() >= end)
			return false;
		dmr_msleep(5);
	}
	pthread_join(io->th, NULL);
	io->started = false;
	return true;
}

void dmr_io_free(struct dmr_io *io)
{
	free(io->buf);
	io->buf = NULL;
}

int dmr_drop_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_SYS_ADMIN / 32].effective &= ~(1U << (CAP_SYS_ADMIN % 32));
	data[CAP_SYS_ADMIN / 32].permitted &= ~(1U << (CAP_SYS_ADMIN % 32));
	data[CAP_SYS_ADMIN / 32].inheritable &= ~(1U << (CAP_SYS_ADMIN % 32));
	return syscall(SYS_capset, &hdr, data) ? -1 : 0;
}

const char *dmr_op_name(unsigned int op)
{
	switch (op) {
	case DM_REPLAY_OP_READ: return "read";
	case DM_REPLAY_OP_WRITE: return "write";
	case DM_REPLAY_OP_FLUSH: return "flush";
	case DM_REPLAY_OP_DISCARD: return "discard";
	case DM_REPLAY_OP_WRITE_ZEROES: return "write_zeroes";
	case DM_REPLAY_OP_SECURE_ERASE: return "secure_erase";
	default: return "other";
	}
}
