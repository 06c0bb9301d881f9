// SPDX-License-Identifier: LGPL-2.1-or-later
/* libdmreplay: errors, device names, record helpers. */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

static _Thread_local char last_error[DMR_ERRLEN];

int dmr_err(char *buf, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	if (buf)
		memcpy(buf, last_error, DMR_ERRLEN);
	return -err;
}

DMR_EXPORT const char *dmr_strerror(void)
{
	return last_error;
}

/* Read a one-line sysfs file into buf without the newline. */
static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int ret = -errno;

	if (!f)
		return ret;
	ret = fgets(buf, (int)len, f) ? 0 : -EIO;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return ret;
}

/* Look for a dm device whose dm name is name in /sys/block. */
static int find_dm_name(const char *name, dev_t *dev)
{
	char path[PATH_MAX], line[128];
	struct dirent *de;
	unsigned int ma, mi;
	DIR *d = opendir("/sys/block");
	int ret = -ENODEV;

	if (!d)
		return -errno;
	while (ret == -ENODEV && (de = readdir(d))) {
		if (strncmp(de->d_name, "dm-", 3))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dm/name", de->d_name);
		if (read_line(path, line, sizeof(line)) || strcmp(line, name))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/dev", de->d_name);
		if (!read_line(path, line, sizeof(line)) &&
		    sscanf(line, "%u:%u", &ma, &mi) == 2) {
			*dev = makedev(ma, mi);
			ret = 0;
		}
	}
	closedir(d);
	return ret;
}

static int spec_to_dev(const char *spec, dev_t *dev)
{
	char path[PATH_MAX];
	unsigned int ma, mi;
	struct stat st;
	char end;

	if (sscanf(spec, "%u:%u%c", &ma, &mi, &end) == 2) {
		*dev = makedev(ma, mi);
		return 0;
	}
	if (strchr(spec, '/')) {
		if (stat(spec, &st))
			return dmr_err(NULL, errno, "stat %s: %s", spec, strerror(errno));
		if (!S_ISBLK(st.st_mode))
			return dmr_err(NULL, ENOTBLK, "%s is not a block device", spec);
		*dev = st.st_rdev;
		return 0;
	}
	snprintf(path, sizeof(path), "/sys/block/%s/dev", spec);
	if (!strncmp(spec, "dm-", 3) && !read_line(path, path, sizeof(path)) &&
	    sscanf(path, "%u:%u", &ma, &mi) == 2) {
		*dev = makedev(ma, mi);
		return 0;
	}
	snprintf(path, sizeof(path), "/dev/mapper/%s", spec);
	if (!stat(path, &st) && S_ISBLK(st.st_mode)) {
		*dev = st.st_rdev;
		return 0;
	}
	if (find_dm_name(spec, dev))
		return dmr_err(NULL, ENODEV, "%s: no such device-mapper device "
			       "(not in /dev/mapper nor /sys/block/dm-*/dm/name)", spec);
	return 0;
}

DMR_EXPORT int dmr_dev_resolve(const char *spec, struct dmr_dev *out)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = spec_to_dev(spec, &out->dev);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u",
		 major(out->dev), minor(out->dev));
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return dmr_err(NULL, ENODEV, "%s: device %u:%u not in sysfs (%s): %s",
			       spec, major(out->dev), minor(out->dev), path,
			       strerror(errno));
	link[n] = '\0';
	base = strrchr(link, '/');
	snprintf(out->kname, sizeof(out->kname), "%.31s", base ? base + 1 : link);
	strncat(path, "/dm/name", sizeof(path) - strlen(path) - 1);
	if (read_line(path, out->name, sizeof(out->name)))
		return dmr_err(NULL, ENODEV, "%s (%s, %u:%u) is not a device-mapper device",
			       spec, out->kname, major(out->dev), minor(out->dev));
	return 0;
}

const char *dmr_debugfs(void)
{
	static _Thread_local char mnt[PATH_MAX];
	char type[64];
	FILE *f = fopen("/proc/self/mounts", "re");

	snprintf(mnt, sizeof(mnt), "/sys/kernel/debug");
	if (!f)
		return mnt;
	while (fscanf(f, "%*s %4095s %63s %*[^\n]\n", mnt, type) == 2)
		if (!strcmp(type, "debugfs"))
			break;
	if (strcmp(type, "debugfs"))
		snprintf(mnt, sizeof(mnt), "/sys/kernel/debug");
	fclose(f);
	return mnt;
}

DMR_EXPORT void dmr_rec_le(union dm_replay_rec *r)
{
	/* Same head in every record; the rest by type. */
	r->hdr.rec_size = htole16(r->hdr.rec_size);
	r->hdr.features = htole32(r->hdr.features);
	r->hdr.seq = htole64(r->hdr.seq);
	switch (r->type) {
	case DM_REPLAY_REC_HEADER:
		r->hdr.magic = htole64(r->hdr.magic);
		r->hdr.id_base = htole64(r->hdr.id_base);
		r->hdr.dev_major = htole32(r->hdr.dev_major);
		r->hdr.dev_minor = htole32(r->hdr.dev_minor);
		r->hdr.target_sectors = htole64(r->hdr.target_sectors);
		r->hdr.time_ns = htole64(r->hdr.time_ns);
		r->hdr.mode = htole32(r->hdr.mode);
		r->hdr.subbuf_size = htole32(r->hdr.subbuf_size);
		break;
	case DM_REPLAY_REC_CHECKPOINT:
		r->ckpt.checkpoint = htole64(r->ckpt.checkpoint);
		r->ckpt.time_ns = htole64(r->ckpt.time_ns);
		r->ckpt.ids = htole64(r->ckpt.ids);
		r->ckpt.held_after = htole64(r->ckpt.held_after);
		break;
	case DM_REPLAY_REC_COMPLETION:
		r->comp.checkpoint = htole64(r->comp.checkpoint);
		r->comp.id = htole64(r->comp.id);
		r->comp.sector = htole64(r->comp.sector);
		r->comp.nr_sectors = htole32(r->comp.nr_sectors);
		r->comp.crc32c = htole32(r->comp.crc32c);
		r->comp.lower_seq = htole64(r->comp.lower_seq);
		r->comp.lat_us = htole32(r->comp.lat_us);
		r->comp.hold_us = htole32(r->comp.hold_us);
		break;
	}
}

static const char *name_of(const char *const *names, size_t n, unsigned int i)
{
	return i < n && names[i] ? names[i] : "unknown";
}

#define NAME_OF(names, i) name_of(names, sizeof(names) / sizeof(names[0]), i)

DMR_EXPORT const char *dmr_op_name(unsigned int op)
{
	static const char *const names[] = {
		[DM_REPLAY_OP_READ] = "read", [DM_REPLAY_OP_WRITE] = "write",
		[DM_REPLAY_OP_FLUSH] = "flush", [DM_REPLAY_OP_DISCARD] = "discard",
		[DM_REPLAY_OP_WRITE_ZEROES] = "write_zeroes",
		[DM_REPLAY_OP_SECURE_ERASE] = "secure_erase",
		[DM_REPLAY_OP_OTHER] = "other",
	};
	return NAME_OF(names, op);
}

DMR_EXPORT const char *dmr_ckpt_kind_name(unsigned int kind)
{
	static const char *const names[] = {
		[DM_REPLAY_CKPT_USER] = "user", [DM_REPLAY_CKPT_SUSPEND] = "suspend",
		[DM_REPLAY_CKPT_UNHELD] = "unheld", [DM_REPLAY_CKPT_ID_BASE] = "id_base",
		[DM_REPLAY_CKPT_DETACH] = "detach",
	};
	return NAME_OF(names, kind);
}

DMR_EXPORT const char *dmr_div_kind_name(unsigned int kind)
{
	static const char *const names[] = {
		[DM_REPLAY_DIV_NONE] = "none", [DM_REPLAY_DIV_MISSING] = "missing",
		[DM_REPLAY_DIV_SHAPE] = "shape", [DM_REPLAY_DIV_STATUS] = "status",
		[DM_REPLAY_DIV_DATA] = "data", [DM_REPLAY_DIV_NODEV] = "nodev",
	};
	return NAME_OF(names, kind);
}

DMR_EXPORT const char *dmr_mode_name(unsigned int mode)
{
	static const char *const names[] = {
		[DM_REPLAY_MODE_RECORD] = "record", [DM_REPLAY_MODE_REPLAY] = "replay",
	};
	return NAME_OF(names, mode);
}

DMR_EXPORT char *dmr_flags_str(unsigned int flags, char *buf, size_t len)
{
	static const char *const names[16] = {
		"fua", "preflush", "sync", "meta", "prio", "nounmap", "rahead",
		"nowait", [14] = "has_crc", [15] = "unheld",
	};
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int i = 0; i < 16; i++) {
		if (!(flags & (1U << i)))
			continue;
		if (names[i])
			off += snprintf(buf + off, off < len ? len - off : 0, "%s%s",
					off ? "," : "", names[i]);
		else
			off += snprintf(buf + off, off < len ? len - off : 0, "%sbit%u",
					off ? "," : "", i);
	}
	return buf;
}
