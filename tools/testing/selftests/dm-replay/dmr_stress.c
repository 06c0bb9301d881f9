// SPDX-License-Identifier: GPL-2.0
/*
 * dmr_stress: helpers for the dm-replay reliability suites.
 *
 *   dmr_stress cycle NAME [--suspend N] [--reload N] [--noflush N]
 *                    [--pause-ms MS]
 *       Suspend/resume NAME N times, reload its own table N times
 *       (table status -> load -> suspend -> resume, what
 *       `dmsetup table X | dmsetup load X; dmsetup suspend X; dmsetup
 *       resume X` does) and suspend --noflush/resume N times, through the
 *       device-mapper ioctls directly: dmsetup costs ~0.3 s a call under
 *       TCG.  Prints "suspend=N reload=N noflush=N failed=N ms=N".
 *
 *   dmr_stress jscan FILE...
 *       Read the files as one journal stream (a consumer that restarted
 *       wrote several) and check it, tolerating sequence gaps, which it
 *       counts: "records= headers= checkpoints= user= suspend= unheld=
 *       id_base= completions= errors= eio= gaps= gap_records=
 *       first_seq= last_seq= user_completions= suspend_completions=
 *       unheld_completions= tail_completions=" (tail: after the last
 *       header, i.e. by the current table, whose status counters start
 *       at its construction).  Exit 1 if the structure is wrong
 *       (completions outside or beyond their checkpoint, an id delivered
 *       twice, sequence going backwards, a missing header).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>

#include "dmr_lib.h"

#define DM_BUF	(64 * 1024)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dmr_stress cycle NAME [--suspend N] [--reload N] [--noflush N]\n"
		"                         [--pause-ms MS]\n"
		"       dmr_stress jscan FILE...\n"
		"Reliability helpers for the dm-replay selftests.\n");
}

static int dm_ctl = -1;

static struct dm_ioctl *dm_prep(void *buf, const char *name, __u32 flags)
{
	struct dm_ioctl *io = buf;

	memset(buf, 0, DM_BUF);
	io->version[0] = DM_VERSION_MAJOR;
	io->version[1] = 0;
	io->version[2] = 0;
	io->data_size = DM_BUF;
	io->data_start = sizeof(*io);
	io->flags = flags;
	snprintf(io->name, sizeof(io->name), "%s", name);
	return io;
}

static int dm_call(unsigned long cmd, void *buf, const char *what,
		   const char *name)
{
	if (ioctl(dm_ctl, cmd, buf)) {
		fprintf(stderr, "dmr_stress: %s %s: %s\n", what, name,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int dm_suspend(const char *name, void *buf, __u32 extra)
{
	dm_prep(buf, name, DM_SUSPEND_FLAG | extra);
	return dm_call(DM_DEV_SUSPEND, buf, "suspend", name);
}

static int dm_resume(const char *name, void *buf)
{
	dm_prep(buf, name, 0);
	return dm_call(DM_DEV_SUSPEND, buf, "resume", name);
}

/* Load the device's own live table again (into the inactive slot). */
static int dm_reload(const char *name, void *buf, void *buf2)
{
	struct dm_ioctl *io = dm_prep(buf, name, DM_STATUS_TABLE_FLAG);
	struct dm_ioctl *lo;
	char *in, *out;
	__u32 i;

	if (dm_call(DM_TABLE_STATUS, buf, "table", name))
		return -1;
	if (io->flags & DM_BUFFER_FULL_FLAG) {
		fprintf(stderr, "dmr_stress: table %s: too large\n", name);
		return -1;
	}
	lo = dm_prep(buf2, name, 0);
	lo->target_count = io->target_count;
	in = (char *)buf + io->data_start;
	out = (char *)buf2 + lo->data_start;
	for (i = 0; i < io->target_count; i++) {
		struct dm_target_spec *s = (struct dm_target_spec *)in;
		struct dm_target_spec *d = (struct dm_target_spec *)out;
		size_t plen = strlen((char *)(s + 1)) + 1;
		size_t sz = (sizeof(*d) + plen + 7) & ~(size_t)7;

		/* only single-target tables are cycled by the suites */
		if (i) {
			fprintf(stderr, "dmr_stress: %s: more than one target\n",
				name);
			return -1;
		}
		memcpy(d, s, sizeof(*d));
		d->status = 0;
		memcpy(d + 1, s + 1, plen);
		d->next = sz;
		out += sz;
	}
	if (dm_call(DM_TABLE_LOAD, buf2, "load", name))
		return -1;
	if (dm_suspend(name, buf, 0))
		return -1;
	return dm_resume(name, buf);
}

static int cmd_cycle(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "suspend", required_argument, NULL, 's' },
		{ "reload", required_argument, NULL, 'r' },
		{ "noflush", required_argument, NULL, 'n' },
		{ "pause-ms", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long ns = 0, nr = 0, nn = 0, ds = 0, dr = 0, dn = 0, failed = 0;
	int pause = 0;
	const char *name;
	void *buf, *buf2;
	uint64_t t0;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:r:n:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': ns = atol(optarg); break;
		case 'r': nr = atol(optarg); break;
		case 'n': nn = atol(optarg); break;
		case 'p': pause = atoi(optarg); break;
		default:
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	name = argv[optind];
	dm_ctl = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (dm_ctl < 0) {
		fprintf(stderr, "dmr_stress: /dev/mapper/control: %s\n",
			strerror(errno));
		return 1;
	}
	buf = calloc(1, DM_BUF);
	buf2 = calloc(1, DM_BUF);
	if (!buf || !buf2)
		return 1;
	t0 = dmr_now_ms();
	/* Interleave the kinds so each meets the others' aftermath. */
	while (ds < ns || dr < nr || dn < nn) {
		if (ds < ns) {
			if (!dm_suspend(name, buf, 0) && !dm_resume(name, buf))
				ds++;
			else if (++failed > 5)
				break;
		}
		if (dr < nr) {
			if (!dm_reload(name, buf, buf2))
				dr++;
			else if (++failed > 5)
				break;
		}
		if (dn < nn) {
			if (!dm_suspend(name, buf, DM_NOFLUSH_FLAG) &&
			    !dm_resume(name, buf))
				dn++;
			else if (++failed > 5)
				break;
		}
		if (pause)
			dmr_msleep(pause);
	}
	printf("suspend=%ld reload=%ld noflush=%ld failed=%ld ms=%llu\n", ds,
	       dr, dn, failed, (unsigned long long)(dmr_now_ms() - t0));
	free(buf);
	free(buf2);
	close(dm_ctl);
	return failed ? 1 : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmd_jscan(int argc, char **argv)
{
	struct dmr_journal all = { 0 }, j;
	size_t i, left = 0, nids = 0, kind[DM_REPLAY_CKPT_DETACH + 1] = { 0 }, headers = 0, ckpts = 0;
	size_t comps = 0, errors = 0, eio = 0, gaps = 0, kcomp[DM_REPLAY_CKPT_DETACH + 1] = { 0 };
	size_t tail = 0, nek = 0, file_headers = 0;
	struct { int op, status; size_t n; } ek[16];
	int cur_kind = 0;
	uint64_t gap_records = 0, first = 0, last = 0, *ids;
	int a, bad = 0;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	for (a = 1; a < argc; a++) {
		if (dmr_journal_load(&j, argv[a]))
			return 1;
		for (i = 0; i < j.n; i++) {
			/*
			 * dmreplay capture starts every file with a copy of
			 * the header; in a later file of the same stream it
			 * repeats a sequence number already seen: skip it.
			 */
			if (a > 1 && i == 0 && all.n &&
			    j.r[0].type == DM_REPLAY_REC_HEADER &&
			    le64toh(j.r[0].hdr.seq) <= le64toh(all.r[all.n - 1].hdr.seq)) {
				file_headers++;
				continue;
			}
			if (all.n == all.cap) {
				all.cap = all.cap ? 2 * all.cap : 4096;
				all.r = realloc(all.r, all.cap * sizeof(*all.r));
				if (!all.r)
					return 1;
			}
			all.r[all.n++] = j.r[i];
		}
		dmr_journal_close(&j);
	}
	ids = calloc(all.n + 1, sizeof(*ids));
	if (!ids)
		return 1;
	for (i = 0; i < all.n; i++) {
		const union dm_replay_rec *r = &all.r[i];
		uint64_t seq = le64toh(r->hdr.seq);

		if (i == 0) {
			if (r->type != DM_REPLAY_REC_HEADER) {
				fprintf(stderr, "record 0: type %u, not a header\n",
					r->type);
				bad = 1;
			}
			first = seq;
		} else if (seq <= last) {
			fprintf(stderr, "record %zu: seq %llu after %llu\n", i,
				(unsigned long long)seq,
				(unsigned long long)last);
			bad = 1;
		} else if (seq != last + 1) {
			gaps++;
			gap_records += seq - last - 1;
			/* lost records of the open checkpoint */
			left -= left < seq - last - 1 ? left : seq - last - 1;
		}
		last = seq;
		switch (r->type) {
		case DM_REPLAY_REC_HEADER:
			headers++;
			tail = 0;
			if (left) {
				fprintf(stderr, "record %zu: header inside a checkpoint\n", i);
				bad = 1;
			}
			break;
		case DM_REPLAY_REC_CHECKPOINT:
			if (left) {
				fprintf(stderr, "record %zu: checkpoint while %zu completions missing\n",
					i, left);
				bad = 1;
			}
			ckpts++;
			cur_kind = r->ckpt.kind;
			if (cur_kind > DM_REPLAY_CKPT_DETACH) {
				fprintf(stderr, "record %zu: unknown checkpoint kind %d\n",
					i, cur_kind);
				bad = 1;
				cur_kind = DM_REPLAY_CKPT_USER;
			}
			kind[cur_kind]++;
			left = le32toh(r->ckpt.nr_completions);
			break;
		case DM_REPLAY_REC_COMPLETION:
			if (!left) {
				fprintf(stderr, "record %zu: completion outside a checkpoint\n", i);
				bad = 1;
			} else {
				left--;
			}
			comps++;
			tail++;
			kcomp[cur_kind]++;
			ids[nids++] = le64toh(r->comp.id);
			if (r->comp.status) {
				int32_t stv = (int32_t)le32toh(r->comp.status);
				size_t x;

				for (x = 0; x < nek; x++)
					if (ek[x].op == r->comp.op && ek[x].status == stv)
						break;
				if (x == nek && nek < 16)
					ek[nek++] = (typeof(ek[0])){ r->comp.op, stv, 0 };
				if (x < 16)
					ek[x].n++;
				errors++;
				if ((int32_t)le32toh(r->comp.status) == -EIO)
					eio++;
			}
			break;
		default:
			fprintf(stderr, "record %zu: unknown type %u\n", i, r->type);
			bad = 1;
		}
	}
	if (left) {
		fprintf(stderr, "stream ends with %zu completions missing\n", left);
		bad = 1;
	}
	qsort(ids, nids, sizeof(*ids), cmp_u64);
	for (i = 1; i < nids; i++) {
		if (ids[i] == ids[i - 1]) {
			fprintf(stderr, "id %llu delivered twice\n",
				(unsigned long long)ids[i]);
			bad = 1;
			break;
		}
	}
	printf("records=%zu headers=%zu checkpoints=%zu user=%zu suspend=%zu "
	       "unheld=%zu id_base=%zu detach=%zu completions=%zu errors=%zu eio=%zu "
	       "gaps=%zu gap_records=%llu first_seq=%llu last_seq=%llu "
	       "user_completions=%zu suspend_completions=%zu "
	       "unheld_completions=%zu detach_completions=%zu tail_completions=%zu "
	       "file_headers=%zu\n",
	       all.n, headers, ckpts, kind[DM_REPLAY_CKPT_USER],
	       kind[DM_REPLAY_CKPT_SUSPEND], kind[DM_REPLAY_CKPT_UNHELD],
	       kind[DM_REPLAY_CKPT_ID_BASE], kind[DM_REPLAY_CKPT_DETACH], comps,
	       errors, eio, gaps,
	       (unsigned long long)gap_records, (unsigned long long)first,
	       (unsigned long long)last, kcomp[DM_REPLAY_CKPT_USER],
	       kcomp[DM_REPLAY_CKPT_SUSPEND], kcomp[DM_REPLAY_CKPT_UNHELD],
	       kcomp[DM_REPLAY_CKPT_DETACH], tail, file_headers);
	for (i = 0; i < nek; i++)
		printf("%serror_%s_%d=%zu", i ? " " : "# ", dmr_op_name(ek[i].op),
		       ek[i].status, ek[i].n);
	if (nek)
		printf("\n");
	free(ids);
	free(all.r);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "cycle"))
		return cmd_cycle(argc - 1, argv + 1);
	if (!strcmp(argv[1], "jscan"))
		return cmd_jscan(argc - 1, argv + 1);
	fprintf(stderr, "dmr_stress: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
