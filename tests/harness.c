/*
 * Integration test harness (see harness.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

static const char h_default_conf[] =
    "[msivd]\n"
    "log_level = debug\n"
    "orphan_grace = 0\n"
    "[device sim0]\n"
    "backend = sim\n"
    "slots = 2048\n"
    "policy = latch\n"
    "[device sim-strict]\n"
    "backend = sim\n"
    "slots = 64\n"
    "policy = strict\n"
    "[device sim-live]\n"
    "backend = sim\n"
    "slots = 64\n"
    "policy = live\n";

int64_t
h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
h_raw_connect(const struct h_daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, d->sock, strlen(d->sock));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int
h_alive(struct h_daemon *d)
{
	int st;

	if (d->pid <= 0)
		return 0;
	if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
		d->status = st;
		d->pid = -1;
		return 0;
	}
	return 1;
}

int
h_exit_status(const struct h_daemon *d)
{
	return WIFEXITED(d->status) ? WEXITSTATUS(d->status) : -1;
}

int
h_wait(struct h_daemon *d)
{
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;

	while (h_now_ms() < deadline) {
		if (!h_alive(d))
			return h_exit_status(d);
		usleep(5000); /* polling a condition, with a deadline */
	}
	h_kill9(d);
	return -2;
}

int
h_spawn(struct h_daemon *d)
{
	const char *msivd = getenv("MSIVD");
	/* The delivery loop to test (tests/X.epoll set it), else what the
	 * configuration says (by default io_uring where the kernel has it). */
	const char *loop = getenv("MSIV_TEST_DELIVERY");
	int64_t deadline;

	if (msivd == NULL)
		tap_bail("MSIVD is not set (run through make check)");
	/* A handover's new msivd is a child of the old one's spawner; it
	 * becomes ours once they are gone (h_handover). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) < 0)
		tap_bail("PR_SET_CHILD_SUBREAPER");
	d->pid = fork();
	if (d->pid < 0)
		tap_bail("fork");
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd < 0 || dup2(fd, 2) < 0 || dup2(fd, 1) < 0)
			_exit(127);
		const char *argv[] = { "msivd", "--foreground", "--config",
		    d->conf, "--state-dir", d->state[0] ? d->state : d->dir,
		    "--socket", d->sock,
		    "--user", d->user, "--delivery", loop, NULL };

		if (loop == NULL || *loop == '\0')
			argv[10] = NULL; /* msivd's own choice */
		/* execv() takes char *const[]; it does not write them. */
		execv(msivd, (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	deadline = h_now_ms() + H_TIMEOUT_MS;
	while (h_now_ms() < deadline) {
		struct msiv_conn *c;

		if (!h_alive(d))
			return -1;
		if (msiv_connect(d->sock, NULL, &c) == 0) {
			struct msiv_status_info st;

			if (msiv_get_status(c, &st, sizeof(st)) == 0 &&
			    strcmp(d->loop, st.loop) != 0) {
				snprintf(d->loop, sizeof(d->loop), "%s",
				    st.loop);
				tap_diag("msivd's delivery loop: %s", d->loop);
			}
			msiv_close(c);
			return 0;
		}
		usleep(2000); /* polling a condition, with a deadline */
	}
	return -1;
}

int
h_start(struct h_daemon *d, const char *conf)
{
	return h_start_user(d, conf, "root");
}

/*
 * Write the configuration, with MSIV_TEST_SHARDS=N (tests/X.shards2) made
 * part of it: delivery_shards = N, and every device's slots spread over
 * the shards (slot i on shard i mod N), so that a vfunc's vectors span
 * them.
 */
static int
h_write_conf(FILE *f, const char *conf)
{
	const char *shards = getenv("MSIV_TEST_SHARDS");
	const char *p = conf, *nl;

	if (shards == NULL || *shards == '\0')
		return fputs(conf, f);
	/* A section is given once: the setting goes into [msivd] where the
	 * configuration has one. */
	if (strncmp(conf, "[msivd]\n", 8) != 0 && !strstr(conf, "\n[msivd]\n") &&
	    fprintf(f, "[msivd]\ndelivery_shards = %s\n", shards) < 0)
		return -1;
	for (; *p != '\0'; p = nl) {
		const char *add = NULL;

		nl = strchr(p, '\n');
		nl = nl != NULL ? nl + 1 : p + strlen(p);
		if (fwrite(p, 1, (size_t)(nl - p), f) != (size_t)(nl - p))
			return -1;
		if (nl[-1] != '\n' && fputc('\n', f) == EOF)
			return -1;
		if (strncmp(p, "[device ", 8) == 0)
			add = "shard = spread\n";
		else if (strncmp(p, "[msivd]", 7) == 0)
			add = "delivery_shards = ";
		if (add != NULL && (fputs(add, f) == EOF ||
		    (add[0] == 'd' && fprintf(f, "%s\n", shards) < 0)))
			return -1;
	}
	return 0;
}

static void
h_prepare_user(struct h_daemon *d, const char *conf, const char *user)
{
	FILE *f;

	memset(d, 0, sizeof(*d));
	snprintf(d->user, sizeof(d->user), "%s", user);
	snprintf(d->dir, sizeof(d->dir), "/tmp/msiv-test-XXXXXX");
	if (mkdtemp(d->dir) == NULL)
		tap_bail("mkdtemp");
	snprintf(d->sock, sizeof(d->sock), "%s/msivd.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/msivd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/msivd.log", d->dir);
	f = fopen(d->conf, "w");
	if (f == NULL || h_write_conf(f, conf ? conf : h_default_conf) < 0 ||
	    fclose(f) != 0)
		tap_bail("cannot write the test configuration");
}

void
h_prepare(struct h_daemon *d, const char *conf)
{
	h_prepare_user(d, conf, "root");
}

int
h_start_user(struct h_daemon *d, const char *conf, const char *user)
{
	h_prepare_user(d, conf, user);
	return h_spawn(d);
}

/* The pid of the msivd serving d's socket (STATUS), or -1. */
static pid_t
h_serving_pid(const struct h_daemon *d)
{
	struct msiv_status_info st;
	struct msiv_conn *c;
	pid_t pid = -1;

	if (msiv_connect(d->sock, NULL, &c) < 0)
		return -1;
	if (msiv_get_status(c, &st, sizeof(st)) == 0)
		pid = (pid_t)st.pid;
	msiv_close(c);
	return pid;
}

int
h_handover_wait(struct h_daemon *d)
{
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
	pid_t old = d->pid, pid = -1;
	int st;

	while (h_now_ms() < deadline) {
		if ((pid = h_serving_pid(d)) > 0 && pid != old)
			break;
		usleep(2000); /* polling a condition, with a deadline */
	}
	if (pid <= 0 || pid == old) {
		tap_diag("handover: no new msivd serves %s within %d ms (pid "
		    "%d)", d->sock, H_TIMEOUT_MS, (int)pid);
		return -1;
	}
	d->pid = pid; /* whatever comes of the old one, this one serves */
	/* The old one exits 0 once it has handed over. It is ours only
	 * once the spawner that executed it is gone as well (killed when
	 * its own msivd exited, the handover before: on a loaded machine
	 * that may not be done yet); until then waitpid() says ECHILD. */
	deadline = h_now_ms() + H_TIMEOUT_MS;
	for (;;) {
		pid_t w = waitpid(old, &st, WNOHANG);

		if (w == old)
			break;
		if ((w < 0 && errno != ECHILD) || h_now_ms() >= deadline) {
			tap_diag("handover: the old msivd (pid %d) was not "
			    "reaped: %s", (int)old, w < 0 ? strerror(errno) :
			    "it did not exit");
			return -1;
		}
		usleep(1000); /* polling a condition, with a deadline */
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		tap_diag("handover: the old msivd (pid %d) %s %d", (int)old,
		    WIFEXITED(st) ? "exited with status" : "was killed by "
		    "signal", WIFEXITED(st) ? WEXITSTATUS(st) :
		    WTERMSIG(st));
		return -1;
	}
	return 0;
}

int
h_handover(struct h_daemon *d)
{
	if (d->pid <= 0 || kill(d->pid, SIGUSR2) < 0)
		return -1;
	return h_handover_wait(d);
}

int
h_kill9(struct h_daemon *d)
{
	int st;

	if (d->pid <= 0 || kill(d->pid, SIGKILL) < 0 ||
	    waitpid(d->pid, &st, 0) != d->pid)
		return -1;
	d->status = st;
	d->pid = -1;
	return 0;
}

int
h_stop(struct h_daemon *d)
{
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;
	int st, ret = -1;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		while (h_now_ms() < deadline) {
			pid_t p = waitpid(d->pid, &st, WNOHANG);

			if (p == d->pid) {
				ret = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
				break;
			}
			usleep(5000);
		}
		if (ret < 0 && h_alive(d)) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &st, 0);
		}
		d->pid = -1;
	}
	if (ret != 0) { /* show what the daemon said */
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "sed 's/^/# msivd: /' %s", d->log);
		fflush(stdout);
		if (system(cmd) != 0)
			tap_diag("(no daemon log)");
	}
	{
		char cmd[200];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", d->dir);
		if (system(cmd) != 0)
			tap_diag("cannot remove %s", d->dir);
	}
	return ret;
}

struct msiv_conn *
h_connect(struct h_daemon *d, const char *tenant)
{
	struct msiv_conn *c;
	int r = msiv_connect(d->sock, tenant, &c);

	if (r < 0) {
		tap_diag("connect: %s", msiv_strerror(r));
		tap_bail("cannot connect to the test daemon");
	}
	msiv_set_timeout(c, H_TIMEOUT_MS);
	return c;
}

/* Firer requests: 'f' idx count -> one write; 'F' idx -> flood until 's';
 * 's' when not flooding -> exit. Each is acknowledged with the number of
 * writes done (0 but for the end of a flood). */
struct h_req {
	char op;
	uint32_t idx;
	uint32_t count;
};

static void
h_firer_main(int req, int ack, const int *trig, uint32_t n)
{
	struct h_req rq;

	while (read(req, &rq, sizeof(rq)) == sizeof(rq)) {
		uint64_t v = rq.count, writes = 0;
		struct pollfd p = { .fd = req, .events = POLLIN };

		if (rq.idx >= n)
			_exit(2);
		if (rq.op == 's') { /* stop while not flooding */
			if (write(ack, &writes, sizeof(writes)) != sizeof(writes))
				_exit(4);
			break;
		}
		if (rq.op == 'f') {
			if (write(trig[rq.idx], &v, sizeof(v)) != sizeof(v))
				_exit(3);
			if (write(ack, &writes, sizeof(writes)) != sizeof(writes))
				_exit(4);
			continue;
		}
		/* Flood: ack the start, write until the stop request. */
		if (write(ack, &writes, sizeof(writes)) != sizeof(writes))
			_exit(4);
		v = 1;
		for (;;) {
			if (write(trig[rq.idx], &v, sizeof(v)) == sizeof(v))
				writes++;
			if ((writes & 63) == 0 && poll(&p, 1, 0) == 1)
				break;
		}
		if (read(req, &rq, sizeof(rq)) != sizeof(rq) ||
		    write(ack, &writes, sizeof(writes)) != sizeof(writes))
			_exit(5);
	}
	_exit(0);
}

int
h_firer_start(struct h_firer *f, struct msiv_conn *admin, const char *dev,
    uint32_t first, uint32_t n)
{
	int trig[256], a[2], b[2], r;

	if (n > 256)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i += MSIV_FDS_MAX) {
		uint32_t k = n - i < MSIV_FDS_MAX ? n - i : MSIV_FDS_MAX;

		r = msiv_sim_triggers(admin, dev, first + i, k, trig + i);
		if (r < 0)
			return r;
	}
	if (pipe2(a, O_CLOEXEC) < 0 || pipe2(b, O_CLOEXEC) < 0)
		return -errno;
	f->pid = fork();
	if (f->pid < 0)
		return -errno;
	if (f->pid == 0) {
		close(a[1]);
		close(b[0]);
		h_firer_main(a[0], b[1], trig, n);
	}
	close(a[0]);
	close(b[1]);
	for (uint32_t i = 0; i < n; i++)
		close(trig[i]);
	f->req = a[1];
	f->ack = b[0];
	return 0;
}

static int
h_firer_ask(struct h_firer *f, char op, uint32_t idx, uint32_t count)
{
	struct h_req rq = { .op = op, .idx = idx, .count = count };

	return write(f->req, &rq, sizeof(rq)) == sizeof(rq) ? 0 : -EPIPE;
}

static int
h_firer_ack(struct h_firer *f, uint64_t *res)
{
	struct pollfd p = { .fd = f->ack, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, H_TIMEOUT_MS) != 1 ||
	    read(f->ack, &v, sizeof(v)) != sizeof(v))
		return -ETIMEDOUT;
	if (res != NULL)
		*res = v;
	return 0;
}

static int
h_firer_call(struct h_firer *f, char op, uint32_t idx, uint32_t count,
    uint64_t *res)
{
	int r = h_firer_ask(f, op, idx, count);

	return r < 0 ? r : h_firer_ack(f, res);
}

int
h_fire(struct h_firer *f, uint32_t idx, uint32_t count)
{
	return h_firer_call(f, 'f', idx, count, NULL);
}

int
h_fire_async(struct h_firer *f, uint32_t idx, uint32_t count)
{
	return h_firer_ask(f, 'f', idx, count);
}

int
h_fire_done(struct h_firer *f)
{
	return h_firer_ack(f, NULL);
}

int
h_firer_flood(struct h_firer *f, uint32_t idx)
{
	return h_firer_call(f, 'F', idx, 0, NULL);
}

uint64_t
h_firer_stop(struct h_firer *f)
{
	uint64_t writes = 0;
	int st;

	if (f->pid <= 0)
		return 0;
	(void)h_firer_call(f, 's', 0, 0, &writes);
	close(f->req);
	close(f->ack);
	waitpid(f->pid, &st, 0);
	f->pid = -1;
	return writes;
}

uint64_t
h_efd_wait(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, ms) != 1)
		return 0;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

uint64_t
h_efd_take(int fd)
{
	return h_efd_wait(fd, 0);
}

int
h_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		tap_bail("eventfd");
	return fd;
}

int
h_wait_fired(struct msiv_conn *c, uint64_t vf, unsigned int vec,
    uint64_t fired)
{
	int64_t deadline = h_now_ms() + H_TIMEOUT_MS;

	while (h_now_ms() < deadline) {
		struct msiv_vector_info in;
		int r = msiv_vector_query(c, vf, vec, &in);

		if (r < 0)
			return r;
		if (in.fired >= fired)
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

int
h_logged(const struct h_daemon *d, const char *what)
{
	for (int i = 0; i < H_TIMEOUT_MS / 10; i++) {
		char line[1024];
		FILE *f = fopen(d->log, "re");
		int found = 0;

		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			found |= strstr(line, what) != NULL;
		if (f != NULL)
			fclose(f);
		if (found)
			return 1;
		usleep(10000); /* polling a file, with a deadline */
	}
	return 0;
}
