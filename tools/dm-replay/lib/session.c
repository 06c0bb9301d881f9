// SPDX-License-Identifier: LGPL-2.1-or-later
/* libdmreplay: control sessions on /dev/dm-replay. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

struct dmr_session {
	int fd;
	char path[128];
	struct dm_replay_version version;
	char err[DMR_ERRLEN];
};

static const char *ioc_name(unsigned long req)
{
	switch (req) {
	case DM_REPLAY_IOC_VERSION: return "DM_REPLAY_IOC_VERSION";
	case DM_REPLAY_IOC_ATTACH: return "DM_REPLAY_IOC_ATTACH";
	case DM_REPLAY_IOC_DETACH: return "DM_REPLAY_IOC_DETACH";
	case DM_REPLAY_IOC_CHECKPOINT: return "DM_REPLAY_IOC_CHECKPOINT";
	default: return "DM_REPLAY_IOC_SET_NEXT_ID";
	}
}

/* The meaning of an ioctl's errno as documented in dm-replay.rst. */
static const char *ioc_why(unsigned long req, int err)
{
	switch (err) {
	case EPERM: return "needs CAP_SYS_ADMIN";
	case ENODEV: return "no dm-replay target on that device";
	case EEXIST: return "already attached to this session";
	case EBUSY: return req == DM_REPLAY_IOC_SET_NEXT_ID ?
		"a dm-replay target has requests not delivered yet" :
		"attached to another session";
	case ENOSPC: return "too many attached targets in the session";
	case ENOENT: return "not attached to this session";
	case EINVAL: return req == DM_REPLAY_IOC_CHECKPOINT ?
		"checkpoint number not greater than an earlier one" : "invalid argument";
	case ENOLINK: return "nothing attached";
	case ENOTTY: return req == DM_REPLAY_IOC_VERSION ?
		"not the dm-replay control device" : "unknown ioctl";
	case EAGAIN: return "journal full, read it and retry";
	case ETIMEDOUT: return "expected requests did not complete in time";
	default: return strerror(err);
	}
}

/* The error of ioctl @req, with a message naming the call; what names the object. */
static int ioctl_err(struct dmr_session *s, unsigned long req, int err, const char *what)
{
	return dmr_err(s->err, err, "%s%s%s on %s: %s (%s)", ioc_name(req),
		       *what ? " " : "", what, s->path, ioc_why(req, err),
		       strerrorname_np(err));
}

static int do_ioctl(struct dmr_session *s, unsigned long req, void *arg,
		    const char *what)
{
	if (ioctl(s->fd, req, arg) >= 0)
		return 0;
	return ioctl_err(s, req, errno, what);
}

/* Check the ABI version of the session in s->fd. */
static int session_check(struct dmr_session *s)
{
	int ret;

	ret = do_ioctl(s, DM_REPLAY_IOC_VERSION, &s->version, "");
	if (!ret && (s->version.abi != DM_REPLAY_VERSION ||
		     s->version.record_size != DM_REPLAY_RECORD_SIZE))
		ret = dmr_err(NULL, EPROTO, "%s: ABI version %u record size %u, "
			      "this library knows version %u record size %u", s->path,
			      s->version.abi, s->version.record_size,
			      DM_REPLAY_VERSION, DM_REPLAY_RECORD_SIZE);
	return ret;
}

DMR_EXPORT int dmr_session_open(struct dmr_session **sp, const char *path)
{
	struct dmr_session *s = calloc(1, sizeof(*s));
	int ret;

	*sp = NULL;
	if (!s)
		return dmr_err(NULL, ENOMEM, "out of memory");
	path = path ? path : DMR_CONTROL_PATH;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->fd = open(path, O_RDWR | O_CLOEXEC);
	if (s->fd < 0) {
		int err = errno;

		ret = dmr_err(NULL, err, "open %s: %s%s", path, strerror(err),
			      err == ENOENT ? " (is the dm-replay module loaded?)" :
			      err == EPERM ? " (opening it needs CAP_SYS_ADMIN)" : "");
		free(s);
		return ret;
	}
	ret = session_check(s);
	if (ret) {
		dmr_session_close(s);
		return ret;
	}
	*sp = s;
	return 0;
}

DMR_EXPORT int dmr_session_open_fd(struct dmr_session **sp, int fd)
{
	struct dmr_session *s;
	struct stat st;
	int ret;

	*sp = NULL;
	if (fd < 0 || fstat(fd, &st))
		return dmr_err(NULL, EBADF, "session fd %d: not an open file", fd);
	if (!S_ISCHR(st.st_mode))
		return dmr_err(NULL, ENOTTY, "session fd %d: not the dm-replay control device", fd);
	s = calloc(1, sizeof(*s));
	if (!s)
		return dmr_err(NULL, ENOMEM, "out of memory");
	snprintf(s->path, sizeof(s->path), "session fd %d", fd);
	s->fd = fd;
	ret = session_check(s);
	if (ret) {
		free(s);
		return ret;
	}
	*sp = s;
	return 0;
}

DMR_EXPORT void dmr_session_close(struct dmr_session *s)
{
	if (!s)
		return;
	close(s->fd);
	free(s);
}

DMR_EXPORT const char *dmr_session_strerror(const struct dmr_session *s)
{
	return s->err;
}

DMR_EXPORT int dmr_session_fd(const struct dmr_session *s)
{
	return s->fd;
}

DMR_EXPORT const struct dm_replay_version *dmr_session_version(const struct dmr_session *s)
{
	return &s->version;
}

static int attach_detach(struct dmr_session *s, unsigned long req, dev_t dev)
{
	struct dm_replay_dev d = { .major = major(dev), .minor = minor(dev) };
	char what[32];

	snprintf(what, sizeof(what), "%u:%u", d.major, d.minor);
	return do_ioctl(s, req, &d, what);
}

DMR_EXPORT int dmr_attach(struct dmr_session *s, dev_t dev)
{
	return attach_detach(s, DM_REPLAY_IOC_ATTACH, dev);
}

DMR_EXPORT int dmr_detach(struct dmr_session *s, dev_t dev)
{
	return attach_detach(s, DM_REPLAY_IOC_DETACH, dev);
}

static int by_name(struct dmr_session *s, unsigned long req, const char *spec)
{
	struct dmr_dev d;
	int ret = dmr_dev_resolve(spec, &d);

	if (ret)
		return dmr_err(s->err, -ret, "%s", dmr_strerror());
	return attach_detach(s, req, d.dev);
}

DMR_EXPORT int dmr_attach_name(struct dmr_session *s, const char *spec)
{
	return by_name(s, DM_REPLAY_IOC_ATTACH, spec);
}

DMR_EXPORT int dmr_detach_name(struct dmr_session *s, const char *spec)
{
	return by_name(s, DM_REPLAY_IOC_DETACH, spec);
}

DMR_EXPORT int dmr_session_wait(struct dmr_session *s, int timeout_ms)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	int n = poll(&p, 1, timeout_ms);

	if (n < 0)
		return dmr_err(s->err, errno, "poll %s: %s", s->path, strerror(errno));
	return n > 0 && (p.revents & POLLIN);
}

/*
 * A driver may checkpoint hundreds of thousands of times a second: the
 * message naming the checkpoint is made only when the ioctl fails.
 */
static int checkpoint(struct dmr_session *s, struct dm_replay_checkpoint *ck)
{
	char what[48];
	int err;

	if (ioctl(s->fd, DM_REPLAY_IOC_CHECKPOINT, ck) >= 0)
		return (int)ck->delivered;
	err = errno;
	snprintf(what, sizeof(what), "checkpoint %llu", (unsigned long long)ck->checkpoint);
	return ioctl_err(s, DM_REPLAY_IOC_CHECKPOINT, err, what);
}

DMR_EXPORT int dmr_checkpoint(struct dmr_session *s, uint64_t n,
			      struct dm_replay_checkpoint *out)
{
	struct dm_replay_checkpoint ck = { .checkpoint = n };
	int ret = checkpoint(s, &ck);

	if (out)
		*out = ck;
	return ret;
}

DMR_EXPORT int dmr_checkpoint_replay(struct dmr_session *s, uint64_t n,
				     const struct dm_replay_expect *exp, uint32_t nr,
				     uint32_t timeout_ms, uint32_t flags,
				     struct dm_replay_checkpoint *out)
{
	struct dm_replay_checkpoint ck = {
		.checkpoint = n, .flags = flags, .timeout_ms = timeout_ms,
		.records = (uintptr_t)exp, .nr_records = nr,
	};
	int ret = checkpoint(s, &ck);

	if (out)
		*out = ck;
	return ret;
}

DMR_EXPORT int dmr_set_next_id(struct dmr_session *s, uint64_t next_id)
{
	struct dm_replay_next_id arg = { .next_id = next_id };
	char what[40];

	snprintf(what, sizeof(what), "%llu", (unsigned long long)next_id);
	return do_ioctl(s, DM_REPLAY_IOC_SET_NEXT_ID, &arg, what);
}
