/* SPDX-License-Identifier: GPL-2.0 */
/* Test writer: builds dm-replay journals (good and broken) in memory. */
#ifndef JWRITER_H
#define JWRITER_H

#include <stddef.h>
#include <stdint.h>
#include <linux/dm-replay.h>

struct jw {
	unsigned char *buf;	/* records, little-endian, as the kernel writes */
	size_t len, cap;
	uint64_t seq;		/* seq of the next record; bump it to make a gap */
};

void jw_init(struct jw *w);
void jw_free(struct jw *w);
/* Append r (host order) with the next seq; returns its byte offset. */
size_t jw_rec(struct jw *w, union dm_replay_rec r);
size_t jw_header(struct jw *w, uint64_t id_base);
size_t jw_ckpt(struct jw *w, uint64_t n, unsigned int kind, uint32_t nr, uint64_t ids);
/* Completion number i (deterministic op, sector, size, latencies) of checkpoint n. */
size_t jw_comp(struct jw *w, uint64_t n, uint64_t id);
/* Checkpoint n with nr completions, ids from *id on. */
void jw_ckpt_comps(struct jw *w, uint64_t n, uint32_t nr, uint64_t *id);
/* The standard good journal: header (id_base 100), checkpoints 1..3 with 2, 3, 5. */
void jw_good(struct jw *w);
/* A record at offset off, for corrupting it (little-endian). */
union dm_replay_rec *jw_at(struct jw *w, size_t off);
int jw_write(const struct jw *w, const char *path);

/* What jw_comp writes for id, to check readers against. */
#define JW_DEV_MAJOR 253
#define JW_DEV_MINOR 7
#define JW_OP(id)	((id) % 3 == 2 ? DM_REPLAY_OP_FLUSH : (id) % 3)
#define JW_SECTORS(id)	(JW_OP(id) == DM_REPLAY_OP_FLUSH ? 0 : 8u << ((id) % 4))
#define JW_LAT(id)	(10u * ((id) % 7 + 1))
#define JW_HOLD(id)	(5u * ((id) % 5 + 1))
#define JW_TIME(n)	(1000000000ULL + (n) * 1000000ULL)

#endif
