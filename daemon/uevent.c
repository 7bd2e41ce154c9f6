/*
 * Kernel uevent messages (see uevent.h): "ACTION@DEVPATH", then
 * KEY=VALUE strings, each ending in NUL. Kept apart from the listener so
 * that the parser is tested on its own (tests/test-uevent-parse.c).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "uevent.h"

/* The value of "KEY=value" if s is that key's, else NULL. */
static const char *
uevent_value(const char *s, const char *key)
{
	size_t kl = strlen(key);

	return strncmp(s, key, kl) == 0 ? s + kl : NULL;
}

int
uevent_parse(const char *buf, size_t len, struct uevent *ev)
{
	const char *p = buf, *end = buf + len, *at;
	size_t hlen;

	memset(ev, 0, sizeof(*ev));
	if (len == 0 || buf[len - 1] != '\0')
		return -EINVAL; /* every string ends in NUL, the last too */
	hlen = strlen(buf);
	at = memchr(buf, '@', hlen);
	if (at == NULL || at == buf || strncmp(buf, "libudev", 7) == 0)
		return -EINVAL;
	for (p += hlen + 1; p < end; p += strlen(p) + 1) {
		const char *v;

		if ((v = uevent_value(p, "ACTION=")) != NULL)
			ev->action = v;
		else if ((v = uevent_value(p, "DEVPATH=")) != NULL)
			ev->devpath = v;
		else if ((v = uevent_value(p, "SUBSYSTEM=")) != NULL)
			ev->subsystem = v;
		else if ((v = uevent_value(p, "DRIVER=")) != NULL)
			ev->driver = v;
		else if ((v = uevent_value(p, "PCI_SLOT_NAME=")) != NULL)
			ev->slot = v;
		else if ((v = uevent_value(p, "PCI_ID=")) != NULL)
			ev->pci_id = v;
	}
	/* The header repeats ACTION and DEVPATH: they must agree. */
	if (ev->action == NULL || ev->devpath == NULL ||
	    (size_t)(at - buf) != strlen(ev->action) ||
	    strncmp(buf, ev->action, (size_t)(at - buf)) != 0 ||
	    strcmp(at + 1, ev->devpath) != 0) {
		memset(ev, 0, sizeof(*ev));
		return -EINVAL;
	}
	return 0;
}
