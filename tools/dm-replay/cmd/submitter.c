// SPDX-License-Identifier: GPL-2.0
/*
 * Who submits, for `dmreplay checkpoint --spin --submit=auto` and
 * `dmreplay replay --spin --submit=auto`.
 *
 * A spinning driver can leave each request to the task that issued it
 * (map() submits it to the lower device at once) or take submission over
 * (DM_REPLAY_CKPT_F_SUBMIT: map() only queues it, the driver submits it
 * at its next checkpoint).  Which one delivers more depends on the load:
 * with one request in flight, taking over adds a trip through the driver
 * to each request; with many, it moves the lower device's submission path
 * off the issuing CPU, which is then the bottleneck.
 *
 * So the driver measures.  It runs SP_PROBE_NS each way in turn, counting
 * what its checkpoints delivered after the first SP_SETTLE_NS, changes
 * its choice only if the other way delivered at least 1/SP_MARGIN more,
 * holds the choice for SP_HOLD_NS, then measures again.  It starts with
 * the issuer submitting, which adds no latency.  The margin both ways
 * keeps one noisy measurement from undoing a choice: under TCG, with fio
 * at QD32 on brd, single probes found submitting 1.22-1.67 times as fast
 * as map(), and once 0.57.  Rates are per nanosecond of the time
 * actually measured, as the clock is read only now and then.
 *
 * Two things spoil a measurement, and are not decided on.  A window that
 * ran for twice its length or more means the driver itself did not run
 * (its CPU was taken): the pair is measured again.  Fewer than
 * SP_MIN_COUNT deliveries in either window means the device is idle, or
 * a load started or stopped in between: the issuer submits, and the pair
 * is measured again after SP_IDLE_NS, so that a load starting is seen at
 * once, not half a second later.
 */
#include "dmreplay.h"

#define SP_SETTLE_NS	2000000ULL	/* 2 ms: the other way's queue drains */
#define SP_PROBE_NS	20000000ULL	/* 20 ms of each way */
#define SP_HOLD_NS	480000000ULL	/* the choice, until the next probe */
#define SP_IDLE_NS	SP_PROBE_NS	/* idle: the next probe comes soon */
#define SP_MARGIN	8		/* change if the other way is 1/8 faster */
#define SP_MIN_COUNT	32

void submitter_init(struct submitter *p)
{
	*p = (struct submitter){ .phase = SP_START };
}

void submitter_delivered(struct submitter *p, uint64_t n)
{
	if (p->phase != SP_HOLD && p->from)
		p->count += n;
}

/* Start measuring one way at @now; settle first. */
static void probe(struct submitter *p, enum sp_phase phase, uint64_t now)
{
	p->phase = phase;
	p->submit = phase == SP_PROBE_SUBMIT;
	p->settle_end = now + SP_SETTLE_NS;
	p->from = 0;
	p->count = 0;
}

/* Done measuring since p->from: count over time taken. */
static void take(struct submitter *p, uint64_t now, uint64_t *count,
		 uint64_t *ns)
{
	*count = p->count;
	*ns = now - p->from;
}

/*
 * Whether @a deliveries in @at ns is at least 1/SP_MARGIN more than @b in
 * @bt: a / at > (1 + 1/M) * b / bt, in 128 bits, so no product overflows.
 */
static bool faster(uint64_t a, uint64_t at, uint64_t b, uint64_t bt)
{
	return (__uint128_t)a * bt * SP_MARGIN >
	       (__uint128_t)b * at * (SP_MARGIN + 1);
}

bool submitter_tick(struct submitter *p, uint64_t now)
{
	uint64_t cs, ts;

	if (p->phase == SP_START ||
	    (p->phase == SP_HOLD && now >= p->hold_end)) {
		probe(p, SP_PROBE_MAP, now);
		return p->submit;
	}
	if (p->phase == SP_HOLD)
		return p->submit;
	if (!p->from) {
		if (now >= p->settle_end)
			p->from = now;	/* counting starts; count is 0 */
		return p->submit;
	}
	if (now - p->from < SP_PROBE_NS)
		return p->submit;
	if (now - p->from >= 2 * SP_PROBE_NS) {
		p->starved++;
		probe(p, SP_PROBE_MAP, now);
		return p->submit;
	}
	if (p->phase == SP_PROBE_MAP) {
		take(p, now, &p->map_count, &p->map_ns);
		probe(p, SP_PROBE_SUBMIT, now);
		return p->submit;
	}
	take(p, now, &cs, &ts);
	p->phase = SP_HOLD;
	if (cs < SP_MIN_COUNT || p->map_count < SP_MIN_COUNT) {
		p->chosen = false;
		p->submit = false;
		p->hold_end = now + SP_IDLE_NS;
		return p->submit;
	}
	if (p->chosen)
		p->chosen = !faster(p->map_count, p->map_ns, cs, ts);
	else
		p->chosen = faster(cs, ts, p->map_count, p->map_ns);
	p->submit = p->chosen;
	p->hold_end = now + SP_HOLD_NS;
	p->probes++;
	p->chose_submit += p->submit;
	return p->submit;
}

void submitter_idle(struct submitter *p)
{
	p->phase = SP_START;
	p->chosen = false;
	p->submit = false;
}

void submitter_print(const struct submitter *p)
{
	fprintf(stderr, " probes=%lu submitting=%lu starved=%lu",
		p->probes, p->chose_submit, p->starved);
}
