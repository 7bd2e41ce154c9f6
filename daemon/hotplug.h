/*
 * Hotplug: the kernel's uevents, heard through libnl-3, attach devices by
 * rule as they are bound to vfio-pci and release those that go away. See
 * hotplug.c and msivd.conf(5), [hotplug] and [auto NAME].
 */
#ifndef MSIVD_HOTPLUG_H
#define MSIVD_HOTPLUG_H

#include "conf.h"
#include "uevent.h" /* the parser of what the listener hears */

struct event_base;

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
