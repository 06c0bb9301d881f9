/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the dm-replay selftests: create and remove
 * dm-replay devices with dmsetup, parse their status line, talk to the
 * control device, read journal records from the relay channel, and run
 * blocking I/O in a thread so a test can see whether it is held.
 */
#ifndef DMR_LIB_H
#define DMR_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>
#include <linux/dm-replay.h>

#define DMR_CTL_PATH	"/dev/dm-replay"
#define DMR_DEBUGFS	"/sys/kernel/debug/dm-replay"

struct dmr_dev {
	char name[64];		/* dm name */
	char lower[128];	/* lower device path */
	uint64_t sectors;	/* target length */
	unsigned int major, minor;
	char kname[32];		/* dm-N */
	char path[160];		/* /dev/mapper/NAME */
	char jpath[256];	/* relay file */
};

struct dmr_status {
	char mode[16];
	uint64_t ids_issued, in_flight, held, delivered, checkpoints;
	uint64_t journal_bytes, journal_full, journal_lost, lower_errors;
	uint64_t overlaps, reordered, div_missing, div_shape, div_status;
	uint64_t div_data, last_checkpoint, by_worker;
};

/* Run a shell command (its stdout goes to stderr); returns exit status. */
int dmr_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Run a shell command, capture the first len-1 bytes of its stdout. */
int dmr_sh_out(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Size of a block device in 512-byte sectors, 0 on error. */
uint64_t dmr_dev_sectors(const char *path);

/*
 * Create NAME as "0 sectors replay lower 0 mode [features]"; sectors 0
 * means the whole lower device.  Returns 0 or -1 (message on stderr).
 */
int dmr_create(struct dmr_dev *d, const char *name, const char *lower,
	       uint64_t sectors, const char *mode, const char *features);
/* Fill in major/minor/kname/path/jpath of an existing dm device. */
int dmr_lookup(struct dmr_dev *d, const char *name);
/* dmsetup remove, retrying while busy; returns 0 or -1. */
int dmr_remove(const char *name);
int dmr_status(const char *name, struct dmr_status *st);
/* Poll status until held >= n or timeout; returns held count. */
uint64_t dmr_wait_held(const char *name, uint64_t n, int timeout_ms);
/* dmsetup message NAME 0 checkpoint [n]; n == 0 omits the number. */
int dmr_msg_checkpoint(const char *name, uint64_t n);

/* Control device.  Return 0 or -errno. */
int dmr_ctl_open(void);
int dmr_attach(int ctl, const struct dmr_dev *d);
int dmr_detach(int ctl, const struct dmr_dev *d);
int dmr_checkpoint(int ctl, uint64_t n, struct dm_replay_checkpoint *out);

/* Journal reader: all records read so far. */
struct dmr_journal {
	int fd;
	union dm_replay_rec *r;
	size_t n, cap;
	size_t partial;		/* bytes of an incomplete record in tail */
	unsigned char tail[DM_REPLAY_RECORD_SIZE];
};

int dmr_journal_open(struct dmr_journal *j, const char *path);
/* Read everything available now; returns number of new records or -1. */
ssize_t dmr_journal_drain(struct dmr_journal *j);
void dmr_journal_close(struct dmr_journal *j);
/* Load a journal file written by a capture tool. */
int dmr_journal_load(struct dmr_journal *j, const char *file);

struct dmr_jsum {
	size_t headers, checkpoints, completions;
	size_t by_op[16];
	size_t errors;			/* completions with status != 0 */
	size_t kind[DM_REPLAY_CKPT_DETACH + 1];	/* checkpoints by kind */
	uint64_t first_seq, last_seq;
	uint64_t last_checkpoint;
	uint64_t min_id, max_id;
};

/*
 * Check the stream's structure: starts with a header, sequence numbers
 * without gaps, every checkpoint followed by exactly nr_completions
 * completion records that name it, user checkpoint numbers increasing,
 * ids ascending within a checkpoint when ascending is set, ids unique.
 * Returns 0, or -1 with a description in err.
 */
int dmr_journal_check(const struct dmr_journal *j, bool ascending,
		      struct dmr_jsum *sum, char *err, size_t errlen);

/* Blocking I/O in a thread. */
enum dmr_io_kind {
	DMR_IO_READ, DMR_IO_WRITE, DMR_IO_FSYNC, DMR_IO_FDATASYNC,
	DMR_IO_DISCARD, DMR_IO_ZEROOUT, DMR_IO_PUNCH,
};

struct dmr_io {
	pthread_t th;
	int fd;
	enum dmr_io_kind kind;
	off_t off;
	size_t len;
	void *buf;
	volatile int done;
	ssize_t ret;
	int err;
	bool started;
};

/* Start I/O in a new thread; buf (if NULL) is allocated aligned. */
int dmr_io_start(struct dmr_io *io, int fd, enum dmr_io_kind kind,
		 off_t off, size_t len);
/* Wait up to timeout_ms for it; true if it finished (joined). */
bool dmr_io_wait(struct dmr_io *io, int timeout_ms);
void dmr_io_free(struct dmr_io *io);

uint64_t dmr_now_ms(void);
void dmr_msleep(int ms);

/* Drop CAP_SYS_ADMIN from the effective, permitted and inheritable sets. */
int dmr_drop_sys_admin(void);

const char *dmr_op_name(unsigned int op);

#endif
