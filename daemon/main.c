/*
 * msivd: the msiv interrupt vector broker daemon. See msivd(8).
 *
 * Start-up runs in a fixed order; each stage says what it may do:
 *  1. parse the command line and the configuration (no side effects);
 *  2. open privileged resources: the devices and their triggers, the
 *     store (state directory and database; the vfuncs it holds are
 *     rebuilt, orphaned, waiting for their tenants to resume), the
 *     uevent listener, the listening socket (made here, or passed by
 *     the service manager: LISTEN_FDS); nothing from clients yet;
 *  3. drop privileges: started as root, become the service user with one
 *     capability left (priv.c); no client input is read before this;
 *  4. detach from the terminal unless --foreground (the parent exits only
 *     once the socket is listening, so a caller can connect at once);
 *  5. start the delivery threads (a shard each), set the signal handlers (SIGHUP: read
 *     the configuration again, reload.c), put the whole
 *     process under its system call filter (sandbox.c: from here on
 *     only what serving needs; never an exec), tell the service manager
 *     READY=1, then serve on the control thread's event loop until
 *     SIGTERM, SIGINT or an admin's SHUTDOWN;
 *  6. STOPPING=1, then tear down in reverse: sessions (their vfuncs
 *     released), delivery threads, devices, socket.
 */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "conf.h"
#include "deliver.h"
#include "device.h"
#include "fdstore.h"
#include "handover.h"
#include "hotplug.h"
#include "log.h"
#include "priv.h"
#include "reload.h"
#include "sandbox.h"
#include "sdnotify.h"
#include "server.h"
#include "spawn.h"
#include "store.h"
#include "vfunc.h"

/* Exit statuses, documented in msivd(8), EXIT STATUS. Each failure to
 * start is logged at error priority (main_fail) before msivd exits. */
enum main_exit {
	MAIN_EXIT_OK = 0,
	MAIN_EXIT_FAIL = 1,     /* run-time failure */
	MAIN_EXIT_USAGE = 2,    /* bad command line */
	MAIN_EXIT_CONFIG = 3,   /* bad configuration file */
	MAIN_EXIT_STATE = 4,    /* state directory missing, not one, or unsafe */
	MAIN_EXIT_SOCKET = 5,   /* cannot listen (in use, permissions) */
	MAIN_EXIT_DEVICE = 6,   /* a configured device cannot be opened */
	MAIN_EXIT_READONLY = 7, /* state directory or database read-only */
	MAIN_EXIT_FULL = 8,     /* no space left for the database */
	MAIN_EXIT_CORRUPT = 9,  /* the database is corrupt or not one */
	MAIN_EXIT_NEWER = 10,   /* the database is from a newer msivd */
	MAIN_EXIT_PRIV = 11,    /* cannot drop privileges (no such user) */
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: msivd [options]\n"
	    "\n"
	    "  -c, --config FILE      configuration file (default %s;\n"
	    "                         without one, a built-in sim device)\n"
	    "  -s, --socket PATH      listening socket (default /run/msiv/msivd.sock)\n"
	    "  -d, --state-dir DIR    state directory (default %s)\n"
	    "  -f, --foreground       stay in the foreground, log to stderr\n"
	    "  -l, --log-level LEVEL  error, warning, info or debug\n"
	    "  -u, --user USER        drop to USER when started as root\n"
	    "                         (default %s; root: keep root)\n"
	    "      --delivery LOOP    delivery loop: auto, io_uring or epoll\n"
	    "      --no-seccomp       no system call filter (msivd(8), SANDBOX)\n"
	    "      --check-config [FILE]\n"
	    "                         check FILE (default: the configuration\n"
	    "                         file) and exit: 0 valid, 3 not\n"
	    "  -h, --help             this help\n"
	    "  -V, --version          version\n",
	    CONF_DEFAULT_PATH, CONF_DEFAULT_STATE_DIR, MSIV_USER);
}

struct opts {
	struct conf_args conf;   /* what the command line sets */
	const char *check;       /* --check-config: the file, or NULL */
	int check_config;
	int foreground;
	int no_seccomp;
};

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "user", required_argument, NULL, 'u' },
		{ "delivery", required_argument, NULL, 'D' },
		{ "no-seccomp", no_argument, NULL, 'S' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "c:s:d:fl:u:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->conf.config = optarg;
			break;
		case 's':
			o->conf.socket = optarg;
			break;
		case 'd':
			o->conf.state_dir = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'l':
			o->conf.log_level = optarg;
			break;
		case 'u':
			o->conf.user = optarg;
			break;
		case 'D':
			if (conf_delivery_ok(optarg) < 0) {
				log_errx("--delivery: must be auto, io_uring "
				    "or epoll");
				return -1;
			}
			o->conf.delivery = optarg;
			break;
		case 'S':
			o->no_seccomp = 1;
			break;
		case 'C':
			o->check_config = 1;
			break;
		case 'h':
			usage(stdout);
			exit(MAIN_EXIT_OK);
		case 'V':
			printf("msivd %s (protocol %u)\n", PACKAGE_VERSION,
			    MSIV_PROTO_VERSION);
			exit(MAIN_EXIT_OK);
		default:
			usage(stderr);
			return -1;
		}
	}
	/* --check-config [FILE]: the one operand msivd takes. */
	if (o->check_config && optind + 1 == argc)
		o->check = argv[optind++];
	if (optind != argc) {
		log_errx("unexpected argument: %s", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Stage 1: configuration file (or the embedded default), then the command
 * line on top of it. MAIN_EXIT_OK, MAIN_EXIT_CONFIG (the file) or
 * MAIN_EXIT_USAGE (an option's value), the reason logged. */
static enum main_exit
load_conf(const struct opts *o, struct conf *c)
{
	const char *path;
	char err[512];

	if (conf_args_check(&o->conf, err, sizeof(err)) < 0) {
		log_errx("%s", err);
		return MAIN_EXIT_USAGE;
	}
	if (conf_read(c, &o->conf, &path, err, sizeof(err)) < 0) {
		log_errx("%s", err);
		return MAIN_EXIT_CONFIG;
	}
	return MAIN_EXIT_OK;
}

/*
 * msivd --check-config [FILE]: parse FILE (default: --config, else the
 * default path) as a start or a RELOAD would, users and groups looked up,
 * and say so. Nothing is opened but the file. Exit 0, or MAIN_EXIT_CONFIG
 * with file:line: reason on stderr.
 */
static int
check_config(const struct opts *o)
{
	struct conf_args a = o->conf;
	struct conf *c = malloc(sizeof(*c));
	const char *path;
	char err[512];
	int r;

	if (c == NULL) {
		fprintf(stderr, "msivd: %s\n", strerror(ENOMEM));
		return MAIN_EXIT_FAIL;
	}
	if (o->check != NULL)
		a.config = o->check;
	if (conf_args_check(&a, err, sizeof(err)) < 0) {
		free(c);
		fprintf(stderr, "msivd: %s\n", err);
		return MAIN_EXIT_USAGE;
	}
	r = conf_read(c, &a, &path, err, sizeof(err));
	free(c);
	if (r < 0) {
		fprintf(stderr, "msivd: %s\n", err);
		return MAIN_EXIT_CONFIG;
	}
	if (path == NULL)
		printf("msivd: no %s: msivd runs its built-in default\n",
		    CONF_DEFAULT_PATH);
	else
		printf("msivd: %s: valid\n", path);
	return MAIN_EXIT_OK;
}

static enum main_exit
store_exit(enum store_error e)
{
	switch (e) {
	case STORE_OK:
		return MAIN_EXIT_OK;
	case STORE_ERR_MISSING:
		return MAIN_EXIT_STATE;
	case STORE_ERR_READONLY:
		return MAIN_EXIT_READONLY;
	case STORE_ERR_FULL:
		return MAIN_EXIT_FULL;
	case STORE_ERR_CORRUPT:
		return MAIN_EXIT_CORRUPT;
	case STORE_ERR_NEWER:
		return MAIN_EXIT_NEWER;
	case STORE_ERR_OTHER:
		break;
	}
	return MAIN_EXIT_FAIL;
}

/*
 * The state directory holds the store, which only msivd may read or write
 * (the seals of the tenants' tokens, every allocation). Refused: one that
 * the group or others may write (they could put their own msivd.db, or
 * its WAL, in its place), or that belongs to someone other than root,
 * msivd's own user or the service user it drops to. Warned about: one
 * the group or others may enter (the files in it are 0600 all the same).
 * A missing one is store_open's to report. 0, or -1 with the reason
 * logged.
 */
static int
check_state_dir(const struct conf *c)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	struct stat sb;
	uid_t user = geteuid();

	if (stat(c->state_dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return 0;
	if (geteuid() == 0 && getpwnam_r(c->user, &pw, buf, sizeof(buf),
	    &res) == 0 && res != NULL)
		user = pw.pw_uid;
	if (sb.st_uid != 0 && sb.st_uid != geteuid() && sb.st_uid != user) {
		log_errx("state directory %s belongs to uid %u, neither root "
		    "nor msivd's user; refusing it: chown it to %s (or root)",
		    c->state_dir, (unsigned)sb.st_uid, geteuid() == 0 ?
		    c->user : "msivd's user");
		return -1;
	}
	if ((sb.st_mode & 022) != 0) {
		log_errx("state directory %s is mode %04o: the group or others "
		    "may write it; refusing it: chmod 0700 %s", c->state_dir,
		    (unsigned)(sb.st_mode & 07777), c->state_dir);
		return -1;
	}
	if ((sb.st_mode & 055) != 0)
		log_warnx("state directory %s is mode %04o: the group or others "
		    "may enter it (msivd's files in it are private); chmod 0700 "
		    "%s", c->state_dir, (unsigned)(sb.st_mode & 07777),
		    c->state_dir);
	return 0;
}

static void
restore_one(const struct store_vfunc *vf, const struct store_vector *vecs,
    size_t n, void *arg)
{
	uint32_t *count = arg;

	if (vfunc_restore(vf, vecs, n) == 0)
		(*count)++;
}

/* A device attached at run time before the restart. The configuration
 * wins over a stored device of the same name; one that cannot be opened
 * now is reported and left in the store (the admin detaches it). */
static void
attach_stored(const struct conf_device *cd, void *arg)
{
	struct conf_device d = *cd;
	uint32_t *count = arg;
	char err[256];

	if (device_find(d.name) != NULL) {
		log_warnx("store: device %s attached at run time is also in "
		    "the configuration; the configuration's is used", d.name);
		return;
	}
	if (conf_device_check(&d, err, sizeof(err)) < 0) {
		log_warnx("store: device %s: %s; not attached", d.name, err);
		return;
	}
	if (device_create(&d, NULL) < 0) {
		log_warnx("store: device %s (attached at run time) cannot be "
		    "opened now; its vfuncs stay in the store", d.name);
		return;
	}
	(*count)++;
}

/*
 * Every slot in use holds an fd (its trigger) and every target another:
 * up to two per slot, plus room for clients. Raise the soft limit to the
 * hard one, and the hard one too when privileged (CAP_SYS_RESOURCE); warn
 * when the devices could need more than that.
 */
static void
raise_fd_limit(const struct conf *c)
{
	rlim_t need = 4096;
	struct rlimit rl;

	for (uint32_t i = 0; i < c->ndevices; i++)
		need += 2 * (rlim_t)c->devices[i].slots;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_max < need) {
		struct rlimit want = { need, need };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
		log_warnx("with every slot in use the devices need %llu open "
		    "files; the hard limit is %llu (LimitNOFILE= in the unit, "
		    "ulimit -Hn)", (unsigned long long)need,
		    (unsigned long long)rl.rlim_max);
	}
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("cannot raise the open file limit");
}

/*
 * Stage 4: fork; the parent waits on a pipe until the child says it is
 * serving (one byte), or exits with the child's failure.
 */
static int
daemonize(int *notify)
{
	int p[2];
	pid_t pid;
	char b;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &b, 1) == 1 ? MAIN_EXIT_OK : MAIN_EXIT_FAIL);
	}
	close(p[0]);
	if (setsid() < 0)
		return -1;
	*notify = p[1];
	return 0;
}

/*
 * Stage 5: the system call filter, on unless --no-seccomp, [msivd]
 * seccomp = no, or a sanitizer build's default says otherwise. Asked for
 * and impossible (a kernel without seccomp filters): msivd does not
 * serve without it.
 */
static int
enter_sandbox(const struct opts *o, const struct conf *c)
{
	const char *why = sandbox_default_off_reason();

	if (o->no_seccomp) {
		log_info("seccomp: off (--no-seccomp)");
		return 0;
	}
	if (c->seccomp == 0) {
		log_info("seccomp: off ([msivd] seccomp = no)");
		return 0;
	}
	if (c->seccomp < 0 && !sandbox_default()) {
		log_info("seccomp: off by default in %s; [msivd] seccomp = yes "
		    "turns it on", why);
		return 0;
	}
	if (!sandbox_default())
		log_warnx("seccomp: on in %s ([msivd] seccomp = yes): a "
		    "sanitizer's report may end in SIGSYS", why);
	if (sandbox_enter(o->foreground) < 0) {
		log_errx("seccomp: msivd does not serve without its filter "
		    "unless told so (--no-seccomp, [msivd] seccomp = no)");
		return -1;
	}
	return 0;
}

/*
 * msivd does not start: the last word, at error priority whatever was
 * logged before it (a reason logged by a part also used at run time, e.g.
 * device_create, is a warning there), so that journalctl -p err shows why
 * and the exit status says which of msivd(8)'s EXIT STATUS it is.
 */
static int
main_fail(enum main_exit status, const char *what)
{
	log_errx("not starting: %s (exit status %d)", what, (int)status);
	return (int)status;
}

/* Stage 2: the state directory checked, the store opened. */
static enum main_exit
open_store(const struct conf *c, struct event_base *base)
{
	char err[1024];
	enum store_error e;

	if (check_state_dir(c) < 0)
		return MAIN_EXIT_STATE;
	e = store_open(c->state_dir, base, err, sizeof(err));
	if (e != STORE_OK) {
		log_errx("%s", err);
		return store_exit(e);
	}
	return MAIN_EXIT_OK;
}

/* Stage 2: the devices attached at run time and the vfuncs, from the
 * store. */
static enum main_exit
restore(const struct conf *c, struct event_base *base, int handover)
{
	uint32_t restored = 0, attached = 0;
	uint64_t t0 = server_now_ms();

	if (store_load_devices(attach_stored, &attached) < 0)
		return MAIN_EXIT_CORRUPT;
	/* Devices already bound to vfio-pci that a rule names are attached
	 * before the vfuncs are restored. */
	hotplug_start(base, c);
	if (store_load(restore_one, &restored) < 0)
		return MAIN_EXIT_CORRUPT;
	if (attached > 0)
		log_info("store: %u device(s) attached at run time attached "
		    "again", attached);
	if (restored > 0 && handover)
		log_info("store: %u vfunc(s), %u vectors restored in %llu ms; "
		    "their state and sessions follow from the old msivd",
		    restored, vfunc_vector_count(),
		    (unsigned long long)(server_now_ms() - t0));
	else if (restored > 0)
		log_info("store: %u vfunc(s), %u vectors restored in %llu ms; "
		    "waiting %u s for their tenants to resume", restored,
		    vfunc_vector_count(),
		    (unsigned long long)(server_now_ms() - t0),
		    c->orphan_grace);
	return MAIN_EXIT_OK;
}

/*
 * A handover failed in this, the new msivd, before it had anything the
 * old one needs: the old one serves on (it sees us gone). Exit without
 * closing a thing by teardown.
 */
static int
ho_fail_exit(int ho, enum main_exit status)
{
	char why[MSIV_REASON_MAX];

	snprintf(why, sizeof(why), "the new msivd cannot start (exit status "
	    "%d): its log says why", (int)status);
	handover_refuse(ho, why);
	_exit((int)status);
}

/* SIGUSR2: hand over to a new msivd, as RESTART does (handover.c). */
static void
on_sigusr2(evutil_socket_t sig, short what, void *arg)
{
	char why[MSIV_REASON_MAX];

	(void)sig;
	(void)what;
	(void)arg;
	if (handover_start(NULL, NULL, why, sizeof(why)) < 0)
		log_warnx("restart (SIGUSR2) refused: %s", why);
}

/* SIGHUP: read the configuration again (reload.c). libevent runs this
 * on the event loop like any callback, not in the signal handler. */
static void
on_sighup(evutil_socket_t sig, short what, void *arg)
{
	char msg[MSIV_TEXT_MAX];

	(void)sig;
	(void)what;
	(void)arg;
	(void)reload_run("SIGHUP", msg, sizeof(msg));
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("signal %d: shutting down", (int)sig);
	server_request_stop();
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct event *sigterm, *sigint, *sighup, *sigusr2;
	struct opts o;
	struct conf conf;
	int notify = -1, activated, r, ho;
	char status[256];

	/* Whatever msivd creates (the store's files) is its own; the socket
	 * gets socket_mode explicitly (server.c). */
	umask(0077);
	/* Stage 1 reports its errors through the log already: on stderr,
	 * with priority prefixes when that is the journal. */
	log_init(1, LOG_LEVEL_INFO);

	/* Stage 1. */
	if (parse_args(argc, argv, &o) < 0)
		return main_fail(MAIN_EXIT_USAGE, "bad command line");
	if (o.check_config)
		return check_config(&o);
	if ((r = load_conf(&o, &conf)) != MAIN_EXIT_OK)
		return main_fail(r, r == MAIN_EXIT_USAGE ? "bad command line" :
		    "bad configuration");
	log_init(1, conf.log_level);
	signal(SIGPIPE, SIG_IGN);
	/* Executed by an old msivd for a handover (handover.c)? */
	ho = handover_fd();
	raise_fd_limit(&conf);
	if ((activated = ho >= 0 ? -1 : fdstore_listen_fd()) < -1)
		return main_fail(MAIN_EXIT_SOCKET, "the socket passed by the "
		    "service manager cannot be used");

	/* Stage 2. */
	if ((r = deliver_init(conf.delivery, conf.delivery_shards)) < 0)
		return main_fail(MAIN_EXIT_CONFIG, "no delivery loop");
	if (evthread_use_pthreads() < 0)
		fatalx("libevent: no pthreads support");
	base = event_base_new();
	/* Priorities: every event at 1, the default, the store's group
	 * commit included, so that no turn can put it off (store.c). */
	if (base == NULL || event_base_priority_init(base, 3) < 0)
		fatalx("libevent: cannot create the event base");
	if (device_init(base) < 0)
		fatal("cannot create the lost devices' notifier");
	if (server_init(base, &conf, cmd_table) < 0)
		return main_fail(MAIN_EXIT_CONFIG, "bad configuration");
	if (ho >= 0) {
		/* A handover (handover.c): the old msivd's devices and
		 * listening socket, then the store, which it has committed
		 * and left (it writes no more). */
		if (handover_receive(ho, &conf) < 0)
			_exit(MAIN_EXIT_FAIL);
		store_trust();
		if ((r = open_store(&conf, base)) != MAIN_EXIT_OK)
			return ho_fail_exit(ho, r);
	}
	for (uint32_t i = 0; i < conf.ndevices; i++) {
		if (ho >= 0 && device_find(conf.devices[i].name) != NULL)
			continue; /* handed over */
		if (device_create(&conf.devices[i], NULL) < 0) {
			snprintf(status, sizeof(status), "device %s cannot be "
			    "opened", conf.devices[i].name);
			if (ho >= 0)
				return ho_fail_exit(ho, MAIN_EXIT_DEVICE);
			return main_fail(MAIN_EXIT_DEVICE, status);
		}
	}
	if (ho < 0 && (r = open_store(&conf, base)) != MAIN_EXIT_OK)
		return main_fail(r, r == MAIN_EXIT_STATE ? "unsafe state "
		    "directory" : "the store cannot be opened");
	if ((r = restore(&conf, base, ho >= 0)) != MAIN_EXIT_OK)
		return ho >= 0 ? ho_fail_exit(ho, r) : main_fail(r,
		    "the store cannot be read");
	if (ho < 0) {
		/* After a crash under systemd: the targets kept in its fd
		 * store go back on their vectors; what was kept and is not
		 * needed any more is let go (fdstore.c). */
		uint32_t targets = vfunc_fdstore_recover();
		size_t unused = fdstore_leftover();

		if (targets > 0 || unused > 0)
			log_info("fd store: %u target(s) taken back, %zu fd(s) "
			    "no longer needed", targets, unused);
	}
	if (ho >= 0) {
		if (handover_finish() < 0)
			_exit(MAIN_EXIT_FAIL);
	} else if ((r = server_listen(activated)) < 0) {
		snprintf(status, sizeof(status), "cannot listen on %s: %s",
		    conf.socket, strerror(-r));
		return main_fail(MAIN_EXIT_SOCKET, status);
	}
	server_fdstore_put();

	/* Stage 3. */
	if (priv_drop(&conf, activated < 0 && ho < 0) < 0)
		return main_fail(MAIN_EXIT_PRIV, "cannot drop privileges");

	/* Stage 4 (a handover's new msivd is detached already: the old one
	 * was). */
	if (!o.foreground && ho >= 0)
		log_init(0, conf.log_level);
	else if (!o.foreground) {
		if (daemonize(&notify) < 0)
			fatal("cannot detach");
		log_init(0, conf.log_level);
		r = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (r >= 0) {
			dup2(r, 0);
			dup2(r, 1);
			dup2(r, 2);
			if (r > 2)
				close(r);
		}
	}

	/* Stage 5. The spawner first, before any other thread. */
	if ((r = spawn_init(argv)) < 0)
		log_warnx("no spawner: msivctl restart and SIGUSR2 will be "
		    "refused (%s)", strerror(-r));
	if ((r = deliver_start()) < 0) {
		errno = -r;
		fatal("cannot start the delivery threads");
	}
	sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
	sigint = evsignal_new(base, SIGINT, on_signal, NULL);
	sighup = evsignal_new(base, SIGHUP, on_sighup, NULL);
	sigusr2 = evsignal_new(base, SIGUSR2, on_sigusr2, NULL);
	if (sigterm == NULL || sigint == NULL || sighup == NULL ||
	    sigusr2 == NULL || evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sigint, NULL) < 0 || evsignal_add(sighup, NULL) < 0 ||
	    evsignal_add(sigusr2, NULL) < 0)
		fatalx("cannot install signal handlers");
	reload_init(&conf, &o.conf);
	/* A RELOAD may look up users and groups under the filter, which
	 * loads no code: the NSS modules are loaded now. */
	conf_nss_preload();
	if (enter_sandbox(&o, &conf) < 0)
		return main_fail(MAIN_EXIT_FAIL, "no system call filter");
	log_info("msivd %s ready: %u device(s), socket %s, state %s",
	    PACKAGE_VERSION, device_count(), conf.socket, conf.state_dir);
	if (notify >= 0) {
		if (write(notify, "r", 1) != 1)
			log_warn("cannot notify the parent");
		close(notify);
	}
	snprintf(status, sizeof(status), "READY=1\nSTATUS=serving %u "
	    "device(s), %u vfunc(s) restored", device_count(), vfunc_count());
	sdn_notify(status);
	if (ho >= 0) {
		/* The blackout ends once the loop has armed every trigger,
		 * not when its thread is made. */
		deliver_sync();
		handover_done();
	}
	if (event_base_dispatch(base) < 0)
		log_warnx("event loop failed");

	/* Stage 6. */
	sdn_notify("STOPPING=1\nSTATUS=shutting down");
	server_shutdown();
	hotplug_stop();
	store_close();
	deliver_stop();
	device_destroy_all();
	event_free(sigterm);
	event_free(sigint);
	event_free(sighup);
	event_free(sigusr2);
	event_base_free(base);
	libevent_global_shutdown();
	log_info("stopped");
	return MAIN_EXIT_OK;
}
