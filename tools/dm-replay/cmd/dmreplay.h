/* SPDX-License-Identifier: GPL-2.0 */
/* dmreplay command: shared helpers of the subcommands. */
#ifndef DMREPLAY_CMD_H
#define DMREPLAY_CMD_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "libdmreplay.h"

/* Exit codes: 0 success, 1 failure (or divergence), 2 usage error. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct subcmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *args;	/* after "dmreplay NAME " */
	const char *help;	/* description and options */
};

extern const struct subcmd *subcmd;	/* the one running */

/* "dmreplay SUB: msg" on stderr; return EXIT_FAIL. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same plus a hint to --help; return EXIT_USAGE. */
int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the subcommand's help on f. */
void print_help(FILE *f, const struct subcmd *c);

/*
 * getopt_long loop with --help: calls opt(c, optarg, ctx) for the
 * others, which returns 0 or an exit code.  Returns -1 to go on (optind
 * at the first operand), else the exit code.  Checks the operand count.
 */
typedef int (*opt_fn)(int c, const char *arg, void *ctx);
int parse_opts(int argc, char **argv, const char *shortopts,
	       const struct option *longopts, opt_fn opt, void *ctx,
	       int min_args, int max_args);
/* An opt_fn for a lone flag option: sets *(bool *)ctx. */
int opt_json(int c, const char *arg, void *ctx);
/* Parse an unsigned number or fail with a message naming what. */
int parse_u64(const char *s, const char *what, uint64_t *v);

/* Signals: block SIGINT/SIGTERM, and ppoll() with them open. */
extern volatile sig_atomic_t stop_signal;
void signals_setup(bool block);
/* ppoll on fd (-1: none) for timeout_ms (-1: forever): >0 ready, 0 timeout or signal. */
int wait_fd(int fd, int timeout_ms);
uint64_t now_ns(void);

/*
 * --submit=auto: whether a spinning checkpoint or replay driver submits the
 * requests itself; see submitter.c.
 */
enum sp_phase { SP_START, SP_PROBE_MAP, SP_PROBE_SUBMIT, SP_HOLD };
struct submitter {
	enum sp_phase phase;
	bool submit;			/* the answer now */
	bool chosen;			/* the last choice (probes aside) */
	uint64_t settle_end, from;	/* ns: settled; measuring since (0: not yet) */
	uint64_t count;			/* delivered since from */
	uint64_t map_count, map_ns;	/* what the issuer submitting did */
	uint64_t hold_end;
	uint64_t probes, chose_submit;	/* decisions, and how many to submit */
	uint64_t starved;		/* probes dropped: the driver did not run */
};
void submitter_init(struct submitter *p);
/* A checkpoint delivered n completions. */
void submitter_delivered(struct submitter *p, uint64_t n);
/* Now and then, with the clock: returns whether to submit from now on. */
bool submitter_tick(struct submitter *p, uint64_t now);
/* The driver goes to sleep: the issuer submits, and it probes afresh. */
void submitter_idle(struct submitter *p);
/* The summary's fields, " probes=N submitting=N starved=N", to stderr. */
void submitter_print(const struct submitter *p);

/* One completion record in a line of text. */
void fmt_comp(char *buf, size_t len, const struct dm_replay_rec_completion *c);

/* Run a command with argv, its stdout into *out (malloc'd, may be NULL). */
int run_cmd(char *const argv[], char **out);

/* Checkpoint kinds this tool knows (enum dm_replay_ckpt_kind). */
#define NR_CKPT_KINDS (DM_REPLAY_CKPT_DETACH + 1)

/* Parsed "dmsetup status" of one dm-replay target. */
#define NR_STATUS 17
extern const char *const status_names[NR_STATUS];
struct tstatus {
	uint64_t start, length;
	char mode[16];
	uint64_t v[NR_STATUS];	/* ids_issued ... by_worker */
	char table[512];	/* "dmsetup table" params, if asked */
};
/*
 * Status (and with table, the table params) of the dm-replay targets of
 * dm device name: fills up to max, returns how many, or fails (-1, said).
 */
int target_status(const char *name, struct tstatus *st, int max, bool table);

/* Subcommands. */
int cmd_create(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
