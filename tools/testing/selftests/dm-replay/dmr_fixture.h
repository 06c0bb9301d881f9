/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the kselftest_harness tests (include after the harness). */
#ifndef DMR_FIXTURE_H
#define DMR_FIXTURE_H

#include <stdlib.h>
#include <sys/stat.h>
#include "dmr_lib.h"

#define DMR_SECTORS	16384ULL	/* 8 MiB targets */

static inline const char *dmr_ram(int i)
{
	static const char *const env[] = { "DMR_RAM0", "DMR_RAM1", "DMR_RAM2",
					   "DMR_RAM3" };
	static const char *const def[] = { "/dev/ram0", "/dev/ram1",
					   "/dev/ram2", "/dev/ram3" };
	const char *e = getenv(env[i]);

	return e && *e ? e : def[i];
}

/* Skip reasons for missing prerequisites (never for a module problem). */
static inline const char *dmr_prereq_missing(void)
{
	struct stat st;

	if (geteuid())
		return "needs root";
	if (stat(DMR_CTL_PATH, &st))
		return DMR_CTL_PATH " missing (dm-replay.ko not loaded)";
	if (stat(dmr_ram(0), &st) || stat(dmr_ram(1), &st))
		return "no ramdisks (modprobe brd rd_nr=4)";
	if (stat(DMR_DEBUGFS, &st))
		return DMR_DEBUGFS " missing (debugfs not mounted?)";
	return NULL;
}

/*
 * Release everything a test may still hold on NAME: suspend (releases
 * held completions without waiting for a checkpoint), resume, remove.
 */
static inline void dmr_teardown_dev(const char *name)
{
	char out[64];

	if (dmr_sh_out(out, sizeof(out), "dmsetup info %s 2>/dev/null", name))
		return;
	dmr_sh("timeout 20 dmsetup suspend %s; timeout 20 dmsetup resume %s",
	       name, name);
}

/* Find the index of the first record of type after index from. */
static inline ssize_t dmr_find(const struct dmr_journal *j, size_t from,
			       unsigned int type)
{
	size_t i;

	for (i = from; i < j->n; i++)
		if (j->r[i].type == type)
			return i;
	return -1;
}

/* Number of completion records in j. */
static inline size_t dmr_count_comp(const struct dmr_journal *j)
{
	size_t i, n = 0;

	for (i = 0; i < j->n; i++)
		n += j->r[i].type == DM_REPLAY_REC_COMPLETION;
	return n;
}

/*
 * The 6.1 harness runs the test body even when FIXTURE_SETUP skipped, so
 * a missing prerequisite skips the whole program here, before any test.
 */
#define DMR_HARNESS_MAIN \
	int main(int argc, char **argv) \
	{ \
		const char *why = dmr_prereq_missing(); \
		if (why) { \
			printf("TAP version 13\n1..0 # SKIP %s\n", why); \
			return KSFT_SKIP; \
		} \
		return test_harness_run(argc, argv); \
	}

#endif
