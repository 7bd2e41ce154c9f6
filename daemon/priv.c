/*
 * Least privilege (msivd(8), PRIVILEGES). Started as root, msivd opens
 * what needs root first (main.c stage 2: the devices, the store, the
 * socket, the uevent listener with its forced buffer), then priv_drop()
 * becomes the service user and keeps one capability:
 *
 *   CAP_DAC_OVERRIDE, permitted but not effective. It is raised only
 *   around priv_open(), for the files a vfio device needs after start-up
 *   (hotplug, DEVICE_ATTACH, a device that comes back): its VFIO group
 *   /dev/vfio/N (root, 0600) and /proc/irq/N/smp_affinity (root, 0644)
 *   for IRQ_AFFINITY. Nothing else is opened with it.
 *
 * Everything else is gone, from the bounding set too, so not even an
 * exec could get it back (and no_new_privs is set). In particular no
 * client request is ever handled with an effective capability: the
 * command handlers run with an empty effective set.
 *
 * Capabilities are per thread: priv_drop() runs before the delivery
 * thread is started, which inherits the reduced sets.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

/* The one capability kept; see the comment above. */
static const cap_value_t priv_kept[] = { CAP_DAC_OVERRIDE };
#define PRIV_NKEPT (sizeof(priv_kept) / sizeof(priv_kept[0]))

static int priv_dropped;

static int
priv_effective(cap_flag_value_t on)
{
	cap_t c = cap_get_proc();
	int r = 0;

	if (c == NULL)
		return -errno;
	if (cap_set_flag(c, CAP_EFFECTIVE, PRIV_NKEPT, priv_kept, on) < 0 ||
	    cap_set_proc(c) < 0)
		r = -errno;
	cap_free(c);
	return r;
}

int
priv_open(const char *path, int flags)
{
	int fd, saved;

	if (!priv_dropped)
		return open(path, flags | O_CLOEXEC);
	if (priv_effective(CAP_SET) < 0)
		log_warn("cannot raise CAP_DAC_OVERRIDE to open %s", path);
	fd = open(path, flags | O_CLOEXEC);
	saved = errno;
	if (priv_effective(CAP_CLEAR) < 0)
		fatal("cannot lower CAP_DAC_OVERRIDE again");
	errno = saved;
	return fd;
}

/*
 * The state directory and the files in it (the database and SQLite's WAL
 * and shared-memory files) change hands, so the service user can keep
 * writing them. Not recursive, and symlinks are not followed.
 */
static int
priv_chown_state(const char *dir, uid_t uid, gid_t gid)
{
	DIR *d;
	struct dirent *e;
	int dfd, r = 0;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) < 0)
		return -errno;
	if (fchown(dfd, uid, gid) < 0) {
		r = -errno;
		close(dfd);
		return r;
	}
	if ((d = fdopendir(dfd)) == NULL) {
		r = -errno;
		close(dfd);
		return r;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (fchownat(dfd, e->d_name, uid, gid,
		    AT_SYMLINK_NOFOLLOW) < 0 && r == 0)
			r = -errno;
	}
	closedir(d);
	return r;
}

/*
 * Started as another user: nothing to drop, unless this is the new msivd
 * of a handover (handover.c), executed by the spawner with
 * CAP_DAC_OVERRIDE in its ambient set (spawn.c) so that it could keep it.
 * It is kept as after a drop: permitted, not effective, not inherited,
 * not ambient.
 */
static int
priv_inherited(void)
{
	cap_flag_value_t v = CAP_CLEAR;
	cap_t c = cap_get_proc();
	int r = 0;

	if (c == NULL)
		return -errno;
	if (cap_get_flag(c, CAP_DAC_OVERRIDE, CAP_PERMITTED, &v) < 0 ||
	    v != CAP_SET) {
		cap_free(c);
		log_info("running as uid %u (not root: nothing to drop)",
		    (unsigned)geteuid());
		return 0;
	}
	cap_free(c);
	if ((c = cap_init()) == NULL ||
	    cap_set_flag(c, CAP_PERMITTED, PRIV_NKEPT, priv_kept,
	    CAP_SET) < 0 || cap_set_proc(c) < 0) {
		r = -errno;
		log_err("cannot set the capabilities kept across the restart");
	}
	if (c != NULL)
		cap_free(c);
	if (r == 0 && cap_reset_ambient() < 0 && errno != EINVAL) {
		r = -errno;
		log_err("cannot clear the ambient capabilities");
	}
	if (r == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0) {
		r = -errno;
		log_err("cannot set no_new_privs");
	}
	if (r < 0)
		return r;
	priv_dropped = 1;
	log_info("running as uid %u; capabilities: cap_dac_override=p (kept "
	    "across the restart)", (unsigned)geteuid());
	return 0;
}

int
priv_drop(const struct conf *c, int own_socket)
{
	char buf[4096], *text;
	struct passwd pw, *res = NULL;
	cap_t caps;
	int r;

	if (geteuid() != 0)
		return priv_inherited();
	if (strcmp(c->user, "root") == 0) {
		log_warnx("user = root: msivd keeps every root privilege "
		    "(set user in [msivd] to drop them)");
		return 0;
	}
	if ((r = getpwnam_r(c->user, &pw, buf, sizeof(buf), &res)) != 0 ||
	    res == NULL) {
		log_errx("user %s: no such user; create it (systemd-sysusers "
		    "msiv.conf, or useradd --system %s) or set user = root in "
		    "[msivd]", c->user, c->user);
		return -ENOENT;
	}
	if (pw.pw_uid == 0) {
		log_errx("user %s has uid 0: nothing would be dropped; name a "
		    "service user, or user = root", c->user);
		return -EINVAL;
	}
	if ((r = priv_chown_state(c->state_dir, pw.pw_uid, pw.pw_gid)) < 0) {
		errno = -r;
		log_err("%s: cannot hand it to %s", c->state_dir, c->user);
		return r;
	}
	/* Clients reach the socket through its group: the service user's
	 * (msiv), as with msivd.socket's SocketGroup. */
	if (own_socket && chown(c->socket, (uid_t)-1, pw.pw_gid) < 0)
		log_warn("%s: cannot give it group %u", c->socket,
		    (unsigned)pw.pw_gid);

	/* The bounding set first, while CAP_SETPCAP is still there. */
	for (cap_value_t v = 0; v <= CAP_LAST_CAP; v++) {
		int keep = 0;

		for (size_t i = 0; i < PRIV_NKEPT; i++)
			keep |= priv_kept[i] == v;
		if (!keep && CAP_IS_SUPPORTED(v) && cap_drop_bound(v) < 0) {
			log_err("cannot drop capability %d from the bounding "
			    "set", (int)v);
			return -errno;
		}
	}
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0 ||
	    initgroups(c->user, pw.pw_gid) < 0 ||
	    setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) < 0 ||
	    setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0) {
		r = -errno;
		log_err("cannot become %s", c->user);
		return r;
	}
	if ((caps = cap_init()) == NULL ||
	    cap_set_flag(caps, CAP_PERMITTED, PRIV_NKEPT, priv_kept,
	    CAP_SET) < 0 || cap_set_proc(caps) < 0) {
		r = -errno;
		log_err("cannot set the capabilities of %s", c->user);
		if (caps != NULL)
			cap_free(caps);
		return r;
	}
	cap_free(caps);
	if (cap_reset_ambient() < 0 && errno != EINVAL) {
		r = -errno;
		log_err("cannot clear the ambient capabilities");
		return r;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0) {
		r = -errno;
		log_err("cannot set no_new_privs");
		return r;
	}
	/* A check, not a belief: setuid back to root must now fail. */
	if (setuid(0) == 0) {
		log_errx("setuid(0) succeeded after the drop");
		return -EPERM;
	}
	priv_dropped = 1;
	caps = cap_get_proc();
	text = caps != NULL ? cap_to_text(caps, NULL) : NULL;
	log_info("running as %s (uid %u, gid %u); capabilities: %s",
	    c->user, (unsigned)pw.pw_uid, (unsigned)pw.pw_gid,
	    text != NULL ? text : "?");
	cap_free(text);
	cap_free(caps);
	return 0;
}
