// SPDX-License-Identifier: GPL-2.0
/* dmreplay: control and inspect dm-replay targets and their journals. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmreplay.h"

static const struct subcmd subcmds[] = {
	{ "create", cmd_create, "NAME DEV record|replay [FEATURE...]",
	  "Create dm device NAME: a replay target over all of block device DEV.\n"
	  "FEATUREs are the target's feature arguments, e.g. verify_data,\n"
	  "serialize_overlaps, subbuf_size BYTES, n_subbufs N.  Runs dmsetup\n"
	  "create and dmsetup mknodes.\n" },
	{ "remove", cmd_remove, "NAME", "Remove dm device NAME (dmsetup remove).\n" },
	{ "status", cmd_status, "NAME [--json]",
	  "Show the status of the replay target(s) of NAME.\n"
	  "  -j, --json   one JSON object per target, one per line\n" },
	{ "checkpoint", cmd_checkpoint,
	  "NAME... [--every USEC|--spin USEC [--submit[=WHEN]]] [--count N|--until-signal]\n"
	  "    [--id-base N] [--first N] [--session-fd FD]",
	  "Checkpoint driver: attach the devices to a session and checkpoint\n"
	  "whenever completions are held, until SIGINT/SIGTERM; then detach and\n"
	  "print \"checkpoints=N delivered=N eagain=N\" on stderr (with\n"
	  "--submit=auto, then \"probes=N submitting=N starved=N\").\n"
	  "  -e, --every USEC     at most one checkpoint every USEC microseconds\n"
	  "  -s, --spin USEC      checkpoint back to back, without sleeping in\n"
	  "                       poll(), until USEC microseconds pass with nothing\n"
	  "                       delivered (uses a CPU; fewest wakeups)\n"
	  "  -b, --submit[=WHEN]  with --spin: submit the devices' requests to their\n"
	  "                       lower devices from this thread, so the thread\n"
	  "                       that issues them only queues them.  WHEN is\n"
	  "                       always (no WHEN), never, or auto (the default\n"
	  "                       with --spin): every half second, try both ways\n"
	  "                       for 20 ms each and keep the one that delivers\n"
	  "                       more; submitting must win by an eighth\n"
	  "  -c, --count N        stop after N checkpoints that delivered something\n"
	  "  -u, --until-signal   run until SIGINT/SIGTERM (the default)\n"
	  "  -i, --id-base N      set the next request id to N first\n"
	  "  -f, --first N        number of the first checkpoint (default 1)\n"
	  "  -S, --session-fd FD  use the session open on FD, passed by whoever\n"
	  "                       opened /dev/dm-replay: needs no CAP_SYS_ADMIN\n" },
	{ "capture", cmd_capture, "NAME -o FILE",
	  "Copy the journal of NAME from debugfs to FILE (\"-\": stdout) until\n"
	  "SIGINT/SIGTERM, then drain the rest.  Progress on a terminal.\n"
	  "  -o, --output FILE    where to write the journal (required)\n" },
	{ "replay", cmd_replay, "NAME FILE [--timeout MS] [--ready PATH] [--spin [--submit[=WHEN]]]",
	  "Replay journal FILE on replay-mode device NAME: set the next id to\n"
	  "the recording's, then issue each journaled checkpoint with its\n"
	  "completions.  Exit 1 on any divergence or timeout.\n"
	  "  -t, --timeout MS     wait per checkpoint (default: kernel's 10000)\n"
	  "  -r, --ready PATH     create PATH once attached and the id is set\n"
	  "  -s, --spin           wait for late requests by polling, not asleep\n"
	  "                       (spends a CPU; spares the workload a wakeup)\n"
	  "  -b, --submit         with --spin: submit the device's requests from\n"
	  "                       this thread, as checkpoint --submit does\n" },
	{ "dump", cmd_dump, "FILE [--json]",
	  "Print the records of journal FILE (\"-\": stdin).\n"
	  "  -j, --json   a JSON array, one record object per line\n" },
	{ "verify", cmd_verify, "FILE",
	  "Check journal FILE; exit 0 only if it is whole (valid, no lost records).\n" },
	{ "stats", cmd_stats, "FILE [--json]",
	  "Requests per checkpoint, ops, sizes, latencies of journal FILE.\n"
	  "  -j, --json   the numbers as one JSON object\n" },
	{ "export", cmd_export, "FILE [--format=chrome-trace] [-o OUT]",
	  "Convert journal FILE to trace-event JSON (Perfetto, chrome://tracing).\n"
	  "  -F, --format FMT     chrome-trace (the only one)\n"
	  "  -o, --output OUT     write to OUT instead of stdout\n" },
};

const struct subcmd *subcmd;
volatile sig_atomic_t stop_signal;

static void vsay(const char *fmt, va_list ap)
{
	fprintf(stderr, "dmreplay%s%s: ", subcmd ? " " : "", subcmd ? subcmd->name : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	return EXIT_FAIL;
}

int usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'dmreplay %s --help'.\n", subcmd ? subcmd->name : "");
	return EXIT_USAGE;
}

void print_help(FILE *f, const struct subcmd *c)
{
	fprintf(f, "Usage: dmreplay %s %s\n%s", c->name, c->args, c->help);
}

int parse_opts(int argc, char **argv, const char *shortopts,
	       const struct option *longopts, opt_fn opt, void *ctx,
	       int min_args, int max_args)
{
	char so[32];
	int c, ret, n;

	snprintf(so, sizeof(so), "+h%s", shortopts);
	so[0] = ':';	/* report missing option arguments as ':' */
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, so, longopts, NULL)) != -1) {
		if (c == 'h') {
			print_help(stdout, subcmd);
			return EXIT_OK;
		}
		if (c == ':')
			return usage_err("option '%s' needs an argument", argv[optind - 1]);
		if (c == '?')
			return optopt ? usage_err("unknown option '-%c'", optopt) :
				usage_err("unknown option '%s'", argv[optind - 1]);
		ret = opt(c, optarg, ctx);
		if (ret)
			return ret;
	}
	n = argc - optind;
	if (n < min_args)
		return usage_err("missing argument%s (%d given, %d needed)",
				 min_args - n > 1 ? "s" : "", n, min_args);
	if (max_args >= 0 && n > max_args)
		return usage_err("unexpected argument '%s'", argv[optind + max_args]);
	return -1;
}

int parse_u64(const char *s, const char *what, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return usage_err("%s: '%s' is not an unsigned number", what, s);
	return 0;
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

static sigset_t orig_mask;

void signals_setup(bool block)
{
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, &orig_mask);
	sigdelset(&orig_mask, SIGINT);
	sigdelset(&orig_mask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int wait_fd(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };
	int n = ppoll(&p, fd >= 0, timeout_ms < 0 ? NULL : &ts, &orig_mask);

	return n > 0 && (p.revents & POLLIN);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void fmt_comp(char *buf, size_t len, const struct dm_replay_rec_completion *c)
{
	char fl[128];

	snprintf(buf, len, "id %llu %s %llu+%u%s%s status %d",
		 (unsigned long long)c->id, dmr_op_name(c->op),
		 (unsigned long long)c->sector, c->nr_sectors,
		 c->flags ? " " : "", dmr_flags_str(c->flags, fl, sizeof(fl)),
		 (int32_t)c->status);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: dmreplay COMMAND [OPTION...] [ARG...]\n"
		"Control dm-replay targets and read their journals.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(subcmds) / sizeof(subcmds[0]); i++)
		fprintf(f, "  %s %s\n", subcmds[i].name, subcmds[i].args);
	fprintf(f, "\n'dmreplay COMMAND --help' describes a command; see dmreplay(8).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr), EXIT_USAGE;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help"))
		return usage(stdout), EXIT_OK;
	for (size_t i = 0; i < sizeof(subcmds) / sizeof(subcmds[0]); i++) {
		if (strcmp(argv[1], subcmds[i].name))
			continue;
		subcmd = &subcmds[i];
		return subcmd->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "dmreplay: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
