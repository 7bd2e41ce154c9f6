/*
 * Hotplug: the kernel's uevents, heard through libnl-3, attach devices by
 * rule as they are bound to vfio-pci and release those that go away. See
 * hotplug.c and msivd.conf(5), [hotplug] and [auto NAME].
 */
#ifndef MSIVD_HOTPLUG_H
#define MSIVD_HOTPLUG_H

#include <stddef.h>

#include "conf.h"

struct event_base;

/* A kernel uevent, parsed: "ACTION@DEVPATH" then KEY=VALUE strings. The
 * fields point into the message; those it lacks are NULL. */
struct uevent {
	const char *action;
	const char *devpath;
	const char *subsystem;
	const char *driver;
	const char *slot;       /* PCI_SLOT_NAME: 0000:00:03.0 */
	const char *pci_id;     /* PCI_ID: 1234:11E8 */
};

/* Parse buf[0..len). Returns 0, or -EINVAL for anything that is not a
 * well-formed kernel uevent (unterminated strings, no ACTION or DEVPATH,
 * a header that disagrees with them, libudev's format). */
int uevent_parse(const char *buf, size_t len, struct uevent *ev);

/* Start listening (unless [hotplug] listen = no) and scan sysfs once, so
 * devices bound to vfio-pci already are attached by rule. A listener that
 * cannot be opened is logged, not fatal. c must outlive the daemon. */
void hotplug_start(struct event_base *base, const struct conf *c);
/* The configuration hotplug_start was given has changed (a reload): its
 * rules apply from now on, and if they changed, sysfs is scanned again
 * for devices bound already that a new rule names. */
void hotplug_reconfigured(int rules_changed);
void hotplug_stop(void);

#endif /* MSIVD_HOTPLUG_H */
