/*
 * Unit test of the uevent parser (daemon/uevent.c): real message shapes
 * are taken apart field by field; anything malformed (unterminated, no
 * '@', header and fields that disagree, libudev's format, missing ACTION
 * or DEVPATH) is refused.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "hotplug.h"
#include "tap.h"

/* Build a message from NUL-separated parts; returns its length. */
static size_t
msg(char *buf, size_t cap, const char *const *parts)
{
	size_t len = 0;

	for (; *parts != NULL; parts++) {
		size_t l = strlen(*parts) + 1;

		if (len + l > cap)
			break;
		memcpy(buf + len, *parts, l);
		len += l;
	}
	return len;
}

static int
parse(const char *const *parts, struct uevent *ev)
{
	static char buf[4096];

	return uevent_parse(buf, msg(buf, sizeof(buf), parts), ev);
}

static int
str_is(const char *got, const char *want)
{
	return got != NULL && strcmp(got, want) == 0;
}

int
main(void)
{
	struct uevent ev;

	{
		/* As the kernel sends a vfio-pci bind (6.1). */
		static const char *const bind[] = {
			"bind@/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
			"ACTION=bind",
			"DEVPATH=/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
			"SUBSYSTEM=pci", "DRIVER=vfio-pci",
			"PCI_CLASS=FF0000", "PCI_ID=1234:11E8",
			"PCI_SUBSYS_ID=1AF4:1100", "PCI_SLOT_NAME=0000:01:00.0",
			"MODALIAS=pci:v00001234d000011E8sv00001AF4sd00001100bcFFsc00i00",
			"SEQNUM=1234", NULL,
		};

		ok(parse(bind, &ev) == 0, "a vfio-pci bind parses");
		ok(str_is(ev.action, "bind") && str_is(ev.subsystem, "pci") &&
		    str_is(ev.driver, "vfio-pci") &&
		    str_is(ev.slot, "0000:01:00.0") &&
		    str_is(ev.pci_id, "1234:11E8") &&
		    str_is(ev.devpath, "/devices/pci0000:00/0000:00:1c.0/"
		    "0000:01:00.0"), "its fields");
	}
	{
		static const char *const net[] = {
			"remove@/devices/virtual/net/msivt0", "ACTION=remove",
			"DEVPATH=/devices/virtual/net/msivt0",
			"SUBSYSTEM=net", "INTERFACE=msivt0", "IFINDEX=7",
			"SEQNUM=99", NULL,
		};

		ok(parse(net, &ev) == 0 && str_is(ev.action, "remove") &&
		    str_is(ev.subsystem, "net") && ev.driver == NULL &&
		    ev.slot == NULL && ev.pci_id == NULL,
		    "a net remove parses; fields it lacks are NULL");
	}
	{
		static const char *const noat[] = { "bind", "ACTION=bind",
		    "DEVPATH=/x", NULL };
		static const char *const noaction[] = { "bind@/x",
		    "DEVPATH=/x", NULL };
		static const char *const nopath[] = { "bind@/x", "ACTION=bind",
		    NULL };
		static const char *const otheraction[] = { "bind@/x",
		    "ACTION=unbind", "DEVPATH=/x", NULL };
		static const char *const otherpath[] = { "bind@/x",
		    "ACTION=bind", "DEVPATH=/y", NULL };
		static const char *const prefix[] = { "bin@/x",
		    "ACTION=bind", "DEVPATH=/x", NULL };
		static const char *const udev[] = { "libudev", "ACTION=add",
		    "DEVPATH=/x", NULL };
		static const char *const empty[] = { "@/x", "ACTION=",
		    "DEVPATH=/x", NULL };

		is_int(parse(noat, &ev), -EINVAL, "no '@' in the header");
		is_int(parse(noaction, &ev), -EINVAL, "no ACTION");
		is_int(parse(nopath, &ev), -EINVAL, "no DEVPATH");
		is_int(parse(otheraction, &ev), -EINVAL,
		    "header action and ACTION disagree");
		is_int(parse(otherpath, &ev), -EINVAL,
		    "header path and DEVPATH disagree");
		is_int(parse(prefix, &ev), -EINVAL,
		    "header action a prefix of ACTION");
		is_int(parse(udev, &ev), -EINVAL, "libudev's format");
		is_int(parse(empty, &ev), -EINVAL, "empty action");
		ok(ev.action == NULL && ev.devpath == NULL,
		    "a refused message leaves no fields behind");
	}
	{
		char buf[] = "add@/x\0ACTION=add\0DEVPATH=/x";

		/* sizeof - 1: the last string is not terminated. */
		is_int(uevent_parse(buf, sizeof(buf) - 1, &ev), -EINVAL,
		    "an unterminated last string");
		is_int(uevent_parse(buf, sizeof(buf), &ev), 0,
		    "the same, terminated");
		is_int(uevent_parse(buf, 0, &ev), -EINVAL, "empty message");
	}
	return tap_done();
}
