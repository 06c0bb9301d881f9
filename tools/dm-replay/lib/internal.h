/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libdmreplay internals shared by its modules. */
#ifndef DMR_INTERNAL_H
#define DMR_INTERNAL_H

#include "libdmreplay.h"

#define DMR_EXPORT __attribute__((visibility("default")))
#define DMR_ERRLEN 256

/*
 * Record a failure: format the message into buf (a handle's buffer, may
 * be NULL) and the thread's buffer, and return -err.
 */
int dmr_err(char *buf, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Find the debugfs mount point (default /sys/kernel/debug). */
const char *dmr_debugfs(void);

/* Tests only: read a memory journal as a live stream (relay semantics). */
void dmr_journal_set_live(struct dmr_journal *j);

#endif
