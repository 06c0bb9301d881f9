// SPDX-License-Identifier: GPL-2.0
/* libFuzzer harness: the journal reader must never crash on any input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(struct dmr_journal *j, uint64_t *last_ckpt)
{
	struct dmr_event ev;
	char buf[128];

	while (dmr_journal_next(j, &ev) > 0) {
		dmr_flags_str(ev.rec.comp.flags, buf, sizeof(buf));
		dmr_op_name(ev.rec.comp.op);
		dmr_ckpt_kind_name(ev.rec.ckpt.kind);
		dmr_mode_name(ev.rec.hdr.mode);
		if (ev.rec.type == DM_REPLAY_REC_CHECKPOINT)
			*last_ckpt = ev.rec.ckpt.checkpoint;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dmr_journal_stats st;
	struct dmr_journal *j;
	uint64_t ckpt = 0;

	if (dmr_journal_open_mem(&j, data, size, "fuzz"))
		return 0;
	/* an odd size reads as a live relay stream (may start anywhere) */
	if (size & 1) {
		dmr_journal_set_live(j);
		drain(j, &ckpt);
		dmr_journal_close(j);
		return 0;
	}
	drain(j, &ckpt);
	dmr_journal_stats(j, &st);
	if (strlen(dmr_journal_strerror(j)) >= 256)
		__builtin_trap();
	/* seek to the last checkpoint seen, read on, and back to the start */
	if (!dmr_journal_seek(j, ckpt))
		drain(j, &ckpt);
	dmr_journal_seek(j, 0);
	drain(j, &ckpt);
	dmr_journal_close(j);
	return 0;
}
