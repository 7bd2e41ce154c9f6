/*
 * The fuzz target without libFuzzer (gcc builds): run it once over every
 * file given, and every file of every directory given (dot files
 * skipped), in name order, as TAP. make check runs it over the seed
 * corpus (run-corpus.sh) in the plain, ASan+UBSan and TSan builds; with a
 * crash reproducer as argument it replays the crash under a debugger.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"

#define FUZZ_INPUT_MAX (1u << 20) /* libFuzzer's -max_len is far below */

struct fuzz_files {
	char **path;
	size_t n, cap;
};

static void
fuzz_add(struct fuzz_files *f, const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;

	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 64;
		if ((f->path = realloc(f->path, f->cap * sizeof(*f->path))) ==
		    NULL) {
			perror("fuzz-main");
			exit(1);
		}
	}
	if ((f->path[f->n] = malloc(len)) == NULL) {
		perror("fuzz-main");
		exit(1);
	}
	snprintf(f->path[f->n++], len, "%s%s%s", dir, *dir ? "/" : "", name);
}

static int
fuzz_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's files, or the file itself. Returns 0 or -1. */
static int
fuzz_collect(struct fuzz_files *f, const char *arg)
{
	DIR *d = opendir(arg);
	struct dirent *e;

	if (d == NULL) {
		if (errno != ENOTDIR)
			return -1;
		fuzz_add(f, "", arg);
		return 0;
	}
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			fuzz_add(f, arg, e->d_name);
	closedir(d);
	return 0;
}

static double
fuzz_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
	static uint8_t buf[FUZZ_INPUT_MAX];
	struct fuzz_files f = { NULL, 0, 0 };
	double t0, total = 0;
	int failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (fuzz_collect(&f, argv[i]) < 0) {
			fprintf(stderr, "%s: %s: %s\n", argv[0], argv[i],
			    strerror(errno));
			return 2;
		}
	if (f.n > 0)
		qsort(f.path, f.n, sizeof(*f.path), fuzz_cmp);
	/* Once, as libFuzzer does before the first input. */
	(void)LLVMFuzzerInitialize(&argc, &argv);
	printf("1..%zu\n", f.n);
	fflush(stdout);
	for (size_t i = 0; i < f.n; i++) {
		FILE *in = fopen(f.path[i], "rbe");
		size_t len;
		double ms;

		if (in == NULL) {
			printf("not ok %zu - %s: %s\n", i + 1, f.path[i],
			    strerror(errno));
			failed++;
			continue;
		}
		len = fread(buf, 1, sizeof(buf), in);
		fclose(in);
		/* A crash or a failed check aborts: the TAP driver reports
		 * the missing results and the test's stderr. */
		t0 = fuzz_ms();
		(void)LLVMFuzzerTestOneInput(buf, len);
		ms = fuzz_ms() - t0;
		total += ms;
		printf("ok %zu - %s (%zu bytes, %.1f ms)\n", i + 1, f.path[i],
		    len, ms);
		fflush(stdout);
	}
	printf("# %zu inputs in %.0f ms\n", f.n, total);
	for (size_t i = 0; i < f.n; i++)
		free(f.path[i]);
	free(f.path);
	return failed ? 1 : 0;
}
