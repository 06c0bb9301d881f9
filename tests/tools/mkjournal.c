// SPDX-License-Identifier: GPL-2.0
/*
 * mkjournal KIND FILE: write a test journal.  Used by the command tests
 * and to make the fixtures in tests/data (kept in step by test_cmd.sh).
 */
#include <stdio.h>
#include <string.h>

#include "jwriter.h"

/* Offsets in the standard good journal (jw_good). */
#define REC(i) ((size_t)(i) * DM_REPLAY_RECORD_SIZE)

static int make(const char *kind, struct jw *w)
{
	uint64_t id = 100;

	if (!strcmp(kind, "good")) {
		jw_good(w);
	} else if (!strcmp(kind, "truncated")) {	/* a partial last record */
		jw_good(w);
		w->len -= 10;
	} else if (!strcmp(kind, "truncated-ckpt")) {	/* ends inside checkpoint 3 */
		jw_good(w);
		w->len -= REC(2);
	} else if (!strcmp(kind, "bad-magic")) {
		jw_good(w);
		jw_at(w, 0)->hdr.magic ^= 0xff;
	} else if (!strcmp(kind, "bad-type")) {		/* record 5 */
		jw_good(w);
		jw_at(w, REC(5))->type = 9;
	} else if (!strcmp(kind, "bad-size")) {
		jw_good(w);
		jw_at(w, 0)->hdr.rec_size = 128;
	} else if (!strcmp(kind, "wrong-version")) {
		jw_good(w);
		jw_at(w, 0)->hdr.version = 2;
	} else if (!strcmp(kind, "gap")) {		/* 3 records lost before checkpoint 3 */
		jw_header(w, 100);
		jw_ckpt_comps(w, 1, 2, &id);
		jw_ckpt_comps(w, 2, 3, &id);
		w->seq += 3;
		jw_ckpt_comps(w, 3, 5, &id);
	} else if (!strcmp(kind, "backwards")) {	/* checkpoint 2 after 3 */
		jw_header(w, 100);
		jw_ckpt_comps(w, 1, 2, &id);
		jw_ckpt_comps(w, 3, 3, &id);
		jw_ckpt_comps(w, 2, 5, &id);
	} else if (!strcmp(kind, "short-ckpt")) {	/* checkpoint 2 says 3, has 2 */
		jw_header(w, 100);
		jw_ckpt_comps(w, 1, 2, &id);
		jw_ckpt(w, 2, DM_REPLAY_CKPT_USER, 3, id + 3);
		jw_comp(w, 2, id++);
		jw_comp(w, 2, id++);
		jw_ckpt_comps(w, 3, 5, &id);
	} else if (!strcmp(kind, "reload")) {	/* a second header; seq goes on */
		jw_good(w);
		jw_header(w, id + 10);
		id += 10;
		jw_ckpt_comps(w, 1, 2, &id);
	} else if (!strcmp(kind, "id-base")) {	/* SET_NEXT_ID 5000 before any I/O */
		jw_header(w, 100);
		id = 5000;
		jw_ckpt(w, 0, DM_REPLAY_CKPT_ID_BASE, 0, id);
		jw_ckpt_comps(w, 1, 2, &id);
		jw_ckpt_comps(w, 2, 3, &id);
	} else {
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct jw w;

	if (argc != 3) {
		fprintf(stderr, "usage: mkjournal KIND FILE\n");
		return 2;
	}
	jw_init(&w);
	if (make(argv[1], &w)) {
		fprintf(stderr, "mkjournal: unknown kind '%s'\n", argv[1]);
		return 2;
	}
	if (jw_write(&w, argv[2])) {
		perror(argv[2]);
		return 1;
	}
	jw_free(&w);
	return 0;
}
