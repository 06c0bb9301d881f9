// SPDX-License-Identifier: GPL-2.0
/* Test writer for dm-replay journals; see jwriter.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwriter.h"
#include "libdmreplay.h"

void jw_init(struct jw *w)
{
	memset(w, 0, sizeof(*w));
}

void jw_free(struct jw *w)
{
	free(w->buf);
	jw_init(w);
}

size_t jw_rec(struct jw *w, union dm_replay_rec r)
{
	size_t off = w->len;

	if (w->len + sizeof(r) > w->cap &&
	    !(w->buf = realloc(w->buf, w->cap = w->cap * 2 + 4096)))
		abort();
	r.hdr.seq = w->seq++;
	dmr_rec_le(&r);
	memcpy(w->buf + w->len, &r, sizeof(r));
	w->len += sizeof(r);
	return off;
}

size_t jw_header(struct jw *w, uint64_t id_base)
{
	return jw_rec(w, (union dm_replay_rec){ .hdr = {
		.type = DM_REPLAY_REC_HEADER, .version = DM_REPLAY_VERSION,
		.rec_size = DM_REPLAY_RECORD_SIZE, .magic = DM_REPLAY_MAGIC,
		.id_base = id_base, .dev_major = JW_DEV_MAJOR, .dev_minor = JW_DEV_MINOR,
		.target_sectors = 131072, .time_ns = 1700000000000000000ULL,
		.mode = DM_REPLAY_MODE_RECORD, .subbuf_size = 262144 } });
}

size_t jw_ckpt(struct jw *w, uint64_t n, unsigned int kind, uint32_t nr, uint64_t ids)
{
	return jw_rec(w, (union dm_replay_rec){ .ckpt = {
		.type = DM_REPLAY_REC_CHECKPOINT, .kind = kind, .nr_completions = nr,
		.checkpoint = n, .time_ns = JW_TIME(n), .ids = ids } });
}

size_t jw_comp(struct jw *w, uint64_t n, uint64_t id)
{
	return jw_rec(w, (union dm_replay_rec){ .comp = {
		.type = DM_REPLAY_REC_COMPLETION, .op = JW_OP(id),
		.flags = id % 4 == 1 ? DM_REPLAY_F_FUA : 0, .checkpoint = n, .id = id,
		.sector = id * 8, .nr_sectors = JW_SECTORS(id), .lower_seq = id,
		.lat_us = JW_LAT(id), .hold_us = JW_HOLD(id) } });
}

void jw_ckpt_comps(struct jw *w, uint64_t n, uint32_t nr, uint64_t *id)
{
	jw_ckpt(w, n, DM_REPLAY_CKPT_USER, nr, *id + nr);
	for (uint32_t i = 0; i < nr; i++)
		jw_comp(w, n, (*id)++);
}

void jw_good(struct jw *w)
{
	uint64_t id = 100;

	jw_header(w, 100);
	jw_ckpt_comps(w, 1, 2, &id);
	jw_ckpt_comps(w, 2, 3, &id);
	jw_ckpt_comps(w, 3, 5, &id);
}

union dm_replay_rec *jw_at(struct jw *w, size_t off)
{
	return (union dm_replay_rec *)(w->buf + off);
}

int jw_write(const struct jw *w, const char *path)
{
	FILE *f = fopen(path, "we");
	int ret;

	if (!f)
		return -1;
	ret = fwrite(w->buf, 1, w->len, f) == w->len ? 0 : -1;
	return fclose(f) ? -1 : ret;
}
