// SPDX-License-Identifier: GPL-2.0
/*
 * spinner KIND: spin on one CPU until killed, doing one kind of work per
 * round, for bench/neighbour:
 *   loop    nothing but the loop (a pause per round)
 *   clock   clock_gettime(CLOCK_MONOTONIC) (the vDSO: a TSC read)
 *   syscall getppid(), a bare system call
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	volatile unsigned long sink = 0;
	struct timespec ts;
	const char *kind = argc == 2 ? argv[1] : "";

	if (!strcmp(kind, "loop")) {
		for (;;)
			__builtin_ia32_pause(), sink++;
	} else if (!strcmp(kind, "clock")) {
		for (;;)
			clock_gettime(CLOCK_MONOTONIC, &ts), sink += (unsigned long)ts.tv_nsec;
	} else if (!strcmp(kind, "syscall")) {
		for (;;)
			sink += (unsigned long)syscall(SYS_getppid);
	}
	fprintf(stderr, "usage: spinner loop|clock|syscall\n");
	return 2;
}
