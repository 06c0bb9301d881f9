// SPDX-License-Identifier: GPL-2.0
/* dmreplay capture: drain a target's relay journal into a file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "dmreplay.h"

struct capture {
	const char *out_path;
	int out;
	unsigned char buf[DM_REPLAY_RECORD_SIZE * 1024];
	size_t len;
	uint64_t records, bytes, lost, flushed;
	/* A header made here: its id_base comes from the first checkpoint. */
	union dm_replay_rec hdr;
	bool synth;
	uint32_t left;		/* completions of that checkpoint still to see */
	uint64_t min_id;
};

static int out_opt(int c, const char *arg, void *ctx)
{
	(void)c;
	*(const char **)ctx = arg;
	return 0;
}

static int flush_out(struct capture *c)
{
	size_t done = 0;
	ssize_t n;

	while (done < c->len) {
		n = write(c->out, c->buf + done, c->len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("write %s: %s", c->out_path, strerror(errno));
		done += n;
	}
	c->flushed += c->len;
	c->len = 0;
	return 0;
}

static int put(struct capture *c, union dm_replay_rec rec)
{
	dmr_rec_le(&rec);
	memcpy(c->buf + c->len, &rec, sizeof(rec));
	c->len += sizeof(rec);
	c->records++;
	c->bytes += sizeof(rec);
	return c->len == sizeof(c->buf) ? flush_out(c) : 0;
}

/*
 * The stream was consumed by an earlier reader: write a header made from
 * the table, so that the file starts with one.
 */
static int synth_header(struct capture *c, const char *name, uint64_t first_seq)
{
	struct dm_replay_rec_header *h = &c->hdr.hdr;
	struct timespec ts;
	struct tstatus st;
	struct dmr_dev d;
	char *p;

	if (dmr_dev_resolve(name, &d))
		return fail("%s", dmr_strerror());
	if (target_status(name, &st, 1, true) < 0)
		return EXIT_FAIL;
	if (first_seq)
		fprintf(stderr, "dmreplay capture: %s: the journal was read before, "
			"starting at seq %lu; writing a header made from the table\n",
			name, first_seq);
	clock_gettime(CLOCK_REALTIME, &ts);
	h->type = DM_REPLAY_REC_HEADER;
	h->version = DM_REPLAY_VERSION;
	h->rec_size = DM_REPLAY_RECORD_SIZE;
	h->seq = first_seq ? first_seq - 1 : 0;
	h->magic = DM_REPLAY_MAGIC;
	h->dev_major = major(d.dev);
	h->dev_minor = minor(d.dev);
	h->target_sectors = st.length;
	h->time_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	h->mode = strcmp(st.mode, "replay") ? DM_REPLAY_MODE_RECORD : DM_REPLAY_MODE_REPLAY;
	h->subbuf_size = 262144;
	if (strstr(st.table, " verify_data"))
		h->features |= DM_REPLAY_FEAT_VERIFY_DATA;
	if (strstr(st.table, " serialize_overlaps"))
		h->features |= DM_REPLAY_FEAT_SERIALIZE_OVERLAPS;
	if ((p = strstr(st.table, " subbuf_size ")))
		h->subbuf_size = (uint32_t)strtoul(p + 13, NULL, 10);
	c->synth = true;
	return put(c, c->hdr);
}

/*
 * The id_base of a made header: the lowest id of the first checkpoint,
 * written into the header once that checkpoint is complete.
 */
static void fix_id_base(struct capture *c, const union dm_replay_rec *r)
{
	union dm_replay_rec h;

	if (r->type == DM_REPLAY_REC_CHECKPOINT && r->ckpt.nr_completions &&
	    r->ckpt.kind != DM_REPLAY_CKPT_ID_BASE) {
		c->left = r->ckpt.nr_completions;
		c->min_id = UINT64_MAX;
		return;
	}
	if (r->type != DM_REPLAY_REC_COMPLETION || !c->left)
		return;
	c->min_id = r->comp.id < c->min_id ? r->comp.id : c->min_id;
	if (--c->left)
		return;
	c->synth = false;
	c->hdr.hdr.id_base = c->min_id;
	h = c->hdr;
	dmr_rec_le(&h);
	if (!c->flushed)
		memcpy(c->buf, &h, sizeof(h));
	else if (pwrite(c->out, &h, sizeof(h), 0) != sizeof(h))
		fprintf(stderr, "dmreplay capture: %s: cannot write id_base %lu into the "
			"header: %s\n", c->out_path, c->min_id, strerror(errno));
}

static void progress(const struct capture *c, uint64_t t0, bool last)
{
	double s = (now_ns() - t0) / 1e9;

	fprintf(stderr, "\r%lu records  %lu bytes  %.0f records/s  %lu lost%s",
		c->records, c->bytes, s > 0 ? c->records / s : 0.0, c->lost,
		last ? "\n" : "  ");
}

int cmd_capture(int argc, char **argv)
{
	static const struct option lo[] = { { "output", required_argument, NULL, 'o' },
					    { "help", no_argument, NULL, 'h' }, {} };
	struct capture *c = calloc(1, sizeof(*c));
	bool tty = isatty(STDERR_FILENO), draining = false;
	uint64_t t0 = now_ns(), shown = 0;
	struct dmr_journal *j = NULL;
	struct dmr_event ev;
	int ret;

	if (!c)
		return fail("out of memory");
	ret = parse_opts(argc, argv, "o:", lo, out_opt, &c->out_path, 1, 1);
	if (ret >= 0 || (!c->out_path && (ret = usage_err("-o FILE is required"))))
		goto out;
	signals_setup(true);
	if (dmr_journal_open_relay(&j, argv[optind], NULL)) {
		ret = fail("%s", dmr_strerror());
		goto out;
	}
	c->out = strcmp(c->out_path, "-") ? open(c->out_path, O_WRONLY | O_CREAT |
						 O_TRUNC | O_CLOEXEC, 0644) : STDOUT_FILENO;
	if (c->out < 0) {
		ret = fail("open %s: %s", c->out_path, strerror(errno));
		goto out;
	}
	for (;;) {
		while ((ret = dmr_journal_next(j, &ev)) > 0) {
			c->lost += ev.lost;
			if ((!c->records && ev.rec.type != DM_REPLAY_REC_HEADER &&
			     synth_header(c, argv[optind], ev.rec.hdr.seq)) || put(c, ev.rec)) {
				ret = EXIT_FAIL;
				goto out;
			}
			if (c->synth)
				fix_id_base(c, &ev.rec);
		}
		if (ret < 0 || flush_out(c)) {
			ret = ret < 0 ? fail("%s", dmr_journal_strerror(j)) : EXIT_FAIL;
			goto out;
		}
		if (tty && (draining || now_ns() - shown > 500000000ULL)) {
			progress(c, t0, draining);
			shown = now_ns();
		}
		if (draining)
			break;
		/* relay wakes poll() only at sub-buffer switches: read anyway */
		wait_fd(dmr_journal_fd(j), 100);
		draining = stop_signal;
	}
	/* Nothing came: the file still starts with a header. */
	if (!c->records && (synth_header(c, argv[optind], 0) || flush_out(c))) {
		ret = EXIT_FAIL;
		goto out;
	}
	if (dmr_journal_live_skipped(j))
		fprintf(stderr, "dmreplay capture: %s: skipped %lu completion records of a "
			"checkpoint begun before the capture\n", argv[optind],
			dmr_journal_live_skipped(j));
	ret = EXIT_OK;
out:
	if (c->out > STDERR_FILENO && close(c->out) && !ret)
		ret = fail("close %s: %s", c->out_path, strerror(errno));
	dmr_journal_close(j);
	free(c);
	return ret;
}
