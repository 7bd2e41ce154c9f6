/*
 * A connecting peer: its credentials and what they admit it to (peer.c).
 */
#ifndef MSIVD_PEER_H
#define MSIVD_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "conf.h"

#define SESSION_GROUPS_MAX 256   /* supplementary groups checked at accept */

/* The peer's credentials, as the kernel recorded them at connect. */
struct peer {
	struct ucred cr;
	size_t ngroups;
	gid_t groups[SESSION_GROUPS_MAX];
};

/* The credentials of the peer of a connected socket fd; -1 (errno set)
 * without SO_PEERCRED. Without SO_PEERGROUPS, only the primary group. */
int peer_get(int fd, struct peer *p);
/* Root, msivd's own uid, or a member of admin_group. */
int peer_is_admin(const struct conf *conf, const struct peer *p);
/* The [tenant] sections that admit a peer, a bit each. */
uint64_t peer_tenants(const struct conf *conf, uid_t uid, gid_t gid,
    const gid_t *groups, size_t ngroups);

#endif /* MSIVD_PEER_H */
