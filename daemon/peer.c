/*
 * A connecting peer (msivd(8), msivd.conf(5)): its credentials as the
 * kernel recorded them at connect (SO_PEERCRED, SO_PEERGROUPS), and what
 * they admit it to. Admins (root, msivd's own uid, admin_group) may do
 * everything and act as any tenant. With [tenant] sections configured,
 * other peers may act only as a tenant whose uids or gids admit them.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "peer.h"

static int
peer_in_group(gid_t primary, const gid_t *groups, size_t ngroups, gid_t gid)
{
	if (primary == gid)
		return 1;
	for (size_t i = 0; i < ngroups; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

int
peer_is_admin(const struct conf *conf, const struct peer *p)
{
	if (p->cr.uid == 0 || p->cr.uid == geteuid())
		return 1;
	return conf->admin_group[0] != '\0' && peer_in_group(p->cr.gid,
	    p->groups, p->ngroups, conf->admin_gid);
}

/* The [tenant] sections that admit a peer, a bit each. */
uint64_t
peer_tenants(const struct conf *conf, uid_t uid, gid_t gid,
    const gid_t *groups, size_t ngroups)
{
	uint64_t ok = 0;

	for (uint32_t i = 0; i < conf->ntenants; i++) {
		const struct conf_tenant *t = &conf->tenants[i];
		int in = 0;

		for (uint32_t k = 0; k < t->nuids && !in; k++)
			in = t->uids[k] == uid;
		for (uint32_t k = 0; k < t->ngids && !in; k++)
			in = peer_in_group(gid, groups, ngroups, t->gids[k]);
		if (in)
			ok |= UINT64_C(1) << i;
	}
	return ok;
}

int
peer_get(int fd, struct peer *p)
{
	socklen_t len = sizeof(p->cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &p->cr, &len) < 0)
		return -1;
	len = sizeof(p->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) < 0) {
		/* More groups than we look at (ERANGE), or no
		 * SO_PEERGROUPS: only the primary group counts. */
		log_debug("accept: SO_PEERGROUPS: %s", strerror(errno));
		len = 0;
	}
	p->ngroups = len / sizeof(gid_t);
	return 0;
}
