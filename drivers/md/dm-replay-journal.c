// SPDX-License-Identifier: GPL-2.0
/*
 * dm-replay ordering journal: one relay channel per dm device, in debugfs
 * at dm-replay/<dm-N>/journal, with a single global buffer so the consumer
 * reads one ordered stream.
 *
 * Locking: dmr_mutex protects dmr_journals and each journal's users
 * count.  j->lock (irq-safe; completions may be journaled from a bio's
 * end_io) serializes writers of the relay buffer and protects seq, bytes,
 * lost and reserved.  It also protects the relay buffer's positions
 * (subbufs_produced, offset, data, padding, subbufs_consumed,
 * bytes_consumed), which the journal file's read() takes it to find and
 * to consume what it reads.  read() copies the bytes themselves without
 * it: relay never overwrites a sub-buffer that is not consumed.  Readers
 * of one file are serialized by its inode lock, as in relay.
 *
 * The journal file is not relay's read(): relay_file_read() reads the
 * positions without the writer's lock, and when a sub-buffer switch lands
 * between two of its loads it moves the read position back a whole
 * buffer and returns a sub-buffer the writer has not refilled yet (seen
 * with two sub-buffers and a reader that was caught up).  Open, poll and
 * release are relay's; debugfs passes nothing else on.
 *
 * Space: relay never overwrites what the reader has not consumed (the
 * subbuf_start callback refuses a full buffer).  The journal computes the
 * free room itself, so a checkpoint can promise itself room for all its
 * records before it writes any (dmr_journal_reserve()) and is refused as a
 * whole instead of being cut.  An eighth of the room the journal has when
 * its reader has caught up is kept back from checkpoints for the
 * completions a suspend has to release.
 */
#include <linux/debugfs.h>
#include <linux/relay.h>
#include <linux/slab.h>

#include "dm-replay.h"

#define REC_SIZE DM_REPLAY_RECORD_SIZE

static struct dentry *dmr_debugfs_root;
static LIST_HEAD(dmr_journals);

static const struct file_operations dmr_journal_fops;

static struct dentry *dmr_create_buf_file(const char *filename,
					  struct dentry *parent, umode_t mode,
					  struct rchan_buf *buf, int *is_global)
{
	*is_global = 1;
	return debugfs_create_file("journal", 0400, parent, buf,
				   &dmr_journal_fops);
}

static int dmr_remove_buf_file(struct dentry *dentry)
{
	debugfs_remove(dentry);
	return 0;
}

static int dmr_subbuf_start(struct rchan_buf *buf, void *subbuf,
			    void *prev_subbuf, size_t prev_padding)
{
	return !relay_buf_full(buf);
}

static const struct rchan_callbacks dmr_relay_callbacks = {
	.subbuf_start = dmr_subbuf_start,
	.create_buf_file = dmr_create_buf_file,
	.remove_buf_file = dmr_remove_buf_file,
};

static int dmr_dropped_show(struct seq_file *m, void *unused)
{
	struct dmr_journal *j = m->private;
	u64 bytes, lost;

	dmr_journal_stats(j, &bytes, &lost);
	seq_printf(m, "%llu\n", lost);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dmr_dropped);

static struct rchan_buf *dmr_buf(struct dmr_journal *j)
{
	return *per_cpu_ptr(j->chan->buf, 0);
}

/*
 * Mark the reader's sub-buffer consumed if it has read all of it and the
 * writer has left it.  The reader cannot do that itself while the writer
 * is still in it, so this runs on both sides.  Called with j->lock held.
 */
static void dmr_retire_read(struct dmr_journal *j, struct rchan_buf *buf)
{
	size_t idx = buf->subbufs_consumed % j->n_subbufs;

	if (buf->subbufs_consumed != buf->subbufs_produced &&
	    buf->bytes_consumed >= j->subbuf_size - buf->padding[idx]) {
		buf->subbufs_consumed++;
		buf->bytes_consumed = 0;
	}
}

/*
 * Bytes the reader may copy now, from *pos in the buffer.  Called with
 * j->lock held.
 */
static size_t dmr_readable(struct dmr_journal *j, struct rchan_buf *buf,
			   size_t *pos)
{
	size_t size = j->subbuf_size;
	size_t idx, end;

	dmr_retire_read(j, buf);
	idx = buf->subbufs_consumed % j->n_subbufs;
	if (buf->subbufs_consumed != buf->subbufs_produced)
		end = size - buf->padding[idx];	/* a finished sub-buffer */
	else if (buf->offset <= size)
		end = buf->offset;		/* the one being written */
	else
		end = 0;			/* a refused switch: none */
	*pos = idx * size + buf->bytes_consumed;
	return end > buf->bytes_consumed ? end - buf->bytes_consumed : 0;
}

static ssize_t dmr_journal_read(struct file *filp, char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct rchan_buf *buf = filp->private_data;
	struct dmr_journal *j = buf->chan->private_data;
	struct inode *inode = file_inode(filp);
	ssize_t done = 0;

	inode_lock(inode);
	while (count) {
		unsigned long flags;
		size_t pos, n;

		spin_lock_irqsave(&j->lock, flags);
		n = min(count, dmr_readable(j, buf, &pos));
		spin_unlock_irqrestore(&j->lock, flags);
		if (!n)
			break;
		if (copy_to_user(ubuf + done, buf->start + pos, n)) {
			if (!done)
				done = -EFAULT;
			break;
		}
		spin_lock_irqsave(&j->lock, flags);
		buf->bytes_consumed += n;
		spin_unlock_irqrestore(&j->lock, flags);
		done += n;
		count -= n;
	}
	inode_unlock(inode);
	if (done > 0)
		*ppos += done;
	return done;
}

static int dmr_journal_open(struct inode *inode, struct file *filp)
{
	return relay_file_operations.open(inode, filp);
}

static __poll_t dmr_journal_poll(struct file *filp, poll_table *wait)
{
	return relay_file_operations.poll(filp, wait);
}

static int dmr_journal_release(struct inode *inode, struct file *filp)
{
	return relay_file_operations.release(inode, filp);
}

static const struct file_operations dmr_journal_fops = {
	.owner		= THIS_MODULE,
	.open		= dmr_journal_open,
	.poll		= dmr_journal_poll,
	.read		= dmr_journal_read,
	.llseek		= no_llseek,
	.release	= dmr_journal_release,
};

/* Records that still fit in the buffer.  Called with j->lock held. */
static u64 dmr_room(struct dmr_journal *j)
{
	struct rchan_buf *buf = dmr_buf(j);
	size_t size = j->subbuf_size;
	size_t ready;
	u64 per = size / REC_SIZE;
	u64 room;

	dmr_retire_read(j, buf);
	ready = buf->subbufs_produced - buf->subbufs_consumed;

	if (buf->offset > size) {
		/* The last switch was refused: the next one retries it. */
		if (ready >= j->n_subbufs)
			return 0;
		return (j->n_subbufs - ready) * per;
	}
	room = (size - buf->offset) / REC_SIZE;
	if (ready + 1 < j->n_subbufs)
		room += (j->n_subbufs - 1 - ready) * per;
	return room;
}

/* Room once the reader has caught up: all but the sub-buffer in use. */
static u64 dmr_full_room(struct dmr_journal *j)
{
	return (u64)(j->n_subbufs - 1) * (j->subbuf_size / REC_SIZE);
}

static u64 dmr_reserve_records(struct dmr_journal *j)
{
	return max_t(u64, 1, dmr_full_room(j) / 8);
}

/* The most records one checkpoint can ever be given. */
u64 dmr_journal_capacity(struct dmr_journal *j)
{
	return dmr_full_room(j) - dmr_reserve_records(j);
}

/**
 * dmr_journal_reserve - promise room for @nr records to a checkpoint
 * @j: the journal
 * @nr: records
 *
 * Returns -EAGAIN if they do not fit beside what is promised already and
 * the reserve kept for suspend.
 */
int dmr_journal_reserve(struct dmr_journal *j, u64 nr)
{
	unsigned long flags;
	int r = -EAGAIN;

	spin_lock_irqsave(&j->lock, flags);
	if (dmr_room(j) >= j->reserved + dmr_reserve_records(j) + nr) {
		j->reserved += nr;
		r = 0;
	}
	spin_unlock_irqrestore(&j->lock, flags);
	return r;
}

void dmr_journal_unreserve(struct dmr_journal *j, u64 nr)
{
	unsigned long flags;

	spin_lock_irqsave(&j->lock, flags);
	j->reserved -= min(nr, j->reserved);
	spin_unlock_irqrestore(&j->lock, flags);
}

void dmr_journal_lock(struct dmr_journal *j, unsigned long *flags)
	__acquires(&j->lock)
{
	spin_lock_irqsave(&j->lock, *flags);
}

void dmr_journal_unlock(struct dmr_journal *j, unsigned long flags)
	__releases(&j->lock)
{
	spin_unlock_irqrestore(&j->lock, flags);
}

/**
 * dmr_journal_emit - append one record, with j->lock held
 * @j: the journal
 * @rec: the record; its sequence number is filled in here
 * @reserved: the record was promised by dmr_journal_reserve()
 *
 * Fills in the sequence number.  A record that was not promised may use
 * any room not promised to others, the suspend reserve included; if there
 * is none it is counted as lost, and its sequence number stays unused so
 * the reader sees the gap.
 */
void dmr_journal_emit(struct dmr_journal *j, union dm_replay_rec *rec,
		      bool reserved)
{
	struct rchan_buf *buf = dmr_buf(j);
	size_t size = j->subbuf_size;

	lockdep_assert_held(&j->lock);
	rec->hdr.seq = cpu_to_le64(j->seq++);
	if (rec->type == DM_REPLAY_REC_CHECKPOINT)
		j->last_ckpt = max(j->last_ckpt,
				   le64_to_cpu(rec->ckpt.checkpoint));

	if (reserved) {
		j->reserved--;
	} else if (dmr_room(j) <= j->reserved) {
		j->lost++;
		return;
	}

	if (buf->offset + REC_SIZE > size) {
		dmr_retire_read(j, buf);
		if (!relay_switch_subbuf(buf, REC_SIZE)) {
			j->lost++;
			return;
		}
	}
	memcpy(buf->data + buf->offset, rec, REC_SIZE);
	buf->offset += REC_SIZE;
	j->bytes += REC_SIZE;
}

/* The stream outlives a reload: a new table goes on from its numbers. */
u64 dmr_journal_last_ckpt(struct dmr_journal *j)
{
	unsigned long flags;
	u64 nr;

	spin_lock_irqsave(&j->lock, flags);
	nr = j->last_ckpt;
	spin_unlock_irqrestore(&j->lock, flags);
	return nr;
}

void dmr_journal_stats(struct dmr_journal *j, u64 *bytes, u64 *lost)
{
	unsigned long flags;

	spin_lock_irqsave(&j->lock, flags);
	*bytes = j->bytes;
	*lost = j->lost;
	spin_unlock_irqrestore(&j->lock, flags);
}

static void dmr_journal_free(struct dmr_journal *j)
{
	if (j->chan)
		relay_close(j->chan);
	debugfs_remove_recursive(j->dir);
	kfree(j);
}

/**
 * dmr_journal_get - find or make the journal of a dm device
 * @devt: the dm device
 * @begin: start of the target in the device's table
 * @disk_name: the dm device's kernel name, dm-N
 * @subbuf_size: relay sub-buffer size, if the journal is made here
 * @n_subbufs: relay sub-buffer count, if the journal is made here
 *
 * A reload of the device finds the journal of the table it replaces, so
 * the stream goes on.  The geometry is that of the first table.
 * Called with dmr_mutex held.
 */
struct dmr_journal *dmr_journal_get(dev_t devt, sector_t begin,
				    const char *disk_name,
				    unsigned int subbuf_size,
				    unsigned int n_subbufs)
{
	struct dmr_journal *j;

	lockdep_assert_held(&dmr_mutex);
	list_for_each_entry(j, &dmr_journals, list) {
		if (j->devt == devt && j->begin == begin) {
			j->users++;
			return j;
		}
	}

	if (IS_ERR_OR_NULL(dmr_debugfs_root))
		return ERR_PTR(-ENODEV);

	j = kzalloc(sizeof(*j), GFP_KERNEL);
	if (!j)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&j->lock);
	j->devt = devt;
	j->begin = begin;
	j->subbuf_size = subbuf_size;
	j->n_subbufs = n_subbufs;
	j->users = 1;
	if (begin)
		snprintf(j->name, sizeof(j->name), "%s@%llu", disk_name,
			 (unsigned long long)begin);
	else
		strscpy(j->name, disk_name, sizeof(j->name));

	j->dir = debugfs_create_dir(j->name, dmr_debugfs_root);
	if (IS_ERR(j->dir)) {
		int r = PTR_ERR(j->dir);

		j->dir = NULL;
		kfree(j);
		return ERR_PTR(r);
	}
	j->chan = relay_open("journal", j->dir, subbuf_size, n_subbufs,
			     &dmr_relay_callbacks, j);
	if (!j->chan) {
		dmr_journal_free(j);
		return ERR_PTR(-ENOMEM);
	}
	debugfs_create_file("dropped", 0400, j->dir, j, &dmr_dropped_fops);

	list_add(&j->list, &dmr_journals);
	return j;
}

/* Called with dmr_mutex held. */
void dmr_journal_put(struct dmr_journal *j)
{
	lockdep_assert_held(&dmr_mutex);
	if (--j->users)
		return;
	list_del(&j->list);
	dmr_journal_free(j);
}

int dmr_journal_init(void)
{
	dmr_debugfs_root = debugfs_create_dir("dm-replay", NULL);
	return 0;
}

void dmr_journal_exit(void)
{
	debugfs_remove_recursive(dmr_debugfs_root);
}
