/*
 * Hotplug (see hotplug.h). The kernel tells msivd about devices in two
 * ways, and both are handled on the control thread:
 *
 *  - its uevents, on a NETLINK_KOBJECT_UEVENT socket managed with libnl-3:
 *    a PCI device bound to vfio-pci ("bind", DRIVER=vfio-pci) is attached
 *    when it is a configured or stored vfio device that is not attached
 *    (it went away and came back) or when an [auto] rule matches its
 *    address or vendor:device; a PCI device unbound or removed while
 *    attached is released;
 *  - vfio-pci's request to give a device back before it is removed or
 *    unbound (the request IRQ, vfio.c), which marks the device lost
 *    (device_lost()); the device layer's notifier brings it here.
 *
 * Either way a lost device is released here, where its vfuncs are known:
 * they are revoked, their sessions told, and the device destroyed.
 *
 * Only messages sent by the kernel are believed: a kernel message comes
 * from netlink port 0 with uid 0 credentials. Any local process can send
 * to msivd's port, and root in a network namespace can multicast there
 * (the udev CVE-2009-1185 case); such messages are counted and ignored.
 *
 * When the kernel drops uevents because the receive buffer is full
 * (ENOBUFS) msivd does not guess what it missed: it rescans sysfs, as it
 * does at start-up, releasing attached devices no longer bound to vfio-pci
 * and attaching every bound device a rule matches.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd.h"
#include "device.h"
#include "hotplug.h"
#include "log.h"
#include "server.h"
#include "store.h"
#include "vfunc.h"

#define HP_GROUP_KERNEL 1u     /* the kernel's uevent multicast group */
#define HP_DRAIN_MAX 256       /* messages read per wakeup */
#define HP_VFIO_DRIVER "/sys/bus/pci/drivers/vfio-pci"
#define HP_PCI_DEVICES "/sys/bus/pci/devices"

static struct nl_sock *hp_sock;
static struct event *hp_ev;
static struct event *hp_lost_ev;
static const struct conf *hp_conf;
static struct msiv_hotplug_rep hp_stats;
static bool hp_starting; /* the start-up scan: main() restores vfuncs */

/* --- devices ------------------------------------------------------------ */

/* Release every device marked lost (device_lost): revoke its vfuncs
 * (MSIV_GONE_DEVICE), tell their sessions, destroy it. */
static void
hp_release_lost(void)
{
	struct device *dev;

	device_lost_clear();
	while ((dev = device_next_lost()) != NULL) {
		char name[MSIV_NAME_MAX];
		uint32_t n;

		memcpy(name, dev->name, sizeof(name));
		n = session_revoke_device(dev, MSIV_GONE_DEVICE);
		device_destroy(dev);
		hp_stats.removed++;
		log_info("device %s released: %u vfunc(s) revoked, their "
		    "sessions told", name, n);
	}
}

static void
hp_lost_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	hp_release_lost();
}

static struct device *
hp_find_address(const char *addr)
{
	struct device *dev;

	TAILQ_FOREACH(dev, &devices, entry)
		if (strcmp(dev->conf.backend, "vfio") == 0 &&
		    strcmp(dev->conf.address, addr) == 0)
			return dev;
	return NULL;
}

/* Attach a device that appeared; device_attach() logs why not. At start-up
 * its stored vfuncs are left to main(), which restores them all at once. */
static void
hp_attach(struct conf_device *cd, const char *by)
{
	char who[64];

	snprintf(who, sizeof(who), "hotplug, %s", by);
	if (device_attach(cd, hp_starting ? 0 : DEVICE_ATTACH_RESTORE,
	    who, NULL, 0) == 0)
		hp_stats.attached++;
}

struct hp_stored {
	const char *addr;
	struct conf_device cd;
	bool found;
};

static void
hp_stored_one(const struct conf_device *d, void *arg)
{
	struct hp_stored *s = arg;

	if (!s->found && strcmp(d->backend, "vfio") == 0 &&
	    strcmp(d->address, s->addr) == 0) {
		s->cd = *d;
		s->found = true;
	}
}

/* A PCI device was bound to vfio-pci (or found bound by a rescan). */
static void
hp_appeared(const char *addr, unsigned int vendor, unsigned int devid)
{
	struct hp_stored st = { .addr = addr };
	const struct conf *c = hp_conf;

	if (hp_find_address(addr) != NULL)
		return; /* attached already */
	for (uint32_t i = 0; i < c->ndevices; i++)
		if (strcmp(c->devices[i].backend, "vfio") == 0 &&
		    strcmp(c->devices[i].address, addr) == 0) {
			st.cd = c->devices[i];
			hp_attach(&st.cd, "configured");
			return;
		}
	if (store_load_devices(hp_stored_one, &st) == 0 && st.found) {
		hp_attach(&st.cd, "attached before with msivctl");
		return;
	}
	for (int pass = 0; pass < 2; pass++) /* an address beats an id */
		for (uint32_t i = 0; i < c->nrules; i++) {
			const struct conf_rule *r = &c->rules[i];
			struct conf_device cd = { .policy = r->policy,
			    .flags = r->flags };
			char by[64];

			if (pass == 0 ? strcmp(r->address, addr) != 0 :
			    r->address[0] != '\0' || r->vendor != vendor ||
			    r->device != devid)
				continue;
			snprintf(cd.backend, sizeof(cd.backend), "vfio");
			snprintf(cd.address, sizeof(cd.address), "%s", addr);
			if (pass == 0)
				memcpy(cd.name, r->name, sizeof(cd.name));
			else
				snprintf(cd.name, sizeof(cd.name), "%s-%s",
				    r->name, addr);
			snprintf(by, sizeof(by), "rule [auto %s]", r->name);
			hp_attach(&cd, by);
			return;
		}
	log_debug("hotplug: %s (%04x:%04x) bound to vfio-pci; no rule for it",
	    addr, vendor, devid);
}

/* --- sysfs -------------------------------------------------------------- */

static int
hp_read_hex(const char *addr, const char *file, unsigned int *out)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), HP_PCI_DEVICES "/%s/%s", addr, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	*out = (unsigned int)strtoul(buf, NULL, 16);
	return 0;
}

static void
hp_rescan(const char *why)
{
	struct device *dev, *next;
	struct dirent *de;
	DIR *d;

	hp_stats.rescans++;
	log_info("hotplug: scanning %s (%s)", HP_VFIO_DRIVER, why);
	for (dev = TAILQ_FIRST(&devices); dev != NULL; dev = next) {
		next = TAILQ_NEXT(dev, entry);
		if (strcmp(dev->conf.backend, "vfio") == 0 &&
		    !vfio_pci_bound(dev->conf.address))
			device_lost(dev, "no longer bound to vfio-pci (found "
			    "by a rescan)");
	}
	hp_release_lost();
	if ((d = opendir(HP_VFIO_DRIVER)) == NULL) {
		if (errno != ENOENT)
			log_warn("hotplug: %s", HP_VFIO_DRIVER);
		return; /* vfio-pci not loaded: nothing is bound to it */
	}
	while ((de = readdir(d)) != NULL) {
		unsigned int ven, devid;

		/* Devices are links named by address; the rest is not. */
		if (strlen(de->d_name) != 12 || de->d_name[4] != ':' ||
		    hp_read_hex(de->d_name, "vendor", &ven) < 0 ||
		    hp_read_hex(de->d_name, "device", &devid) < 0)
			continue;
		hp_appeared(de->d_name, ven, devid);
	}
	closedir(d);
}

/* --- the listener ------------------------------------------------------- */

static void
hp_handle(const struct uevent *ev)
{
	unsigned int ven = 0, devid = 0;

	log_debug("uevent: %s %s (%s%s%s)", ev->action, ev->devpath,
	    ev->subsystem != NULL ? ev->subsystem : "-",
	    ev->driver != NULL ? ", driver " : "",
	    ev->driver != NULL ? ev->driver : "");
	if (ev->subsystem == NULL || strcmp(ev->subsystem, "pci") != 0 ||
	    ev->slot == NULL)
		return;
	if (strcmp(ev->action, "bind") == 0 && ev->driver != NULL &&
	    strcmp(ev->driver, "vfio-pci") == 0) {
		if (ev->pci_id == NULL ||
		    sscanf(ev->pci_id, "%x:%x", &ven, &devid) != 2)
			log_debug("uevent: %s: no PCI_ID", ev->slot);
		hp_appeared(ev->slot, ven, devid);
	} else if (strcmp(ev->action, "unbind") == 0 ||
	    strcmp(ev->action, "remove") == 0) {
		struct device *dev = hp_find_address(ev->slot);

		if (dev != NULL) {
			device_lost(dev, strcmp(ev->action, "remove") == 0 ?
			    "removed from the system" :
			    "unbound from vfio-pci");
			hp_release_lost();
		}
	}
}

static void
hp_message(const struct sockaddr_nl *from, const struct ucred *cr,
    const unsigned char *buf, int len)
{
	struct uevent ev;

	if (from->nl_pid != 0 || (cr != NULL && cr->uid != 0)) {
		/* Not the kernel. Log the first few, then one in 1000. */
		hp_stats.foreign++;
		if (hp_stats.foreign <= 10 || hp_stats.foreign % 1000 == 0)
			log_warnx("hotplug: ignored a uevent not sent by the "
			    "kernel (netlink port %u, pid %d, uid %d; %llu so "
			    "far)", (unsigned)from->nl_pid,
			    cr != NULL ? (int)cr->pid : -1,
			    cr != NULL ? (int)cr->uid : -1,
			    (unsigned long long)hp_stats.foreign);
		return;
	}
	hp_stats.uevents++;
	if (uevent_parse((const char *)buf, (size_t)len, &ev) < 0) {
		log_debug("uevent: malformed message of %d bytes ignored", len);
		return;
	}
	hp_handle(&ev);
}

static void
hp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	for (int i = 0; i < HP_DRAIN_MAX; i++) {
		struct sockaddr_nl from;
		unsigned char *buf = NULL;
		struct ucred *cr = NULL;
		int n = nl_recv(hp_sock, &from, &buf, &cr);

		if (n > 0)
			hp_message(&from, cr, buf, n);
		free(buf);
		free(cr);
		if (n == 0 || n == -NLE_AGAIN)
			return;
		if (n == -NLE_NOMEM) {
			/* ENOBUFS: the kernel dropped messages. */
			log_warnx("hotplug: uevents were lost (the receive "
			    "buffer was full; [hotplug] buffer)");
			hp_rescan("after lost uevents");
		} else if (n < 0) {
			log_warnx("hotplug: receiving uevents: %s",
			    nl_geterror(n));
			return;
		}
	}
}

static int
hp_open(struct event_base *base, uint32_t bufsize)
{
	int fd, sz = (int)bufsize, r;

	if ((hp_sock = nl_socket_alloc()) == NULL)
		return -ENOMEM;
	nl_socket_disable_seq_check(hp_sock);
	nl_socket_enable_msg_peek(hp_sock); /* never truncate a message */
	if ((r = nl_connect(hp_sock, NETLINK_KOBJECT_UEVENT)) < 0 ||
	    (r = nl_socket_add_membership(hp_sock, HP_GROUP_KERNEL)) < 0 ||
	    (r = nl_socket_set_passcred(hp_sock, 1)) < 0 ||
	    (r = nl_socket_set_nonblocking(hp_sock)) < 0) {
		log_warnx("hotplug: kernel uevent socket: %s", nl_geterror(r));
		goto fail;
	}
	fd = nl_socket_get_fd(hp_sock);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		log_warn("hotplug: uevent socket");
		goto fail;
	}
	/* Past rmem_max where msivd may (CAP_NET_ADMIN), else up to it. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)) < 0)
		log_warn("hotplug: uevent receive buffer of %d bytes", sz);
	hp_ev = event_new(base, fd, EV_READ | EV_PERSIST, hp_read_cb, NULL);
	if (hp_ev == NULL || event_add(hp_ev, NULL) < 0) {
		log_warnx("hotplug: cannot watch the uevent socket");
		goto fail;
	}
	hp_stats.flags |= MSIV_HOTPLUG_LISTENING;
	log_info("hotplug: listening to kernel uevents on netlink port %u; "
	    "%u rule(s)", (unsigned)nl_socket_get_local_port(hp_sock),
	    hp_conf->nrules);
	return 0;
fail:
	if (hp_ev != NULL)
		event_free(hp_ev);
	hp_ev = NULL;
	nl_socket_free(hp_sock);
	hp_sock = NULL;
	return -EIO;
}

void
hotplug_start(struct event_base *base, const struct conf *c)
{
	hp_conf = c;
	hp_stats.rules = c->nrules;
	/* Devices lost through their backend (vfio's request IRQ) are
	 * released whether or not uevents are heard. */
	hp_lost_ev = event_new(base, device_lost_fd(), EV_READ | EV_PERSIST,
	    hp_lost_cb, NULL);
	if (hp_lost_ev == NULL || event_add(hp_lost_ev, NULL) < 0)
		fatalx("hotplug: cannot watch for lost devices");
	if (!c->hotplug) {
		log_info("hotplug: off ([hotplug] listen = no)%s", c->nrules ?
		    "; [auto] rules are not used" : "");
		return;
	}
	if (hp_open(base, c->hotplug_buffer) < 0)
		log_warnx("hotplug: devices that appear are not attached by "
		    "rule (removals are still handled, through vfio)");
	hp_starting = true;
	hp_rescan("start-up");
	hp_starting = false;
}

void
hotplug_reconfigured(int rules_changed)
{
	hp_stats.rules = hp_conf->nrules;
	/* A new rule may name a device bound to vfio-pci already. */
	if (rules_changed && hp_conf->hotplug)
		hp_rescan("[auto] rules reloaded");
}

void
hotplug_stop(void)
{
	if (hp_lost_ev != NULL)
		event_free(hp_lost_ev);
	hp_lost_ev = NULL;
	if (hp_ev != NULL)
		event_free(hp_ev);
	hp_ev = NULL;
	if (hp_sock != NULL)
		nl_socket_free(hp_sock);
	hp_sock = NULL;
	hp_stats.flags &= ~MSIV_HOTPLUG_LISTENING;
}

int
cmd_hotplug_status(struct cmd_ctx *ctx)
{
	memcpy(ctx->rep, &hp_stats, sizeof(hp_stats));
	return 0;
}
