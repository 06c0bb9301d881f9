// SPDX-License-Identifier: GPL-2.0
/*
 * dmr_tool: small independent journal and checkpoint helper for the
 * dm-replay shell selftests, so that record-mode tests do not depend on
 * the dmreplay command they partly test.
 *
 *   dmr_tool check FILE            validate a journal, print a summary
 *   dmr_tool dump FILE             one line per checkpoint / completion
 *   dmr_tool edit IN OUT --nth K --sector-add D
 *                                  change the K-th completion's sector
 *   dmr_tool capture RELAY OUT     copy a relay file until SIGTERM
 *   dmr_tool ckptd [--interval MS] NAME...
 *                                  attach NAMEs, checkpoint until SIGTERM
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "dmr_lib.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dmr_tool check [--unordered] FILE\n"
		"       dmr_tool dump FILE\n"
		"       dmr_tool edit IN OUT --nth K --sector-add D\n"
		"       dmr_tool capture RELAY OUT\n"
		"       dmr_tool ckptd [--interval MS] NAME...\n"
		"Validate, print, edit, capture dm-replay journals; drive checkpoints.\n");
}

static int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "unordered", no_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct dmr_journal j;
	struct dmr_jsum s;
	bool ascending = true;
	char err[256];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "uh", opts, NULL)) != -1) {
		if (c == 'u')
			ascending = false;
		else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	if (dmr_journal_load(&j, argv[optind]))
		return 1;
	c = dmr_journal_check(&j, ascending, &s, err, sizeof(err));
	printf("records=%zu headers=%zu checkpoints=%zu completions=%zu "
	       "reads=%zu writes=%zu flushes=%zu discards=%zu "
	       "write_zeroes=%zu errors=%zu user=%zu suspend=%zu unheld=%zu "
	       "id_base=%zu detach=%zu first_seq=%llu last_seq=%llu last_checkpoint=%llu\n",
	       j.n, s.headers, s.checkpoints, s.completions,
	       s.by_op[DM_REPLAY_OP_READ], s.by_op[DM_REPLAY_OP_WRITE],
	       s.by_op[DM_REPLAY_OP_FLUSH], s.by_op[DM_REPLAY_OP_DISCARD],
	       s.by_op[DM_REPLAY_OP_WRITE_ZEROES], s.errors,
	       s.kind[DM_REPLAY_CKPT_USER], s.kind[DM_REPLAY_CKPT_SUSPEND],
	       s.kind[DM_REPLAY_CKPT_UNHELD], s.kind[DM_REPLAY_CKPT_ID_BASE],
	       s.kind[DM_REPLAY_CKPT_DETACH],
	       (unsigned long long)s.first_seq,
	       (unsigned long long)s.last_seq,
	       (unsigned long long)s.last_checkpoint);
	if (c)
		fprintf(stderr, "%s: %s\n", argv[optind], err);
	dmr_journal_close(&j);
	return c ? 1 : 0;
}

static int cmd_dump(int argc, char **argv)
{
	struct dmr_journal j;
	size_t i;

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (dmr_journal_load(&j, argv[1]))
		return 1;
	for (i = 0; i < j.n; i++) {
		const union dm_replay_rec *r = &j.r[i];

		switch (r->type) {
		case DM_REPLAY_REC_HEADER:
			printf("H mode=%u features=%#x id_base=%llu sectors=%llu\n",
			       le32toh(r->hdr.mode), le32toh(r->hdr.features),
			       (unsigned long long)le64toh(r->hdr.id_base),
			       (unsigned long long)le64toh(r->hdr.target_sectors));
			break;
		case DM_REPLAY_REC_CHECKPOINT:
			printf("C ckpt=%llu kind=%u nr=%u\n",
			       (unsigned long long)le64toh(r->ckpt.checkpoint),
			       r->ckpt.kind, le32toh(r->ckpt.nr_completions));
			break;
		case DM_REPLAY_REC_COMPLETION:
			printf("R ckpt=%llu id=%llu op=%s sector=%llu nr=%u "
			       "flags=%#x status=%d crc=%s%08x\n",
			       (unsigned long long)le64toh(r->comp.checkpoint),
			       (unsigned long long)le64toh(r->comp.id),
			       dmr_op_name(r->comp.op),
			       (unsigned long long)le64toh(r->comp.sector),
			       le32toh(r->comp.nr_sectors),
			       le16toh(r->comp.flags) & 0xff,
			       (int32_t)le32toh(r->comp.status),
			       le16toh(r->comp.flags) & DM_REPLAY_F_HAS_CRC ? "" : "-",
			       le32toh(r->comp.crc32c));
			break;
		default:
			printf("? type=%u\n", r->type);
		}
	}
	dmr_journal_close(&j);
	return 0;
}

static int cmd_edit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "nth", required_argument, NULL, 'n' },
		{ "sector-add", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	long long nth = -1, add = 0;
	struct dmr_journal j;
	size_t i, k = 0;
	FILE *f;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:s:", opts, NULL)) != -1) {
		if (c == 'n')
			nth = atoll(optarg);
		else if (c == 's')
			add = atoll(optarg);
		else {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 2 || nth < 0) {
		usage(stderr);
		return 2;
	}
	if (dmr_journal_load(&j, argv[optind]))
		return 1;
	for (i = 0; i < j.n; i++) {
		if (j.r[i].type != DM_REPLAY_REC_COMPLETION)
			continue;
		if ((long long)k++ == nth) {
			j.r[i].comp.sector = htole64(le64toh(j.r[i].comp.sector) + add);
			break;
		}
	}
	if (i == j.n) {
		fprintf(stderr, "edit: %s has no completion #%lld\n",
			argv[optind], nth);
		return 1;
	}
	f = fopen(argv[optind + 1], "w");
	if (!f || fwrite(j.r, DM_REPLAY_RECORD_SIZE, j.n, f) != j.n ||
	    fclose(f)) {
		fprintf(stderr, "edit: write %s: %s\n", argv[optind + 1],
			strerror(errno));
		return 1;
	}
	dmr_journal_close(&j);
	return 0;
}

static int cmd_capture(int argc, char **argv)
{
	static char buf[1 << 16];
	int in, out, quiet_rounds = 0;
	ssize_t n;

	if (argc != 3) {
		usage(stderr);
		return 2;
	}
	in = open(argv[1], O_RDONLY);
	if (in < 0) {
		fprintf(stderr, "capture: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0) {
		fprintf(stderr, "capture: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	/* After the stop signal, keep reading until it stays empty. */
	while (!stop || quiet_rounds < 3) {
		n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "capture: read %s: %s\n", argv[1],
				strerror(errno));
			return 1;
		}
		if (n == 0) {
			struct pollfd p = { .fd = in, .events = POLLIN };

			if (stop)
				quiet_rounds++;
			poll(&p, 1, 20);
			continue;
		}
		quiet_rounds = 0;
		if (write(out, buf, n) != n) {
			fprintf(stderr, "capture: write %s: %s\n", argv[2],
				strerror(errno));
			return 1;
		}
	}
	close(out);
	close(in);
	return 0;
}

static int cmd_ckptd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct dm_replay_checkpoint ck;
	unsigned long long delivered = 0, ckpts = 0, eagain = 0;
	uint64_t next = 1;
	int interval = 5, ctl, c, i, idle = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "i:", opts, NULL)) != -1) {
		if (c == 'i')
			interval = atoi(optarg);
		else {
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	ctl = dmr_ctl_open();
	if (ctl < 0) {
		fprintf(stderr, "ckptd: %s: %s\n", DMR_CTL_PATH, strerror(-ctl));
		return 1;
	}
	for (i = optind; i < argc; i++) {
		struct dmr_dev d;

		if (dmr_lookup(&d, argv[i]))
			return 1;
		c = dmr_attach(ctl, &d);
		if (c) {
			fprintf(stderr, "ckptd: attach %s: %s\n", argv[i],
				strerror(-c));
			return 1;
		}
	}
	/* After the stop signal, go on until nothing was held twice. */
	while (!stop || idle < 2) {
		c = dmr_checkpoint(ctl, next, &ck);
		if (c == 0) {
			next++;
			if (ck.delivered)
				ckpts++;
			delivered += ck.delivered;
			idle = ck.delivered || ck.held ? 0 : idle + 1;
		} else if (c == -EAGAIN) {
			eagain++;
		} else {
			fprintf(stderr, "ckptd: checkpoint %llu: %s\n",
				(unsigned long long)next, strerror(-c));
			return 1;
		}
		if (interval)
			dmr_msleep(interval);
	}
	printf("checkpoints=%llu delivered=%llu eagain=%llu\n", ckpts,
	       delivered, eagain);
	close(ctl);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "check"))
		return cmd_check(argc - 1, argv + 1);
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(argv[1], "edit"))
		return cmd_edit(argc - 1, argv + 1);
	if (!strcmp(argv[1], "capture"))
		return cmd_capture(argc - 1, argv + 1);
	if (!strcmp(argv[1], "ckptd"))
		return cmd_ckptd(argc - 1, argv + 1);
	fprintf(stderr, "dmr_tool: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
