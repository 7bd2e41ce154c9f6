/*
 * The control thread's socket server (msiv-protocol(7), msivd(8)).
 *
 * One SOCK_SEQPACKET listener; one session per connection with its peer
 * credentials (SO_PEERCRED) recorded at accept; start-up, the orphan
 * reaper, a reload's re-admission, and shutdown. The parts: session.c
 * (sessions, what is sent to them, the turn's commit), session-read.c
 * (reading requests, rate caps), dispatch.c (the checker, replies,
 * refusals), peer.c (credentials and what they admit).
 *
 * Authorisation happens at accept, from the peer's credentials: admins
 * (root, msivd's own uid, admin_group) may do everything and act as any
 * tenant. With [tenant] sections configured, other peers may act only as
 * a tenant whose uids or gids admit them; a peer no tenant admits gets
 * EACCES for its first request, is logged, and is disconnected. A tenant
 * name no [tenant] section configures belongs to one uid (HELLO, in
 * cmd-vfunc.c): uid-N to uid N, any other to the uid that created it.
 * Non-admin peers are held to max_sessions_per_uid and to max_rate
 * requests per second per session (over it, the daemon stops reading the
 * session until its credit is back: the client slows down, nothing is
 * lost).
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "dispatch.h"
#include "fdstore.h"
#include "hostate.h"
#include "log.h"
#include "peer.h"
#include "server.h"
#include "session-read.h"
#include "store.h"

static struct event_base *srv_base;
static const struct conf *srv_conf;
static int srv_listen_fd = -1;
static struct event *srv_listen_ev;
static struct event *srv_pause_ev;
static struct event *srv_reap_ev;
static uint64_t srv_next_session = 1;
static struct timespec srv_start;

const struct conf *
server_conf(void)
{
	return srv_conf;
}

struct event_base *
server_base(void)
{
	return srv_base;
}

uint64_t
server_now_ms(void)
{
	return clock_now_ms();
}

uint64_t
server_uptime_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - srv_start.tv_sec) * 1000 +
	    (uint64_t)((now.tv_nsec - srv_start.tv_nsec) / 1000000);
}

/* --- accepting sessions ----------------------------------------------------*/

static uint32_t
sessions_of_uid(uid_t uid)
{
	struct session *s;
	uint32_t n = 0;

	TAILQ_FOREACH(s, &sessions, entry)
		n += s->uid == uid;
	return n;
}

/* A session on fd for a peer with these credentials (a new connection,
 * or one handed over); NULL if it cannot be made (fd left open). */
static struct session *
session_make(int fd, pid_t pid, uid_t uid, gid_t gid, const gid_t *groups,
    size_t ngroups, int admin)
{
	struct session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->fd = fd;
	s->id = srv_next_session++;
	s->pid = pid;
	s->uid = uid;
	s->gid = gid;
	s->rights = admin ? MSIV_RIGHT_ADMIN : 0;
	/* Its groups, for a reload to decide its admission again. */
	if (ngroups > 0 && (s->groups = calloc(ngroups,
	    sizeof(gid_t))) == NULL) {
		free(s);
		return NULL;
	}
	if (ngroups > 0)
		memcpy(s->groups, groups, ngroups * sizeof(gid_t));
	s->ngroups = ngroups;
	s->tenants_ok = admin ? 0 : peer_tenants(srv_conf, s->uid, s->gid,
	    s->groups, s->ngroups);
	s->denied = !admin && srv_conf->ntenants > 0 && s->tenants_ok == 0;
	s->rate_credit = (uint64_t)srv_conf->max_rate * 1000;
	s->rate_ms = server_now_ms();
	TAILQ_INIT(&s->vfuncs);
	TAILQ_INIT(&s->outq);
	s->rev = event_new(srv_base, fd, EV_READ | EV_PERSIST,
	    session_read_cb, s);
	s->wev = event_new(srv_base, fd, EV_WRITE, session_write_cb, s);
	s->pause_ev = evtimer_new(srv_base, session_unpause_cb, s);
	if (s->rev == NULL || s->wev == NULL || s->pause_ev == NULL ||
	    event_add(s->rev, NULL) < 0) {
		log_warnx("session: cannot create events");
		if (s->rev != NULL)
			event_free(s->rev);
		if (s->wev != NULL)
			event_free(s->wev);
		if (s->pause_ev != NULL)
			event_free(s->pause_ev);
		free(s->groups);
		free(s);
		return NULL;
	}
	session_insert(s);
	return s;
}

static void
session_new(int fd)
{
	struct peer p;
	struct session *s;
	int admin;

	if (peer_get(fd, &p) < 0) {
		log_warn("accept: SO_PEERCRED");
		close(fd);
		return;
	}
	if (session_count() >= srv_conf->max_sessions) {
		log_warnx("connection from pid %d uid %u refused: %u sessions "
		    "(max_sessions)", (int)p.cr.pid, (unsigned)p.cr.uid,
		    session_count());
		close(fd);
		return;
	}
	admin = peer_is_admin(srv_conf, &p);
	if (!admin && sessions_of_uid(p.cr.uid) >=
	    srv_conf->max_sessions_per_uid) {
		log_warnx("connection from pid %d uid %u refused: it has %u "
		    "sessions (max_sessions_per_uid)", (int)p.cr.pid,
		    (unsigned)p.cr.uid, srv_conf->max_sessions_per_uid);
		close(fd);
		return;
	}
	s = session_make(fd, p.cr.pid, p.cr.uid, p.cr.gid, p.groups,
	    p.ngroups, admin);
	if (s == NULL) {
		log_warn("accept");
		close(fd);
		return;
	}
	if (s->denied)
		log_warnx("session %llu: connection from pid %d uid %u gid %u "
		    "refused: no [tenant] admits it", (unsigned long long)s->id,
		    (int)p.cr.pid, (unsigned)p.cr.uid, (unsigned)p.cr.gid);
	else
		log_debug("session %llu: pid %d uid %u gid %u%s",
		    (unsigned long long)s->id, (int)p.cr.pid,
		    (unsigned)p.cr.uid, (unsigned)p.cr.gid,
		    admin ? " admin" : "");
}

void
server_adopt(int fd)
{
	session_new(fd);
}

static void
server_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_add(srv_listen_ev, NULL);
}

static void
server_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	(void)what;
	(void)arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			session_new(fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/* Out of fds: stop accepting for a while rather than
			 * spin on a listener that stays readable. */
			struct timeval tv = { 1, 0 };

			log_warn("accept: pausing the listener for 1 s");
			event_del(srv_listen_ev);
			evtimer_add(srv_pause_ev, &tv);
		} else if (errno != EAGAIN)
			log_warn("accept");
		return;
	}
}

static void
server_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	(void)vfunc_reap(server_now_ms(), (uint64_t)srv_conf->orphan_grace *
	    1000);
}

int
server_init(struct event_base *base, const struct conf *conf,
    const struct cmd_entry *table)
{
	static const struct timeval second = { 1, 0 };

	srv_base = base;
	srv_conf = conf;
	session_init(base, conf);
	session_read_init(conf);
	vfunc_init(base, conf); /* what write-behind needs, handed down */
	clock_gettime(CLOCK_MONOTONIC, &srv_start);
	store_set_commit_cb(session_commit_cb, NULL);
	srv_reap_ev = event_new(base, -1, EV_PERSIST, server_reap_cb, NULL);
	if (srv_reap_ev == NULL || event_add(srv_reap_ev, &second) < 0)
		fatalx("cannot create the orphan reaper");
	return dispatch_init(table);
}

/*
 * The running configuration has just changed under the sessions
 * (reload.c). Each is admitted again from the credentials it connected
 * with: one that has not said HELLO yet as at accept; one acting as a
 * tenant takes its tenant's new section (its quotas, its devices), or,
 * if no section admits it as that tenant any more, is retired: it keeps
 * the vfuncs it holds until it closes them, and opens no new one
 * (cmd_quota). Admin rights are the connection's, decided at accept.
 */
void
server_reconfigured(void)
{
	struct session *s;

	TAILQ_FOREACH(s, &sessions, entry) {
		int admin = (s->rights & MSIV_RIGHT_ADMIN) != 0;
		uint32_t i;

		if (s->dead)
			continue;
		s->tenants_ok = admin ? 0 : peer_tenants(srv_conf, s->uid, s->gid,
		    s->groups, s->ngroups);
		if (!s->hello) {
			s->denied = !admin && srv_conf->ntenants > 0 &&
			    s->tenants_ok == 0;
			continue;
		}
		for (i = 0; i < srv_conf->ntenants; i++)
			if (strncmp(srv_conf->tenants[i].name, s->tenant,
			    MSIV_NAME_MAX) == 0)
				break;
		s->policy = i < srv_conf->ntenants ? &srv_conf->tenants[i] :
		    NULL;
		if (admin || srv_conf->ntenants == 0 ||
		    (s->policy != NULL && ((s->tenants_ok >> i) & 1))) {
			s->retired = 0;
			continue;
		}
		s->policy = NULL;
		if (!s->retired)
			log_info("session %llu (pid %d, uid %u): no [tenant] "
			    "admits it as %s since the reload; it keeps its %u "
			    "vfunc(s) until it closes them, and opens no more",
			    (unsigned long long)s->id, (int)s->pid,
			    (unsigned)s->uid, s->tenant, s->nvfuncs);
		s->retired = 1;
	}
}

static int srv_activated;

static int
server_listen_on(int fd)
{
	srv_listen_fd = fd;
	srv_listen_ev = event_new(srv_base, fd, EV_READ | EV_PERSIST,
	    server_accept_cb, NULL);
	srv_pause_ev = evtimer_new(srv_base, server_resume_cb, NULL);
	if (srv_listen_ev == NULL || srv_pause_ev == NULL ||
	    event_add(srv_listen_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

int
server_listen(int activated)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = srv_conf->socket;
	int fd, r;

	if (activated >= 0) {
		/* The service manager owns the socket file (msivd.socket):
		 * its path, mode and group, and it outlives msivd. */
		srv_activated = 1;
		log_info("listening on the socket passed by the service "
		    "manager (fd %d)", activated);
		return server_listen_on(activated);
	}
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A socket file left by a daemon that died is replaced; one that
	 * answers belongs to a running daemon. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		log_errx("%s: another msivd is already listening there", path);
		return -EADDRINUSE;
	}
	if (errno == ECONNREFUSED)
		unlink(path);
	close(fd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, srv_conf->socket_mode) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		log_err("%s", path);
		close(fd);
		return r;
	}
	if ((r = server_listen_on(fd)) < 0)
		return r;
	log_info("listening on %s", path);
	return 0;
}

void
server_request_stop(void)
{
	event_base_loopexit(srv_base, NULL);
}

void
server_shutdown(void)
{
	struct session *s;

	if (srv_listen_ev != NULL)
		event_free(srv_listen_ev);
	if (srv_pause_ev != NULL)
		event_free(srv_pause_ev);
	if (srv_listen_fd >= 0) {
		close(srv_listen_fd);
		if (!srv_activated)
			unlink(srv_conf->socket);
	}
	srv_listen_ev = srv_pause_ev = NULL;
	srv_listen_fd = -1;
	/* Everything written goes to disk, held replies with it; best
	 * effort: what is queued (the SHUTDOWN reply) goes out now. */
	vfunc_flush_behind();
	session_commit_cb(store_flush(), NULL);
	while ((s = TAILQ_FIRST(&sessions)) != NULL) {
		(void)session_flush(s);
		session_end(s, NULL, 1);
	}
	if (srv_reap_ev != NULL)
		event_free(srv_reap_ev);
	srv_reap_ev = NULL;
	/* Run the deferred releases scheduled by session_kill. */
	event_base_loop(srv_base, EVLOOP_NONBLOCK);
}

/* --- handover (handover.c) ------------------------------------------------ */

void
server_handover_save(struct ho_buf *b)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	memset(path, 0, sizeof(path));
	snprintf(path, sizeof(path), "%s", srv_conf->socket);
	ho_put_fd(b, srv_listen_fd);
	ho_put_u32(b, (uint32_t)srv_activated);
	ho_put(b, path, sizeof(path));
	ho_put_u64(b, srv_next_session);
}

int
server_handover_adopt(struct ho_rd *r, const struct conf *conf)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd = ho_get_fd(r), activated = (int)ho_get_u32(r);
	uint64_t next;

	ho_get(r, path, sizeof(path));
	next = ho_get_u64(r);
	path[sizeof(path) - 1] = '\0';
	if (r->err != 0 || fd < 0)
		return ho_fail("the state is cut short (the socket)");
	if (!activated && strcmp(path, conf->socket) != 0)
		return ho_fail("the old msivd listens on %s, this configuration "
		    "says %s: a restart keeps the socket (stop and start to "
		    "move it)", path, conf->socket);
	srv_activated = activated;
	if (next > srv_next_session)
		srv_next_session = next;
	if (server_listen_on(fd) < 0)
		return -ENOMEM;
	log_info("listening on %s (handed over)", path);
	return 0;
}

void
server_session_save(const struct session *s, struct ho_buf *b)
{
	ho_put_u64(b, s->id);
	ho_put_fd(b, s->fd);
	ho_put_u32(b, (uint32_t)s->pid);
	ho_put_u32(b, s->uid);
	ho_put_u32(b, s->gid);
	ho_put_u32(b, s->rights);
	ho_put_u32(b, (uint32_t)s->denied);
	ho_put_u32(b, (uint32_t)s->retired);
	ho_put_u32(b, (uint32_t)s->hello);
	ho_put(b, s->tenant, sizeof(s->tenant));
	ho_put_u32(b, (uint32_t)s->ngroups);
	ho_put(b, s->groups, s->ngroups * sizeof(gid_t));
	ho_put_u64(b, s->rate_credit);
	session_outq_save(s, b);
}

int
server_session_adopt(struct ho_rd *r)
{
	uint64_t id = ho_get_u64(r);
	int fd = ho_get_fd(r);
	pid_t pid = (pid_t)ho_get_u32(r);
	uid_t uid = ho_get_u32(r);
	gid_t gid = ho_get_u32(r), groups[SESSION_GROUPS_MAX];
	uint32_t rights = ho_get_u32(r), denied = ho_get_u32(r);
	uint32_t retired = ho_get_u32(r), hello = ho_get_u32(r), ngroups;
	char tenant[MSIV_NAME_MAX];
	struct session *s;
	struct vfunc *vf;

	ho_get(r, tenant, sizeof(tenant));
	ngroups = ho_get_u32(r);
	if (r->err != 0 || fd < 0 || ngroups > SESSION_GROUPS_MAX) {
		if (fd >= 0)
			close(fd);
		return ho_fail("the state is cut short (a session)");
	}
	ho_get(r, groups, ngroups * sizeof(gid_t));
	s = session_make(fd, pid, uid, gid, groups, ngroups,
	    (rights & MSIV_RIGHT_ADMIN) != 0);
	if (s == NULL) {
		close(fd);
		return -ENOMEM;
	}
	/* Who it is and what it did, as the old msivd knew it; its rights
	 * and tenant policy come from this configuration
	 * (server_reconfigured, once all are in). */
	srv_next_session--;
	s->id = id;
	s->rights = rights;
	s->denied = (int)denied;
	s->retired = (int)retired;
	s->hello = (int)hello;
	memcpy(s->tenant, tenant, sizeof(s->tenant));
	s->tenant[sizeof(s->tenant) - 1] = '\0';
	s->rate_credit = ho_get_u64(r);
	TAILQ_FOREACH(vf, &vfuncs, entry)
		if (vf->ho_session == id) {
			vf->ho_session = 0;
			session_take_vfunc(s, vf);
		}
	return session_outq_adopt(s, r);
}

void
server_handover_flush(void)
{
	struct session *s;

	TAILQ_FOREACH(s, &sessions, entry)
		if (!s->dead)
			(void)session_flush(s);
}

/* systemd's fd store (fdstore.c): the socket msivd made itself. */
void
server_fdstore_put(void)
{
	if (!srv_activated && srv_listen_fd >= 0)
		fdstore_put("listen", &srv_listen_fd, 1);
}
