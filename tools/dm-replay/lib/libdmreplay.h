/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libdmreplay: control sessions and journals of the dm-replay target.
 *
 * Every call that can fail returns a negative errno.  The message of the
 * last failure is kept per handle (dmr_session_strerror(),
 * dmr_journal_strerror()) and per thread (dmr_strerror(), also for calls
 * without a handle).  Messages name what failed and where (path, device,
 * byte offset, syscall).
 *
 * See dmreplay(8) and Documentation/admin-guide/device-mapper/dm-replay.rst.
 */
#ifndef LIBDMREPLAY_H
#define LIBDMREPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/dm-replay.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DMR_CONTROL_PATH	"/dev/dm-replay"

/* Message of the last failed call in this thread ("" if none). */
const char *dmr_strerror(void);

/* ---- devices ---------------------------------------------------------- */

struct dmr_dev {
	dev_t dev;		/* the dm device */
	char kname[32];		/* kernel name, "dm-N" */
	char name[128];		/* dm name ("" if unknown) */
};

/*
 * Resolve a dm device given as "MAJOR:MINOR", a device node path
 * (/dev/mapper/NAME, /dev/dm-N), a kernel name (dm-N) or a dm name.
 */
int dmr_dev_resolve(const char *spec, struct dmr_dev *out);

/* ---- control session (/dev/dm-replay) --------------------------------- */

struct dmr_session;

/* path NULL means DMR_CONTROL_PATH.  Checks the ABI version. */
int dmr_session_open(struct dmr_session **sp, const char *path);
/*
 * A session opened elsewhere, e.g. by a privileged manager that passed
 * it: opening needs CAP_SYS_ADMIN, using it does not.  Checks the ABI
 * version.  On success the session owns fd; on failure it stays the
 * caller's, open.
 */
int dmr_session_open_fd(struct dmr_session **sp, int fd);
void dmr_session_close(struct dmr_session *s);
const char *dmr_session_strerror(const struct dmr_session *s);
/* The session fd: poll() reports POLLIN while attached targets hold. */
int dmr_session_fd(const struct dmr_session *s);
const struct dm_replay_version *dmr_session_version(const struct dmr_session *s);

int dmr_attach(struct dmr_session *s, dev_t dev);
int dmr_detach(struct dmr_session *s, dev_t dev);
/* By name or path, see dmr_dev_resolve(). */
int dmr_attach_name(struct dmr_session *s, const char *spec);
int dmr_detach_name(struct dmr_session *s, const char *spec);

/* Wait up to timeout_ms (-1: forever) for held completions: 1, 0 or -errno. */
int dmr_session_wait(struct dmr_session *s, int timeout_ms);

/*
 * Record-mode checkpoint number n; fills *out (may be NULL) and returns
 * the number of completions delivered.  -EAGAIN: a journal is full.
 */
int dmr_checkpoint(struct dmr_session *s, uint64_t n,
		   struct dm_replay_checkpoint *out);
/*
 * Replay-mode checkpoint n delivering exactly exp[0..nr) in that order
 * (records little-endian, as journaled).  timeout_ms 0 means the kernel
 * default.  *out gets the result (counts, first divergence) also when the
 * call fails with -ETIMEDOUT.
 */
int dmr_checkpoint_replay(struct dmr_session *s, uint64_t n,
			  const struct dm_replay_expect *exp, uint32_t nr,
			  uint32_t timeout_ms, uint32_t flags,
			  struct dm_replay_checkpoint *out);
int dmr_set_next_id(struct dmr_session *s, uint64_t next_id);

/* ---- journals ----------------------------------------------------------- */

struct dmr_journal;

/* One record of a journal, in host byte order. */
struct dmr_event {
	union dm_replay_rec rec;
	uint64_t offset;	/* byte offset of the record in the stream */
	uint64_t lost;		/* records missing right before this one */
};

struct dmr_journal_stats {
	uint64_t records;	/* records read */
	uint64_t headers, checkpoints, completions;
	uint64_t lost;		/* records missing (sequence gaps) */
	uint64_t bytes;		/* bytes consumed */
};

/* A journal file (or pipe): a stream ending at end of file. */
int dmr_journal_open_file(struct dmr_journal **jp, const char *path);
/* Journal bytes in memory (not copied; must outlive the handle). */
int dmr_journal_open_mem(struct dmr_journal **jp, const void *buf, size_t len,
			 const char *name);
/*
 * The live relay channel of a dm device (see dmr_dev_resolve()):
 * <debugfs>/dm-replay/<dm-N>/journal.  debugfs NULL: find its mount.
 * Reading consumes the channel.  It may start in the middle of the
 * stream (an earlier reader consumed the start): then the first record
 * need not be a header, and dmr_journal_next() skips the completion
 * records of a checkpoint whose checkpoint record was consumed before,
 * counting them in dmr_journal_live_skipped().
 */
int dmr_journal_open_relay(struct dmr_journal **jp, const char *spec,
			   const char *debugfs);
void dmr_journal_close(struct dmr_journal *j);
const char *dmr_journal_strerror(const struct dmr_journal *j);
/* The fd being read (-1 for memory): poll it, but see dmreplay(8). */
int dmr_journal_fd(const struct dmr_journal *j);
/* Path of the stream. */
const char *dmr_journal_name(const struct dmr_journal *j);
uint64_t dmr_journal_live_skipped(const struct dmr_journal *j);

/*
 * Next validated record: 1 with *ev filled, 0 at the end (file: end of
 * file, after checking it is whole; relay: nothing more for now, call
 * again later) or a negative errno (-EBADMSG corrupt, -EPROTO wrong
 * format or version, -ENODATA truncated); errors are sticky.
 */
int dmr_journal_next(struct dmr_journal *j, struct dmr_event *ev);
/*
 * Files only: position the reader so that the next record is the first
 * checkpoint record numbered >= checkpoint (0: the start of the file).
 * Returns 0, or -ENOENT if there is none (positioned at the end).
 */
int dmr_journal_seek(struct dmr_journal *j, uint64_t checkpoint);
void dmr_journal_stats(const struct dmr_journal *j, struct dmr_journal_stats *st);

/* ---- records -------------------------------------------------------------- */

/* Convert a record between little-endian (journal) and host order, in place. */
void dmr_rec_le(union dm_replay_rec *rec);
const char *dmr_op_name(unsigned int op);
const char *dmr_ckpt_kind_name(unsigned int kind);
const char *dmr_div_kind_name(unsigned int kind);
const char *dmr_mode_name(unsigned int mode);
/* "fua,preflush" etc. into buf; returns buf ("" for none). */
char *dmr_flags_str(unsigned int flags, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* LIBDMREPLAY_H */
