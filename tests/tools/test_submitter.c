// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of `dmreplay checkpoint --submit=auto`'s choice of who
 * submits (cmd/submitter.c), on simulated loads (cmocka, TAP output).
 */
#include "dmreplay.h"	/* first: cmocka defines fail() */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define MS 1000000ULL
#define TICK (200 * 1000ULL)	/* the driver reads the clock every 200 us */

/*
 * A load that delivers map_rate completions a millisecond while the
 * issuer submits and submit_rate while the driver does.
 */
struct load {
	uint64_t map_rate, submit_rate;
	uint64_t now;
	uint64_t submit_ns;	/* time spent submitting */
};

/* Run the driver for ms milliseconds; tick at each TICK. */
static void run(struct submitter *p, struct load *l, uint64_t ms)
{
	uint64_t end = l->now + ms * MS;

	while (l->now < end) {
		uint64_t rate = p->submit ? l->submit_rate : l->map_rate;

		submitter_delivered(p, rate * TICK / MS);
		if (p->submit)
			l->submit_ns += TICK;
		l->now += TICK;
		submitter_tick(p, l->now);
	}
}

static void start(struct submitter *p, struct load *l)
{
	submitter_init(p);
	l->now = 1000 * MS;
	submitter_tick(p, l->now);
}

/*
 * Many requests in flight: submitting delivers half as much again.  The
 * first pair of probes, 44 ms, chooses to submit.
 */
static void start_deep(struct submitter *p, struct load *l)
{
	*l = (struct load){ .map_rate = 40, .submit_rate = 60 };
	start(p, l);
	run(p, l, 100);
	assert_true(p->submit);
	assert_int_equal(p->probes, 1);
	assert_int_equal(p->chose_submit, 1);
}

static void test_deep_queue_submits(void **state)
{
	struct submitter p;
	struct load l;

	(void)state;
	start_deep(&p, &l);
	/* Then it probes every 524 ms and keeps submitting. */
	run(&p, &l, 1900);
	assert_int_equal(p.phase, SP_HOLD);
	assert_true(p.submit);
	assert_int_equal(p.probes, 4);
	assert_int_equal(p.chose_submit, 4);
	/* All but the map probes' 22 ms a half second. */
	assert_true(l.submit_ns > 2000 * MS * 9 / 10);
}

/* One request at a time: submitting adds a trip; the issuer keeps it. */
static void test_one_at_a_time_maps(void **state)
{
	struct load l = { .map_rate = 20, .submit_rate = 13 };
	struct submitter p;

	(void)state;
	start(&p, &l);
	run(&p, &l, 2100);
	assert_false(p.submit);
	assert_int_equal(p.chose_submit, 0);
	assert_in_range(p.probes, 4, 5);
	/* Only the submit probes' 22 ms a half second. */
	assert_true(l.submit_ns < 2100 * MS / 10);
	assert_true(l.submit_ns > 0);
}

/* Submitting less than an eighth faster is a tie: the issuer keeps it. */
static void test_tie_maps(void **state)
{
	struct load l = { .map_rate = 80, .submit_rate = 85 };
	struct submitter p;

	(void)state;
	start(&p, &l);
	run(&p, &l, 100);
	assert_false(p.submit);
	assert_int_equal(p.probes, 1);
	l.submit_rate = 95;	/* over 1/8 faster */
	run(&p, &l, 500);
	assert_true(p.submit);
}

/* Submitting, a tie keeps it submitting; map() an eighth faster ends it. */
static void test_tie_keeps_submitting(void **state)
{
	struct submitter p;
	struct load l;

	(void)state;
	start_deep(&p, &l);
	l.map_rate = 80;
	l.submit_rate = 75;	/* map() a fifteenth faster */
	run(&p, &l, 500);
	assert_int_equal(p.probes, 2);
	assert_true(p.submit);
	l.submit_rate = 70;	/* map() a seventh faster */
	run(&p, &l, 530);
	assert_int_equal(p.probes, 3);
	assert_false(p.submit);
}

/* The load changes: the next probe follows it. */
static void test_follows_the_load(void **state)
{
	struct submitter p;
	struct load l;

	(void)state;
	start_deep(&p, &l);
	l.submit_rate = 20;
	run(&p, &l, 600);
	assert_false(p.submit);
	assert_int_equal(p.probes, 2);
	assert_int_equal(p.chose_submit, 1);
}

/* Idle: no decision, the issuer submits, and a load is seen at once. */
static void test_idle_then_load(void **state)
{
	struct load l = { 0 };
	struct submitter p;

	(void)state;
	start(&p, &l);
	run(&p, &l, 1000);
	assert_int_equal(p.probes, 0);
	assert_int_equal(p.chose_submit, 0);
	l.map_rate = 40;
	l.submit_rate = 60;
	/* The pair under way, one idle hold and a whole pair at most. */
	run(&p, &l, 130);
	assert_true(p.submit);
	assert_int_equal(p.probes, 1);
}

/* A window the driver did not run through is measured again. */
static void test_starved_window_dropped(void **state)
{
	struct load l = { .map_rate = 40, .submit_rate = 60 };
	struct submitter p;

	(void)state;
	start(&p, &l);
	run(&p, &l, 10);	/* measuring the issuer submitting */
	assert_int_equal(p.phase, SP_PROBE_MAP);
	/* 50 ms pass between two ticks, with few deliveries. */
	submitter_delivered(&p, 5);
	l.now += 50 * MS;
	submitter_tick(&p, l.now);
	assert_int_equal(p.starved, 1);
	assert_int_equal(p.probes, 0);
	run(&p, &l, 100);
	assert_true(p.submit);
	assert_int_equal(p.probes, 1);
}

/* Going to sleep hands submission back, and the next run probes anew. */
static void test_idle_resets(void **state)
{
	struct submitter p;
	struct load l;

	(void)state;
	start_deep(&p, &l);
	submitter_idle(&p);
	assert_false(p.submit);
	submitter_tick(&p, l.now);
	assert_int_equal(p.phase, SP_PROBE_MAP);
	assert_false(p.submit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deep_queue_submits),
		cmocka_unit_test(test_one_at_a_time_maps),
		cmocka_unit_test(test_tie_maps),
		cmocka_unit_test(test_tie_keeps_submitting),
		cmocka_unit_test(test_follows_the_load),
		cmocka_unit_test(test_idle_then_load),
		cmocka_unit_test(test_starved_window_dropped),
		cmocka_unit_test(test_idle_resets),
	};

	return cmocka_run_group_tests_name("submitter", tests, NULL, NULL);
}
