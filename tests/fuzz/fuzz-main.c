/*
 * Without libFuzzer (gcc builds): run the fuzz target over the files
 * given (the seed corpus, or crash reproducers) once each, as TAP, so the
 * corpus is a regression test of make check in every build.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n;

static void
run_file(const char *path)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(path, "rbe");
	size_t len;

	if (f == NULL) {
		printf("not ok %d - %s: cannot open\n", ++n, path);
		return;
	}
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	(void)LLVMFuzzerTestOneInput(buf, len);
	printf("ok %d - %s (%zu bytes)\n", ++n, path, len);
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *e;

		if (d == NULL) {
			run_file(argv[i]);
			continue;
		}
		while ((e = readdir(d)) != NULL) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			run_file(path);
		}
		closedir(d);
	}
	printf("1..%d\n", n);
	return 0;
}
