// SPDX-License-Identifier: GPL-2.0
/* dmreplay dump, verify, stats, export: read journal files. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dmreplay.h"

typedef int (*rec_fn)(const struct dmr_event *ev, void *ctx);

/* Read journal path through fn; EXIT_FAIL (said) on a journal error. */
static int walk(const char *path, rec_fn fn, void *ctx, struct dmr_journal_stats *st)
{
	struct dmr_journal *j;
	struct dmr_event ev;
	int ret;

	if (dmr_journal_open_file(&j, path))
		return fail("%s", dmr_strerror());
	while ((ret = dmr_journal_next(j, &ev)) > 0)
		if ((ret = fn(&ev, ctx)))
			break;
	if (ret < 0)
		fail("%s", dmr_journal_strerror(j));
	if (st)
		dmr_journal_stats(j, st);
	dmr_journal_close(j);
	return ret ? EXIT_FAIL : EXIT_OK;
}

/* ---- dump ---------------------------------------------------------------- */

struct dump {
	bool json;
	uint64_t n;
};

static void dump_json(const struct dmr_event *ev, uint64_t n)
{
	const union dm_replay_rec *r = &ev->rec;
	const char *sep = n ? ",\n" : "";
	char fl[128];

	if (ev->lost)
		printf("%s{\"type\":\"lost\",\"offset\":%lu,\"count\":%lu}", sep,
		       ev->offset, ev->lost), sep = ",\n";
	printf("%s{\"offset\":%lu,\"seq\":%lu,", sep, ev->offset, (uint64_t)r->hdr.seq);
	switch (r->type) {
	case DM_REPLAY_REC_HEADER:
		printf("\"type\":\"header\",\"version\":%u,\"rec_size\":%u,\"features\":%u,"
		       "\"id_base\":%lu,\"dev_major\":%u,\"dev_minor\":%u,"
		       "\"target_sectors\":%lu,\"time_ns\":%lu,\"mode\":\"%s\","
		       "\"subbuf_size\":%u}", r->hdr.version, r->hdr.rec_size,
		       r->hdr.features, (uint64_t)r->hdr.id_base, r->hdr.dev_major,
		       r->hdr.dev_minor, (uint64_t)r->hdr.target_sectors,
		       (uint64_t)r->hdr.time_ns, dmr_mode_name(r->hdr.mode),
		       r->hdr.subbuf_size);
		break;
	case DM_REPLAY_REC_CHECKPOINT:
		printf("\"type\":\"checkpoint\",\"checkpoint\":%lu,\"kind\":\"%s\","
		       "\"nr_completions\":%u,\"time_ns\":%lu,\"ids\":%lu,\"held_after\":%lu}",
		       (uint64_t)r->ckpt.checkpoint, dmr_ckpt_kind_name(r->ckpt.kind),
		       r->ckpt.nr_completions, (uint64_t)r->ckpt.time_ns,
		       (uint64_t)r->ckpt.ids, (uint64_t)r->ckpt.held_after);
		break;
	default:
		printf("\"type\":\"completion\",\"checkpoint\":%lu,\"id\":%lu,\"op\":\"%s\","
		       "\"flags\":%u,\"flag_names\":\"%s\",\"status\":%d,\"sector\":%lu,"
		       "\"nr_sectors\":%u,\"crc32c\":%u,\"lower_seq\":%lu,\"lat_us\":%u,"
		       "\"hold_us\":%u}", (uint64_t)r->comp.checkpoint, (uint64_t)r->comp.id,
		       dmr_op_name(r->comp.op), r->comp.flags,
		       dmr_flags_str(r->comp.flags, fl, sizeof(fl)), (int32_t)r->comp.status,
		       (uint64_t)r->comp.sector, r->comp.nr_sectors, r->comp.crc32c,
		       (uint64_t)r->comp.lower_seq, r->comp.lat_us, r->comp.hold_us);
	}
}

static void dump_text(const struct dmr_event *ev)
{
	const union dm_replay_rec *r = &ev->rec;
	char s[192];

	if (ev->lost)
		printf("# %lu records lost before offset %lu\n", ev->lost, ev->offset);
	printf("%10lu %8lu ", ev->offset, (uint64_t)r->hdr.seq);
	switch (r->type) {
	case DM_REPLAY_REC_HEADER:
		printf("header version %u dev %u:%u mode %s sectors %lu features 0x%x "
		       "id_base %lu subbuf %u time_ns %lu\n", r->hdr.version,
		       r->hdr.dev_major, r->hdr.dev_minor, dmr_mode_name(r->hdr.mode),
		       (uint64_t)r->hdr.target_sectors, r->hdr.features,
		       (uint64_t)r->hdr.id_base, r->hdr.subbuf_size, (uint64_t)r->hdr.time_ns);
		break;
	case DM_REPLAY_REC_CHECKPOINT:
		printf("checkpoint %lu kind %s completions %u ids %lu held_after %lu "
		       "time_ns %lu\n", (uint64_t)r->ckpt.checkpoint,
		       dmr_ckpt_kind_name(r->ckpt.kind), r->ckpt.nr_completions,
		       (uint64_t)r->ckpt.ids, (uint64_t)r->ckpt.held_after,
		       (uint64_t)r->ckpt.time_ns);
		break;
	default:
		fmt_comp(s, sizeof(s), &r->comp);
		printf("  completion %s lower_seq %lu lat_us %u hold_us %u", s,
		       (uint64_t)r->comp.lower_seq, r->comp.lat_us, r->comp.hold_us);
		if (r->comp.flags & DM_REPLAY_F_HAS_CRC)
			printf(" crc32c 0x%08x", r->comp.crc32c);
		putchar('\n');
	}
}

static int dump_rec(const struct dmr_event *ev, void *ctx)
{
	struct dump *d = ctx;

	if (d->json)
		dump_json(ev, d->n);
	else
		dump_text(ev);
	d->n++;
	return 0;
}

int cmd_dump(int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, NULL, 'j' },
					    { "help", no_argument, NULL, 'h' }, {} };
	struct dump d = { 0 };
	int ret = parse_opts(argc, argv, "j", lo, opt_json, &d.json, 1, 1);

	if (ret >= 0)
		return ret;
	if (d.json)
		printf("[\n");
	ret = walk(argv[optind], dump_rec, &d, NULL);
	if (d.json)
		printf("%s]\n", d.n ? "\n" : "");
	return ret;
}

/* ---- verify -------------------------------------------------------------- */

static int no_op(const struct dmr_event *ev, void *ctx)
{
	(void)ev;
	(void)ctx;
	return 0;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, NULL, 'h' }, {} };
	struct dmr_journal_stats st;
	int ret = parse_opts(argc, argv, "", lo, NULL, NULL, 1, 1);

	if (ret >= 0)
		return ret;
	if (walk(argv[optind], no_op, NULL, &st))
		return EXIT_FAIL;
	if (st.lost)
		return fail("%s: %lu records lost (sequence gaps); see 'dmreplay dump'",
			    argv[optind], st.lost);
	printf("%s: whole: %lu records, %lu headers, %lu checkpoints, %lu completions\n",
	       argv[optind], st.records, st.headers, st.checkpoints, st.completions);
	return EXIT_OK;
}

/* ---- stats --------------------------------------------------------------- */

struct series {
	uint32_t *v;
	size_t n, cap;
};

struct stats {
	struct series per_ckpt, sizes, lat, hold;
	uint64_t kinds[NR_CKPT_KINDS + 1], op_count[16], op_sectors[16], errors, unheld;
};

static void add(struct series *s, uint32_t v)
{
	if (s->n == s->cap && !(s->v = realloc(s->v, (s->cap = s->cap * 2 + 1024) * 4)))
		abort();
	s->v[s->n++] = v;
}

static int stats_rec(const struct dmr_event *ev, void *ctx)
{
	const union dm_replay_rec *r = &ev->rec;
	struct stats *s = ctx;

	if (r->type == DM_REPLAY_REC_CHECKPOINT) {
		s->kinds[r->ckpt.kind < NR_CKPT_KINDS ? r->ckpt.kind : NR_CKPT_KINDS]++;
		if (r->ckpt.kind != DM_REPLAY_CKPT_ID_BASE)
			add(&s->per_ckpt, r->ckpt.nr_completions);
	} else if (r->type == DM_REPLAY_REC_COMPLETION) {
		s->op_count[r->comp.op & 15]++;
		s->op_sectors[r->comp.op & 15] += r->comp.nr_sectors;
		s->errors += r->comp.status != 0;
		s->unheld += !!(r->comp.flags & DM_REPLAY_F_UNHELD);
		add(&s->sizes, r->comp.nr_sectors);
		add(&s->lat, r->comp.lat_us);
		add(&s->hold, r->comp.hold_us);
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted series. */
static uint32_t pct(const struct series *s, unsigned int p)
{
	size_t i = (s->n * p + 99) / 100;

	return s->n ? s->v[i ? i - 1 : 0] : 0;
}

/* Summary and power-of-two histogram of a series; scale multiplies values. */
static void print_series(const char *name, struct series *s, bool json, unsigned int scale)
{
	uint64_t sum = 0, hist[34] = { 0 };
	bool first = true;

	qsort(s->v, s->n, sizeof(*s->v), cmp_u32);
	for (size_t i = 0; i < s->n; i++) {
		sum += s->v[i];
		hist[s->v[i] ? 64 - __builtin_clzll((uint64_t)s->v[i]) : 0]++;
	}
	printf(json ? ",\"%s\":{\"count\":%zu,\"min\":%lu,\"p50\":%lu,\"p90\":%lu,"
	       "\"p99\":%lu,\"max\":%lu,\"mean\":%.3f,\"hist\":{" :
	       "%s: count %zu min %lu p50 %lu p90 %lu p99 %lu max %lu mean %.3f\n",
	       name, s->n, (uint64_t)pct(s, 0) * scale, (uint64_t)pct(s, 50) * scale,
	       (uint64_t)pct(s, 90) * scale, (uint64_t)pct(s, 99) * scale,
	       (uint64_t)pct(s, 100) * scale, s->n ? (double)sum * scale / s->n : 0.0);
	for (int b = 0; b < 34; b++) {
		uint64_t lo = b ? (1ULL << (b - 1)) * scale : 0;

		if (!hist[b])
			continue;
		printf(json ? "%s\"%lu\":%lu" : "%s  >= %-10lu %lu\n", json && !first ? "," : "",
		       lo, hist[b]);
		first = false;
	}
	if (json)
		printf("}}");
	free(s->v);
}

int cmd_stats(int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, NULL, 'j' },
					    { "help", no_argument, NULL, 'h' }, {} };
	struct dmr_journal_stats st;
	struct stats s = { 0 };
	bool json = false, first = true;
	int ret = parse_opts(argc, argv, "j", lo, opt_json, &json, 1, 1);

	if (ret >= 0)
		return ret;
	if (walk(argv[optind], stats_rec, &s, &st)) {
		free(s.per_ckpt.v), free(s.sizes.v), free(s.lat.v), free(s.hold.v);
		return EXIT_FAIL;
	}
	printf(json ? "{\"records\":%lu,\"headers\":%lu,\"checkpoints\":%lu,"
	       "\"completions\":%lu,\"lost\":%lu,\"errors\":%lu,\"unheld\":%lu,\"kinds\":{" :
	       "records %lu headers %lu checkpoints %lu completions %lu lost %lu "
	       "errors %lu unheld %lu\ncheckpoint kinds:", st.records, st.headers,
	       st.checkpoints, st.completions, st.lost, s.errors, s.unheld);
	for (unsigned int k = 0; k <= NR_CKPT_KINDS; k++)
		printf(json ? "%s\"%s\":%lu" : "%s %s %lu", k && json ? "," : "",
		       k < NR_CKPT_KINDS ? dmr_ckpt_kind_name(k) : "other", s.kinds[k]);
	printf(json ? "},\"ops\":{" : "\nops:\n");
	for (unsigned int op = 0; op < 16; op++) {
		if (!s.op_count[op])
			continue;
		printf(json ? "%s\"%s\":{\"count\":%lu,\"sectors\":%lu}" :
		       "%s  %-13s %lu requests, %lu sectors\n", json && !first ? "," : "",
		       dmr_op_name(op), s.op_count[op], s.op_sectors[op]);
		first = false;
	}
	printf(json ? "}" : "");
	print_series("per_checkpoint", &s.per_ckpt, json, 1);
	print_series("size_bytes", &s.sizes, json, 512);
	print_series("lat_us", &s.lat, json, 1);
	print_series("hold_us", &s.hold, json, 1);
	printf(json ? "}\n" : "");
	return EXIT_OK;
}

/* ---- export -------------------------------------------------------------- */

struct track {
	uint32_t major, minor;
	double *busy;		/* per lane: end of its last event, us */
	size_t lanes;
};

struct export {
	FILE *f;
	struct track *tracks;
	size_t ntracks, cur;	/* cur: the current header's track */
	double t_us;		/* current checkpoint time */
	uint64_t ckpt;
	bool first;
};

static void event(struct export *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void event(struct export *x, const char *fmt, ...)
{
	va_list ap;

	fputs(x->first ? "\n" : ",\n", x->f);
	x->first = false;
	va_start(ap, fmt);
	vfprintf(x->f, fmt, ap);
	va_end(ap);
}

static void meta(struct export *x, const char *what, size_t tid, const char *name)
{
	event(x, "{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%zu,\"tid\":%zu,"
	      "\"args\":{\"name\":\"%s\"}}", what, x->cur + 1, tid, name);
}

static void set_track(struct export *x, uint32_t major, uint32_t minor)
{
	char name[64];
	struct track *t;

	for (x->cur = 0; x->cur < x->ntracks; x->cur++)
		if (x->tracks[x->cur].major == major && x->tracks[x->cur].minor == minor)
			return;
	if (!(x->tracks = realloc(x->tracks, ++x->ntracks * sizeof(*t))))
		abort();
	t = &x->tracks[x->cur];
	*t = (struct track){ .major = major, .minor = minor };
	snprintf(name, sizeof(name), "dm-replay %u:%u", major, minor);
	meta(x, "process_name", 0, name);
	meta(x, "thread_name", 0, "checkpoints");
}

/* First lane free at start (events come in order of their end). */
static size_t lane(struct export *x, double start, double end)
{
	struct track *t = &x->tracks[x->cur];
	char name[32];
	size_t i;

	for (i = 0; i < t->lanes && t->busy[i] > start; i++)
		;
	if (i == t->lanes) {
		if (!(t->busy = realloc(t->busy, ++t->lanes * sizeof(double))))
			abort();
		snprintf(name, sizeof(name), "requests %zu", i + 1);
		meta(x, "thread_name", i + 1, name);
	}
	t->busy[i] = end;
	return i + 1;
}

static int export_rec(const struct dmr_event *ev, void *ctx)
{
	const union dm_replay_rec *r = &ev->rec;
	const struct dm_replay_rec_completion *c = &r->comp;
	struct export *x = ctx;
	double start;
	char fl[128];
	size_t tid;

	if (!x->ntracks && r->type != DM_REPLAY_REC_HEADER)
		return 0;
	switch (r->type) {
	case DM_REPLAY_REC_HEADER:
		set_track(x, r->hdr.dev_major, r->hdr.dev_minor);
		break;
	case DM_REPLAY_REC_CHECKPOINT:
		x->t_us = r->ckpt.time_ns / 1000.0;
		x->ckpt = r->ckpt.checkpoint;
		event(x, "{\"name\":\"checkpoint %lu\",\"cat\":\"checkpoint\",\"ph\":\"i\","
		      "\"s\":\"p\",\"pid\":%zu,\"tid\":0,\"ts\":%.3f,\"args\":{\"checkpoint\":%lu,"
		      "\"kind\":\"%s\",\"completions\":%u,\"ids\":%lu,\"held_after\":%lu}}",
		      x->ckpt, x->cur + 1, x->t_us, x->ckpt, dmr_ckpt_kind_name(r->ckpt.kind),
		      r->ckpt.nr_completions, (uint64_t)r->ckpt.ids,
		      (uint64_t)r->ckpt.held_after);
		break;
	default:
		start = x->t_us - c->hold_us - c->lat_us;
		tid = lane(x, start, x->t_us);
		event(x, "{\"name\":\"%s\",\"cat\":\"io\",\"ph\":\"X\",\"pid\":%zu,\"tid\":%zu,"
		      "\"ts\":%.3f,\"dur\":%u,\"args\":{\"id\":%lu,\"sector\":%lu,"
		      "\"nr_sectors\":%u,\"flags\":\"%s\",\"status\":%d,\"checkpoint\":%lu,"
		      "\"lat_us\":%u,\"hold_us\":%u,\"lower_seq\":%lu}}", dmr_op_name(c->op),
		      x->cur + 1, tid, start, c->lat_us + c->hold_us, (uint64_t)c->id,
		      (uint64_t)c->sector, c->nr_sectors, dmr_flags_str(c->flags, fl, sizeof(fl)),
		      (int32_t)c->status, (uint64_t)c->checkpoint, c->lat_us, c->hold_us,
		      (uint64_t)c->lower_seq);
		event(x, "{\"name\":\"held\",\"cat\":\"hold\",\"ph\":\"X\",\"pid\":%zu,"
		      "\"tid\":%zu,\"ts\":%.3f,\"dur\":%u,\"args\":{\"id\":%lu}}", x->cur + 1,
		      tid, x->t_us - c->hold_us, c->hold_us, (uint64_t)c->id);
	}
	return 0;
}

struct export_opts {
	const char *format, *out;
};

static int export_opt(int c, const char *arg, void *ctx)
{
	struct export_opts *o = ctx;

	if (c == 'o')
		o->out = arg;
	else
		o->format = arg;
	return 0;
}

int cmd_export(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' }, {}
	};
	struct export_opts o = { .format = "chrome-trace" };
	struct export x = { .first = true };
	int ret = parse_opts(argc, argv, "F:o:", lo, export_opt, &o, 1, 1);

	if (ret >= 0)
		return ret;
	if (strcmp(o.format, "chrome-trace"))
		return usage_err("--format: unknown format '%s' (known: chrome-trace)",
				 o.format);
	x.f = o.out ? fopen(o.out, "we") : stdout;
	if (!x.f)
		return fail("open %s: %s", o.out, strerror(errno));
	fprintf(x.f, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"source\":\"dmreplay "
		"export\"},\"traceEvents\":[");
	ret = walk(argv[optind], export_rec, &x, NULL);
	fprintf(x.f, "\n]}\n");
	for (size_t i = 0; i < x.ntracks; i++)
		free(x.tracks[i].busy);
	free(x.tracks);
	if ((o.out ? fclose(x.f) : fflush(x.f)) && !ret)
		ret = fail("write %s: %s", o.out ? o.out : "stdout", strerror(errno));
	return ret;
}
