// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libdmreplay: journal reader.  Reads 64-byte records from a file, a
 * memory buffer or a live relay channel and validates the stream:
 * magic, version, record size, types, sequence continuity (gaps are
 * reported as lost records), checkpoint order and completion counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define RS DM_REPLAY_RECORD_SIZE
#define BUFSZ (RS * 1024)

struct dmr_journal {
	int fd;			/* -1: memory */
	bool own_fd, live;
	const unsigned char *data;	/* buf or the caller's memory */
	size_t len, pos;	/* bytes in data, next unread byte */
	uint64_t off;		/* stream offset of data[pos] */
	int error;		/* sticky */

	/* validation state */
	bool started, have_ckpt;
	bool unsynced;		/* after a gap: completions of a lost checkpoint */
	uint64_t next_seq, last_ckpt, cur_ckpt, ckpt_off;
	uint32_t ckpt_left, ckpt_nr;
	unsigned int last_kind;
	uint64_t skipped;
	bool pending;		/* ev holds a record pushed back by seek */
	struct dmr_event ev;

	struct dmr_journal_stats st;
	char name[PATH_MAX];
	char err[DMR_ERRLEN];
	unsigned char buf[BUFSZ];
};

static int jerr(struct dmr_journal *j, int err, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Fail the reader for good with a message naming the stream and offset. */
static int jerr(struct dmr_journal *j, int err, uint64_t off, const char *fmt, ...)
{
	char msg[DMR_ERRLEN - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j->error = dmr_err(j->err, err, "%.100s: offset %llu: %s", j->name,
			   (unsigned long long)off, msg);
	return j->error;
}

static int jopen(struct dmr_journal **jp, int fd, bool own, const char *name)
{
	struct dmr_journal *j = calloc(1, sizeof(*j));

	*jp = NULL;
	if (!j) {
		if (own)
			close(fd);
		return dmr_err(NULL, ENOMEM, "%s: out of memory", name);
	}
	j->fd = fd;
	j->own_fd = own;
	j->data = j->buf;
	snprintf(j->name, sizeof(j->name), "%s", name);
	*jp = j;
	return 0;
}

DMR_EXPORT int dmr_journal_open_file(struct dmr_journal **jp, const char *path)
{
	int fd;

	if (!strcmp(path, "-"))
		return jopen(jp, STDIN_FILENO, false, "<stdin>");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*jp = NULL;
		return dmr_err(NULL, errno, "open %s: %s", path, strerror(errno));
	}
	return jopen(jp, fd, true, path);
}

DMR_EXPORT int dmr_journal_open_mem(struct dmr_journal **jp, const void *buf,
				    size_t len, const char *name)
{
	int ret = jopen(jp, -1, false, name ? name : "<memory>");

	if (!ret) {
		(*jp)->data = buf;
		(*jp)->len = len;
	}
	return ret;
}

DMR_EXPORT int dmr_journal_open_relay(struct dmr_journal **jp, const char *spec,
				      const char *debugfs)
{
	char path[PATH_MAX];
	struct dmr_dev d;
	glob_t g;
	int ret, fd;

	*jp = NULL;
	ret = dmr_dev_resolve(spec, &d);
	if (ret)
		return ret;
	debugfs = debugfs ? debugfs : dmr_debugfs();
	snprintf(path, sizeof(path), "%s/dm-replay/%s/journal", debugfs, d.kname);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT) {
		/* A target that does not start at sector 0: dm-N@<start>. */
		snprintf(path, sizeof(path), "%s/dm-replay/%s@*/journal", debugfs, d.kname);
		if (!glob(path, 0, NULL, &g) && g.gl_pathc == 1) {
			snprintf(path, sizeof(path), "%s", g.gl_pathv[0]);
			fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		} else {
			snprintf(path, sizeof(path), "%s/dm-replay/%s/journal", debugfs, d.kname);
			errno = ENOENT;
		}
		globfree(&g);
	}
	if (fd < 0)
		return dmr_err(NULL, errno, "open %s (journal of %s): %s%s", path, spec,
			       strerror(errno), errno == ENOENT ?
			       " (no dm-replay target there, or debugfs not mounted)" : "");
	ret = jopen(jp, fd, true, path);
	if (!ret)
		(*jp)->live = true;
	return ret;
}

void dmr_journal_set_live(struct dmr_journal *j)
{
	j->live = true;
}

DMR_EXPORT void dmr_journal_close(struct dmr_journal *j)
{
	if (j && j->own_fd)
		close(j->fd);
	free(j);
}

DMR_EXPORT const char *dmr_journal_strerror(const struct dmr_journal *j)
{
	return j->err;
}

DMR_EXPORT int dmr_journal_fd(const struct dmr_journal *j)
{
	return j->fd;
}

DMR_EXPORT const char *dmr_journal_name(const struct dmr_journal *j)
{
	return j->name;
}

DMR_EXPORT uint64_t dmr_journal_live_skipped(const struct dmr_journal *j)
{
	return j->skipped;
}

DMR_EXPORT void dmr_journal_stats(const struct dmr_journal *j,
				  struct dmr_journal_stats *st)
{
	*st = j->st;
}

/* Make a whole record available at data[pos]: 1, 0 (none yet / end) or error. */
static int fill(struct dmr_journal *j)
{
	ssize_t n;

	while (j->len - j->pos < RS && j->fd >= 0) {
		memmove(j->buf, j->buf + j->pos, j->len - j->pos);
		j->len -= j->pos;
		j->pos = 0;
		n = read(j->fd, j->buf + j->len, BUFSZ - j->len);
		if (n < 0 && (errno == EINTR || (errno == EAGAIN && !j->live)))
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return jerr(j, errno, j->off, "read: %s", strerror(errno));
		if (!n)
			break;
		j->len += n;
	}
	if (j->len - j->pos >= RS)
		return 1;
	if (j->live || j->len == j->pos)
		return 0;
	return jerr(j, ENODATA, j->off, "truncated: %zu bytes of a %d-byte record at the end",
		    j->len - j->pos, RS);
}

/* The end of a file: it must not stop inside a checkpoint. */
static int check_end(struct dmr_journal *j)
{
	if (!j->started)
		return jerr(j, ENODATA, j->off, "empty journal (no header record)");
	if (j->ckpt_left)
		return jerr(j, ENODATA, j->off, "truncated: checkpoint %llu at offset "
			    "%llu has %u of %u completion records at the end",
			    (unsigned long long)j->cur_ckpt,
			    (unsigned long long)j->ckpt_off,
			    j->ckpt_nr - j->ckpt_left, j->ckpt_nr);
	return 0;
}

static int check_header(struct dmr_journal *j, const struct dm_replay_rec_header *h,
			uint64_t off)
{
	if (h->magic != DM_REPLAY_MAGIC)
		return jerr(j, EBADMSG, off, "bad magic 0x%016llx in header record "
			    "(expected 0x%016llx; not a dm-replay journal?)",
			    (unsigned long long)h->magic, DM_REPLAY_MAGIC);
	if (h->version != DM_REPLAY_VERSION)
		return jerr(j, EPROTO, off, "journal version %u, this reader knows "
			    "version %d", h->version, DM_REPLAY_VERSION);
	if (h->rec_size != RS)
		return jerr(j, EPROTO, off, "record size %u in header, expected %d",
			    h->rec_size, RS);
	return 0;
}

/* A checkpoint, header or end of file while completions are still due. */
static int short_ckpt(struct dmr_journal *j, uint64_t off, const char *what)
{
	return jerr(j, EBADMSG, off, "checkpoint %llu at offset %llu has %u of %u "
		    "completion records, then a %s record",
		    (unsigned long long)j->cur_ckpt, (unsigned long long)j->ckpt_off,
		    j->ckpt_nr - j->ckpt_left, j->ckpt_nr, what);
}

static int check_ckpt(struct dmr_journal *j, const struct dm_replay_rec_checkpoint *c,
		      uint64_t off)
{
	if (j->ckpt_left)
		return short_ckpt(j, off, "checkpoint");
	if (c->kind != DM_REPLAY_CKPT_ID_BASE) {
		if (j->have_ckpt && (c->checkpoint < j->last_ckpt ||
				     (c->checkpoint == j->last_ckpt &&
				      c->kind == DM_REPLAY_CKPT_USER &&
				      j->last_kind == DM_REPLAY_CKPT_USER)))
			return jerr(j, EBADMSG, off, "checkpoint %llu does not follow "
				    "checkpoint %llu (numbers must increase)",
				    (unsigned long long)c->checkpoint,
				    (unsigned long long)j->last_ckpt);
		j->have_ckpt = true;
		j->last_ckpt = c->checkpoint;
		j->last_kind = c->kind;
	}
	j->cur_ckpt = c->checkpoint;
	j->ckpt_off = off;
	j->ckpt_left = j->ckpt_nr = c->nr_completions;
	j->unsynced = false;
	return 0;
}

/*
 * Validate one record: 1 to return it, 0 to skip it (a live stream
 * joined inside a checkpoint), or an error.
 */
static int check_rec(struct dmr_journal *j, struct dmr_event *ev)
{
	union dm_replay_rec *r = &ev->rec;
	uint64_t off = ev->offset;
	int ret = 0;

	if (r->type < DM_REPLAY_REC_HEADER || r->type > DM_REPLAY_REC_COMPLETION)
		return jerr(j, EBADMSG, off, "bad record type %u", r->type);
	if (!j->started) {
		if (r->type != DM_REPLAY_REC_HEADER && !j->live)
			return jerr(j, EPROTO, off, "first record is not a header "
				    "record (type %u)", r->type);
		j->started = true;
		j->unsynced = r->type != DM_REPLAY_REC_HEADER;
		j->next_seq = r->hdr.seq;
	}
	if (r->hdr.seq < j->next_seq)
		return jerr(j, EBADMSG, off, "sequence goes back: %llu after %llu",
			    (unsigned long long)r->hdr.seq,
			    (unsigned long long)j->next_seq - 1);
	ev->lost = r->hdr.seq - j->next_seq;
	j->next_seq = r->hdr.seq + 1;
	if (ev->lost) {
		/* The gap may hold the rest of this checkpoint, or more. */
		j->st.lost += ev->lost;
		j->unsynced = ev->lost > j->ckpt_left || !j->ckpt_left;
		j->ckpt_left -= ev->lost > j->ckpt_left ? j->ckpt_left : (uint32_t)ev->lost;
	}

	switch (r->type) {
	case DM_REPLAY_REC_HEADER:
		if (j->ckpt_left)
			return short_ckpt(j, off, "header");
		ret = check_header(j, &r->hdr, off);
		j->have_ckpt = false;	/* a new target instance */
		j->unsynced = false;
		j->st.headers++;
		break;
	case DM_REPLAY_REC_CHECKPOINT:
		ret = check_ckpt(j, &r->ckpt, off);
		j->st.checkpoints++;
		break;
	case DM_REPLAY_REC_COMPLETION:
		if (!j->ckpt_left && j->unsynced && j->live && !j->st.headers &&
		    !j->st.checkpoints) {
			j->skipped++;
			return 0;
		}
		if (!j->ckpt_left && !j->unsynced)
			return jerr(j, EBADMSG, off, "completion record (seq %llu) "
				    "outside a checkpoint", (unsigned long long)r->comp.seq);
		if (j->ckpt_left && r->comp.checkpoint != j->cur_ckpt)
			return jerr(j, EBADMSG, off, "completion of checkpoint %llu inside "
				    "checkpoint %llu", (unsigned long long)r->comp.checkpoint,
				    (unsigned long long)j->cur_ckpt);
		if (j->ckpt_left)
			j->ckpt_left--;
		j->st.completions++;
		break;
	}
	return ret ? ret : 1;
}

DMR_EXPORT int dmr_journal_next(struct dmr_journal *j, struct dmr_event *ev)
{
	int ret;

	if (j->error)
		return j->error;
	if (j->pending) {
		j->pending = false;
		*ev = j->ev;
		return 1;
	}
	do {
		ret = fill(j);
		if (ret < 0)
			return ret;
		if (!ret)
			return j->live ? 0 : check_end(j);
		memset(ev, 0, sizeof(*ev));
		memcpy(&ev->rec, j->data + j->pos, RS);
		dmr_rec_le(&ev->rec);
		ev->offset = j->off;
		j->pos += RS;
		j->off += RS;
		j->st.bytes += RS;
		ret = check_rec(j, ev);
	} while (!ret);
	if (ret > 0)
		j->st.records++;
	return ret;
}

DMR_EXPORT int dmr_journal_seek(struct dmr_journal *j, uint64_t checkpoint)
{
	struct dmr_event ev;
	int ret;

	if (j->live)
		return dmr_err(j->err, ESPIPE, "%s: cannot seek a live journal", j->name);
	if (j->fd >= 0) {
		if (lseek(j->fd, 0, SEEK_SET) < 0)
			return dmr_err(j->err, errno, "%s: lseek: %s", j->name,
				       strerror(errno));
		j->len = 0;
	}
	/* Start over: reset everything after the source. */
	j->pos = 0;
	j->off = 0;
	memset(&j->error, 0, offsetof(struct dmr_journal, name) -
	       offsetof(struct dmr_journal, error));
	if (!checkpoint)
		return 0;
	while ((ret = dmr_journal_next(j, &ev)) > 0) {
		if (ev.rec.type == DM_REPLAY_REC_CHECKPOINT &&
		    ev.rec.ckpt.checkpoint >= checkpoint) {
			j->pending = true;
			j->ev = ev;
			return 0;
		}
	}
	return ret ? ret : dmr_err(j->err, ENOENT, "%s: no checkpoint %llu or later",
				   j->name, (unsigned long long)checkpoint);
}
