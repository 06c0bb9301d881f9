// SPDX-License-Identifier: GPL-2.0
/*
 * dm-replay control device: /dev/dm-replay.  Each open file is a session
 * that attaches dm-replay devices and checkpoints them together.  Opening
 * it needs CAP_SYS_ADMIN; the session's ioctls then need only the file,
 * except SET_NEXT_ID, which changes every target.
 *
 * Locking: s->lock serializes the ioctls of one session.  Which session a
 * target is attached to (rc->session) is protected by dmr_mutex; a
 * checkpoint collects its targets under dmr_mutex, takes a reference on
 * each (rc->busy, waited for by the destructor) and drops dmr_mutex before
 * it works on them.  Order: s->lock -> dmr_mutex -> rc->ckpt_mutex.
 * An empty record checkpoint (dmr_ckpt_empty()) and poll() read the
 * registry under RCU instead and take no reference.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait_bit.h>

#include "dm-replay.h"

struct dmr_session {
	struct mutex lock;		/* serializes the session's ioctls */
	u64 last_ckpt;
	unsigned int nr_targets;	/* rc->session == this, dmr_mutex */
};

/* Called with dmr_mutex held. */
void dmr_session_transfer(struct replay_c *from, struct replay_c *to)
{
	lockdep_assert_held(&dmr_mutex);
	if (!from->session || to->session)
		return;
	WRITE_ONCE(to->session, from->session);
	WRITE_ONCE(from->session, NULL);
}

static void dmr_release_refs(struct replay_c **rcs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (atomic_dec_and_test(&rcs[i]->busy))
			wake_up_var(&rcs[i]->busy);
}

/* The target goes away: detach it.  Called with dmr_mutex held. */
void dmr_session_drop(struct replay_c *rc)
{
	lockdep_assert_held(&dmr_mutex);
	if (!rc->session)
		return;
	rc->session->nr_targets--;
	WRITE_ONCE(rc->session, NULL);
}

static int dmr_attach(struct dmr_session *s, dev_t devt)
{
	struct replay_c *rc;
	unsigned int n = 0;
	int r = 0;

	mutex_lock(&dmr_mutex);
	list_for_each_entry(rc, &dmr_targets, reg) {
		if (rc->devt != devt || !rc->live)
			continue;
		n++;
		if (rc->session == s)
			r = -EEXIST;
		else if (rc->session && !r)
			r = -EBUSY;
	}
	if (!n)
		r = -ENODEV;
	else if (!r && s->nr_targets + n > DMR_MAX_ATTACH)
		r = -ENOSPC;
	if (!r) {
		list_for_each_entry(rc, &dmr_targets, reg)
			if (rc->devt == devt && rc->live)
				WRITE_ONCE(rc->session, s);
		s->nr_targets += n;
	}
	mutex_unlock(&dmr_mutex);
	return r;
}

/*
 * Detach the targets of @s on device @devt, or on every device with
 * @all, and deliver what they hold (dmr_detached()).  Returns -ENOENT if
 * there were none.
 */
static int dmr_detach(struct dmr_session *s, dev_t devt, bool all)
{
	struct replay_c *rcs[DMR_MAX_ATTACH];
	struct replay_c *rc;
	unsigned int i, n = 0;

	mutex_lock(&dmr_mutex);
	list_for_each_entry(rc, &dmr_targets, reg) {
		if (rc->session != s || (!all && rc->devt != devt))
			continue;
		WRITE_ONCE(rc->session, NULL);
		s->nr_targets--;
		if (WARN_ON_ONCE(n >= DMR_MAX_ATTACH))
			continue;
		atomic_inc(&rc->busy);
		rcs[n++] = rc;
	}
	mutex_unlock(&dmr_mutex);

	for (i = 0; i < n; i++)
		dmr_detached(rcs[i]);
	dmr_release_refs(rcs, n);
	return n ? 0 : -ENOENT;
}

/* @rc is attached to @s and in use.  Under dmr_mutex or RCU. */
static bool dmr_attached(struct replay_c *rc, struct dmr_session *s)
{
	return READ_ONCE(rc->session) == s && READ_ONCE(rc->live);
}

/*
 * Collect the live targets attached to @s and take a reference on each:
 * the record-mode ones in @rcs[0..*nrec), the replay-mode ones in
 * @rcs[DMR_MAX_ATTACH..DMR_MAX_ATTACH + *nrep).
 */
static void dmr_collect(struct dmr_session *s, struct replay_c **rcs,
			unsigned int *nrec, unsigned int *nrep)
{
	struct replay_c *rc, **to;
	unsigned int *n;

	*nrec = 0;
	*nrep = 0;
	mutex_lock(&dmr_mutex);
	list_for_each_entry(rc, &dmr_targets, reg) {
		if (!dmr_attached(rc, s))
			continue;
		if (rc->mode == DM_REPLAY_MODE_RECORD) {
			to = rcs;
			n = nrec;
		} else {
			to = rcs + DMR_MAX_ATTACH;
			n = nrep;
		}
		if (WARN_ON_ONCE(*n >= DMR_MAX_ATTACH))
			continue;
		atomic_inc(&rc->busy);
		to[(*n)++] = rc;
	}
	mutex_unlock(&dmr_mutex);
}

/* What DM_REPLAY_IOC_CHECKPOINT reads. */
struct dmr_ckpt_args {
	u64 checkpoint;
	u64 records;
	u32 flags;
	u32 timeout_ms;
	u32 nr_records;
	bool out_clear;		/* the out fields but first are 0 */
};

/*
 * Most checkpoints are empty, and for them the user copies are a good
 * part of the cost, so they are done field by field in one user access
 * window: cheaper than copy_from_user() and copy_to_user() of the struct
 * with their hardened-usercopy checks (see bench/README.md).  The out
 * fields are read too: an empty checkpoint whose caller cleared them (or
 * left them from another empty one) has nothing to write back.
 */
static int dmr_get_ckpt_args(const struct dm_replay_checkpoint __user *u,
			     struct dmr_ckpt_args *a)
{
	u32 reserved, delivered, reordered, divergences, missing;
	u64 held;

	if (!user_read_access_begin(u, offsetof(typeof(*u), first)))
		return -EFAULT;
	unsafe_get_user(a->checkpoint, &u->checkpoint, efault);
	unsafe_get_user(a->flags, &u->flags, efault);
	unsafe_get_user(a->timeout_ms, &u->timeout_ms, efault);
	unsafe_get_user(a->records, &u->records, efault);
	unsafe_get_user(a->nr_records, &u->nr_records, efault);
	unsafe_get_user(reserved, &u->reserved, efault);
	unsafe_get_user(held, &u->held, efault);
	unsafe_get_user(delivered, &u->delivered, efault);
	unsafe_get_user(reordered, &u->reordered, efault);
	unsafe_get_user(divergences, &u->divergences, efault);
	unsafe_get_user(missing, &u->missing, efault);
	user_read_access_end();
	a->out_clear = !(held | delivered | reordered | divergences | missing);

	if (a->flags & ~(DM_REPLAY_CKPT_F_NOWAIT | DM_REPLAY_CKPT_F_SPIN |
			 DM_REPLAY_CKPT_F_SUBMIT) || reserved)
		return -EINVAL;
	if (a->nr_records > DMR_MAX_EXPECT)
		return -E2BIG;
	return 0;
efault:
	user_read_access_end();
	return -EFAULT;
}

/* Write the results; @first only if there was a divergence. */
static int dmr_put_ckpt_result(struct dm_replay_checkpoint __user *u,
			       const struct dmr_replay_result *res)
{
	if (!user_write_access_begin(&u->held, offsetof(typeof(*u), first) -
						offsetof(typeof(*u), held)))
		return -EFAULT;
	unsafe_put_user(res->held, &u->held, efault);
	unsafe_put_user(res->delivered, &u->delivered, efault);
	unsafe_put_user(res->reordered, &u->reordered, efault);
	unsafe_put_user(res->divergences, &u->divergences, efault);
	unsafe_put_user(res->missing, &u->missing, efault);
	user_write_access_end();

	if (res->divergences &&
	    copy_to_user(&u->first, &res->first, sizeof(res->first)))
		return -EFAULT;
	return 0;
efault:
	user_write_access_end();
	return -EFAULT;
}

/**
 * dmr_ckpt_empty - the fast path of a checkpoint
 * @s: the session, its lock held
 * @nr: the checkpoint number
 * @flags: DM_REPLAY_CKPT_F_*: F_SUBMIT is taken note of here
 *
 * An emulator checkpoints far more often than completions arrive, so most
 * checkpoints find nothing held.  If every target of @s is in record mode
 * and holds nothing, below @nr (dmr_may_skip()), it only raises their
 * last_ckpt.  That needs neither ckpt_mutex nor a target lock: a
 * completion held meanwhile waits for the next checkpoint, as if this one
 * had come a moment earlier.  It needs no reference on the targets
 * either, since it touches nothing outside struct replay_c, which is
 * freed after a grace period.  Targets are attached and detached under
 * s->lock, so only a reload (the session moves from a target to its
 * successor) or a removal can change them between the two walks: a
 * successor gets its number raised too and a removed target does not,
 * both harmless, since the number only orders later checkpoints.
 *
 * Returns 0 if the checkpoint is done, -EAGAIN if the full checkpoint must
 * decide (something is held, a replay target, a number not above a
 * target's last, or no target at all).
 */
static int dmr_ckpt_empty(struct dmr_session *s, u64 nr, u32 flags)
{
	struct replay_c *rc;
	bool any = false;
	int r = -EAGAIN;

	rcu_read_lock();
	list_for_each_entry_rcu(rc, &dmr_targets, reg) {
		if (!dmr_attached(rc, s))
			continue;
		if (dmr_set_submitter(rc, flags & DM_REPLAY_CKPT_F_SUBMIT) ||
		    !dmr_may_skip(rc, nr))
			goto out;
		any = true;
	}
	if (!any)
		goto out;
	list_for_each_entry_rcu(rc, &dmr_targets, reg)
		if (dmr_attached(rc, s))
			dmr_raise_last_ckpt(rc, nr);
	r = 0;
out:
	rcu_read_unlock();
	return r;
}

/*
 * The full checkpoint.  Not inlined into dmr_ioc_checkpoint(): its arrays
 * would be cleared on every call (CONFIG_INIT_STACK_ALL_ZERO), the empty
 * ones included.
 */
static noinline int dmr_ckpt_full(struct dmr_session *s,
				  struct dm_replay_checkpoint __user *u,
				  const struct dmr_ckpt_args *a)
{
	struct dm_replay_expect *exp = NULL;
	struct replay_c *rcs[2 * DMR_MAX_ATTACH];
	struct dmr_replay_result res = { 0 };
	unsigned int i, nrec, nrep;
	unsigned long timeout;
	u32 delivered = 0;
	int r;

	if (a->nr_records) {
		exp = vmemdup_user(u64_to_user_ptr(a->records),
				   array_size(a->nr_records, sizeof(*exp)));
		if (IS_ERR(exp))
			return PTR_ERR(exp);
	}

	dmr_collect(s, rcs, &nrec, &nrep);

	r = -ENOLINK;
	if (!nrec && !nrep)
		goto out;

	timeout = msecs_to_jiffies(a->timeout_ms ?: DMR_DEFAULT_TIMEOUT_MS);
	r = 0;
	if (nrep || a->nr_records) {
		r = dmr_checkpoint_replay(rcs + DMR_MAX_ATTACH, nrep, &s->lock,
					  a->checkpoint, exp, a->nr_records,
					  timeout, a->flags, &res);
	}
	if (!r && nrec) {
		r = dmr_checkpoint_record(rcs, nrec, &s->lock, a->checkpoint,
					  a->flags, &delivered);
		res.delivered += delivered;
	}
	/* A checkpoint that delivered nothing can be tried again. */
	if (!r)
		s->last_ckpt = a->checkpoint;

	for (i = 0; i < nrec; i++)
		res.held += dmr_nr_held(rcs[i]);
	if (dmr_put_ckpt_result(u, &res))
		r = -EFAULT;
out:
	dmr_release_refs(rcs, nrec);
	dmr_release_refs(rcs + DMR_MAX_ATTACH, nrep);
	kvfree(exp);
	return r;
}

static int dmr_ioc_checkpoint(struct dmr_session *s, void __user *argp)
{
	static const struct dmr_replay_result nothing;
	struct dmr_ckpt_args a;
	int r;

	r = dmr_get_ckpt_args(argp, &a);
	if (r)
		return r;
	if (a.checkpoint <= s->last_ckpt)
		return -EINVAL;

	if (a.nr_records || dmr_ckpt_empty(s, a.checkpoint, a.flags))
		return dmr_ckpt_full(s, argp, &a);
	s->last_ckpt = a.checkpoint;
	return a.out_clear ? 0 : dmr_put_ckpt_result(argp, &nothing);
}

static int dmr_ioc_set_next_id(void __user *argp)
{
	struct dm_replay_next_id a;
	struct replay_c *rc;
	int r = 0;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;

	mutex_lock(&dmr_mutex);
	list_for_each_entry(rc, &dmr_targets, reg) {
		if (!dmr_target_idle(rc)) {
			r = -EBUSY;
			break;
		}
	}
	if (!r) {
		atomic64_set(&dmr_next_id, a.next_id);
		list_for_each_entry(rc, &dmr_targets, reg)
			if (rc->live)
				dmr_journal_id_base(rc, a.next_id);
	}
	mutex_unlock(&dmr_mutex);
	return r;
}

static long dmr_ctl_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct dmr_session *s = file->private_data;
	void __user *argp = (void __user *)arg;
	struct dm_replay_version v;
	struct dm_replay_dev d;
	long r;

	switch (cmd) {
	case DM_REPLAY_IOC_VERSION:
		memset(&v, 0, sizeof(v));
		v.abi = DM_REPLAY_VERSION;
		v.record_size = DM_REPLAY_RECORD_SIZE;
		v.max_expect = DMR_MAX_EXPECT;
		v.max_attach = DMR_MAX_ATTACH;
		return copy_to_user(argp, &v, sizeof(v)) ? -EFAULT : 0;
	case DM_REPLAY_IOC_ATTACH:
	case DM_REPLAY_IOC_DETACH:
		if (copy_from_user(&d, argp, sizeof(d)))
			return -EFAULT;
		if (MAJOR(MKDEV(d.major, d.minor)) != d.major ||
		    MINOR(MKDEV(d.major, d.minor)) != d.minor)
			return -EINVAL;
		mutex_lock(&s->lock);
		if (cmd == DM_REPLAY_IOC_ATTACH)
			r = dmr_attach(s, MKDEV(d.major, d.minor));
		else
			r = dmr_detach(s, MKDEV(d.major, d.minor), false);
		mutex_unlock(&s->lock);
		return r;
	case DM_REPLAY_IOC_CHECKPOINT:
		mutex_lock(&s->lock);
		r = dmr_ioc_checkpoint(s, argp);
		mutex_unlock(&s->lock);
		return r;
	case DM_REPLAY_IOC_SET_NEXT_ID:
		/* Not the session's state, but every target's. */
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		return dmr_ioc_set_next_id(argp);
	default:
		return -ENOTTY;
	}
}

static __poll_t dmr_ctl_poll(struct file *file, poll_table *wait)
{
	struct dmr_session *s = file->private_data;
	struct replay_c *rc;
	__poll_t mask = 0;

	poll_wait(file, &dmr_wq, wait);
	rcu_read_lock();
	list_for_each_entry_rcu(rc, &dmr_targets, reg) {
		if (dmr_attached(rc, s) &&
		    (dmr_nr_held(rc) || dmr_has_handed_over(rc))) {
			mask = EPOLLIN | EPOLLRDNORM;
			break;
		}
	}
	rcu_read_unlock();
	return mask;
}

static int dmr_ctl_open(struct inode *inode, struct file *file)
{
	struct dmr_session *s;

	/*
	 * The session carries the right: a privileged manager can open it and
	 * pass it to an unprivileged emulator, as libvirt does for QEMU.
	 */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	mutex_init(&s->lock);
	file->private_data = s;
	return nonseekable_open(inode, file);
}

static int dmr_ctl_release(struct inode *inode, struct file *file)
{
	struct dmr_session *s = file->private_data;

	dmr_detach(s, 0, true);
	kfree(s);
	return 0;
}

static const struct file_operations dmr_ctl_fops = {
	.owner = THIS_MODULE,
	.open = dmr_ctl_open,
	.release = dmr_ctl_release,
	.unlocked_ioctl = dmr_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.poll = dmr_ctl_poll,
	.llseek = no_llseek,
};

static struct miscdevice dmr_ctl_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "dm-replay",
	.fops = &dmr_ctl_fops,
	.mode = 0600,
};

int dmr_ctl_init(void)
{
	return misc_register(&dmr_ctl_dev);
}

void dmr_ctl_exit(void)
{
	misc_deregister(&dmr_ctl_dev);
}
