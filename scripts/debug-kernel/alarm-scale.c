// SPDX-License-Identifier: GPL-2.0
/*
 * LD_PRELOAD shim for the debug-kernel run (scripts/check-debug): multiply
 * every alarm(2) by $DMR_ALARM_SCALE.  The 6.1 kselftest harness limits each
 * test with alarm(timeout) (30 s by default); under KASAN + lockdep +
 * kmemleak in qemu TCG, a fixture that runs a few dmsetup commands alone can
 * take that long, so a test would be killed for being slow, not for being
 * wrong.  Nothing else in the tests uses alarm().
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

unsigned int alarm(unsigned int seconds)
{
	static unsigned int (*real_alarm)(unsigned int);
	const char *env = getenv("DMR_ALARM_SCALE");
	unsigned long scale = env ? strtoul(env, NULL, 10) : 1;

	if (!real_alarm)
		real_alarm = (unsigned int (*)(unsigned int))dlsym(RTLD_NEXT, "alarm");
	if (!real_alarm)
		abort();
	if (scale > 1 && scale <= 100 && seconds)
		seconds = seconds * scale;
	return real_alarm(seconds);
}
