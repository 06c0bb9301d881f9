// SPDX-License-Identifier: GPL-2.0
/*
 * dm-xcpu: a benchmark reference, not part of dm-replay.  The least a
 * target can do to end every bio on another CPU: map() submits a clone
 * kept in per-bio data, the clone's end_io puts the request on a list, and
 * a kernel thread bound to CPU "cpu" ends dm's bios.  No ids, no journal,
 * no ioctl.  bench/cross-cpu runs it beside dm-linear and dm-replay, to
 * tell what ending a bio on the other vCPU costs from what dm-replay adds.
 *
 *   dmsetup create x --table "0 $SECTORS xcpu /dev/X"
 *
 * Parameters: cpu (1): the thread's CPU, read when a target is created;
 * spin (1): look at the list flat out; 0: sleep until the clone's end_io
 * puts a bio on it, so that the thread leaves its CPU to whatever the
 * benchmarks compare with it there (a checkpoint driver) and wakes
 * nothing on it; delay_ns (0): busy-wait this long before ending each
 * bio, to model a slower deliverer (what a checkpoint costs per
 * completion).  The thread always ends what it finds, so a suspend or a
 * remove does not wait on it.
 *
 * Locking: xc->lock (irq-safe) protects xc->done; it is not held across
 * bio_endio().
 */
#include <linux/delay.h>
#include <linux/device-mapper.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/wait.h>

#define DM_MSG_PREFIX "xcpu"

static unsigned int cpu = 1;
module_param(cpu, uint, 0644);
MODULE_PARM_DESC(cpu, "CPU of the thread that ends the bios (default 1)");

static bool spin = true;
module_param(spin, bool, 0644);
MODULE_PARM_DESC(spin, "look for finished bios flat out (default), else sleep until one comes");

static unsigned int delay_ns;
module_param(delay_ns, uint, 0644);
MODULE_PARM_DESC(delay_ns, "busy-wait before ending each bio, in ns (default 0)");

struct xc_c {
	struct dm_dev *dev;
	struct task_struct *thread;
	wait_queue_head_t wait;		/* the thread, when not spinning */
	spinlock_t lock ____cacheline_aligned_in_smp;
	struct list_head done;
};

struct xc_io {
	struct list_head list;
	struct bio *bio;
	struct xc_c *xc;
	blk_status_t status;
	struct bio clone;
};

static int xc_thread(void *data)
{
	struct xc_c *xc = data;

	while (!kthread_should_stop()) {
		struct xc_io *io, *tmp;
		LIST_HEAD(list);

		if (!list_empty_careful(&xc->done)) {
			spin_lock_irq(&xc->lock);
			list_splice_init(&xc->done, &list);
			spin_unlock_irq(&xc->lock);
			list_for_each_entry_safe(io, tmp, &list, list) {
				unsigned int d = READ_ONCE(delay_ns);

				if (d)
					ndelay(d);
				io->bio->bi_status = io->status;
				bio_endio(io->bio);
			}
		}
		/* The timeout only notices spin being set again. */
		if (!READ_ONCE(spin))
			wait_event_interruptible_timeout(xc->wait,
							 !list_empty_careful(&xc->done) ||
							 READ_ONCE(spin) ||
							 kthread_should_stop(), HZ / 10);
		cond_resched();
	}
	return 0;
}

static void xc_clone_endio(struct bio *clone)
{
	struct xc_io *io = clone->bi_private;
	struct xc_c *xc = io->xc;
	unsigned long flags;

	io->status = clone->bi_status;
	spin_lock_irqsave(&xc->lock, flags);
	list_add_tail(&io->list, &xc->done);
	spin_unlock_irqrestore(&xc->lock, flags);
	/* Spinning, the thread needs no wakeup, and is not charged one. */
	if (!READ_ONCE(spin) && wq_has_sleeper(&xc->wait))
		wake_up(&xc->wait);
}

static int xc_map(struct dm_target *ti, struct bio *bio)
{
	struct xc_c *xc = ti->private;
	struct xc_io *io = dm_per_bio_data(bio, sizeof(struct xc_io));

	if (bio_init_clone(xc->dev->bdev, &io->clone, bio, GFP_NOWAIT))
		return DM_MAPIO_KILL;
	io->clone.bi_opf &= ~REQ_POLLED;
	io->clone.bi_iter.bi_sector = dm_target_offset(ti, bio->bi_iter.bi_sector);
	io->clone.bi_end_io = xc_clone_endio;
	io->clone.bi_private = io;
	io->xc = xc;
	io->bio = bio;
	dm_submit_bio_remap(bio, &io->clone);
	return DM_MAPIO_SUBMITTED;
}

static int xc_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	unsigned int c = READ_ONCE(cpu);
	struct xc_c *xc;
	int r;

	if (argc != 1) {
		ti->error = "Expected one argument: <dev_path>";
		return -EINVAL;
	}
	if (c >= nr_cpu_ids || !cpu_online(c)) {
		ti->error = "Parameter cpu is not an online CPU";
		return -EINVAL;
	}
	xc = kzalloc(sizeof(*xc), GFP_KERNEL);
	if (!xc) {
		ti->error = "Cannot allocate context";
		return -ENOMEM;
	}
	init_waitqueue_head(&xc->wait);
	spin_lock_init(&xc->lock);
	INIT_LIST_HEAD(&xc->done);
	r = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table), &xc->dev);
	if (r) {
		ti->error = "Device lookup failed";
		goto bad;
	}
	xc->thread = kthread_create_on_cpu(xc_thread, xc, c, "dm-xcpu/%u");
	if (IS_ERR(xc->thread)) {
		r = PTR_ERR(xc->thread);
		ti->error = "Cannot start the thread";
		dm_put_device(ti, xc->dev);
		goto bad;
	}
	wake_up_process(xc->thread);
	ti->per_io_data_size = sizeof(struct xc_io);
	ti->accounts_remapped_io = true;
	ti->private = xc;
	return 0;
bad:
	kfree(xc);
	return r;
}

static void xc_dtr(struct dm_target *ti)
{
	struct xc_c *xc = ti->private;

	kthread_stop(xc->thread);
	dm_put_device(ti, xc->dev);
	kfree(xc);
}

static int xc_iterate_devices(struct dm_target *ti,
			      iterate_devices_callout_fn fn, void *data)
{
	struct xc_c *xc = ti->private;

	return fn(ti, xc->dev, 0, ti->len, data);
}

static struct target_type xc_target = {
	.name = "xcpu",
	.version = {1, 0, 0},
	.features = DM_TARGET_NOWAIT,
	.module = THIS_MODULE,
	.ctr = xc_ctr,
	.dtr = xc_dtr,
	.map = xc_map,
	.iterate_devices = xc_iterate_devices,
};

static int __init xc_init(void)
{
	return dm_register_target(&xc_target);
}

static void __exit xc_exit(void)
{
	dm_unregister_target(&xc_target);
}

module_init(xc_init);
module_exit(xc_exit);

MODULE_DESCRIPTION(DM_NAME " benchmark reference: ends bios on another CPU");
MODULE_LICENSE("GPL");
