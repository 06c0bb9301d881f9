// SPDX-License-Identifier: GPL-2.0
/*
 * dm-replay: hold request completions until checkpoints and journal their
 * order, so that an emulator can record and replay block I/O.
 *
 * Locking (see also dm-replay.h):
 *   dmr_mutex -> rc->ckpt_mutex -> rc->lock
 *   rc->lock and j->lock are never held together; no spinlock is held
 *   across bio_endio() or a bio submission.
 *   rc->last_ckpt only grows, by cmpxchg: an empty checkpoint raises it
 *   with no lock at all (dmr_ckpt_empty() in dm-replay-ctl.c), walking
 *   the registry under RCU: a target leaves it with list_del_rcu() and is
 *   freed after a grace period.
 *   rc->delivered and rc->checkpoints are atomics, outside rc->lock.
 *   rc->submit_work runs one at a time; it takes requests off
 *   rc->to_submit under rc->lock and submits them with no lock held.
 *   rc->handed is an llist: map() adds to it under rc->lock (so that
 *   whoever clears rc->by_session under that lock sees every request
 *   handed over before), and a checkpoint or submit_work takes it all
 *   with llist_del_all(), with no lock.
 *
 * Who submits.  map() submits the clone itself, unless the table sets
 * submit_depth and that many of the target's requests are outstanding
 * (mapped and not yet ended): then the lower device's submission path
 * (for a request-based device, a request, a tag and a queue run) is
 * taken off the submitter's CPU.  map() puts the request on
 * rc->to_submit, in id order, and queues rc->submit_work on the next
 * online CPU, which submits it there.  Or the session that checkpoints
 * the target asked to submit (DM_REPLAY_CKPT_F_SUBMIT): then map() puts
 * every request on rc->handed, and the session's next checkpoint submits
 * them, in its own task; a suspend, a detach or a checkpoint without the
 * flag hands submission back (dmr_set_submitter(), dmr_release_held()).
 * Ids are still taken in map().
 *
 * How a completion is held.  map() submits its own clone of dm's bio to
 * the lower device; the clone lives in per-bio data, shares dm's bvecs
 * (bio_init_clone()) and is submitted with dm_submit_bio_remap(), so
 * nothing is allocated per bio.  When the clone finishes, its status goes
 * on the target's done list and dm's bio is ended later, at a checkpoint,
 * exactly once.  The other way, returning DM_ENDIO_INCOMPLETE from end_io
 * and ending dm's clone again later, would run rq_qos_done_bio() and the
 * throttling accounting twice on the same bio.
 */
#include <linux/crc32.h>
#include <linux/kstrtox.h>
#include <linux/list_sort.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/wait_bit.h>

#include "dm-replay.h"

/* The registry of targets and sessions; see dm-replay.h. */
DEFINE_MUTEX(dmr_mutex);
LIST_HEAD(dmr_targets);
atomic64_t dmr_next_id = ATOMIC64_INIT(0);
DECLARE_WAIT_QUEUE_HEAD(dmr_wq);
atomic_t dmr_events = ATOMIC_INIT(0);
static atomic64_t dmr_claim_token = ATOMIC64_INIT(0);
static struct workqueue_struct *dmr_submit_wq;

/* Something a checkpoint or poll() may wait for has happened. */
void dmr_event(void)
{
	atomic_inc(&dmr_events);
	if (wq_has_sleeper(&dmr_wq))
		wake_up_all(&dmr_wq);
}

/* ---------------------------------------------------------------------
 * Requests
 */

static u8 dmr_bio_op(struct bio *bio)
{
	switch (bio_op(bio)) {
	case REQ_OP_READ:
		return DM_REPLAY_OP_READ;
	case REQ_OP_WRITE:
		if (!bio_sectors(bio) && (bio->bi_opf & REQ_PREFLUSH))
			return DM_REPLAY_OP_FLUSH;
		return DM_REPLAY_OP_WRITE;
	case REQ_OP_DISCARD:
		return DM_REPLAY_OP_DISCARD;
	case REQ_OP_WRITE_ZEROES:
		return DM_REPLAY_OP_WRITE_ZEROES;
	case REQ_OP_SECURE_ERASE:
		return DM_REPLAY_OP_SECURE_ERASE;
	default:
		return DM_REPLAY_OP_OTHER;
	}
}

static u16 dmr_bio_flags(struct bio *bio)
{
	static const struct {
		blk_opf_t req;
		u16 flag;
	} map[] = {
		{ REQ_FUA, DM_REPLAY_F_FUA },
		{ REQ_PREFLUSH, DM_REPLAY_F_PREFLUSH },
		{ REQ_SYNC, DM_REPLAY_F_SYNC },
		{ REQ_META, DM_REPLAY_F_META },
		{ REQ_PRIO, DM_REPLAY_F_PRIO },
		{ REQ_NOUNMAP, DM_REPLAY_F_NOUNMAP },
		{ REQ_RAHEAD, DM_REPLAY_F_RAHEAD },
		{ REQ_NOWAIT, DM_REPLAY_F_NOWAIT },
	};
	u16 flags = 0;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (bio->bi_opf & map[i].req)
			flags |= map[i].flag;
	return flags;
}

static bool dmr_writes(u8 op)
{
	return op != DM_REPLAY_OP_READ && op != DM_REPLAY_OP_FLUSH;
}

static bool dmr_overlap(struct replay_io *a, struct replay_io *b)
{
	if (!a->nr_sectors || !b->nr_sectors)
		return false;
	if (!dmr_writes(a->op) && !dmr_writes(b->op))
		return false;
	return a->sector < b->sector + b->nr_sectors &&
	       b->sector < a->sector + a->nr_sectors;
}

static bool dmr_overlaps_list(struct replay_io *io, struct list_head *head,
			      struct replay_io *stop)
{
	struct replay_io *o;

	list_for_each_entry(o, head, list) {
		if (o == stop)
			break;
		if (dmr_overlap(io, o))
			return true;
	}
	return false;
}

/*
 * In flight, reads and writes are on two lists: a read can only overlap
 * a write, so it looks at the writes alone, and under a read-only load
 * the check costs the same at any queue depth.  A request with no
 * sectors overlaps nothing; it goes with the reads.
 */
static bool dmr_writes_data(struct replay_io *io)
{
	return io->nr_sectors && dmr_writes(io->op);
}

static struct list_head *dmr_inflight_list(struct replay_c *rc,
					   struct replay_io *io)
{
	return dmr_writes_data(io) ? &rc->inflight_writes : &rc->inflight_reads;
}

static bool dmr_overlaps_inflight(struct replay_c *rc, struct replay_io *io)
{
	if (!io->nr_sectors)
		return false;
	return dmr_overlaps_list(io, &rc->inflight_writes, NULL) ||
	       (dmr_writes(io->op) &&
		dmr_overlaps_list(io, &rc->inflight_reads, NULL));
}

/* crc32c of the data a bio carries (writes) or received (reads). */
static u32 dmr_data_crc(struct bio *bio, struct bvec_iter iter)
{
	struct bio_vec bv;
	u32 crc = ~0U;

	__bio_for_each_segment(bv, bio, iter, iter) {
		void *p = bvec_kmap_local(&bv);

		crc = __crc32c_le(crc, p, bv.bv_len);
		kunmap_local(p);
	}
	return ~crc;
}

static bool dmr_has_data(struct replay_io *io)
{
	return io->nr_sectors &&
	       (io->op == DM_REPLAY_OP_READ || io->op == DM_REPLAY_OP_WRITE);
}

static void dmr_live_insert(struct replay_c *rc, struct replay_io *io)
{
	struct rb_node **p = &rc->live_ios.rb_node, *parent = NULL;

	while (*p) {
		parent = *p;
		if (io->id < rb_entry(parent, struct replay_io, node)->id)
			p = &parent->rb_left;
		else
			p = &parent->rb_right;
	}
	rb_link_node(&io->node, parent, p);
	rb_insert_color(&io->node, &rc->live_ios);
}

static struct replay_io *dmr_live_find(struct replay_c *rc, u64 id)
{
	struct rb_node *n = rc->live_ios.rb_node;

	while (n) {
		struct replay_io *io = rb_entry(n, struct replay_io, node);

		if (id < io->id)
			n = n->rb_left;
		else if (id > io->id)
			n = n->rb_right;
		else
			return io;
	}
	return NULL;
}

/* Take a delivered request out of the id tree.  Called with rc->lock. */
static void dmr_forget(struct replay_c *rc, struct replay_io *io)
{
	if (rc->mode == DM_REPLAY_MODE_REPLAY)
		rb_erase(&io->node, &rc->live_ios);
}

static void dmr_submit(struct replay_io *io)
{
#ifndef CONFIG_BLK_CGROUP
	io->submit_ns = ktime_get_ns();
#endif
	dm_submit_bio_remap(io->bio, &io->clone);
}

/*
 * When the clone, done at @done_ns, went to the lower device.  With
 * blk-cgroup, the block layer stamped it on submission with the low bits
 * of ktime_get_ns() (bio_issue_init()): take those, which spares a clock
 * read per request (costly under emulation, see bench/README.md).  A
 * clone refused before the stamp (an operation or REQ_NOWAIT the lower
 * device does not support) still has bio_init()'s zero: it took no time.
 */
static u64 dmr_submitted_ns(struct replay_io *io, u64 done_ns)
{
#ifdef CONFIG_BLK_CGROUP
	u64 issued = bio_issue_time(&io->clone.bi_issue);

	if (!issued)
		return done_ns;
	return done_ns - ((__bio_issue_time(done_ns) - issued) &
			  BIO_ISSUE_TIME_MASK);
#else
	return io->submit_ns;
#endif
}

/*
 * Submit what map() handed over to the worker (rc->to_submit), in id
 * order.  One at a time, so that a request is always on a list the
 * overlap check of map() looks at.  No caller waits here, so the clone
 * may wait for a tag: a REQ_NOWAIT refusal would reach io_uring from a
 * task it does not retry in.  Called with no lock held; may sleep.
 */
static void dmr_submit_to_submit(struct replay_c *rc)
{
	struct replay_io *io;
	unsigned long flags;

	for (;;) {
		spin_lock_irqsave(&rc->lock, flags);
		io = list_first_entry_or_null(&rc->to_submit, struct replay_io,
					      list);
		if (io) {
			list_move_tail(&io->list, dmr_inflight_list(rc, io));
			io->clone.bi_opf &= ~REQ_NOWAIT;
			rc->by_worker++;
		}
		spin_unlock_irqrestore(&rc->lock, flags);
		if (!io)
			break;
		dmr_submit(io);
	}
}

/*
 * Submit what map() handed over to the session (rc->handed), oldest
 * first, with no lock: map() put them on their in-flight lists already.
 * Called with no lock held; may sleep.
 */
static void dmr_submit_handed(struct replay_c *rc)
{
	struct llist_node *first = llist_del_all(&rc->handed);
	struct replay_io *io, *next;
	struct blk_plug plug;

	if (!first)
		return;
	blk_start_plug(&plug);
	/* A request may be ended as soon as it is submitted. */
	llist_for_each_entry_safe(io, next, llist_reverse_order(first), hand)
		dmr_submit(io);
	blk_finish_plug(&plug);
}

static void dmr_submit_work(struct work_struct *work)
{
	struct replay_c *rc = container_of(work, struct replay_c, submit_work);

	dmr_submit_handed(rc);
	dmr_submit_to_submit(rc);
}

/* The slow half of dmr_set_submitter(): the answer changes. */
void dmr_change_submitter(struct replay_c *rc, bool on)
{
	unsigned long flags;

	spin_lock_irqsave(&rc->lock, flags);
	rc->by_session = on && rc->may_hold;
	spin_unlock_irqrestore(&rc->lock, flags);
}

/* The CPU after this one, for submit_work; this one if it is alone. */
static int dmr_submit_cpu(void)
{
	int cpu = cpumask_next(raw_smp_processor_id(), cpu_online_mask);

	return cpu < nr_cpu_ids ? cpu : cpumask_first(cpu_online_mask);
}

/*
 * serialize_overlaps: move the waiting requests that no longer overlap an
 * in-flight or an earlier waiting request to to_submit.  Returns whether
 * any moved.  Called with rc->lock held.
 */
static bool dmr_release_waiting(struct replay_c *rc)
{
	struct replay_io *io, *tmp;
	bool any = false;

	list_for_each_entry_safe(io, tmp, &rc->waiting, list) {
		if (dmr_overlaps_inflight(rc, io) ||
		    dmr_overlaps_list(io, &rc->to_submit, NULL) ||
		    dmr_overlaps_list(io, &rc->waiting, io))
			continue;
		io->state = DMR_IO_INFLIGHT;
		list_move_tail(&io->list, &rc->to_submit);
		any = true;
	}
	return any;
}

static void dmr_fill_completion(union dm_replay_rec *rec, struct replay_io *io,
				u64 ckpt, u64 now)
{
	struct dm_replay_rec_completion *c = &rec->comp;
	u16 flags = io->flags;

	memset(rec, 0, sizeof(*rec));
	if (io->rc->features & DM_REPLAY_FEAT_VERIFY_DATA && dmr_has_data(io) &&
	    !io->status)
		flags |= DM_REPLAY_F_HAS_CRC;
	c->type = DM_REPLAY_REC_COMPLETION;
	c->op = io->op;
	c->flags = cpu_to_le16(flags);
	c->status = cpu_to_le32((u32)blk_status_to_errno(io->status));
	c->checkpoint = cpu_to_le64(ckpt);
	c->id = cpu_to_le64(io->id);
	c->sector = cpu_to_le64(io->sector);
	c->nr_sectors = cpu_to_le32(io->nr_sectors);
	c->crc32c = cpu_to_le32(io->crc);
	c->lower_seq = cpu_to_le64(io->lower_seq);
	c->lat_us = cpu_to_le32(min_t(u64, (io->done_ns - io->submit_ns) /
				      NSEC_PER_USEC, U32_MAX));
	c->hold_us = cpu_to_le32(min_t(u64, (now - io->done_ns) /
				       NSEC_PER_USEC, U32_MAX));
}

static void dmr_fill_checkpoint(union dm_replay_rec *rec, u8 kind, u64 ckpt,
				u32 count, u64 held, u64 now)
{
	struct dm_replay_rec_checkpoint *c = &rec->ckpt;

	memset(rec, 0, sizeof(*rec));
	c->type = DM_REPLAY_REC_CHECKPOINT;
	c->kind = kind;
	c->nr_completions = cpu_to_le32(count);
	c->checkpoint = cpu_to_le64(ckpt);
	c->time_ns = cpu_to_le64(now);
	c->ids = cpu_to_le64(atomic64_read(&dmr_next_id));
	c->held_after = cpu_to_le64(held);
}

/*
 * Journal a checkpoint of @count requests from @list (in list order) as
 * one group, so that no other record comes between them.
 */
static void dmr_journal_group(struct replay_c *rc, struct list_head *list,
			      u32 count, u8 kind, u64 ckpt, bool reserved)
{
	union dm_replay_rec rec;
	struct replay_io *io;
	unsigned long flags;
	u64 held = READ_ONCE(rc->nr_held);
	u64 now = ktime_get_ns();

	dmr_journal_lock(rc->journal, &flags);
	dmr_fill_checkpoint(&rec, kind, ckpt, count, held, now);
	dmr_journal_emit(rc->journal, &rec, reserved);
	list_for_each_entry(io, list, list) {
		dmr_fill_completion(&rec, io, ckpt, now);
		dmr_journal_emit(rc->journal, &rec, reserved);
	}
	dmr_journal_unlock(rc->journal, flags);
}

/* End dm's bios of @list, in list order.  No lock may be held. */
static void dmr_deliver(struct list_head *list)
{
	struct replay_io *io, *tmp;

	list_for_each_entry_safe(io, tmp, list, list) {
		struct bio *bio = io->bio;

		list_del(&io->list);
		bio->bi_status = io->status;
		bio_endio(bio);
	}
}

/*
 * Atomics, not rc->lock: a checkpoint already takes the lock once, to
 * take the done list, and a second round trip there would contend with
 * map() and the clone's end_io once more per delivery.
 */
static void dmr_count_delivered(struct replay_c *rc, u32 n, bool ckpt)
{
	atomic64_add(n, &rc->delivered);
	if (ckpt)
		atomic64_inc(&rc->checkpoints);
}

static int dmr_cmp_id(void *priv, const struct list_head *a,
		      const struct list_head *b)
{
	u64 ia = list_entry(a, struct replay_io, list)->id;
	u64 ib = list_entry(b, struct replay_io, list)->id;

	return ia > ib;
}

/*
 * Sort @list of requests by id.  Requests mostly end in the order they
 * were submitted (a ram disk ends each one inside its submission), so
 * the list is often in order already: one pass finds that, and spares
 * list_sort()'s k log k compares, each an indirect call.
 */
static void dmr_sort_by_id(struct list_head *list)
{
	struct replay_io *io, *prev = NULL;

	list_for_each_entry(io, list, list) {
		if (prev && prev->id > io->id) {
			list_sort(NULL, list, dmr_cmp_id);
			return;
		}
		prev = io;
	}
}

/*
 * Move @rc's done list to @list, under rc->lock.  Returns whether @list
 * may be out of id order; dmr_order_taken() then sorts it, with the lock
 * dropped.  end_io notes a request that ends after one with a higher id
 * (rc->done_unordered), so that a list in order, the common case, is not
 * walked at all.
 */
static bool dmr_take_done(struct replay_c *rc, struct list_head *list)
{
	bool unordered = rc->done_unordered;

	list_splice_init(&rc->done, list);
	rc->done_unordered = false;
	rc->nr_held = 0;
	return unordered;
}

static void dmr_order_taken(struct list_head *list, bool unordered)
{
	if (unordered)
		list_sort(NULL, list, dmr_cmp_id);
}

/*
 * Deliver requests while the target is not holding (suspending): journal
 * them with any room left, the suspend reserve included, then end them.
 */
static void dmr_release(struct replay_c *rc, struct list_head *list, u8 kind)
{
	u32 n = 0;
	struct list_head *p;

	list_for_each(p, list)
		n++;
	if (!n)
		return;
	dmr_journal_group(rc, list, n, kind, READ_ONCE(rc->last_ckpt), false);
	dmr_count_delivered(rc, n, false);
	dmr_deliver(list);
}

static void dmr_clone_endio(struct bio *clone)
{
	struct replay_io *io = clone->bi_private;
	struct replay_c *rc = io->rc;
	bool hold, kick;
	unsigned long flags;

	io->status = clone->bi_status;
	io->done_ns = ktime_get_ns();
	io->submit_ns = dmr_submitted_ns(io, io->done_ns);
	if (rc->features & DM_REPLAY_FEAT_VERIFY_DATA &&
	    io->op == DM_REPLAY_OP_READ && io->nr_sectors && !io->status)
		io->crc = dmr_data_crc(io->bio, io->iter);

	spin_lock_irqsave(&rc->lock, flags);
	list_del(&io->list);
	rc->nr_inflight--;
	io->lower_seq = ++rc->lower_seq;
	if (io->status)
		rc->lower_errors++;
	kick = !list_empty(&rc->waiting) && dmr_release_waiting(rc);
	/*
	 * A REQ_NOWAIT request the lower device refused never ran: it goes
	 * back at once, in the submitter's context, where io_uring retries
	 * it from a worker.  Held, the refusal would reach io_uring from the
	 * checkpointing task, which cannot retry it.
	 */
	hold = rc->may_hold && !(io->status == BLK_STS_AGAIN &&
				 io->bio->bi_opf & REQ_NOWAIT);
	if (hold) {
		io->state = DMR_IO_DONE;
		if (!list_empty(&rc->done) &&
		    list_last_entry(&rc->done, struct replay_io, list)->id > io->id)
			rc->done_unordered = true;
		list_add_tail(&io->list, &rc->done);
		rc->nr_held++;
	} else {
		dmr_forget(rc, io);
	}
	spin_unlock_irqrestore(&rc->lock, flags);

	if (kick)
		queue_work(dmr_submit_wq, &rc->submit_work);
	if (hold) {
		dmr_event();
	} else {
		LIST_HEAD(one);

		list_add(&io->list, &one);
		dmr_release(rc, &one, DM_REPLAY_CKPT_UNHELD);
	}
}

static int replay_map(struct dm_target *ti, struct bio *bio)
{
	struct replay_c *rc = ti->private;
	struct replay_io *io = dm_per_bio_data(bio, sizeof(struct replay_io));
	unsigned long flags;
	bool wait = false, handover, to_session;
	int r;

	/*
	 * The clone allocates only for an integrity payload.  REQ_NOWAIT
	 * must not sleep: io_uring then submits inline, in order, and ids
	 * stay reproducible; a refused one is retried from io-wq.
	 */
	r = bio_init_clone(rc->dev->bdev, &io->clone, bio,
			   bio->bi_opf & REQ_NOWAIT ? GFP_NOWAIT : GFP_NOIO);
	if (unlikely(r)) {
		if (!(bio->bi_opf & REQ_NOWAIT))
			return DM_MAPIO_KILL;
		bio->bi_status = BLK_STS_AGAIN;
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}
	/*
	 * A polled clone would sit on a poll queue that nobody polls: dm
	 * polls its own bio, which only finishes at a checkpoint.
	 */
	io->clone.bi_opf &= ~REQ_POLLED;
	io->clone.bi_iter.bi_sector =
		rc->start + dm_target_offset(ti, bio->bi_iter.bi_sector);
	io->clone.bi_end_io = dmr_clone_endio;
	io->clone.bi_private = io;

	io->rc = rc;
	io->bio = bio;
	io->iter = bio->bi_iter;
	io->sector = bio->bi_iter.bi_sector;
	io->nr_sectors = bio_sectors(bio);
	io->op = dmr_bio_op(bio);
	io->flags = dmr_bio_flags(bio);
	io->status = BLK_STS_OK;
	io->crc = 0;
	io->claim = 0;
	if (rc->features & DM_REPLAY_FEAT_VERIFY_DATA &&
	    io->op == DM_REPLAY_OP_WRITE && io->nr_sectors)
		io->crc = dmr_data_crc(bio, io->iter);

	spin_lock_irqsave(&rc->lock, flags);
	/* Ids are taken under the lock, so each target's lists are in order. */
	io->id = atomic64_inc_return(&dmr_next_id) - 1;
	rc->ids++;
	rc->nr_inflight++;
	if (dmr_overlaps_inflight(rc, io) ||
	    dmr_overlaps_list(io, &rc->waiting, NULL) ||
	    dmr_overlaps_list(io, &rc->to_submit, NULL)) {
		rc->overlaps++;
		wait = rc->features & DM_REPLAY_FEAT_SERIALIZE_OVERLAPS;
	}
	io->state = wait ? DMR_IO_WAITING : DMR_IO_INFLIGHT;
	to_session = !wait && rc->by_session;
	handover = !wait && !to_session && rc->submit_depth &&
		   rc->nr_inflight + rc->nr_held >= rc->submit_depth;
	if (wait)
		list_add_tail(&io->list, &rc->waiting);
	else if (handover)
		list_add_tail(&io->list, &rc->to_submit);
	else
		list_add_tail(&io->list, dmr_inflight_list(rc, io));
	if (to_session) {
		/* See dmr_submit_to_submit() for REQ_NOWAIT. */
		io->clone.bi_opf &= ~REQ_NOWAIT;
		llist_add(&io->hand, &rc->handed);
		rc->by_worker++;
	}
	if (rc->mode == DM_REPLAY_MODE_REPLAY)
		dmr_live_insert(rc, io);
	spin_unlock_irqrestore(&rc->lock, flags);

	/* Replay waits for requests; a submitting session may be in poll(). */
	if (rc->mode == DM_REPLAY_MODE_REPLAY ||
	    (to_session && wq_has_sleeper(&dmr_wq)))
		dmr_event();
	if (handover)
		queue_work_on(dmr_submit_cpu(), dmr_submit_wq, &rc->submit_work);
	else if (!wait && !to_session)
		dmr_submit(io);
	return DM_MAPIO_SUBMITTED;
}

/* ---------------------------------------------------------------------
 * Checkpoints
 */

/*
 * Several targets are checkpointed together only by a session, under its
 * mutex @nest; a target belongs to one session at a time, so two callers
 * never lock the same two targets.
 */
static void dmr_lock_ckpt(struct replay_c **rcs, unsigned int n,
			  struct mutex *nest)
{
	unsigned int i;

	if (!nest) {
		WARN_ON_ONCE(n > 1);
		if (n)
			mutex_lock(&rcs[0]->ckpt_mutex);
		return;
	}
	lockdep_assert_held(nest);
	for (i = 0; i < n; i++)
		mutex_lock_nest_lock(&rcs[i]->ckpt_mutex, nest);
}

static void dmr_unlock_ckpt(struct replay_c **rcs, unsigned int n)
{
	unsigned int i;

	for (i = n; i-- > 0;)
		mutex_unlock(&rcs[i]->ckpt_mutex);
}

static int dmr_check_number(struct replay_c **rcs, unsigned int n, u64 nr)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (nr <= READ_ONCE(rcs[i]->last_ckpt))
			return -EINVAL;
	return 0;
}

/*
 * Put requests a checkpoint could not deliver back on the done list; if
 * the target stopped holding meanwhile, release them instead.  @list is
 * in id order from a record checkpoint, but in the journal's order from
 * a replay one.
 */
static void dmr_unsplice(struct replay_c *rc, struct list_head *list, u32 n)
{
	struct replay_io *io;
	unsigned long flags;
	bool hold;

	spin_lock_irqsave(&rc->lock, flags);
	hold = rc->may_hold;
	if (hold) {
		if (rc->mode == DM_REPLAY_MODE_REPLAY)
			list_for_each_entry(io, list, list)
				dmr_live_insert(rc, io);
		/* Rare: not worth finding out whether the order holds. */
		rc->done_unordered = true;
		list_splice_init(list, &rc->done);
		rc->nr_held += n;
	}
	spin_unlock_irqrestore(&rc->lock, flags);
	if (!hold) {
		dmr_sort_by_id(list);
		dmr_release(rc, list, DM_REPLAY_CKPT_SUSPEND);
	}
}

static void dmr_count_full(struct replay_c *rc)
{
	unsigned long flags;

	spin_lock_irqsave(&rc->lock, flags);
	rc->journal_full++;
	spin_unlock_irqrestore(&rc->lock, flags);
}

static void dmr_unreserve_all(struct replay_c **rcs, unsigned int n,
			      const u32 *counts)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (counts[i])
			dmr_journal_unreserve(rcs[i]->journal, counts[i] + 1);
}

/*
 * Reserve journal room for a checkpoint of @rcs: a checkpoint record and
 * @counts[i] completion records in each journal that gets any.  All or
 * nothing: -EAGAIN, counted as journal_full, if one journal is short.
 */
static int dmr_reserve_all(struct replay_c **rcs, unsigned int n,
			   const u32 *counts)
{
	unsigned int i;
	int r;

	for (i = 0; i < n; i++) {
		if (!counts[i])
			continue;
		r = dmr_journal_reserve(rcs[i]->journal, counts[i] + 1);
		if (r) {
			dmr_count_full(rcs[i]);
			dmr_unreserve_all(rcs, i, counts);
			return r;
		}
	}
	return 0;
}

/*
 * A checkpoint larger than the journal can ever take delivers the lowest
 * ids that fit and leaves the others held for the next one; refusing it
 * would refuse it forever.  @list is sorted by id.
 */
static void dmr_cap(struct replay_c *rc, struct list_head *list, u32 *count)
{
	u64 cap = dmr_journal_capacity(rc->journal) - 1;
	struct list_head *p;
	LIST_HEAD(keep);
	u32 kept = 0;

	if (*count <= cap)
		return;
	list_for_each(p, list)
		if (++kept == cap)
			break;
	list_cut_position(&keep, list, p);
	dmr_unsplice(rc, list, *count - cap);
	list_splice_init(&keep, list);
	*count = cap;
}

/**
 * dmr_checkpoint_record - deliver every held completion of @rcs
 * @rcs: record-mode targets, each with a reference held by the caller
 * @n: how many
 * @nest: the session's mutex if @n may be more than one, else NULL
 * @nr: the checkpoint number, greater than every earlier one of @rcs
 * @flags: DM_REPLAY_CKPT_F_*; with F_SUBMIT the caller submits
 * @delivered: out, completions delivered
 *
 * First submits the requests handed over to the session (those that
 * finish while they are submitted are delivered by this checkpoint).
 * All or nothing: if one journal cannot take its records, nothing is
 * delivered and -EAGAIN is returned.  Delivery is in ascending id order
 * across all targets.
 */
int dmr_checkpoint_record(struct replay_c **rcs, unsigned int n,
			  struct mutex *nest, u64 nr, u32 flags,
			  u32 *delivered)
{
	struct list_head lists[DMR_MAX_ATTACH];
	u32 counts[DMR_MAX_ATTACH];
	unsigned long irqflags;
	unsigned int i;
	u64 total = 0;
	bool unordered;
	LIST_HEAD(all);
	int r;

	*delivered = 0;
	if (WARN_ON_ONCE(n > DMR_MAX_ATTACH))
		return -EINVAL;

	dmr_lock_ckpt(rcs, n, nest);
	r = dmr_check_number(rcs, n, nr);
	if (r)
		goto out;

	for (i = 0; i < n; i++) {
		struct replay_c *rc = rcs[i];

		if (dmr_set_submitter(rc, flags & DM_REPLAY_CKPT_F_SUBMIT))
			dmr_submit_handed(rc);
		INIT_LIST_HEAD(&lists[i]);
		spin_lock_irqsave(&rc->lock, irqflags);
		counts[i] = rc->nr_held;
		unordered = dmr_take_done(rc, &lists[i]);
		spin_unlock_irqrestore(&rc->lock, irqflags);
		dmr_order_taken(&lists[i], unordered);
		dmr_cap(rc, &lists[i], &counts[i]);
		total += counts[i];
	}

	r = dmr_reserve_all(rcs, n, counts);
	if (r) {
		for (i = 0; i < n; i++)
			dmr_unsplice(rcs[i], &lists[i], counts[i]);
		goto out;
	}

	for (i = 0; i < n; i++) {
		dmr_raise_last_ckpt(rcs[i], nr);
		if (!counts[i])
			continue;
		dmr_journal_group(rcs[i], &lists[i], counts[i],
				  DM_REPLAY_CKPT_USER, nr, true);
		dmr_count_delivered(rcs[i], counts[i], true);
		list_splice_tail_init(&lists[i], &all);
	}
	if (n > 1)
		dmr_sort_by_id(&all);
	dmr_deliver(&all);
	*delivered = total;
out:
	dmr_unlock_ckpt(rcs, n);
	return r;
}

static bool dmr_same_shape(struct replay_io *io,
			   const struct dm_replay_rec_completion *c)
{
	return io->op == c->op && io->sector == le64_to_cpu(c->sector) &&
	       io->nr_sectors == le32_to_cpu(c->nr_sectors) &&
	       (io->flags & DM_REPLAY_F_SHAPE_MASK) ==
	       (le16_to_cpu(c->flags) & DM_REPLAY_F_SHAPE_MASK);
}

/* The lowest unclaimed request of that shape.  Called with rc->lock. */
static struct replay_io *dmr_find_shape(struct replay_c *rc,
					const struct dm_replay_rec_completion *c,
					u64 token)
{
	struct rb_node *n;

	for (n = rb_first(&rc->live_ios); n; n = rb_next(n)) {
		struct replay_io *io = rb_entry(n, struct replay_io, node);

		if (io->claim != token && dmr_same_shape(io, c))
			return io;
	}
	return NULL;
}

struct dmr_match {
	struct replay_io *io;
	unsigned int target;	/* index into rcs */
	bool reordered;
	bool shape;
};

/*
 * One matching pass over the expected records of target @t.  Returns
 * whether every expected record of it is matched to a finished request.
 * Called with rc->lock held.
 */
static bool dmr_match_target(struct replay_c *rc, unsigned int t,
			     const struct dm_replay_expect *exp, u32 nr_exp,
			     struct dmr_match *m, u64 token)
{
	bool ready = true;
	u32 i;

	for (i = 0; i < nr_exp; i++) {
		const struct dm_replay_rec_completion *c = &exp[i].rec.comp;
		struct replay_io *io;

		if (m[i].target != t)
			continue;
		if (!m[i].io) {
			io = dmr_live_find(rc, le64_to_cpu(c->id));
			if (io && io->claim != token && dmr_same_shape(io, c)) {
				m[i].io = io;
			} else {
				struct replay_io *alt;

				alt = dmr_find_shape(rc, c, token);
				if (alt) {
					m[i].io = alt;
					m[i].reordered = true;
				} else if (io && io->claim != token &&
					   io->state == DMR_IO_DONE) {
					m[i].io = io;
					m[i].shape = true;
				}
			}
			if (m[i].io)
				m[i].io->claim = token;
		}
		if (!m[i].io || m[i].io->state != DMR_IO_DONE)
			ready = false;
	}
	return ready;
}

static const char * const dmr_div_names[] = {
	[DM_REPLAY_DIV_NONE] = "none",
	[DM_REPLAY_DIV_MISSING] = "missing",
	[DM_REPLAY_DIV_SHAPE] = "shape",
	[DM_REPLAY_DIV_STATUS] = "status",
	[DM_REPLAY_DIV_DATA] = "data",
	[DM_REPLAY_DIV_NODEV] = "nodev",
};

static void dmr_divergence(struct dmr_replay_result *res, u32 kind, u32 index,
			   struct replay_c *rc, struct replay_io *io,
			   const struct dm_replay_expect *e)
{
	struct dm_replay_divergence *d = &res->first;

	res->divergences++;
	if (d->kind)
		return;
	d->kind = kind;
	d->index = index;
	d->dev = e->dev;
	if (io) {
		d->actual_id = io->id;
		d->actual_sector = io->sector;
		d->actual_nr_sectors = io->nr_sectors;
		d->actual_status = blk_status_to_errno(io->status);
		d->actual_crc32c = io->crc;
		d->actual_op = io->op;
		d->actual_flags = io->flags;
	}
	d->expected = e->rec;
}

/* Which of @rcs an expected record names; -1 if none. */
static int dmr_expect_target(struct replay_c **rcs, unsigned int n,
			     const struct dm_replay_expect *e)
{
	unsigned int i;

	if (!e->dev.major && !e->dev.minor && n == 1)
		return 0;
	for (i = 0; i < n; i++)
		if (rcs[i]->devt == MKDEV(e->dev.major, e->dev.minor))
			return i;
	return -1;
}

static void dmr_report_missing(struct replay_c **rcs, u64 nr,
			       const struct dm_replay_expect *exp, u32 nr_exp,
			       struct dmr_match *m, struct dmr_replay_result *res)
{
	unsigned long flags;
	unsigned int shown = 0;
	u32 i;

	for (i = 0; i < nr_exp; i++) {
		struct replay_c *rc = rcs[m[i].target];

		if (m[i].io && m[i].io->state == DMR_IO_DONE)
			continue;
		res->missing++;
		dmr_divergence(res, DM_REPLAY_DIV_MISSING, i, rc, NULL, &exp[i]);
		spin_lock_irqsave(&rc->lock, flags);
		rc->div[DM_REPLAY_DIV_MISSING]++;
		spin_unlock_irqrestore(&rc->lock, flags);
		if (shown++ < 16)
			DMWARN("%s: checkpoint %llu: request %llu (op %u sector %llu len %u) %s",
			       rc->journal->name, nr,
			       le64_to_cpu(exp[i].rec.comp.id),
			       exp[i].rec.comp.op,
			       le64_to_cpu(exp[i].rec.comp.sector),
			       le32_to_cpu(exp[i].rec.comp.nr_sectors),
			       m[i].io ? "did not finish" : "was not submitted");
	}
}

/* Did holding stop on any target since the attempt began? */
static bool dmr_gen_changed(struct replay_c **rcs, unsigned int n,
			    const unsigned int *gen)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (READ_ONCE(rcs[i]->hold_gen) != gen[i] ||
		    !READ_ONCE(rcs[i]->may_hold))
			return true;
	return false;
}

/*
 * Wait by polling until something a replay checkpoint waits for happens
 * (dmr_event()), as a caller that owns its CPU asks to: no sleep, so the
 * request that completes does not pay for waking this task.  The CPU
 * still goes to any other task that needs it.  Returns 0, or -EINTR or
 * -ETIMEDOUT once @deadline (jiffies) has passed.
 */
static int dmr_spin_event(int events, unsigned long deadline)
{
	while (atomic_read(&dmr_events) == events) {
		if (signal_pending(current))
			return -EINTR;
		if (time_after_eq(jiffies, deadline))
			return -ETIMEDOUT;
		cond_resched();
		cpu_relax();
	}
	return 0;
}

/*
 * Match every expected record; wait for the missing ones.  Returns 0 when
 * all are matched to finished requests, or -ETIMEDOUT, -EINTR, -EBUSY
 * (a target stopped holding: it is being suspended).
 */
static int dmr_match_all(struct replay_c **rcs, unsigned int n,
			 const struct dm_replay_expect *exp, u32 nr_exp,
			 struct dmr_match *m, u64 token, const unsigned int *gen,
			 unsigned long timeout, u32 ckpt_flags)
{
	unsigned long deadline = jiffies + timeout;
	unsigned long flags;

	for (;;) {
		int events = atomic_read(&dmr_events);
		bool ready = true;
		unsigned int t;
		long left;

		for (t = 0; t < n; t++) {
			struct replay_c *rc = rcs[t];

			if (dmr_set_submitter(rc, ckpt_flags &
					      DM_REPLAY_CKPT_F_SUBMIT))
				dmr_submit_handed(rc);
			spin_lock_irqsave(&rc->lock, flags);
			if (rc->hold_gen != gen[t] || !rc->may_hold) {
				spin_unlock_irqrestore(&rc->lock, flags);
				return -EBUSY;
			}
			if (!dmr_match_target(rc, t, exp, nr_exp, m, token))
				ready = false;
			spin_unlock_irqrestore(&rc->lock, flags);
		}
		if (ready)
			return 0;
		if (ckpt_flags & DM_REPLAY_CKPT_F_NOWAIT)
			return -ETIMEDOUT;
		/* A target that stops holding raises dmr_events too. */
		if (ckpt_flags & DM_REPLAY_CKPT_F_SPIN) {
			int r = dmr_spin_event(events, deadline);

			if (r)
				return r;
			continue;
		}

		left = (long)(deadline - jiffies);
		if (left <= 0)
			return -ETIMEDOUT;
		left = wait_event_interruptible_timeout(dmr_wq,
							atomic_read(&dmr_events) != events ||
							dmr_gen_changed(rcs, n, gen),
							left);
		if (left < 0)
			return -EINTR;
	}
}

/* Take the matched requests of target @t off its lists, in expect order. */
static int dmr_take(struct replay_c *rc, unsigned int t, unsigned int gen,
		    struct dmr_match *m, u32 nr_exp, struct list_head *list)
{
	unsigned long flags;
	u32 i;

	spin_lock_irqsave(&rc->lock, flags);
	if (rc->hold_gen != gen || !rc->may_hold) {
		spin_unlock_irqrestore(&rc->lock, flags);
		return -EBUSY;
	}
	for (i = 0; i < nr_exp; i++) {
		if (m[i].target != t)
			continue;
		list_move_tail(&m[i].io->list, list);
		rc->nr_held--;
		dmr_forget(rc, m[i].io);
	}
	spin_unlock_irqrestore(&rc->lock, flags);
	return 0;
}

static void dmr_check_results(struct replay_c **rcs,
			      const struct dm_replay_expect *exp, u32 nr_exp,
			      struct dmr_match *m,
			      struct dmr_replay_result *res)
{
	unsigned long flags;
	u32 i;

	for (i = 0; i < nr_exp; i++) {
		const struct dm_replay_rec_completion *c = &exp[i].rec.comp;
		struct replay_c *rc = rcs[m[i].target];
		struct replay_io *io = m[i].io;
		u32 kind = DM_REPLAY_DIV_NONE;

		if (m[i].shape)
			kind = DM_REPLAY_DIV_SHAPE;
		else if (blk_status_to_errno(io->status) !=
			 (s32)le32_to_cpu(c->status))
			kind = DM_REPLAY_DIV_STATUS;
		else if (le16_to_cpu(c->flags) & DM_REPLAY_F_HAS_CRC &&
			 rc->features & DM_REPLAY_FEAT_VERIFY_DATA &&
			 dmr_has_data(io) && io->crc != le32_to_cpu(c->crc32c))
			kind = DM_REPLAY_DIV_DATA;

		spin_lock_irqsave(&rc->lock, flags);
		if (m[i].reordered)
			rc->reordered++;
		if (kind)
			rc->div[kind]++;
		spin_unlock_irqrestore(&rc->lock, flags);
		if (m[i].reordered)
			res->reordered++;
		if (kind) {
			dmr_divergence(res, kind, i, rc, io, &exp[i]);
			DMWARN_LIMIT("%s: %s divergence at request %llu (journal: %llu)",
				     rc->journal->name, dmr_div_names[kind],
				     io->id, le64_to_cpu(c->id));
		}
	}
}

/**
 * dmr_checkpoint_replay - deliver exactly the expected completions
 * @rcs: replay-mode targets, each with a reference held by the caller
 * @n: how many
 * @nest: the session's mutex if @n may be more than one, else NULL
 * @nr: the checkpoint number, greater than every earlier one of @rcs
 * @exp: expected completion records, in delivery order
 * @nr_exp: how many
 * @timeout: how long to wait for late requests, in jiffies
 * @flags: DM_REPLAY_CKPT_F_NOWAIT: do not wait at all; DM_REPLAY_CKPT_F_SPIN:
 *	wait by polling instead of sleeping
 * @res: out, what was delivered and the divergences found
 *
 * On -ETIMEDOUT, -EINTR, -EBUSY and -EAGAIN nothing is delivered.
 */
int dmr_checkpoint_replay(struct replay_c **rcs, unsigned int n,
			  struct mutex *nest, u64 nr,
			  const struct dm_replay_expect *exp, u32 nr_exp,
			  unsigned long timeout, u32 flags,
			  struct dmr_replay_result *res)
{
	struct list_head lists[DMR_MAX_ATTACH];
	unsigned int gen[DMR_MAX_ATTACH];
	u32 counts[DMR_MAX_ATTACH] = { 0 };
	struct dmr_match *m = NULL;
	unsigned int i;
	u64 token = atomic64_inc_return(&dmr_claim_token);
	LIST_HEAD(all);
	int r;

	memset(res, 0, sizeof(*res));
	if (WARN_ON_ONCE(n > DMR_MAX_ATTACH))
		return -EINVAL;

	dmr_lock_ckpt(rcs, n, nest);
	r = dmr_check_number(rcs, n, nr);
	if (r)
		goto out;

	if (nr_exp) {
		m = kvcalloc(nr_exp, sizeof(*m), GFP_KERNEL);
		if (!m) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < nr_exp; i++) {
		int t = dmr_expect_target(rcs, n, &exp[i]);

		if (t < 0 || exp[i].rec.type != DM_REPLAY_REC_COMPLETION) {
			dmr_divergence(res, DM_REPLAY_DIV_NODEV, i, NULL, NULL,
				       &exp[i]);
			r = -EINVAL;
			goto out;
		}
		m[i].target = t;
		counts[t]++;
	}
	for (i = 0; i < n; i++) {
		gen[i] = READ_ONCE(rcs[i]->hold_gen);
		if (counts[i] + 1 > dmr_journal_capacity(rcs[i]->journal)) {
			DMERR("%s: checkpoint %llu: %u records do not fit in the journal",
			      rcs[i]->journal->name, nr, counts[i] + 1);
			r = -ENOSPC;
			goto out;
		}
	}

	r = dmr_match_all(rcs, n, exp, nr_exp, m, token, gen, timeout, flags);
	if (r == -ETIMEDOUT)
		dmr_report_missing(rcs, nr, exp, nr_exp, m, res);
	if (r)
		goto out;

	r = dmr_reserve_all(rcs, n, counts);
	if (r)
		goto out;
	for (i = 0; i < n && !r; i++) {
		INIT_LIST_HEAD(&lists[i]);
		if (counts[i])
			r = dmr_take(rcs[i], i, gen[i], m, nr_exp, &lists[i]);
		if (r) {
			/* Suspending: the ones taken go out with it. */
			while (i-- > 0)
				dmr_unsplice(rcs[i], &lists[i], counts[i]);
		}
	}
	if (r) {
		dmr_unreserve_all(rcs, n, counts);
		goto out;
	}

	dmr_check_results(rcs, exp, nr_exp, m, res);
	for (i = 0; i < n; i++) {
		dmr_raise_last_ckpt(rcs[i], nr);
		if (!counts[i])
			continue;
		dmr_journal_group(rcs[i], &lists[i], counts[i],
				  DM_REPLAY_CKPT_USER, nr, true);
		dmr_count_delivered(rcs[i], counts[i], true);
	}
	/* Deliver in the recorded order, across targets. */
	for (i = 0; i < nr_exp; i++)
		list_move_tail(&m[i].io->list, &all);
	dmr_deliver(&all);
	res->delivered = nr_exp;
out:
	for (i = 0; i < n; i++)
		res->held += dmr_nr_held(rcs[i]);
	dmr_unlock_ckpt(rcs, n);
	kvfree(m);
	return r;
}

/* No request of this target is waiting to be delivered. */
bool dmr_target_idle(struct replay_c *rc)
{
	unsigned long flags;
	bool idle;

	spin_lock_irqsave(&rc->lock, flags);
	idle = !rc->nr_inflight && !rc->nr_held;
	spin_unlock_irqrestore(&rc->lock, flags);
	return idle;
}

void dmr_journal_id_base(struct replay_c *rc, u64 next_id)
{
	union dm_replay_rec rec;
	unsigned long flags;

	dmr_fill_checkpoint(&rec, DM_REPLAY_CKPT_ID_BASE,
			    READ_ONCE(rc->last_ckpt), 0,
			    dmr_nr_held(rc), ktime_get_ns());
	rec.ckpt.ids = cpu_to_le64(next_id);
	dmr_journal_lock(rc->journal, &flags);
	dmr_journal_emit(rc->journal, &rec, false);
	dmr_journal_unlock(rc->journal, flags);
}

/* ---------------------------------------------------------------------
 * Target
 */

enum {
	ARG_SUBBUF_SIZE, ARG_N_SUBBUFS, ARG_VERIFY, ARG_SERIALIZE,
	ARG_SUBMIT_DEPTH, NR_FEATS
};

static const char * const dmr_feature_names[NR_FEATS] = {
	[ARG_SUBBUF_SIZE] = "subbuf_size",
	[ARG_N_SUBBUFS] = "n_subbufs",
	[ARG_VERIFY] = "verify_data",
	[ARG_SERIALIZE] = "serialize_overlaps",
	[ARG_SUBMIT_DEPTH] = "submit_depth",
};

static int dmr_parse_features(struct dm_arg_set *as, struct replay_c *rc,
			      struct dm_target *ti)
{
	static const struct dm_arg _args[] = {
		{0, 8, "Invalid number of feature args"},
		{4096, 4194304, "Invalid subbuf_size (4096 to 4194304)"},
		{2, 1024, "Invalid n_subbufs (2 to 1024)"},
		[1 + ARG_SUBMIT_DEPTH] = {0, 65536,
			"Invalid submit_depth (0 to 65536)"},
	};
	static char * const need_value[] = {
		[ARG_SUBBUF_SIZE] = "Feature subbuf_size needs a value",
		[ARG_N_SUBBUFS] = "Feature n_subbufs needs a value",
		[ARG_SUBMIT_DEPTH] = "Feature submit_depth needs a value",
	};
	unsigned int *value[] = {
		[ARG_SUBBUF_SIZE] = &rc->subbuf_size,
		[ARG_N_SUBBUFS] = &rc->n_subbufs,
		[ARG_SUBMIT_DEPTH] = &rc->submit_depth,
	};
	unsigned long seen = 0;
	unsigned int argc;
	int r, f;

	if (!as->argc)
		return 0;
	r = dm_read_arg_group(_args, as, &argc, &ti->error);
	if (r)
		return r;

	while (argc) {
		const char *name = dm_shift_arg(as);

		argc--;
		f = match_string(dmr_feature_names, NR_FEATS, name);
		if (f < 0) {
			ti->error = "Unknown feature";
			return -EINVAL;
		}
		if (test_and_set_bit(f, &seen)) {
			ti->error = "Duplicate feature";
			return -EINVAL;
		}
		switch (f) {
		case ARG_SUBBUF_SIZE:
		case ARG_N_SUBBUFS:
		case ARG_SUBMIT_DEPTH:
			if (!argc) {
				ti->error = need_value[f];
				return -EINVAL;
			}
			argc--;
			r = dm_read_arg(&_args[1 + f], as, value[f], &ti->error);
			if (r)
				return r;
			break;
		case ARG_VERIFY:
			rc->features |= DM_REPLAY_FEAT_VERIFY_DATA;
			break;
		case ARG_SERIALIZE:
			rc->features |= DM_REPLAY_FEAT_SERIALIZE_OVERLAPS;
			break;
		}
	}
	if (rc->subbuf_size % DM_REPLAY_RECORD_SIZE) {
		ti->error = "Invalid subbuf_size (not a multiple of 64)";
		return -EINVAL;
	}
	return 0;
}

static void dmr_write_header(struct replay_c *rc)
{
	struct dm_replay_rec_header *h;
	union dm_replay_rec rec;
	unsigned long flags;

	memset(&rec, 0, sizeof(rec));
	h = &rec.hdr;
	h->type = DM_REPLAY_REC_HEADER;
	h->version = DM_REPLAY_VERSION;
	h->rec_size = cpu_to_le16(DM_REPLAY_RECORD_SIZE);
	h->features = cpu_to_le32(rc->features);
	h->magic = cpu_to_le64(DM_REPLAY_MAGIC);
	h->id_base = cpu_to_le64(atomic64_read(&dmr_next_id));
	h->dev_major = cpu_to_le32(MAJOR(rc->devt));
	h->dev_minor = cpu_to_le32(MINOR(rc->devt));
	h->target_sectors = cpu_to_le64(rc->ti->len);
	h->time_ns = cpu_to_le64(ktime_get_real_ns());
	h->mode = cpu_to_le32(rc->mode);
	h->subbuf_size = cpu_to_le32(rc->journal->subbuf_size);

	dmr_journal_lock(rc->journal, &flags);
	dmr_journal_emit(rc->journal, &rec, false);
	dmr_journal_unlock(rc->journal, flags);
}

static void replay_dtr(struct dm_target *ti)
{
	struct replay_c *rc = ti->private;

	mutex_lock(&dmr_mutex);
	if (!list_empty(&rc->reg))
		list_del_rcu(&rc->reg);
	dmr_session_drop(rc);
	mutex_unlock(&dmr_mutex);
	/* A checkpoint that found it before it left the registry. */
	wait_var_event(&rc->busy, !atomic_read(&rc->busy));

	flush_work(&rc->submit_work);
	if (rc->journal) {
		mutex_lock(&dmr_mutex);
		dmr_journal_put(rc->journal);
		mutex_unlock(&dmr_mutex);
	}
	if (rc->dev)
		dm_put_device(ti, rc->dev);
	kfree_rcu(rc, rcu);
}

/*
 * Construct a replay mapping:
 *   <dev_path> <offset> <record|replay> [<#feature_args> <feature_arg>*]
 */
static int replay_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct mapped_device *md = dm_table_get_md(ti->table);
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	unsigned long long offset;
	struct replay_c *rc;
	const char *path, *mode;
	int r;

	if (argc < 3) {
		ti->error = "Not enough arguments: <dev_path> <offset> <record|replay>";
		return -EINVAL;
	}

	rc = kzalloc(sizeof(*rc), GFP_KERNEL);
	if (!rc) {
		ti->error = "Cannot allocate context";
		return -ENOMEM;
	}
	rc->ti = ti;
	INIT_LIST_HEAD(&rc->reg);
	mutex_init(&rc->ckpt_mutex);
	spin_lock_init(&rc->lock);
	INIT_LIST_HEAD(&rc->inflight_reads);
	INIT_LIST_HEAD(&rc->inflight_writes);
	INIT_LIST_HEAD(&rc->waiting);
	INIT_LIST_HEAD(&rc->done);
	INIT_LIST_HEAD(&rc->to_submit);
	init_llist_head(&rc->handed);
	rc->live_ios = RB_ROOT;
	INIT_WORK(&rc->submit_work, dmr_submit_work);
	rc->may_hold = true;
	rc->devt = disk_devt(dm_disk(md));
	ti->private = rc;

	path = dm_shift_arg(&as);
	if (kstrtoull(dm_shift_arg(&as), 10, &offset) ||
	    offset != (sector_t)offset) {
		ti->error = "Invalid device offset";
		r = -EINVAL;
		goto bad;
	}
	rc->start = offset;

	mode = dm_shift_arg(&as);
	if (!strcmp(mode, "record")) {
		rc->mode = DM_REPLAY_MODE_RECORD;
	} else if (!strcmp(mode, "replay")) {
		rc->mode = DM_REPLAY_MODE_REPLAY;
	} else {
		ti->error = "Invalid mode: not record or replay";
		r = -EINVAL;
		goto bad;
	}

	r = dmr_parse_features(&as, rc, ti);
	if (r)
		goto bad;
	if (as.argc) {
		ti->error = "Too many arguments";
		r = -EINVAL;
		goto bad;
	}

	r = dm_get_device(ti, path, dm_table_get_mode(ti->table), &rc->dev);
	if (r) {
		ti->error = "Device lookup failed";
		goto bad;
	}
	if (rc->start >= bdev_nr_sectors(rc->dev->bdev) ||
	    ti->len > bdev_nr_sectors(rc->dev->bdev) - rc->start) {
		ti->error = "Device too small for offset and length";
		r = -EINVAL;
		goto bad;
	}

	mutex_lock(&dmr_mutex);
	rc->journal = dmr_journal_get(rc->devt, ti->begin, dm_disk(md)->disk_name,
				      rc->subbuf_size ?: DMR_DEFAULT_SUBBUF_SIZE,
				      rc->n_subbufs ?: DMR_DEFAULT_N_SUBBUFS);
	if (IS_ERR(rc->journal)) {
		r = PTR_ERR(rc->journal);
		rc->journal = NULL;
		mutex_unlock(&dmr_mutex);
		ti->error = "Cannot create the journal in debugfs";
		goto bad;
	}
	list_add_tail_rcu(&rc->reg, &dmr_targets);
	mutex_unlock(&dmr_mutex);
	dmr_write_header(rc);

	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_secure_erase_bios = 1;
	ti->num_write_zeroes_bios = 1;
	ti->per_io_data_size = sizeof(struct replay_io);
	ti->accounts_remapped_io = true;
	return 0;

bad:
	replay_dtr(ti);
	return r;
}

/*
 * Deliver every completion @rc holds, outside any checkpoint, journaled
 * as a checkpoint of @kind; with @stop, stop holding first.
 */
static void dmr_release_held(struct replay_c *rc, u8 kind, bool stop)
{
	struct replay_io *io;
	unsigned long flags;
	bool unordered;
	LIST_HEAD(list);

	spin_lock_irqsave(&rc->lock, flags);
	if (stop) {
		rc->may_hold = false;
		rc->hold_gen++;
	}
	/* Nobody submits for the session now: the worker takes over. */
	rc->by_session = false;
	if (dmr_has_handed_over(rc))
		queue_work(dmr_submit_wq, &rc->submit_work);
	list_for_each_entry(io, &rc->done, list)
		dmr_forget(rc, io);
	unordered = dmr_take_done(rc, &list);
	spin_unlock_irqrestore(&rc->lock, flags);

	/* A replay checkpoint waiting on this target gives up. */
	if (stop)
		dmr_event();

	dmr_order_taken(&list, unordered);
	dmr_release(rc, &list, kind);
}

/**
 * dmr_detached - the session of @rc let go of it
 * @rc: a target with a reference (rc->busy) held by the caller
 *
 * The session closed or detached the device, so nobody will checkpoint
 * what @rc holds: deliver it now, journaled as a "detach" checkpoint,
 * rather than leave the submitters (an exiting emulator's io_uring, a
 * killed driver's fio) waiting for ever.  @rc goes on holding new
 * completions, for the next session or a checkpoint message.  Called
 * without locks; serialized with the target's checkpoints by ckpt_mutex.
 */
void dmr_detached(struct replay_c *rc)
{
	mutex_lock(&rc->ckpt_mutex);
	dmr_release_held(rc, DM_REPLAY_CKPT_DETACH, false);
	mutex_unlock(&rc->ckpt_mutex);
}

static void replay_presuspend(struct dm_target *ti)
{
	dmr_release_held(ti->private, DM_REPLAY_CKPT_SUSPEND, true);
}

static void replay_presuspend_undo(struct dm_target *ti)
{
	struct replay_c *rc = ti->private;
	unsigned long flags;

	spin_lock_irqsave(&rc->lock, flags);
	rc->may_hold = true;
	spin_unlock_irqrestore(&rc->lock, flags);
}

static void replay_resume(struct dm_target *ti)
{
	struct replay_c *rc = ti->private;
	struct replay_c *other;
	unsigned long flags;

	mutex_lock(&dmr_mutex);
	/* A reload keeps the device attached to its session. */
	list_for_each_entry(other, &dmr_targets, reg) {
		if (other != rc && other->devt == rc->devt &&
		    other->ti->begin == ti->begin && other->live) {
			WRITE_ONCE(other->live, false);
			dmr_session_transfer(other, rc);
		}
	}
	WRITE_ONCE(rc->live, true);
	mutex_unlock(&dmr_mutex);

	dmr_raise_last_ckpt(rc, dmr_journal_last_ckpt(rc->journal));

	spin_lock_irqsave(&rc->lock, flags);
	rc->may_hold = true;
	spin_unlock_irqrestore(&rc->lock, flags);
}

static void replay_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct replay_c *rc = ti->private;
	const char *mode = rc->mode == DM_REPLAY_MODE_RECORD ? "record" : "replay";
	unsigned int sz = 0, nfeat;
	unsigned long flags;
	u64 bytes, lost;

	switch (type) {
	case STATUSTYPE_INFO:
		dmr_journal_stats(rc->journal, &bytes, &lost);
		spin_lock_irqsave(&rc->lock, flags);
		DMEMIT("%s %llu %llu %llu %llu %llu %llu %llu %llu",
		       mode, rc->ids, rc->nr_inflight, rc->nr_held,
		       (u64)atomic64_read(&rc->delivered),
		       (u64)atomic64_read(&rc->checkpoints), bytes,
		       rc->journal_full, lost);
		DMEMIT(" %llu %llu %llu %llu %llu %llu %llu",
		       rc->lower_errors, rc->overlaps, rc->reordered,
		       rc->div[DM_REPLAY_DIV_MISSING],
		       rc->div[DM_REPLAY_DIV_SHAPE],
		       rc->div[DM_REPLAY_DIV_STATUS],
		       rc->div[DM_REPLAY_DIV_DATA]);
		spin_unlock_irqrestore(&rc->lock, flags);
		/* Racy against a checkpoint in progress; good enough to show. */
		DMEMIT(" %llu", max(READ_ONCE(rc->last_ckpt),
				    dmr_journal_last_ckpt(rc->journal)));
		DMEMIT(" %llu", READ_ONCE(rc->by_worker));
		break;

	case STATUSTYPE_TABLE:
		nfeat = (rc->subbuf_size ? 2 : 0) + (rc->n_subbufs ? 2 : 0) +
			(rc->submit_depth ? 2 : 0) +
			!!(rc->features & DM_REPLAY_FEAT_VERIFY_DATA) +
			!!(rc->features & DM_REPLAY_FEAT_SERIALIZE_OVERLAPS);
		DMEMIT("%s %llu %s", rc->dev->name,
		       (unsigned long long)rc->start, mode);
		if (nfeat)
			DMEMIT(" %u", nfeat);
		if (rc->subbuf_size)
			DMEMIT(" subbuf_size %u", rc->subbuf_size);
		if (rc->n_subbufs)
			DMEMIT(" n_subbufs %u", rc->n_subbufs);
		if (rc->features & DM_REPLAY_FEAT_VERIFY_DATA)
			DMEMIT(" verify_data");
		if (rc->features & DM_REPLAY_FEAT_SERIALIZE_OVERLAPS)
			DMEMIT(" serialize_overlaps");
		if (rc->submit_depth)
			DMEMIT(" submit_depth %u", rc->submit_depth);
		break;

	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",device_name=%s,start=%llu,mode=%s",
		       rc->dev->name, (unsigned long long)rc->start, mode);
		DMEMIT(",verify_data=%c,serialize_overlaps=%c;",
		       rc->features & DM_REPLAY_FEAT_VERIFY_DATA ? 'y' : 'n',
		       rc->features & DM_REPLAY_FEAT_SERIALIZE_OVERLAPS ?
		       'y' : 'n');
		break;
	}
}

static int replay_message(struct dm_target *ti, unsigned int argc,
			  char **argv, char *result, unsigned int maxlen)
{
	struct replay_c *rc = ti->private;
	unsigned long long nr;
	unsigned int sz = 0;
	u32 delivered;
	int r;

	if (argc < 1 || strcasecmp(argv[0], "checkpoint")) {
		DMERR("%s: unknown message; use: checkpoint [<n>]",
		      rc->journal->name);
		return -EINVAL;
	}
	if (argc > 2) {
		DMERR("%s: checkpoint takes at most one argument",
		      rc->journal->name);
		return -EINVAL;
	}
	if (rc->mode != DM_REPLAY_MODE_RECORD) {
		DMERR("%s: checkpoint message is for record mode only (replay: /dev/dm-replay)",
		      rc->journal->name);
		return -EINVAL;
	}

	nr = READ_ONCE(rc->last_ckpt) + 1;
	if (argc == 2 && kstrtoull(argv[1], 10, &nr)) {
		DMERR("%s: invalid checkpoint number '%s'", rc->journal->name,
		      argv[1]);
		return -EINVAL;
	}

	r = dmr_checkpoint_record(&rc, 1, NULL, nr, 0, &delivered);
	if (r == -EINVAL)
		DMERR("%s: checkpoint %llu is not after checkpoint %llu",
		      rc->journal->name, nr, READ_ONCE(rc->last_ckpt));
	else if (r == -EAGAIN)
		DMERR_LIMIT("%s: journal full, nothing delivered; read the journal and retry",
			    rc->journal->name);
	if (!r)
		DMEMIT("%u", delivered);
	return r;
}

static int replay_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct replay_c *rc = ti->private;

	return fn(ti, rc->dev, rc->start, ti->len, data);
}

/*
 * No io_hints: dm core stacks the lower device's limits (segments,
 * discard, write zeroes) through iterate_devices, and dm-replay passes
 * requests through unchanged.
 */
static struct target_type replay_target = {
	.name = "replay",
	.version = {1, 1, 0},
	.features = DM_TARGET_NOWAIT,
	.module = THIS_MODULE,
	.ctr = replay_ctr,
	.dtr = replay_dtr,
	.map = replay_map,
	.presuspend = replay_presuspend,
	.presuspend_undo = replay_presuspend_undo,
	.resume = replay_resume,
	.status = replay_status,
	.message = replay_message,
	.iterate_devices = replay_iterate_devices,
};

static int __init dm_replay_init(void)
{
	int r;

	/* High priority: a handed-over request waits for it to run. */
	dmr_submit_wq = alloc_workqueue("dm-replay", WQ_MEM_RECLAIM | WQ_HIGHPRI,
					0);
	if (!dmr_submit_wq)
		return -ENOMEM;
	r = dmr_journal_init();
	if (r)
		goto bad_journal;
	r = dmr_ctl_init();
	if (r)
		goto bad_ctl;
	r = dm_register_target(&replay_target);
	if (r < 0)
		goto bad_target;
	return 0;

bad_target:
	dmr_ctl_exit();
bad_ctl:
	dmr_journal_exit();
bad_journal:
	destroy_workqueue(dmr_submit_wq);
	return r;
}

static void __exit dm_replay_exit(void)
{
	dm_unregister_target(&replay_target);
	dmr_ctl_exit();
	dmr_journal_exit();
	destroy_workqueue(dmr_submit_wq);
}

module_init(dm_replay_init);
module_exit(dm_replay_exit);

MODULE_DESCRIPTION(DM_NAME " target holding completions for record/replay");
MODULE_AUTHOR("dm-replay developers");
MODULE_LICENSE("GPL");
