/*
 * Reloading the configuration (msivd(8), RELOAD; msivd.conf(5)): on
 * SIGHUP (main.c, through the event loop) or an admin's RELOAD
 * (cmd_reload in cmd-admin.c).
 *
 * All or nothing: the file is parsed in full into a new configuration,
 * with the command line on top as at start-up; a bad file (file:line:
 * reason) or one that changes a setting only a restart can change (named)
 * is refused and the running configuration stays as it was. Otherwise the
 * new one is copied over the running one in a single step on the control
 * thread, between two requests: tenants, quotas, limits, rates, the log
 * level, admin_group and the [auto] rules apply from the next request
 * (server_reconfigured re-reads each session's tenant and admission; when
 * the rules changed, hotplug_reconfigured scans sysfs again, so that a
 * new rule attaches a device bound to vfio-pci already).
 *
 * What the new policy no longer admits is kept until closed, not revoked:
 * a session whose tenant is gone or no longer admits it keeps its vfuncs
 * and vectors (they deliver, mask, retarget as before) but opens no new
 * vfunc; a tenant over a lowered quota keeps what it holds and opens
 * nothing until it is under it again. An admin who wants them gone says so
 * (msivctl revoke). Connections are authorised at connect as before: an
 * admin stays one until it disconnects.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotplug.h"
#include "log.h"
#include "reload.h"
#include "server.h"

static struct conf *rl_running;
static struct conf_args rl_args;

void
reload_init(struct conf *running, const struct conf_args *args)
{
	rl_running = running;
	rl_args = *args;
}

int
reload_run(const char *by, char *msg, size_t msglen)
{
	struct conf *c;
	const char *path = NULL;
	char err[512], diff[256];
	int r, rules_changed;

	if (rl_running == NULL) {
		snprintf(msg, msglen, "no configuration to reload");
		return -EOPNOTSUPP;
	}
	c = malloc(sizeof(*c));
	if (c == NULL) {
		snprintf(msg, msglen, "reload refused: %s", strerror(ENOMEM));
		log_warnx("%s (%s)", msg, by);
		return -ENOMEM;
	}
	r = conf_read(c, &rl_args, &path, err, sizeof(err));
	if (r < 0) {
		snprintf(msg, msglen, "%s", err);
		log_warnx("reload refused (%s): %s; the running configuration "
		    "stays", by, err);
		free(c);
		return r;
	}
	if (conf_restart_diff(rl_running, c, diff, sizeof(diff)) > 0) {
		snprintf(msg, msglen, "%s: %s cannot change without a restart; "
		    "restart msivd (nothing was reloaded)", path != NULL ? path :
		    "the built-in default", diff);
		log_warnx("reload refused (%s): %s", by, msg);
		free(c);
		return -EBUSY;
	}
	rules_changed = c->nrules != rl_running->nrules ||
	    memcmp(c->rules, rl_running->rules, c->nrules *
	    sizeof(c->rules[0])) != 0;
	memcpy(rl_running, c, sizeof(*c));
	free(c);
	server_reconfigured();
	hotplug_reconfigured(rules_changed);
	log_set_level(rl_running->log_level);
	snprintf(msg, msglen, "reloaded %s", path != NULL ? path :
	    "the built-in default");
	log_info("%s (%s): %u tenant(s), %u [auto] rule(s)", msg, by,
	    rl_running->ntenants, rl_running->nrules);
	return 0;
}
