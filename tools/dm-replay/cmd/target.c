// SPDX-License-Identifier: GPL-2.0
/* dmreplay create, remove, status: dm devices through dmsetup. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dmreplay.h"

extern char **environ;

int run_cmd(char *const argv[], char **out)
{
	posix_spawn_file_actions_t fa;
	size_t len = 0, cap = 0;
	int p[2] = { -1, -1 }, st, err;
	char *buf = NULL;
	ssize_t n;
	pid_t pid;

	if (out && pipe2(p, O_CLOEXEC))
		return fail("pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	if (out)
		posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (out)
		close(p[1]);
	while (!err && out) {
		if (len + 4096 + 1 > cap && !(buf = realloc(buf, cap += 65536)))
			abort();
		n = read(p[0], buf + len, cap - len - 1);
		if (n <= 0 && !(n < 0 && errno == EINTR))
			break;
		len += n > 0 ? n : 0;
	}
	if (out) {
		close(p[0]);
		if (buf)
			buf[len] = '\0';
		*out = buf;
	}
	if (err)
		return fail("cannot run %s: %s", argv[0], strerror(err));
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && !WEXITSTATUS(st))
		return 0;
	if (out)
		free(*out), *out = NULL;
	return fail("'%s %s %s' failed (exit status %d)", argv[0], argv[1],
		    argv[2] ? argv[2] : "", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

const char *const status_names[NR_STATUS] = {
	"ids_issued", "in_flight", "held", "delivered", "checkpoints",
	"journal_bytes", "journal_full", "journal_lost", "lower_errors",
	"overlaps", "reordered", "div_missing", "div_shape", "div_status",
	"div_data", "last_checkpoint", "by_worker",
};

/* "dmsetup status|table NAME": the lines of replay targets, start, length, rest. */
static int replay_lines(const char *what, const char *name, char **out)
{
	char *argv[] = { "dmsetup", (char *)what, (char *)name, NULL };

	return run_cmd(argv, out);
}

static char *next_replay_line(char **pos, uint64_t *start, uint64_t *len)
{
	char *line, *rest;
	int n;

	while ((line = strsep(pos, "\n"))) {
		if (sscanf(line, "%lu %lu replay %n", start, len, &n) == 2 &&
		    strstr(line, " replay ")) {
			rest = line + n;
			return rest;
		}
	}
	return NULL;
}

int target_status(const char *name, struct tstatus *st, int max, bool table)
{
	char *out, *tab = NULL, *pos, *tpos, *l, *tok;
	int n = 0, ret;

	if (replay_lines("status", name, &out) ||
	    (table && replay_lines("table", name, &tab)))
		return free(out), -1;
	pos = out;
	tpos = tab;
	for (; n < max && (l = next_replay_line(&pos, &st[n].start, &st[n].length)); n++) {
		memset(st[n].v, 0, sizeof(st[n].v));
		tok = strtok(l, " ");
		snprintf(st[n].mode, sizeof(st[n].mode), "%s", tok ? tok : "");
		for (int i = 0; i < NR_STATUS; i++) {
			tok = strtok(NULL, " ");
			if (!tok || sscanf(tok, "%lu", &st[n].v[i]) != 1) {
				ret = fail("%s: status field %d (%s) missing or not a number "
					   "in 'dmsetup status' output", name, i + 2,
					   status_names[i]);
				goto out;
			}
		}
		st[n].table[0] = '\0';
		if (tab && (l = next_replay_line(&tpos, &st[n].start, &st[n].length)))
			snprintf(st[n].table, sizeof(st[n].table), "%s", l);
	}
	ret = n ? n : (fail("%s has no replay target", name), -1);
out:
	free(out);
	free(tab);
	return ret;
}

int opt_json(int c, const char *arg, void *ctx)
{
	(void)c;
	(void)arg;
	*(bool *)ctx = true;
	return 0;
}

int cmd_status(int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, NULL, 'j' },
					    { "help", no_argument, NULL, 'h' }, {} };
	bool json = false;
	struct tstatus st[16];
	int ret, n;

	ret = parse_opts(argc, argv, "j", lo, opt_json, &json, 1, 1);
	if (ret >= 0)
		return ret;
	n = target_status(argv[optind], st, 16, false);
	if (n < 0)
		return EXIT_FAIL;
	for (int t = 0; t < n; t++) {
		if (json)
			printf("{\"name\":\"%s\",\"start\":%lu,\"length\":%lu,\"mode\":\"%s\"",
			       argv[optind], st[t].start, st[t].length, st[t].mode);
		else
			printf("%sstart %lu\nlength %lu\nmode %s\n", t ? "\n" : "",
			       st[t].start, st[t].length, st[t].mode);
		for (int i = 0; i < NR_STATUS; i++)
			printf(json ? ",\"%s\":%lu" : "%s %lu\n", status_names[i], st[t].v[i]);
		if (json)
			printf("}\n");
	}
	return EXIT_OK;
}

int cmd_create(int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, NULL, 'h' }, {} };
	char table[4096], *dev, *mode;
	char *av[] = { "dmsetup", "create", NULL, "--table", table, NULL };
	uint64_t bytes;
	int ret, fd;
	size_t off;

	ret = parse_opts(argc, argv, "", lo, NULL, NULL, 3, -1);
	if (ret >= 0)
		return ret;
	av[2] = argv[optind];
	dev = argv[optind + 1];
	mode = argv[optind + 2];
	if (strcmp(mode, "record") && strcmp(mode, "replay"))
		return usage_err("mode '%s': must be record or replay", mode);
	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("open %s: %s", dev, strerror(errno));
	ret = ioctl(fd, BLKGETSIZE64, &bytes);
	close(fd);
	if (ret)
		return fail("BLKGETSIZE64 on %s: %s", dev, strerror(errno));
	if (bytes < 512)
		return fail("%s: size %lu bytes, less than one sector", dev, bytes);
	off = snprintf(table, sizeof(table), "0 %lu replay %s 0 %s", bytes / 512, dev, mode);
	if (argc - optind > 3)
		off += snprintf(table + off, sizeof(table) - off, " %d", argc - optind - 3);
	for (int i = optind + 3; i < argc && off < sizeof(table); i++)
		off += snprintf(table + off, sizeof(table) - off, " %s", argv[i]);
	if (off >= sizeof(table))
		return usage_err("feature arguments too long");
	if (run_cmd(av, NULL))
		return EXIT_FAIL;
	av[1] = "mknodes";
	av[3] = NULL;
	return run_cmd(av, NULL) ? EXIT_FAIL : EXIT_OK;
}

int cmd_remove(int argc, char **argv)
{
	static const struct option lo[] = { { "help", no_argument, NULL, 'h' }, {} };
	char *av[] = { "dmsetup", "remove", NULL, NULL };
	int ret = parse_opts(argc, argv, "", lo, NULL, NULL, 1, 1);

	if (ret >= 0)
		return ret;
	av[2] = argv[optind];
	return run_cmd(av, NULL) ? EXIT_FAIL : EXIT_OK;
}
