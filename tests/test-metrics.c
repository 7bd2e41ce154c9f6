/*
 * msivctl metrics (msivctl(8), METRICS) against the real msivd: a few
 * vfuncs of two tenants on two devices, interrupts delivered, coalesced,
 * pending and dropped; then the output is parsed and
 *  - its format checked: every family has one TYPE and one HELP line,
 *    every sample belongs to a declared family (a histogram's through
 *    _bucket, _count, _sum), counters end in _total, # EOF is the last
 *    line and appears once;
 *  - its figures checked against msivctl's own listing (msivctl --json
 *    vfuncs): per vfunc, and summed per device and per tenant;
 *  - the daemon-wide figures: sessions, store commits and the commit
 *    latency histogram (cumulative, +Inf = count = commits).
 * (A user who is not an admin gets exit 4: tests/test-cli.sh.)
 */
#include "config.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tap.h"

#define OUT_MAX (1u << 20)
#define FAM_MAX 64

static struct h_daemon d;

/* Run msivctl with args (a shell word list) on the test daemon; its
 * stdout in buf. Returns its exit status, -1 if it could not run. */
static int
ctl(const char *args, char *buf, size_t len)
{
	const char *bin = getenv("MSIVCTL");
	char cmd[512];
	size_t n = 0, r;
	FILE *p;
	int st;

	if (bin == NULL)
		tap_bail("MSIVCTL not set: run through make check");
	snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' %s", bin, d.sock, args);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (n + 1 < len && (r = fread(buf + n, 1, len - 1 - n, p)) > 0)
		n += r;
	buf[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct fam {
	char name[96];
	char type[16];
	int types, helps;
	int samples;
};

static struct fam fams[FAM_MAX];
static size_t nfams;

static struct fam *
fam_find(const char *name)
{
	for (size_t i = 0; i < nfams; i++)
		if (strcmp(fams[i].name, name) == 0)
			return &fams[i];
	return NULL;
}

static struct fam *
fam_get(const char *name)
{
	struct fam *f = fam_find(name);

	if (f == NULL && nfams < FAM_MAX && strlen(name) < sizeof(f->name)) {
		f = &fams[nfams++];
		memset(f, 0, sizeof(*f));
		snprintf(f->name, sizeof(f->name), "%s", name);
	}
	return f;
}

/* The family a sample name belongs to, or NULL. */
static struct fam *
sample_family(const char *name)
{
	static const char *const hsuf[] = { "_bucket", "_count", "_sum" };
	struct fam *f = fam_find(name);
	size_t n = strlen(name);

	if (f != NULL)
		return strcmp(f->type, "histogram") == 0 ? NULL : f;
	for (size_t i = 0; i < 3; i++) {
		size_t k = strlen(hsuf[i]);
		char base[96];

		if (n <= k || n - k >= sizeof(base) ||
		    strcmp(name + n - k, hsuf[i]) != 0)
			continue;
		memcpy(base, name, n - k);
		base[n - k] = '\0';
		if ((f = fam_find(base)) != NULL &&
		    strcmp(f->type, "histogram") == 0)
			return f;
	}
	return NULL;
}

/* The format checks; 0 if all hold, else a count of faults (each one
 * described with tap_diag). */
static int
check_format(char *out)
{
	char *save = NULL, *line;
	int bad = 0, eof = 0, lines = 0;

	nfams = 0;
	for (line = strtok_r(out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char name[96], type[16];

		lines++;
		if (eof) {
			tap_diag("a line after # EOF: %s", line);
			bad++;
		}
		if (strcmp(line, "# EOF") == 0) {
			eof++;
			continue;
		}
		if (sscanf(line, "# TYPE %95s %15s", name, type) == 2) {
			struct fam *f = fam_get(name);

			if (f == NULL || f->samples != 0) {
				tap_diag("TYPE after samples, or too many "
				    "families: %s", line);
				bad++;
				continue;
			}
			snprintf(f->type, sizeof(f->type), "%s", type);
			f->types++;
			continue;
		}
		if (sscanf(line, "# HELP %95s", name) == 1) {
			struct fam *f = fam_find(name);

			if (f == NULL) {
				tap_diag("HELP before TYPE: %s", line);
				bad++;
			} else
				f->helps++;
			continue;
		}
		if (strncmp(line, "# UNIT ", 7) == 0)
			continue;
		if (line[0] == '#') {
			tap_diag("an unknown comment: %s", line);
			bad++;
			continue;
		}
		{
			size_t n = strcspn(line, "{ ");
			struct fam *f;

			if (n >= sizeof(name)) {
				bad++;
				continue;
			}
			memcpy(name, line, n);
			name[n] = '\0';
			if ((f = sample_family(name)) == NULL) {
				tap_diag("a sample of no declared family: %s",
				    line);
				bad++;
			} else
				f->samples++;
		}
	}
	if (eof != 1) {
		tap_diag("# EOF %s", eof == 0 ? "missing" : "more than once");
		bad++;
	}
	for (size_t i = 0; i < nfams; i++) {
		const struct fam *f = &fams[i];
		size_t n = strlen(f->name);

		if (f->types != 1 || f->helps != 1) {
			tap_diag("%s: %d TYPE and %d HELP lines", f->name,
			    f->types, f->helps);
			bad++;
		}
		if (strcmp(f->type, "counter") == 0 &&
		    (n < 6 || strcmp(f->name + n - 6, "_total") != 0)) {
			tap_diag("counter %s does not end in _total", f->name);
			bad++;
		}
	}
	(void)lines;
	return bad;
}

/* The value of the sample with exactly this name and label set (the text
 * between name and value, "" for none); -1 if absent. */
static int64_t
sample(const char *out, const char *name, const char *labels)
{
	char want[512];
	const char *p = out;
	size_t n;

	n = (size_t)snprintf(want, sizeof(want), "%s%s ", name, labels);
	while ((p = strstr(p, want)) != NULL) {
		if (p == out || p[-1] == '\n')
			return strtoll(p + n, NULL, 10);
		p += n;
	}
	return -1;
}

struct figs {
	int64_t v[5]; /* fired, delivered, coalesced, dropped, pending */
};

static const char *const fignames[5] = {
	"fired", "delivered", "coalesced", "dropped", "pending"
};

static bool
figs_match(const char *out, const char *scope, const char *labels,
    const struct figs *want)
{
	bool good = true;

	for (int i = 0; i < 5; i++) {
		char name[96];
		int64_t got;

		snprintf(name, sizeof(name), "msiv_%s_interrupts_%s%s", scope,
		    fignames[i], i == 4 ? "" : "_total");
		got = sample(out, name, labels);
		if (got != want->v[i]) {
			tap_diag("%s%s: %" PRId64 ", the listing says %"
			    PRId64, name, labels, got, want->v[i]);
			good = false;
		}
	}
	return good;
}

static int64_t
jget(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return -1;
	if (json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v) ? 1 : 0;
	return json_object_get_int64(v);
}

static const char *
jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return "";
	return json_object_get_string(v);
}

static void
open_vf(struct msiv_conn *c, const char *dev, unsigned int nvec, int *efd,
    uint64_t *vf)
{
	if (msiv_vfunc_open(c, dev, nvec, MSIV_POLICY_DEFAULT, vf) < 0)
		tap_bail("open");
	for (unsigned int i = 0; i < nvec; i++)
		if (msiv_vector_setup(c, *vf, i, 0xfee00000u, 0x30 + i, efd[i],
		    MSIV_SETUP_UNMASKED) < 0)
			tap_bail("setup");
	if (msiv_vfunc_enable(c, *vf, 1) < 0)
		tap_bail("enable");
}

/* Fire count interrupts (one signal) on a vector and wait until msivd
 * counted them. */
static void
fire(struct msiv_conn *admin, struct msiv_conn *c, const char *dev,
    uint64_t vf, unsigned int v, unsigned int count)
{
	struct msiv_vector_info in;

	if (msiv_vector_query(c, vf, v, &in) < 0 ||
	    msiv_sim_fire(admin, dev, in.slot, count) < 0 ||
	    h_wait_fired(c, vf, v, in.fired + count) < 0)
		tap_bail("fire");
}

int
main(void)
{
	struct msiv_conn *admin, *vm1, *vm2;
	static char out[OUT_MAX], js[OUT_MAX], tmp[OUT_MAX];
	struct figs dev_sim0 = { { 0 } }, dev_live = { { 0 } };
	struct figs ten_vm1 = { { 0 } }, ten_vm2 = { { 0 } };
	json_object *root;
	int efd[4], rc, bad;
	uint64_t a, b, e;
	int64_t commits;
	size_t nvf;

	if (h_start(&d, NULL) < 0)
		tap_bail("msivd did not start");
	admin = h_connect(&d, NULL);
	vm1 = h_connect(&d, "vm1");
	vm2 = h_connect(&d, "vm2");
	for (int i = 0; i < 4; i++)
		efd[i] = h_eventfd();
	open_vf(vm1, "sim0", 3, efd, &a);
	open_vf(vm1, "sim-live", 1, efd + 3, &b);
	open_vf(vm2, "sim0", 1, efd, &e);
	/* Delivered and coalesced, pending, dropped. */
	fire(admin, vm1, "sim0", a, 0, 1);
	fire(admin, vm1, "sim0", a, 0, 5);
	if (msiv_vector_mask(vm1, a, 1) < 0)
		tap_bail("mask");
	fire(admin, vm1, "sim0", a, 1, 3);
	fire(admin, vm1, "sim-live", b, 0, 2);
	if (msiv_vfunc_enable(vm2, e, 0) < 0)
		tap_bail("disable");
	fire(admin, vm2, "sim0", e, 0, 4);

	rc = ctl("metrics", out, sizeof(out));
	is_int(rc, 0, "msivctl metrics as an admin: exit 0");
	memcpy(tmp, out, sizeof(tmp));
	bad = check_format(tmp);
	ok(bad == 0, "format: every family one TYPE and one HELP, every "
	    "sample declared, counters end in _total, # EOF last");
	ok(strlen(out) >= 6 && strcmp(out + strlen(out) - 6, "# EOF\n") == 0,
	    "the output ends with # EOF");
	/* The checks can fail: a sample of no family, a counter not ending
	 * in _total, a family without HELP, no # EOF. */
	snprintf(tmp, sizeof(tmp), "# TYPE msiv_a counter\nmsiv_a 1\n"
	    "msiv_b 2\n");
	is_int(check_format(tmp), 4, "format checks: a broken sample set "
	    "fails all four");

	/* The listing msivctl shows, and the sums it implies. */
	is_int(ctl("--json vfuncs", js, sizeof(js)), 0, "msivctl --json "
	    "vfuncs");
	if ((root = json_tokener_parse(js)) == NULL ||
	    !json_object_is_type(root, json_type_array))
		tap_bail("vfuncs: not a JSON array");
	nvf = json_object_array_length(root);
	is_int(nvf, 3, "three vfuncs listed");
	bad = 0;
	for (size_t i = 0; i < nvf; i++) {
		json_object *o = json_object_array_get_idx(root, i), *va;
		struct figs vfig = { { 0 } }, *df, *tf;
		char labels[256];
		const char *h = jstr(o, "handle");

		if (!json_object_object_get_ex(o, "vectors", &va))
			tap_bail("vfunc without vectors");
		for (size_t j = 0; j < json_object_array_length(va); j++) {
			json_object *v = json_object_array_get_idx(va, j);

			for (int k = 0; k < 5; k++)
				vfig.v[k] += jget(v, k == 4 ? "pending" :
				    fignames[k]);
		}
		/* vfunc="<16 hex digits>", the handle without its 0x. */
		snprintf(labels, sizeof(labels), "{device=\"%s\",tenant=\"%s\","
		    "vfunc=\"%s\"}", jstr(o, "device"), jstr(o, "tenant"),
		    strncmp(h, "0x", 2) == 0 ? h + 2 : h);
		bad += !figs_match(out, "vfunc", labels, &vfig);
		df = strcmp(jstr(o, "device"), "sim0") == 0 ? &dev_sim0 :
		    &dev_live;
		tf = strcmp(jstr(o, "tenant"), "vm1") == 0 ? &ten_vm1 : &ten_vm2;
		for (int k = 0; k < 5; k++) {
			df->v[k] += vfig.v[k];
			tf->v[k] += vfig.v[k];
		}
	}
	ok(bad == 0, "per vfunc: fired, delivered, coalesced, dropped and "
	    "pending as msivctl vfuncs lists them");
	ok(figs_match(out, "device", "{device=\"sim0\"}", &dev_sim0) &&
	    figs_match(out, "device", "{device=\"sim-live\"}", &dev_live),
	    "per device: the sums of its vfuncs");
	ok(figs_match(out, "tenant", "{tenant=\"vm1\"}", &ten_vm1) &&
	    figs_match(out, "tenant", "{tenant=\"vm2\"}", &ten_vm2),
	    "per tenant: the sums of its vfuncs");
	ok(dev_sim0.v[0] == 13 && dev_sim0.v[1] == 2 &&
	    dev_sim0.v[2] == 6 && dev_sim0.v[3] == 4 && dev_sim0.v[4] == 1,
	    "sim0: fired 13 = delivered 2 + coalesced 6 + dropped 4 + "
	    "1 pending");
	ok(sample(out, "msiv_device_interrupts_fired_total",
	    "{device=\"sim-strict\"}") == 0, "a device without vfuncs is "
	    "listed, at 0");
	json_object_put(root);

	/* Daemon-wide figures. */
	is_int(sample(out, "msiv_sessions", ""), 4, "sessions: the three "
	    "test sessions and msivctl's");
	commits = sample(out, "msiv_store_commits_total", "");
	ok(commits >= 3, "store commits counted (%" PRId64 ")", commits);
	ok(sample(out, "msiv_store_commit_duration_seconds_count", "") ==
	    commits && sample(out, "msiv_store_commit_duration_seconds_bucket",
	    "{le=\"+Inf\"}") == commits, "commit latency: count and the +Inf "
	    "bucket are the commits");
	ok(sample(out, "msiv_store_commit_duration_seconds_bucket",
	    "{le=\"0.0001\"}") <= sample(out,
	    "msiv_store_commit_duration_seconds_bucket", "{le=\"1\"}"),
	    "commit latency buckets are cumulative");

	msiv_close(vm2);
	msiv_close(vm1);
	msiv_close(admin);
	is_int(h_stop(&d), 0, "msivd exits cleanly");
	return tap_done();
}
