// SPDX-License-Identifier: GPL-2.0
/* dmreplay checkpoint and replay: control sessions on /dev/dm-replay. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "dmreplay.h"

/*
 * Open a session, or adopt the one in fd if fd >= 0, then resolve and
 * attach every name (one attached already in an adopted session is no
 * failure); on failure say which and close.
 */
static int open_attach(struct dmr_session **s, int fd, char **names, int n,
		       struct dmr_dev *devs)
{
	if (fd >= 0 ? dmr_session_open_fd(s, fd) : dmr_session_open(s, NULL))
		return fail("%s", dmr_strerror());
	for (int i = 0; i < n; i++) {
		int err = dmr_dev_resolve(names[i], &devs[i]);

		if (!err)
			err = dmr_attach(*s, devs[i].dev);
		if (err && !(err == -EEXIST && fd >= 0)) {
			fail("attach %s: %s", names[i], dmr_strerror());
			dmr_session_close(*s);
			return EXIT_FAIL;
		}
	}
	return 0;
}

/* Detach all and close; a device removed meanwhile is no failure. */
static int detach_close(struct dmr_session *s, struct dmr_dev *devs, int n)
{
	int ret = 0, err;

	for (int i = 0; i < n; i++) {
		err = dmr_detach(s, devs[i].dev);
		if (err && err != -ENOENT && err != -ENODEV)
			ret = fail("detach %s: %s", devs[i].name, dmr_session_strerror(s));
	}
	dmr_session_close(s);
	return ret;
}

/*
 * Issue checkpoint *n.  Numbers must exceed every earlier checkpoint of
 * the targets (from earlier sessions and messages too), which nothing
 * reports: with jump, answer -EINVAL by trying ever larger numbers.
 */
static int issue(struct dmr_session *s, uint64_t *n, bool jump,
		 const struct dm_replay_expect *exp, uint32_t nr, uint32_t timeout_ms,
		 uint32_t flags, struct dm_replay_checkpoint *ck)
{
	int ret;

	while ((ret = dmr_checkpoint_replay(s, *n, exp, nr, timeout_ms, flags, ck)) == -EINVAL &&
	       jump && *n < UINT64_MAX / 2)
		*n *= 2;
	return ret;
}

/* --submit=WHEN */
enum submit_when { SUBMIT_DEFAULT, SUBMIT_NEVER, SUBMIT_ALWAYS, SUBMIT_AUTO };

struct ckpt_opts {
	uint64_t every_us, spin_us, count, id_base, first, fd;
	bool set_id, fixed, adopt;	/* fixed: --first given; adopt: --session-fd */
	enum submit_when submit;
};

static int parse_submit(const char *arg, enum submit_when *w)
{
	static const char *const names[] = {
		[SUBMIT_NEVER] = "never", [SUBMIT_ALWAYS] = "always",
		[SUBMIT_AUTO] = "auto",
	};

	if (!arg) {
		*w = SUBMIT_ALWAYS;
		return 0;
	}
	for (size_t i = SUBMIT_NEVER; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(arg, names[i])) {
			*w = (enum submit_when)i;
			return 0;
		}
	}
	return usage_err("--submit=%s: WHEN is always, never or auto", arg);
}

/*
 * --submit after all options: submitting needs a spinning caller (the
 * requests it takes over wait for its next checkpoint); the default is
 * auto when spinning, else never.
 */
static int resolve_submit(enum submit_when *w, bool spin)
{
	if ((*w == SUBMIT_ALWAYS || *w == SUBMIT_AUTO) && !spin)
		return usage_err("--submit needs --spin: the requests it takes over wait for its next checkpoint");
	if (*w == SUBMIT_DEFAULT)
		*w = spin ? SUBMIT_AUTO : SUBMIT_NEVER;
	return 0;
}

static int ckpt_opt(int c, const char *arg, void *ctx)
{
	struct ckpt_opts *o = ctx;

	switch (c) {
	case 'e': return parse_u64(arg, "--every", &o->every_us);
	case 's': return parse_u64(arg, "--spin", &o->spin_us);
	case 'c': return parse_u64(arg, "--count", &o->count);
	case 'i': o->set_id = true; return parse_u64(arg, "--id-base", &o->id_base);
	case 'f': o->fixed = true; return parse_u64(arg, "--first", &o->first);
	case 'S': o->adopt = true; return parse_u64(arg, "--session-fd", &o->fd);
	case 'b': return parse_submit(arg, &o->submit);
	default: return 0;	/* 'u': the default */
	}
}

/*
 * A spinning driver does its slower checks (the clock, pending signals)
 * once every SPIN_CHECK_EVERY rounds.
 */
#define SPIN_CHECK_EVERY 64

/*
 * Whether a spinning driver has had @idle empty checkpoints in a row for
 * longer than @spin_us.  The clock is read only every SPIN_CHECK_EVERY
 * empty checkpoints, the first read starting the idle time: read on each
 * round, flat out, it is read hundreds of thousands of times a second,
 * and a clock read is not free.  Under QEMU's TCG a TSC read on one vCPU
 * slows the others: clock_gettime() flat out on one vCPU costs fio on
 * dm-linear on the other about 12% of its request rate (bench/neighbour).
 */
static bool spin_over(uint64_t spin_us, int idle, uint64_t *idle_since)
{
	uint64_t now;

	if (!idle || idle % SPIN_CHECK_EVERY)
		return false;
	now = now_ns();
	if (idle == SPIN_CHECK_EVERY)
		*idle_since = now;
	return now - *idle_since > spin_us * 1000;
}

int cmd_checkpoint(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "every", required_argument, NULL, 'e' },
		{ "spin", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'c' },
		{ "until-signal", no_argument, NULL, 'u' },
		{ "id-base", required_argument, NULL, 'i' },
		{ "first", required_argument, NULL, 'f' },
		{ "session-fd", required_argument, NULL, 'S' },
		{ "submit", optional_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' }, {}
	};
	struct ckpt_opts o = { .first = 1 };
	struct submitter sp;
	struct dm_replay_checkpoint ck;
	uint64_t n, done = 0, delivered = 0, eagain = 0, next_at = 0, idle_since = 0;
	int ret, ndev, backoff = 0, idle = 0;
	unsigned int spun = 0;
	struct dmr_session *s;
	struct dmr_dev *devs;

	ret = parse_opts(argc, argv, "e:s:c:ui:f:S:b::", lo, ckpt_opt, &o, 1, -1);
	if (ret >= 0)
		return ret;
	if (!o.first)
		return usage_err("--first: checkpoint numbers start at 1");
	if (o.every_us && o.spin_us)
		return usage_err("--every and --spin exclude each other");
	ret = resolve_submit(&o.submit, o.spin_us);
	if (ret)
		return ret;
	submitter_init(&sp);
	sp.submit = o.submit == SUBMIT_ALWAYS;
	if (o.spin_us > 60000000)
		return usage_err("--spin %llu: at most 60000000 us (a minute)",
				 (unsigned long long)o.spin_us);
	if (o.adopt && o.fd > INT_MAX)
		return usage_err("--session-fd %llu: not a file descriptor",
				 (unsigned long long)o.fd);
	ndev = argc - optind;
	devs = calloc(ndev, sizeof(*devs));
	signals_setup(true);
	if (!devs || open_attach(&s, o.adopt ? (int)o.fd : -1, argv + optind, ndev, devs))
		return free(devs), EXIT_FAIL;
	if (o.set_id && dmr_set_next_id(s, o.id_base)) {
		ret = fail("%s", dmr_session_strerror(s));
		goto out;
	}
	for (n = o.first; !stop_signal && (!o.count || done < o.count); n++) {
		/* Pace, back off after -EAGAIN or idle rounds, wait for work. */
		if (o.every_us) {
			/* One clock read: a deadline passing in between wrapped the wait. */
			uint64_t now = now_ns();

			if (now < next_at) {
				struct timespec ts = {
					.tv_sec = (time_t)((next_at - now) / 1000000000),
					.tv_nsec = (long)((next_at - now) % 1000000000),
				};

				nanosleep(&ts, NULL);	/* EINTR: the loop checks the signal */
			}
		}
		if (backoff)
			wait_fd(-1, backoff);
		/*
		 * --spin: while something was delivered in the last spin_us,
		 * checkpoint again at once; a sleeper in poll() would cost a
		 * wakeup in the submitter's completion path for each request.
		 */
		if (!o.spin_us || spin_over(o.spin_us, idle, &idle_since)) {
			if (o.submit == SUBMIT_AUTO)
				submitter_idle(&sp);
			if (!backoff && idle > 1)
				wait_fd(-1, 10);
			while (!stop_signal && !wait_fd(dmr_session_fd(s), 100))
				;
		}
		/*
		 * SIGINT and SIGTERM are blocked but in ppoll(): spinning,
		 * let them in now and then, busy or not.
		 */
		if (o.spin_us && ++spun % SPIN_CHECK_EVERY == 0) {
			wait_fd(-1, 0);
			if (o.submit == SUBMIT_AUTO)
				submitter_tick(&sp, now_ns());
		}
		if (stop_signal)
			break;
		if (o.every_us)
			next_at = now_ns() + o.every_us * 1000;
		ret = issue(s, &n, !o.fixed, NULL, 0, 0,
			    sp.submit ? DM_REPLAY_CKPT_F_SUBMIT : 0, &ck);
		if (ret == -EAGAIN) {
			eagain++;
			backoff = backoff ? (backoff * 2 > 100 ? 100 : backoff * 2) : 1;
			continue;
		}
		if (ret < 0) {
			ret = fail("%s", dmr_session_strerror(s));
			goto out;
		}
		backoff = 0;
		submitter_delivered(&sp, (uint64_t)ret);
		idle = ret ? 0 : idle + 1;
		done += ret > 0;
		delivered += ret;
	}
	ret = EXIT_OK;
out:
	if (detach_close(s, devs, ndev))
		ret = EXIT_FAIL;
	free(devs);
	fprintf(stderr, "checkpoints=%lu delivered=%lu eagain=%lu", done, delivered, eagain);
	if (o.submit == SUBMIT_AUTO)
		submitter_print(&sp);
	fputc('\n', stderr);
	return ret;
}

/* ---- replay -------------------------------------------------------------- */

struct replay {
	struct dmr_session *s;
	struct dmr_dev dev;
	const char *file;
	uint32_t timeout_ms, flags;
	struct dm_replay_expect *exp;
	uint32_t nr, cap;
	uint64_t ckpt, ckpt_off, last;	/* journaled number, its offset, last issued */
	uint64_t checkpoints, delivered, reordered, divergences;
	uint64_t skipped;	/* suspend and unheld checkpoints */
	bool skip;		/* in one of those */
	bool autosub;		/* --submit=auto: sp chooses */
	unsigned int calls;	/* checkpoints issued, for the clock reads */
	struct submitter sp;
};

struct replay_opts {
	const char *ready;
	uint32_t timeout;
	bool spin;
	enum submit_when submit;
};

static int replay_opt(int c, const char *arg, void *ctx)
{
	struct replay_opts *o = ctx;
	uint64_t v;
	int ret;

	if (c == 'r') {
		o->ready = arg;
		return 0;
	}
	if (c == 's') {
		o->spin = true;
		return 0;
	}
	if (c == 'b')
		return parse_submit(arg, &o->submit);
	ret = parse_u64(arg, "--timeout", &v);
	if (!ret && (!v || v > UINT32_MAX))
		ret = usage_err("--timeout: %lu out of range 1..%u ms", v, UINT32_MAX);
	o->timeout = (uint32_t)v;
	return ret;
}

static void report_div(struct replay *r, const struct dm_replay_checkpoint *ck,
		       uint64_t n)
{
	const struct dm_replay_divergence *d = &ck->first;
	struct dm_replay_rec_completion act = {
		.op = d->actual_op, .flags = d->actual_flags,
		.status = (uint32_t)d->actual_status, .id = d->actual_id,
		.sector = d->actual_sector, .nr_sectors = d->actual_nr_sectors,
	};
	union dm_replay_rec exp = d->expected;
	char e[192], a[192], where[96];

	dmr_rec_le(&exp);
	fmt_comp(e, sizeof(e), &exp.comp);
	fmt_comp(a, sizeof(a), &act);
	snprintf(where, sizeof(where), "checkpoint %lu", r->ckpt);
	if (n != r->ckpt)
		snprintf(where + strlen(where), sizeof(where) - strlen(where),
			 " (issued as %lu)", n);
	fprintf(stderr, "dmreplay replay: %s: %s, %s offset %lu: divergence %s at "
		"record %u: expected %s, actual %s", r->dev.name, where, r->file,
		r->ckpt_off, dmr_div_kind_name(d->kind), d->index, e,
		d->kind == DM_REPLAY_DIV_MISSING ? "none" : a);
	if (d->kind == DM_REPLAY_DIV_DATA)
		fprintf(stderr, " (crc32c expected 0x%08x, actual 0x%08x)",
			exp.comp.crc32c, d->actual_crc32c);
	fputc('\n', stderr);
	if (ck->divergences > 1)
		fprintf(stderr, "dmreplay replay: %s: %s: %u more divergences (%u missing); "
			"see the kernel log\n", r->dev.name, where, ck->divergences - 1,
			ck->missing);
}

/*
 * The flags of the next checkpoint.  With --submit=auto, the submitter
 * chooses as for `checkpoint --spin` (submitter.c), from what the replay's
 * checkpoints deliver; the clock is read every SPIN_CHECK_EVERY of them.
 */
static uint32_t replay_flags(struct replay *r)
{
	if (!r->autosub)
		return r->flags;
	if (++r->calls % SPIN_CHECK_EVERY == 1)
		submitter_tick(&r->sp, now_ns());
	return r->flags | (r->sp.submit ? DM_REPLAY_CKPT_F_SUBMIT : 0);
}

/* Issue the collected completions as checkpoint(s); max_expect per call. */
static int flush(struct replay *r)
{
	uint32_t max = dmr_session_version(r->s)->max_expect, done = 0, nr;
	struct dm_replay_checkpoint ck;
	uint64_t n;
	int ret;

	while (done < r->nr) {
		nr = r->nr - done < max || !max ? r->nr - done : max;
		n = r->ckpt > r->last ? r->ckpt : r->last + 1;
		r->last = n;
		ret = issue(r->s, &n, true, r->exp + done, nr, r->timeout_ms,
			    replay_flags(r), &ck);
		r->last = n;
		if (ret < 0 && ret != -ETIMEDOUT)
			return fail("%s", dmr_session_strerror(r->s));
		r->checkpoints++;
		r->delivered += ck.delivered;
		if (r->autosub)
			submitter_delivered(&r->sp, ck.delivered);
		r->reordered += ck.reordered;
		r->divergences += ck.divergences ? ck.divergences : ret < 0;
		if (ck.divergences || ret < 0)
			report_div(r, &ck, n);
		if (ret < 0)
			return fail("%s: checkpoint %lu timed out: %u expected completions "
				    "missing", r->dev.name, r->ckpt, ck.missing);
		done += nr;
	}
	r->nr = 0;
	return 0;
}

/* The recording's first id: an ID_BASE checkpoint before any completion, else the header's. */
static int find_base(struct dmr_journal *j, uint64_t *base)
{
	struct dmr_event ev;
	bool have = false;
	int ret;

	while ((ret = dmr_journal_next(j, &ev)) > 0 &&
	       ev.rec.type != DM_REPLAY_REC_COMPLETION) {
		if (ev.rec.type == DM_REPLAY_REC_CHECKPOINT &&
		    ev.rec.ckpt.kind == DM_REPLAY_CKPT_ID_BASE) {
			*base = ev.rec.ckpt.ids;
			break;
		}
		if (ev.rec.type == DM_REPLAY_REC_HEADER && !have) {
			*base = ev.rec.hdr.id_base;
			have = true;
		}
	}
	if (ret < 0 || dmr_journal_seek(j, 0))
		return fail("%s", dmr_journal_strerror(j));
	return 0;
}

static int replay_journal(struct replay *r, struct dmr_journal *j)
{
	struct dm_replay_expect *e;
	struct dmr_event ev;
	int ret;

	while ((ret = dmr_journal_next(j, &ev)) > 0) {
		if (stop_signal)
			return fail("interrupted by signal %d", (int)stop_signal);
		if (ev.lost)
			fprintf(stderr, "dmreplay replay: %s: %lu records lost before offset "
				"%lu; the replay may diverge\n", r->file, ev.lost, ev.offset);
		if (ev.rec.type != DM_REPLAY_REC_COMPLETION) {
			if (flush(r))
				return EXIT_FAIL;
			r->skip = ev.rec.type == DM_REPLAY_REC_CHECKPOINT &&
				  (ev.rec.ckpt.kind == DM_REPLAY_CKPT_SUSPEND ||
				   ev.rec.ckpt.kind == DM_REPLAY_CKPT_UNHELD ||
				   ev.rec.ckpt.kind == DM_REPLAY_CKPT_DETACH);
			r->skipped += r->skip;
			if (ev.rec.type == DM_REPLAY_REC_CHECKPOINT) {
				r->ckpt = ev.rec.ckpt.checkpoint;
				r->ckpt_off = ev.offset;
			}
			continue;
		}
		/* the target releases these itself when suspended */
		if (r->skip)
			continue;
		if (r->nr == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 256;
			r->exp = realloc(r->exp, r->cap * sizeof(*r->exp));
			if (!r->exp)
				return fail("out of memory");
		}
		e = &r->exp[r->nr++];
		memset(e, 0, sizeof(*e));
		e->dev.major = major(r->dev.dev);
		e->dev.minor = minor(r->dev.dev);
		e->rec = ev.rec;
		dmr_rec_le(&e->rec);
	}
	if (ret < 0)
		return fail("%s", dmr_journal_strerror(j));
	return flush(r) ? EXIT_FAIL : EXIT_OK;
}

int cmd_replay(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "ready", required_argument, NULL, 'r' },
		{ "spin", no_argument, NULL, 's' },
		{ "submit", optional_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' }, {}
	};
	struct replay_opts o = { 0 };
	struct replay r = { 0 };
	struct dmr_journal *j;
	struct tstatus st;
	uint64_t base = 0;
	int ret, fd;

	ret = parse_opts(argc, argv, "t:r:sb::", lo, replay_opt, &o, 2, 2);
	if (ret >= 0)
		return ret;
	ret = resolve_submit(&o.submit, o.spin);
	if (ret)
		return ret;
	r.file = argv[optind + 1];
	r.timeout_ms = o.timeout;
	r.flags = (o.spin ? DM_REPLAY_CKPT_F_SPIN : 0) |
		  (o.submit == SUBMIT_ALWAYS ? DM_REPLAY_CKPT_F_SUBMIT : 0);
	r.autosub = o.submit == SUBMIT_AUTO;
	submitter_init(&r.sp);
	if (target_status(argv[optind], &st, 1, false) < 0)
		return EXIT_FAIL;
	if (strcmp(st.mode, "replay"))
		return fail("%s is a %s-mode target, not replay", argv[optind], st.mode);
	if (dmr_journal_open_file(&j, r.file))
		return fail("%s", dmr_strerror());
	if (find_base(j, &base))
		return dmr_journal_close(j), EXIT_FAIL;
	signals_setup(false);
	if (open_attach(&r.s, -1, argv + optind, 1, &r.dev))
		return dmr_journal_close(j), EXIT_FAIL;
	if (dmr_set_next_id(r.s, base)) {
		ret = fail("%s", dmr_session_strerror(r.s));
		goto out;
	}
	if (o.ready && ((fd = open(o.ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0 ||
			close(fd))) {
		ret = fail("--ready %s: %s", o.ready, strerror(errno));
		goto out;
	}
	ret = replay_journal(&r, j);
	fprintf(stderr, "checkpoints=%lu delivered=%lu reordered=%lu divergences=%lu "
		"skipped=%lu", r.checkpoints, r.delivered, r.reordered, r.divergences,
		r.skipped);
	if (r.autosub)
		submitter_print(&r.sp);
	fputc('\n', stderr);
	if (!ret && r.divergences)
		ret = EXIT_FAIL;
out:
	if (detach_close(r.s, &r.dev, 1))
		ret = EXIT_FAIL;
	dmr_journal_close(j);
	free(r.exp);
	return ret;
}
