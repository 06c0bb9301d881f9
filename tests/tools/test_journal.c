// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of libdmreplay's journal reader and error reporting
 * (cmocka, TAP output).  Journals come from the test writer.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "jwriter.h"

#define REC(i) ((size_t)(i) * DM_REPLAY_RECORD_SIZE)

struct run {
	int ret;			/* last dmr_journal_next() result */
	struct dmr_journal_stats st;
	uint64_t lost_at;		/* offset of the record after a gap */
	char err[256];
};

/* Read a journal in memory to the end or the first error. */
static struct run read_all(const struct jw *w)
{
	struct dmr_journal *j;
	struct dmr_event ev;
	struct run r = { 0 };

	assert_int_equal(dmr_journal_open_mem(&j, w->buf, w->len, "mem"), 0);
	while ((r.ret = dmr_journal_next(j, &ev)) > 0)
		if (ev.lost)
			r.lost_at = ev.offset;
	dmr_journal_stats(j, &r.st);
	snprintf(r.err, sizeof(r.err), "%s", dmr_journal_strerror(j));
	/* errors are sticky */
	assert_int_equal(dmr_journal_next(j, &ev), r.ret);
	dmr_journal_close(j);
	return r;
}

static void test_good(void **state)
{
	struct dmr_journal *j;
	struct dmr_event ev;
	uint64_t id = 100, n = 0;
	struct jw w;

	(void)state;
	jw_init(&w);
	jw_good(&w);
	assert_int_equal(dmr_journal_open_mem(&j, w.buf, w.len, "mem"), 0);
	while (dmr_journal_next(j, &ev) > 0) {
		assert_int_equal(ev.offset, REC(n));
		assert_int_equal(ev.rec.hdr.seq, n);
		assert_int_equal(ev.lost, 0);
		if (ev.rec.type == DM_REPLAY_REC_HEADER) {
			assert_int_equal(ev.rec.hdr.dev_major, JW_DEV_MAJOR);
			assert_int_equal(ev.rec.hdr.dev_minor, JW_DEV_MINOR);
			assert_int_equal(ev.rec.hdr.id_base, 100);
		} else if (ev.rec.type == DM_REPLAY_REC_COMPLETION) {
			assert_int_equal(ev.rec.comp.id, id);
			assert_int_equal(ev.rec.comp.op, JW_OP(id));
			assert_int_equal(ev.rec.comp.sector, id * 8);
			assert_int_equal(ev.rec.comp.nr_sectors, JW_SECTORS(id));
			assert_int_equal(ev.rec.comp.lat_us, JW_LAT(id));
			assert_int_equal(ev.rec.comp.hold_us, JW_HOLD(id));
			id++;
		}
		n++;
	}
	assert_int_equal(dmr_journal_next(j, &ev), 0);
	dmr_journal_close(j);
	assert_int_equal(n, 14);
	assert_int_equal(id, 110);
	jw_free(&w);
}

static void test_counts(void **state)
{
	struct run r;
	struct jw w;

	(void)state;
	jw_init(&w);
	jw_good(&w);
	r = read_all(&w);
	assert_int_equal(r.ret, 0);
	assert_int_equal(r.st.records, 14);
	assert_int_equal(r.st.headers, 1);
	assert_int_equal(r.st.checkpoints, 3);
	assert_int_equal(r.st.completions, 10);
	assert_int_equal(r.st.lost, 0);
	assert_int_equal(r.st.bytes, 14 * 64);
	jw_free(&w);
}

/*
 * Journals with one property each: built by a function, then read to
 * the end.  err 0: must be read whole with these counts; else must fail
 * with -err and a message containing msg.
 */
struct jcase {
	const char *name;
	void (*build)(struct jw *w);
	int err;
	const char *msg;
	uint64_t headers, checkpoints, completions, lost, lost_at;
};

static void truncated_record(struct jw *w) { jw_good(w); w->len -= 10; }
static void truncated_ckpt(struct jw *w) { jw_good(w); w->len -= REC(2); }
static void empty(struct jw *w) { (void)w; }
static void bad_magic(struct jw *w) { jw_good(w); jw_at(w, 0)->hdr.magic ^= 1; }
static void bad_type(struct jw *w) { jw_good(w); jw_at(w, REC(5))->type = 0; }
static void bad_size(struct jw *w) { jw_good(w); jw_at(w, 0)->hdr.rec_size = 32; }
static void wrong_version(struct jw *w) { jw_good(w); jw_at(w, 0)->hdr.version = 7; }

static void bad_magic_reload(struct jw *w)
{
	jw_good(w);
	jw_at(w, jw_header(w, 1))->hdr.magic = 0;
}

static void no_header(struct jw *w)
{
	uint64_t id = 1;

	jw_ckpt_comps(w, 1, 2, &id);
}

/* Header, checkpoint a with na completions, seq += skip, checkpoint b with nb. */
static void two(struct jw *w, uint64_t a, uint32_t na, int64_t skip, uint64_t b, uint32_t nb)
{
	uint64_t id = 1;

	jw_header(w, 1);
	jw_ckpt_comps(w, a, na, &id);
	w->seq += skip;
	jw_ckpt_comps(w, b, nb, &id);
}

static void gap_between(struct jw *w) { two(w, 1, 2, 3, 2, 2); }
static void seq_back(struct jw *w) { two(w, 1, 2, -2, 2, 1); }
static void backwards(struct jw *w) { two(w, 5, 1, 0, 4, 1); }
static void repeated_user(struct jw *w) { two(w, 5, 1, 0, 5, 1); }

/* Records lost inside a checkpoint count towards its completions. */
static void gap_inside(struct jw *w)
{
	uint64_t id = 1;

	jw_header(w, 1);
	jw_ckpt(w, 1, DM_REPLAY_CKPT_USER, 5, 6);
	jw_comp(w, 1, id++);
	w->seq += 2;
	jw_comp(w, 1, id++);
	jw_comp(w, 1, id++);
	jw_ckpt_comps(w, 2, 1, &id);
}

/* A lost checkpoint record: its completions follow without one. */
static void gap_lost_ckpt(struct jw *w)
{
	uint64_t id = 1;

	jw_header(w, 1);
	jw_ckpt_comps(w, 1, 1, &id);
	w->seq++;
	jw_comp(w, 2, id++);
	jw_ckpt_comps(w, 3, 1, &id);
}

/* Checkpoint 1 announces nr completions but has one, then what. */
static void short_then(struct jw *w, uint32_t nr, int what)
{
	uint64_t id = 1;

	jw_header(w, 1);
	jw_ckpt(w, 1, DM_REPLAY_CKPT_USER, nr, 4);
	jw_comp(w, 1, id++);
	if (what == DM_REPLAY_REC_HEADER)
		jw_header(w, 1);
	else
		jw_ckpt_comps(w, 2, 1, &id);
}

static void short_ckpt(struct jw *w) { short_then(w, 3, DM_REPLAY_REC_CHECKPOINT); }
static void short_before_header(struct jw *w) { short_then(w, 2, DM_REPLAY_REC_HEADER); }

static void extra_completion(struct jw *w)
{
	uint64_t id = 1;

	jw_header(w, 1);
	jw_ckpt_comps(w, 1, 1, &id);
	jw_comp(w, 1, id++);
}

static void wrong_ckpt_in_completion(struct jw *w)
{
	jw_header(w, 1);
	jw_ckpt(w, 1, DM_REPLAY_CKPT_USER, 1, 2);
	jw_comp(w, 9, 1);
}

/* A reload: new header, seq goes on, checkpoint numbers may restart. */
static void reload(struct jw *w)
{
	uint64_t id = 1;

	jw_good(w);
	jw_header(w, 200);
	jw_ckpt_comps(w, 1, 2, &id);
}

/* ID_BASE, suspend and unheld checkpoints carry the last number. */
static void kinds(struct jw *w)
{
	uint64_t id = 1;

	jw_header(w, 1);
	jw_ckpt(w, 0, DM_REPLAY_CKPT_ID_BASE, 0, 50);
	jw_ckpt_comps(w, 3, 1, &id);
	jw_ckpt(w, 3, DM_REPLAY_CKPT_SUSPEND, 1, id + 1);
	jw_comp(w, 3, id++);
	jw_ckpt(w, 3, DM_REPLAY_CKPT_UNHELD, 1, id + 1);
	jw_comp(w, 3, id++);
	jw_ckpt_comps(w, 4, 1, &id);
}

static const struct jcase cases[] = {
	{ "truncated record", truncated_record, ENODATA, "offset 832: truncated: 54 bytes" },
	{ "truncated checkpoint", truncated_ckpt, ENODATA,
	  "offset 768: truncated: checkpoint 3 at offset 512 has 3 of 5" },
	{ "empty", empty, ENODATA, "offset 0: empty journal" },
	{ "bad magic", bad_magic, EBADMSG, "offset 0: bad magic" },
	{ "bad magic in a reload header", bad_magic_reload, EBADMSG, "offset 896: bad magic" },
	{ "bad type", bad_type, EBADMSG, "offset 320: bad record type 0" },
	{ "bad record size", bad_size, EPROTO, "offset 0: record size 32" },
	{ "wrong version", wrong_version, EPROTO, "offset 0: journal version 7" },
	{ "no header first", no_header, EPROTO, "offset 0: first record is not a header" },
	{ "sequence going back", seq_back, EBADMSG, "offset 256: sequence goes back: 2 after 3" },
	{ "checkpoint going backwards", backwards, EBADMSG,
	  "offset 192: checkpoint 4 does not follow checkpoint 5" },
	{ "user checkpoint repeated", repeated_user, EBADMSG,
	  "offset 192: checkpoint 5 does not follow checkpoint 5" },
	{ "short checkpoint", short_ckpt, EBADMSG,
	  "offset 192: checkpoint 1 at offset 64 has 1 of 3 completion records, then a checkpoint" },
	{ "short checkpoint before a header", short_before_header, EBADMSG,
	  "offset 192: checkpoint 1 at offset 64 has 1 of 2 completion records, then a header" },
	{ "completion outside a checkpoint", extra_completion, EBADMSG,
	  "offset 192: completion record (seq 3) outside a checkpoint" },
	{ "completion of another checkpoint", wrong_ckpt_in_completion, EBADMSG,
	  "offset 128: completion of checkpoint 9 inside checkpoint 1" },
	{ "gap between checkpoints: lost count", gap_between, 0, NULL, 1, 2, 4, 3, REC(4) },
	{ "gap inside a checkpoint", gap_inside, 0, NULL, 1, 2, 4, 2, REC(3) },
	{ "gap with a lost checkpoint record", gap_lost_ckpt, 0, NULL, 1, 2, 3, 1, REC(3) },
	{ "reload", reload, 0, NULL, 2, 4, 12, 0, 0 },
	{ "id_base, suspend and unheld kinds", kinds, 0, NULL, 1, 5, 4, 0, 0 },
};

static void test_case(void **state)
{
	const struct jcase *c = *state;
	struct run r;
	struct jw w;

	jw_init(&w);
	c->build(&w);
	r = read_all(&w);
	jw_free(&w);
	if (c->err) {
		assert_int_equal(r.ret, -c->err);
		if (!strstr(r.err, c->msg))
			fail_msg("error message \"%s\" lacks \"%s\"", r.err, c->msg);
		assert_string_equal(dmr_strerror(), r.err);
		return;
	}
	if (r.ret)
		fail_msg("%s", r.err);
	assert_int_equal(r.st.headers, c->headers);
	assert_int_equal(r.st.checkpoints, c->checkpoints);
	assert_int_equal(r.st.completions, c->completions);
	assert_int_equal(r.st.lost, c->lost);
	assert_int_equal(r.lost_at, c->lost_at);
}

static void test_seek(void **state)
{
	struct dmr_journal *j;
	struct dmr_event ev;
	struct jw w;

	(void)state;
	jw_init(&w);
	jw_good(&w);
	assert_int_equal(dmr_journal_open_mem(&j, w.buf, w.len, "mem"), 0);
	assert_int_equal(dmr_journal_seek(j, 2), 0);
	assert_int_equal(dmr_journal_next(j, &ev), 1);
	assert_int_equal(ev.rec.type, DM_REPLAY_REC_CHECKPOINT);
	assert_int_equal(ev.rec.ckpt.checkpoint, 2);
	assert_int_equal(ev.offset, REC(4));
	assert_int_equal(dmr_journal_next(j, &ev), 1);
	assert_int_equal(ev.rec.comp.id, 102);
	assert_int_equal(dmr_journal_seek(j, 0), 0);
	assert_int_equal(dmr_journal_next(j, &ev), 1);
	assert_int_equal(ev.rec.type, DM_REPLAY_REC_HEADER);
	assert_int_equal(dmr_journal_seek(j, 4), -ENOENT);
	assert_non_null(strstr(dmr_journal_strerror(j), "no checkpoint 4"));
	/* the reader recovers after a failed seek */
	assert_int_equal(dmr_journal_seek(j, 3), 0);
	assert_int_equal(dmr_journal_next(j, &ev), 1);
	assert_int_equal(ev.rec.ckpt.checkpoint, 3);
	dmr_journal_close(j);
	jw_free(&w);
}

/*
 * A live stream joined inside checkpoint 1 (its checkpoint record was
 * consumed by an earlier reader): no header first, the rest of that
 * checkpoint skipped and counted; a partial record at the end is not an
 * error but "nothing yet".
 */
static void test_live_join(void **state)
{
	struct dmr_journal_stats st;
	struct dmr_journal *j;
	struct dmr_event ev;
	int n = 0, ret;
	struct jw w;

	(void)state;
	jw_init(&w);
	jw_good(&w);
	assert_int_equal(dmr_journal_open_mem(&j, w.buf + REC(2), w.len - REC(2) - 10,
					      "live"), 0);
	dmr_journal_set_live(j);
	while ((ret = dmr_journal_next(j, &ev)) > 0) {
		if (!n++) {
			assert_int_equal(ev.rec.type, DM_REPLAY_REC_CHECKPOINT);
			assert_int_equal(ev.rec.ckpt.checkpoint, 2);
			assert_int_equal(ev.offset, REC(2));
		}
	}
	assert_int_equal(ret, 0);
	assert_int_equal(dmr_journal_live_skipped(j), 2);
	dmr_journal_stats(j, &st);
	assert_int_equal(st.records, 9);	/* the last record is partial */
	assert_int_equal(st.completions, 7);
	assert_int_equal(dmr_journal_seek(j, 0), -ESPIPE);
	dmr_journal_close(j);
	jw_free(&w);
}

/* A file larger than the reader's buffer, through read(). */
static void test_file(void **state)
{
	char path[] = "/tmp/dmr-test-XXXXXX";
	struct dmr_journal *j;
	struct dmr_event ev;
	uint64_t id = 0, n = 0;
	struct jw w;
	int fd, ret;

	(void)state;
	jw_init(&w);
	jw_header(&w, 0);
	for (uint64_t c = 1; c <= 300; c++)
		jw_ckpt_comps(&w, c, 7, &id);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(jw_write(&w, path), 0);
	assert_int_equal(dmr_journal_open_file(&j, path), 0);
	while ((ret = dmr_journal_next(j, &ev)) > 0)
		n += ev.rec.type == DM_REPLAY_REC_COMPLETION;
	assert_int_equal(ret, 0);
	assert_int_equal(n, 2100);
	assert_int_equal(dmr_journal_seek(j, 299), 0);
	assert_int_equal(dmr_journal_next(j, &ev), 1);
	assert_int_equal(ev.offset, REC(1 + 298 * 8));
	dmr_journal_close(j);
	unlink(path);
	assert_int_equal(dmr_journal_open_file(&j, path), -ENOENT);
	assert_null(j);
	assert_non_null(strstr(dmr_strerror(), path));
	jw_free(&w);
}

static void test_rec_le_roundtrip(void **state)
{
	union dm_replay_rec a = { .comp = { .type = DM_REPLAY_REC_COMPLETION, .op = 1,
		.flags = 0x8001, .status = (uint32_t)-5, .seq = 0x0102030405060708ULL,
		.sector = 77, .nr_sectors = 8, .lat_us = 3, .hold_us = 4 } }, b = a;
	char buf[128];

	(void)state;
	dmr_rec_le(&b);
	dmr_rec_le(&b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_string_equal(dmr_op_name(DM_REPLAY_OP_WRITE_ZEROES), "write_zeroes");
	assert_string_equal(dmr_op_name(9), "unknown");
	assert_string_equal(dmr_ckpt_kind_name(DM_REPLAY_CKPT_UNHELD), "unheld");
	assert_string_equal(dmr_div_kind_name(DM_REPLAY_DIV_DATA), "data");
	assert_string_equal(dmr_flags_str(0x8001 | DM_REPLAY_F_NOUNMAP | (1U << 9), buf,
					  sizeof(buf)), "fua,nounmap,bit9,unheld");
}

static void test_session_errors(void **state)
{
	struct dmr_session *s = (void *)1;

	(void)state;
	assert_int_equal(dmr_session_open(&s, "/nonexistent/dm-replay"), -ENOENT);
	assert_null(s);
	assert_non_null(strstr(dmr_strerror(), "open /nonexistent/dm-replay"));
	/* not the control device: the VERSION ioctl fails and says so */
	assert_int_equal(dmr_session_open(&s, "/dev/null"), -ENOTTY);
	assert_non_null(strstr(dmr_strerror(), "DM_REPLAY_IOC_VERSION"));
	assert_non_null(strstr(dmr_strerror(), "/dev/null"));
}

static void test_dev_resolve_errors(void **state)
{
	struct dmr_dev d;

	(void)state;
	assert_int_equal(dmr_dev_resolve("no-such-dm-device-xyz", &d), -ENODEV);
	assert_non_null(strstr(dmr_strerror(), "no-such-dm-device-xyz"));
	assert_int_equal(dmr_dev_resolve("/dev/null", &d), -ENOTBLK);
	assert_int_equal(dmr_dev_resolve("/nonexistent", &d), -ENOENT);
	/* a device number that is not a dm device (or not there at all) */
	assert_int_equal(dmr_dev_resolve("4095:4095", &d), -ENODEV);
	assert_non_null(strstr(dmr_strerror(), "4095:4095"));
}

int main(void)
{
	static const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_seek),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_live_join),
		cmocka_unit_test(test_rec_le_roundtrip),
		cmocka_unit_test(test_session_errors),
		cmocka_unit_test(test_dev_resolve_errors),
	};
	const size_t nf = sizeof(fixed) / sizeof(fixed[0]);
	const size_t nc = sizeof(cases) / sizeof(cases[0]);
	struct CMUnitTest tests[sizeof(fixed) / sizeof(fixed[0]) + sizeof(cases) / sizeof(cases[0])];

	memcpy(tests, fixed, sizeof(fixed));
	for (size_t i = 0; i < nc; i++)
		tests[nf + i] = (struct CMUnitTest){ .name = cases[i].name,
			.test_func = test_case, .initial_state = (void *)&cases[i] };
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return _cmocka_run_group_tests("libdmreplay journal", tests, nf + nc, NULL, NULL);
}
