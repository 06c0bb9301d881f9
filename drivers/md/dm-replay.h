/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-replay internal interfaces, shared by the target (dm-replay-target.c),
 * the ordering journal (dm-replay-journal.c) and the control device
 * (dm-replay-ctl.c).
 *
 * Global locks:
 *   dmr_mutex    - the registry of targets and journals, and which session
 *                  a target is attached to.  Taken in process context only.
 *                  The target list may also be read under RCU (writers use
 *                  the _rcu list helpers and WRITE_ONCE() for session and
 *                  live; a target is freed after a grace period).
 * Per target (struct replay_c):
 *   ckpt_mutex   - one checkpoint (ioctl or message) at a time.
 *   lock         - spinlock, irq-safe: the request lists, the id tree,
 *                  may_hold, the counters.
 * Per journal (struct dmr_journal):
 *   lock         - spinlock, irq-safe: the relay buffer and the sequence.
 *
 * Order: dmr_mutex -> ckpt_mutex -> lock.  A target's lock and a
 * journal's lock are never held together, and no spinlock is held across
 * bio_endio() or across the submission of a bio.
 */
#ifndef DM_REPLAY_INTERNAL_H
#define DM_REPLAY_INTERNAL_H

#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/list.h>
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/rculist.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/dm-replay.h>

#define DM_MSG_PREFIX "replay"

#define DMR_DEFAULT_SUBBUF_SIZE	(256 * 1024)
#define DMR_DEFAULT_N_SUBBUFS	8
#define DMR_MAX_EXPECT		65536	/* expect records per checkpoint */
#define DMR_MAX_ATTACH		16	/* targets per session */
#define DMR_DEFAULT_TIMEOUT_MS	10000

struct dmr_session;

/* The ordering journal of one dm device (shared by reloads of it). */
struct dmr_journal {
	struct list_head list;		/* dmr_journals, under dmr_mutex */
	unsigned int users;		/* under dmr_mutex */
	dev_t devt;
	sector_t begin;
	char name[48];
	struct dentry *dir;
	struct rchan *chan;
	unsigned int subbuf_size;
	unsigned int n_subbufs;

	spinlock_t lock;		/* irq-safe: the relay buffer, below */
	u64 seq;			/* next record's sequence number */
	u64 bytes;			/* bytes written */
	u64 lost;			/* records that could not be written */
	u64 reserved;			/* records promised to a checkpoint */
	u64 last_ckpt;			/* highest checkpoint journaled */
};

/* Request states (replay_io.state), under replay_c.lock. */
enum dmr_io_state {
	DMR_IO_WAITING,		/* serialize_overlaps: not submitted yet */
	DMR_IO_INFLIGHT,	/* submitted to the lower device */
	DMR_IO_DONE,		/* finished there, completion held */
};

/* Per-bio data: everything a request needs, nothing allocated. */
struct replay_io {
	struct bio clone;		/* what goes to the lower device */
	struct replay_c *rc;
	struct bio *bio;		/* dm's bio, ended at delivery */
	struct list_head list;		/* an inflight, waiting or done list */
	struct llist_node hand;		/* on rc->handed */
	struct rb_node node;		/* replay mode: rc->live, by id */
	struct bvec_iter iter;		/* data of @bio, for the crc */
	u64 id;
	u64 lower_seq;
	u64 submit_ns;			/* see dmr_submitted_ns() */
	u64 done_ns;
	u64 claim;			/* replay: checkpoint attempt token */
	sector_t sector;		/* on the dm device */
	u32 nr_sectors;
	u32 crc;
	blk_status_t status;
	u8 op;				/* enum dm_replay_op */
	u8 state;			/* enum dmr_io_state */
	u16 flags;			/* DM_REPLAY_F_* */
};

/* One dm-replay target instance. */
struct replay_c {
	struct dm_target *ti;
	struct dm_dev *dev;
	sector_t start;
	u32 mode;			/* enum dm_replay_mode */
	u32 features;			/* DM_REPLAY_FEAT_* */
	unsigned int subbuf_size;	/* 0: not given in the table */
	unsigned int n_subbufs;		/* 0: not given in the table */
	unsigned int submit_depth;	/* 0: map() always submits */
	dev_t devt;			/* of the dm device */
	struct dmr_journal *journal;

	/* Registry, under dmr_mutex; also read under RCU (dm-replay-ctl.c). */
	struct list_head reg;
	struct dmr_session *session;
	bool live;			/* resumed: the table in use */
	struct rcu_head rcu;		/* freed after a grace period */
	atomic_t busy;			/* checkpoints using it right now */

	struct mutex ckpt_mutex;	/* one checkpoint at a time */
	u64 last_ckpt;			/* raised by cmpxchg, see target.c */

	spinlock_t lock;		/* irq-safe: everything below */
	bool may_hold;
	bool by_session;		/* CKPT_F_SUBMIT: a session submits */
	unsigned int hold_gen;		/* bumped when holding stops */
	struct list_head inflight_reads;	/* and ops with no sectors */
	struct list_head inflight_writes;	/* that change data */
	struct list_head waiting;
	struct list_head done;
	bool done_unordered;		/* done may be out of id order */
	struct list_head to_submit;	/* for submit_work */
	struct llist_head handed;	/* for the session: CKPT_F_SUBMIT */
	struct rb_root live_ios;	/* replay: undelivered ios by id */
	u64 lower_seq;
	u64 nr_inflight;		/* incl. waiting */
	u64 nr_held;

	/* Counters, under lock. */
	u64 ids;
	u64 journal_full;
	u64 lower_errors;
	u64 overlaps;
	u64 reordered;
	u64 by_worker;			/* requests map() did not submit */
	u64 div[DM_REPLAY_DIV_NODEV + 1];

	struct work_struct submit_work;

	/* Counters with no lock, see dmr_count_delivered(). */
	atomic64_t delivered;
	atomic64_t checkpoints;
};

/* Globals (dm-replay-target.c). */
extern struct mutex dmr_mutex;
extern struct list_head dmr_targets;
extern atomic64_t dmr_next_id;
extern wait_queue_head_t dmr_wq;
extern atomic_t dmr_events;

void dmr_event(void);

/* Checkpoints (dm-replay-target.c). */
struct dmr_replay_result {
	u32 delivered;
	u64 held;
	u32 reordered;
	u32 divergences;
	u32 missing;
	struct dm_replay_divergence first;
};

int dmr_checkpoint_record(struct replay_c **rcs, unsigned int n,
			  struct mutex *nest, u64 nr, u32 flags,
			  u32 *delivered);
int dmr_checkpoint_replay(struct replay_c **rcs, unsigned int n,
			  struct mutex *nest, u64 nr,
			  const struct dm_replay_expect *exp, u32 nr_exp,
			  unsigned long timeout, u32 flags,
			  struct dmr_replay_result *res);
void dmr_detached(struct replay_c *rc);
void dmr_change_submitter(struct replay_c *rc, bool on);

/*
 * The readers below are inline: an empty checkpoint (dmr_ckpt_empty() in
 * dm-replay-ctl.c) calls them for every attached target, and each is a
 * few loads: the call would cost about as much as what it does.
 */
static inline u64 dmr_nr_held(struct replay_c *rc)
{
	return READ_ONCE(rc->nr_held);
}

/* Whether map() has handed requests to the session it has not taken. */
static inline bool dmr_has_handed_over(struct replay_c *rc)
{
	return !llist_empty(&rc->handed);
}

/**
 * dmr_set_submitter - a checkpoint says whether its session submits
 * @rc: a target attached to the checkpointing session
 * @on: DM_REPLAY_CKPT_F_SUBMIT was given
 *
 * Takes rc->lock only when the answer changes.  A target that is not
 * holding (suspending) is not handed over.  Returns whether requests
 * wait to be submitted: then the checkpoint takes the full path, which
 * submits them.  Called from the empty checkpoint under RCU: no sleep.
 */
static inline bool dmr_set_submitter(struct replay_c *rc, bool on)
{
	if (READ_ONCE(rc->by_session) != on)
		dmr_change_submitter(rc, on);
	return dmr_has_handed_over(rc);
}

/*
 * May an empty checkpoint @nr pass @rc by?  Only if it is in record mode,
 * holds nothing and @nr is above its last checkpoint.  Read without a
 * lock: see dmr_ckpt_empty() in dm-replay-ctl.c.
 */
static inline bool dmr_may_skip(struct replay_c *rc, u64 nr)
{
	return rc->mode == DM_REPLAY_MODE_RECORD &&
	       !READ_ONCE(rc->nr_held) && nr > READ_ONCE(rc->last_ckpt);
}

/*
 * rc->last_ckpt only grows.  It is checked under ckpt_mutex, but an empty
 * checkpoint raises it without that mutex (dmr_ckpt_empty()), so every
 * writer raises it with cmpxchg.
 */
static inline void dmr_raise_last_ckpt(struct replay_c *rc, u64 nr)
{
	u64 old = READ_ONCE(rc->last_ckpt);

	while (old < nr && !try_cmpxchg64(&rc->last_ckpt, &old, nr))
		;
}

bool dmr_target_idle(struct replay_c *rc);
void dmr_journal_id_base(struct replay_c *rc, u64 next_id);

/* Journal (dm-replay-journal.c). */
int dmr_journal_init(void);
void dmr_journal_exit(void);
struct dmr_journal *dmr_journal_get(dev_t devt, sector_t begin,
				    const char *disk_name,
				    unsigned int subbuf_size,
				    unsigned int n_subbufs);
void dmr_journal_put(struct dmr_journal *j);
int dmr_journal_reserve(struct dmr_journal *j, u64 nr);
void dmr_journal_unreserve(struct dmr_journal *j, u64 nr);
u64 dmr_journal_capacity(struct dmr_journal *j);
void dmr_journal_lock(struct dmr_journal *j, unsigned long *flags);
void dmr_journal_unlock(struct dmr_journal *j, unsigned long flags);
void dmr_journal_emit(struct dmr_journal *j, union dm_replay_rec *rec,
		      bool reserved);
void dmr_journal_stats(struct dmr_journal *j, u64 *bytes, u64 *lost);
u64 dmr_journal_last_ckpt(struct dmr_journal *j);

/* Control device (dm-replay-ctl.c). */
int dmr_ctl_init(void);
void dmr_ctl_exit(void);
void dmr_session_transfer(struct replay_c *from, struct replay_c *to);
void dmr_session_drop(struct replay_c *rc);

#endif /* DM_REPLAY_INTERNAL_H */
