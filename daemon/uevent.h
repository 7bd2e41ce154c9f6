/*
 * The kernel's uevents, parsed (uevent.c): what hotplug.c hears on its
 * NETLINK_KOBJECT_UEVENT socket. Pure: no socket, no state.
 */
#ifndef MSIVD_UEVENT_H
#define MSIVD_UEVENT_H

#include <stddef.h>

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

#endif /* MSIVD_UEVENT_H */
