/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * dm-replay: block-level record/replay of request completion order.
 *
 * This header is the only interface between the dm-replay target and
 * userspace: the journal record format read from the relay channel in
 * debugfs (<debugfs>/dm-replay/<dm-N>/journal) and the ioctls of the
 * control device /dev/dm-replay.
 *
 * Journal records are fixed size (DM_REPLAY_RECORD_SIZE bytes) and all
 * multi-byte fields are little-endian, whatever the host.  Every record
 * starts with the same 16-byte head (type, a type-specific byte and
 * 16-bit field, a 32-bit field, and the 64-bit sequence number).  The
 * sequence number counts every record the target produced for that
 * journal, including records it had to drop, so a gap in the sequence is
 * exactly the number of records lost.
 *
 * See Documentation/admin-guide/device-mapper/dm-replay.rst.
 */
#ifndef _UAPI_LINUX_DM_REPLAY_H
#define _UAPI_LINUX_DM_REPLAY_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define DM_REPLAY_MAGIC		0x4c5259414c504552ULL	/* "REPLAYRL" */
#define DM_REPLAY_VERSION	1
#define DM_REPLAY_RECORD_SIZE	64

/* Record types (byte 0 of every record). */
enum dm_replay_rec_type {
	DM_REPLAY_REC_HEADER = 1,	/* struct dm_replay_rec_header */
	DM_REPLAY_REC_CHECKPOINT = 2,	/* struct dm_replay_rec_checkpoint */
	DM_REPLAY_REC_COMPLETION = 3,	/* struct dm_replay_rec_completion */
};

/* Operations (dm_replay_rec_completion.op); not the kernel's REQ_OP_*. */
enum dm_replay_op {
	DM_REPLAY_OP_READ = 0,
	DM_REPLAY_OP_WRITE = 1,
	DM_REPLAY_OP_FLUSH = 2,		/* empty REQ_PREFLUSH */
	DM_REPLAY_OP_DISCARD = 3,
	DM_REPLAY_OP_WRITE_ZEROES = 4,
	DM_REPLAY_OP_SECURE_ERASE = 5,
	DM_REPLAY_OP_OTHER = 15,
};

/* Request flags (dm_replay_rec_completion.flags). */
#define DM_REPLAY_F_FUA		(1U << 0)
#define DM_REPLAY_F_PREFLUSH	(1U << 1)
#define DM_REPLAY_F_SYNC	(1U << 2)
#define DM_REPLAY_F_META	(1U << 3)
#define DM_REPLAY_F_PRIO	(1U << 4)
#define DM_REPLAY_F_NOUNMAP	(1U << 5)
#define DM_REPLAY_F_RAHEAD	(1U << 6)
#define DM_REPLAY_F_NOWAIT	(1U << 7)
/* Flags that are part of a request's shape when replay matches requests. */
#define DM_REPLAY_F_SHAPE_MASK	(DM_REPLAY_F_FUA | DM_REPLAY_F_PREFLUSH | \
				 DM_REPLAY_F_NOUNMAP)
/* Record-only flags, not request flags: */
#define DM_REPLAY_F_HAS_CRC	(1U << 14)	/* crc32c is valid */
#define DM_REPLAY_F_UNHELD	(1U << 15)	/* delivered while not holding */

/* Target modes (header.mode, dm_replay_status.mode). */
enum dm_replay_mode {
	DM_REPLAY_MODE_RECORD = 1,
	DM_REPLAY_MODE_REPLAY = 2,
};

/* Target features (header.features). */
#define DM_REPLAY_FEAT_VERIFY_DATA		(1U << 0)
#define DM_REPLAY_FEAT_SERIALIZE_OVERLAPS	(1U << 1)

/* Checkpoint kinds (dm_replay_rec_checkpoint.kind). */
enum dm_replay_ckpt_kind {
	DM_REPLAY_CKPT_USER = 0,	/* CHECKPOINT ioctl or message */
	DM_REPLAY_CKPT_SUSPEND = 1,	/* presuspend released held ones */
	DM_REPLAY_CKPT_UNHELD = 2,	/* one completion while not holding */
	DM_REPLAY_CKPT_ID_BASE = 3,	/* SET_NEXT_ID: ids restart at .ids */
	DM_REPLAY_CKPT_DETACH = 4,	/* the session let go: held ones out */
};

/*
 * Written when a target instance is constructed (so a reload shows up in
 * the stream as a new header) and first in every journal file.
 */
struct dm_replay_rec_header {
	__u8	type;		/* DM_REPLAY_REC_HEADER */
	__u8	version;	/* DM_REPLAY_VERSION */
	__le16	rec_size;	/* DM_REPLAY_RECORD_SIZE */
	__le32	features;	/* DM_REPLAY_FEAT_* */
	__le64	seq;
	__le64	magic;		/* DM_REPLAY_MAGIC */
	__le64	id_base;	/* next request id when written */
	__le32	dev_major;	/* the dm device */
	__le32	dev_minor;
	__le64	target_sectors;	/* length of the target */
	__le64	time_ns;	/* CLOCK_REALTIME */
	__le32	mode;		/* enum dm_replay_mode */
	__le32	subbuf_size;	/* journal geometry */
};

/*
 * Opens a checkpoint: exactly nr_completions completion records follow,
 * in delivery order (ascending id in record mode).  Checkpoints that
 * deliver nothing are not journaled; an ID_BASE record has no completions.
 */
struct dm_replay_rec_checkpoint {
	__u8	type;		/* DM_REPLAY_REC_CHECKPOINT */
	__u8	kind;		/* enum dm_replay_ckpt_kind */
	__le16	reserved0;
	__le32	nr_completions;
	__le64	seq;
	__le64	checkpoint;	/* the checkpoint number */
	__le64	time_ns;	/* CLOCK_MONOTONIC */
	__le64	ids;		/* next request id at this point */
	__le64	held_after;	/* completions still held afterwards */
	__le64	reserved1[2];
};

struct dm_replay_rec_completion {
	__u8	type;		/* DM_REPLAY_REC_COMPLETION */
	__u8	op;		/* enum dm_replay_op */
	__le16	flags;		/* DM_REPLAY_F_* */
	__le32	status;		/* 0 or a negative errno, as __s32 */
	__le64	seq;
	__le64	checkpoint;	/* checkpoint that delivered it */
	__le64	id;		/* request id */
	__le64	sector;		/* on the dm device, 512-byte units */
	__le32	nr_sectors;
	__le32	crc32c;		/* of the data, if DM_REPLAY_F_HAS_CRC */
	__le64	lower_seq;	/* order of completion at the lower device */
	__le32	lat_us;		/* submission to lower completion */
	__le32	hold_us;	/* lower completion to delivery */
};

/* Any record; use .type to pick the member. */
union dm_replay_rec {
	__u8	type;
	struct dm_replay_rec_header hdr;
	struct dm_replay_rec_checkpoint ckpt;
	struct dm_replay_rec_completion comp;
	__u8	raw[DM_REPLAY_RECORD_SIZE];
};

/*
 * Control device /dev/dm-replay.  Opening it needs CAP_SYS_ADMIN, and so
 * does SET_NEXT_ID; the other ioctls need only the open file.
 * Devices are named by the dm device's dev_t (major:minor).
 */
#define DM_REPLAY_IOCTL_TYPE	0xfd

struct dm_replay_version {
	__u32	abi;		/* out: DM_REPLAY_VERSION */
	__u32	record_size;	/* out: DM_REPLAY_RECORD_SIZE */
	__u32	max_expect;	/* out: largest nr_records per checkpoint */
	__u32	max_attach;	/* out: most dm-replay targets per session */
};

struct dm_replay_dev {
	__u32	major;
	__u32	minor;
};

/* Divergence kinds (dm_replay_divergence.kind). */
enum dm_replay_div_kind {
	DM_REPLAY_DIV_NONE = 0,
	DM_REPLAY_DIV_MISSING = 1,	/* expected request never completed */
	DM_REPLAY_DIV_SHAPE = 2,	/* same id, other op/sector/len/flags */
	DM_REPLAY_DIV_STATUS = 3,	/* lower status differs from journal */
	DM_REPLAY_DIV_DATA = 4,		/* crc32c differs (verify_data) */
	DM_REPLAY_DIV_NODEV = 5,	/* expect names no attached device */
};

struct dm_replay_divergence {
	__u32	kind;		/* enum dm_replay_div_kind */
	__u32	index;		/* index into the expect array */
	struct dm_replay_dev dev;
	/* What the target found (zero for MISSING): */
	__u64	actual_id;
	__u64	actual_sector;
	__u32	actual_nr_sectors;
	__s32	actual_status;
	__u32	actual_crc32c;
	__u8	actual_op;
	__u8	pad0;
	__u16	actual_flags;
	/* What the journal said: */
	union dm_replay_rec expected;
};

/* One expected completion, for a checkpoint in replay mode. */
struct dm_replay_expect {
	struct dm_replay_dev dev;	/* target the record came from */
	__u64	reserved;
	union dm_replay_rec rec;	/* a completion record, as journaled */
};

/* Checkpoint flags. */
#define DM_REPLAY_CKPT_F_NOWAIT		(1U << 0)	/* replay: don't wait */
#define DM_REPLAY_CKPT_F_SPIN		(1U << 1)	/* replay: wait by polling */
#define DM_REPLAY_CKPT_F_SUBMIT		(1U << 2)	/* this caller submits */

/*
 * CHECKPOINT: in record mode (records == 0, nr_records == 0) delivers
 * every completion held by the attached record-mode targets.  In replay
 * mode delivers exactly the expected completions, in the given order,
 * waiting up to timeout_ms for late ones: asleep, or with F_SPIN polling
 * on the caller's CPU (still yielding it to other tasks and to signals).
 * With F_SUBMIT the caller, which checkpoints in a loop, also submits
 * the targets' requests to their lower devices, in its own task, until
 * it checkpoints without F_SUBMIT, detaches or closes the session; the
 * submitting task then only queues them.  A request handed over wakes
 * poll(), and is submitted by the next checkpoint of any kind.
 *
 * The kernel reads the input fields and writes the output fields back;
 * first is written only when divergences is not 0.  A checkpoint that
 * finds nothing held writes nothing if the output fields already hold 0.
 */
struct dm_replay_checkpoint {
	__u64	checkpoint;	/* in: > every earlier one of the session */
	__u32	flags;		/* in: DM_REPLAY_CKPT_F_* */
	__u32	timeout_ms;	/* in: replay wait, 0 means 10000 */
	__u64	records;	/* in: user pointer to dm_replay_expect[] */
	__u32	nr_records;	/* in */
	__u32	reserved;	/* in: 0 */
	__u64	held;		/* out: completions still held */
	__u32	delivered;	/* out: completions delivered */
	__u32	reordered;	/* out: matched by shape, not by id */
	__u32	divergences;	/* out: divergences found */
	__u32	missing;	/* out: expected but not completed */
	struct dm_replay_divergence first;	/* out: first divergence */
};

/* Set the next request id (shared by all targets); -EBUSY if any live. */
struct dm_replay_next_id {
	__u64	next_id;
};

#define DM_REPLAY_IOC_VERSION	_IOR(DM_REPLAY_IOCTL_TYPE, 0, struct dm_replay_version)
#define DM_REPLAY_IOC_ATTACH	_IOW(DM_REPLAY_IOCTL_TYPE, 1, struct dm_replay_dev)
#define DM_REPLAY_IOC_DETACH	_IOW(DM_REPLAY_IOCTL_TYPE, 2, struct dm_replay_dev)
#define DM_REPLAY_IOC_CHECKPOINT _IOWR(DM_REPLAY_IOCTL_TYPE, 3, struct dm_replay_checkpoint)
#define DM_REPLAY_IOC_SET_NEXT_ID _IOW(DM_REPLAY_IOCTL_TYPE, 4, struct dm_replay_next_id)

#endif /* _UAPI_LINUX_DM_REPLAY_H */
