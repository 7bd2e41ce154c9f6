/*
 * libmsiv: a tenant's resume token kept in a file (msiv.h, libmsiv(3)).
 *
 * The token lets the next run of a VMM, or its restart after a crash, take
 * over the tenant's orphaned vfuncs (msiv-protocol(7), HELLO); msivd keeps
 * only a salted hash of it, so a token lost is lost for good and one read
 * by someone else is theirs too. Hence: the file is replaced atomically (a
 * crash leaves the old token or the new one, never a part, never none),
 * its mode is 0600 from creation on, and a directory where someone else
 * could swap the file, or a file others may read, is refused.
 *
 * The format is msiv-vfu's --token-file: 32 lower-case hex digits and a
 * newline.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <msiv/msiv.h>

#define MSIV_API __attribute__((visibility("default")))

#define TOKEN_FILE_LEN (2 * MSIV_TOKEN_LEN + 1) /* hex digits, newline */

/* Anyone but the owner may write, and the sticky bit does not stop them
 * from renaming or removing the owner's files. */
static int
token_dir_unsafe(const struct stat *st)
{
	return (st->st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (st->st_mode & S_ISVTX) == 0;
}

/* Splits path into its directory (into dir, "." if none) and its last
 * component. */
static int
token_dir(const char *path, char *dir, size_t dirsz, const char **base)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		*base = path;
		(void)snprintf(dir, dirsz, ".");
		return 0;
	}
	*base = slash + 1;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= dirsz)
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

static int
token_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

MSIV_API int
msiv_token_save(const char *path, const uint8_t token[MSIV_TOKEN_LEN])
{
	char dir[PATH_MAX], tmp[PATH_MAX], text[TOKEN_FILE_LEN + 1];
	const char *base;
	struct stat st;
	int fd, dfd, r;

	if (path == NULL || token == NULL)
		return -EINVAL;
	if ((r = token_dir(path, dir, sizeof(dir), &base)) < 0)
		return r;
	if (*base == '\0')
		return -EISDIR;
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fstat(dfd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (token_dir_unsafe(&st) ||
	    (st.st_uid != geteuid() && st.st_uid != 0)) {
		r = -EPERM;
		goto out;
	}
	for (unsigned int i = 0; i < MSIV_TOKEN_LEN; i++)
		(void)snprintf(text + 2 * i, 3, "%02x", token[i]);
	text[TOKEN_FILE_LEN - 1] = '\n';
	/* mkostemp() creates the file with mode 0600 and O_EXCL. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if ((r = token_write_all(fd, text, TOKEN_FILE_LEN)) == 0 &&
	    fsync(fd) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		(void)unlink(tmp);
		goto out;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		r = -errno;
		(void)unlink(tmp);
		goto out;
	}
	/* The rename itself survives a crash once the directory is synced. */
	r = fsync(dfd) < 0 ? -errno : 0;
out:
	close(dfd);
	return r;
}

static int
token_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

MSIV_API int
msiv_token_load(const char *path, uint8_t token[MSIV_TOKEN_LEN])
{
	char text[TOKEN_FILE_LEN + 1];
	uint8_t tok[MSIV_TOKEN_LEN];
	struct stat st;
	size_t len = 0;
	int fd, r = 0;

	if (path == NULL || token == NULL)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		r = -EPERM;
		goto out;
	}
	/* One byte more than a token file has, to tell a longer file. */
	while (len < sizeof(text)) {
		ssize_t n = read(fd, text + len, sizeof(text) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	/* The newline may be missing (a file written by hand). */
	if (len != TOKEN_FILE_LEN - 1 &&
	    (len != TOKEN_FILE_LEN || text[TOKEN_FILE_LEN - 1] != '\n')) {
		r = -EBADMSG;
		goto out;
	}
	for (unsigned int i = 0; i < MSIV_TOKEN_LEN; i++) {
		int hi = token_hex(text[2 * i]), lo = token_hex(text[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			r = -EBADMSG;
			goto out;
		}
		tok[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(token, tok, sizeof(tok));
out:
	close(fd);
	return r;
}
