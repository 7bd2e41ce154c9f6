/*
 * The msiv protocol codec (see proto.h): the wire table (per opcode:
 * payload lengths, fd counts and field layouts), header checks, the
 * request checker, and conversion between wire and host byte order.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define L_HELLO_REQ  "wwwwnt"
#define L_HELLO_REP  "wwwwqnt"
#define L_STATUS_REP "wwqwwwwqqqnn"
#define L_LIST_REQ   "qww"
#define L_DEVICE_REC "nnwwww"
#define L_OPEN_REQ   "nww"
#define L_OPEN_REP   "qww"
#define L_VFUNC_REQ  "qww"
#define L_VEC_REQ    "qww"
#define L_SETUP_REQ  "qwwqww"
#define L_VEC_INFO   "qqwwwwqqqq"
#define L_VEC_REC    "ww" L_VEC_INFO
#define L_VFUNC_REC  "qqnnwwwwww"
#define L_SESS_REC   "qwwwwwwn"
#define L_TABLE_REQ  "qwwq"
#define L_TABLE_REP  "q"
#define L_SIM_REQ    "nww"
#define L_ATTACH_REQ "nnnwwww"
#define L_DETACH_REQ "nww"
#define L_AFF_REQ    "qwwnqqqq"
#define L_AFF_REP    "wwqqqq"
#define L_REVOKE_REQ "qnww"
#define L_REVOKE_REP "ww"
#define L_HOTPLUG_REP "wwqqqqq"
#define L_LOGLEVEL   "ww"
#define L_METRICS_REP "qqqqqqqqqqqqqqq"
#define L_RELEASE_REQ "nww"
#define L_RELEASE_REP "ww"
#define L_RELOAD_REP "m"
#define L_RESTART_REP "wwwwwwnn"
#define L_SHARD_REC  "qqqqww"
#define L_EV_MSG     "qwwq"
#define L_EV_GONE    "qww"

/*
 * The wire table. A field left out is 0: no fds, not paged, no fd flag.
 * Both layouts are always given ("" for no payload).
 */
static const struct msiv_opinfo msiv_wire_table[] = {
	[MSIV_OP_HELLO] = { .name = "HELLO",
	    .req_len = sizeof(struct msiv_hello_req), .req_layout = L_HELLO_REQ,
	    .rep_len = sizeof(struct msiv_hello_rep),
	    .rep_layout = L_HELLO_REP },
	[MSIV_OP_STATUS] = { .name = "STATUS",
	    .req_len = 0, .req_layout = "",
	    .rep_len = sizeof(struct msiv_status_rep),
	    .rep_layout = L_STATUS_REP },
	[MSIV_OP_DEVICE_LIST] = { .name = "DEVICE_LIST",
	    .req_len = sizeof(struct msiv_list_req), .req_layout = L_LIST_REQ,
	    .rep_len = sizeof(struct msiv_device_rec), .paged = 1,
	    .rep_layout = L_DEVICE_REC },
	[MSIV_OP_VFUNC_OPEN] = { .name = "VFUNC_OPEN",
	    .req_len = sizeof(struct msiv_vfunc_open_req),
	    .req_layout = L_OPEN_REQ,
	    .rep_len = sizeof(struct msiv_vfunc_open_rep),
	    .rep_layout = L_OPEN_REP },
	[MSIV_OP_VFUNC_CLOSE] = { .name = "VFUNC_CLOSE",
	    .req_len = sizeof(struct msiv_vfunc_req), .req_layout = L_VFUNC_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_VFUNC_ENABLE] = { .name = "VFUNC_ENABLE",
	    .req_len = sizeof(struct msiv_vfunc_req), .req_layout = L_VFUNC_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_VFUNC_FMASK] = { .name = "VFUNC_FMASK",
	    .req_len = sizeof(struct msiv_vfunc_req), .req_layout = L_VFUNC_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_VFUNC_RESET] = { .name = "VFUNC_RESET",
	    .req_len = sizeof(struct msiv_vfunc_req), .req_layout = L_VFUNC_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_VEC_SETUP] = { .name = "VEC_SETUP",
	    .req_len = sizeof(struct msiv_vec_setup_req), .req_fds = 1,
	    .req_layout = L_SETUP_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_VEC_MASK] = { .name = "VEC_MASK",
	    .req_len = sizeof(struct msiv_vec_req), .req_layout = L_VEC_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_VEC_UNMASK] = { .name = "VEC_UNMASK",
	    .req_len = sizeof(struct msiv_vec_req), .req_layout = L_VEC_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_VEC_RETARGET] = { .name = "VEC_RETARGET",
	    .req_len = sizeof(struct msiv_vec_retarget_req), .req_fds = 1,
	    .req_fds_flag = MSIV_RETARGET_TARGET,
	    .req_flags_off = offsetof(struct msiv_vec_retarget_req, flags),
	    .req_layout = L_SETUP_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_VEC_FREE] = { .name = "VEC_FREE",
	    .req_len = sizeof(struct msiv_vec_req), .req_layout = L_VEC_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_VEC_QUERY] = { .name = "VEC_QUERY",
	    .req_len = sizeof(struct msiv_vec_req), .req_layout = L_VEC_REQ,
	    .rep_len = sizeof(struct msiv_vec_info), .rep_layout = L_VEC_INFO },
	[MSIV_OP_TABLE_WRITE] = { .name = "TABLE_WRITE",
	    .req_len = sizeof(struct msiv_table_req), .req_layout = L_TABLE_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_TABLE_READ] = { .name = "TABLE_READ",
	    .req_len = sizeof(struct msiv_table_req), .req_layout = L_TABLE_REQ,
	    .rep_len = sizeof(struct msiv_table_rep),
	    .rep_layout = L_TABLE_REP },
	[MSIV_OP_VFUNC_LIST] = { .name = "VFUNC_LIST",
	    .req_len = sizeof(struct msiv_list_req), .req_layout = L_LIST_REQ,
	    .rep_len = sizeof(struct msiv_vfunc_rec), .paged = 1,
	    .rep_layout = L_VFUNC_REC },
	[MSIV_OP_VEC_LIST] = { .name = "VEC_LIST",
	    .req_len = sizeof(struct msiv_list_req), .req_layout = L_LIST_REQ,
	    .rep_len = sizeof(struct msiv_vec_rec), .paged = 1,
	    .rep_layout = L_VEC_REC },
	[MSIV_OP_SESSION_LIST] = { .name = "SESSION_LIST",
	    .req_len = sizeof(struct msiv_list_req), .req_layout = L_LIST_REQ,
	    .rep_len = sizeof(struct msiv_session_rec), .paged = 1,
	    .rep_layout = L_SESS_REC },
	[MSIV_OP_SIM_TRIGGERS] = { .name = "SIM_TRIGGERS",
	    .req_len = sizeof(struct msiv_sim_req), .req_layout = L_SIM_REQ,
	    .rep_len = 0, .rep_fds = MSIV_FDS_MAX, .rep_layout = "" },
	[MSIV_OP_SIM_FIRE] = { .name = "SIM_FIRE",
	    .req_len = sizeof(struct msiv_sim_req), .req_layout = L_SIM_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_SHUTDOWN] = { .name = "SHUTDOWN",
	    .req_len = 0, .req_layout = "",
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_DEVICE_ATTACH] = { .name = "DEVICE_ATTACH",
	    .req_len = sizeof(struct msiv_attach_req),
	    .req_layout = L_ATTACH_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_DEVICE_DETACH] = { .name = "DEVICE_DETACH",
	    .req_len = sizeof(struct msiv_detach_req),
	    .req_layout = L_DETACH_REQ,
	    .rep_len = 0, .rep_layout = "" },
	[MSIV_OP_IRQ_AFFINITY] = { .name = "IRQ_AFFINITY",
	    .req_len = sizeof(struct msiv_affinity_req),
	    .req_layout = L_AFF_REQ,
	    .rep_len = sizeof(struct msiv_affinity_rep),
	    .rep_layout = L_AFF_REP },
	[MSIV_OP_REVOKE] = { .name = "REVOKE",
	    .req_len = sizeof(struct msiv_revoke_req),
	    .req_layout = L_REVOKE_REQ,
	    .rep_len = sizeof(struct msiv_revoke_rep),
	    .rep_layout = L_REVOKE_REP },
	[MSIV_OP_HOTPLUG_STATUS] = { .name = "HOTPLUG_STATUS",
	    .req_len = 0, .req_layout = "",
	    .rep_len = sizeof(struct msiv_hotplug_rep),
	    .rep_layout = L_HOTPLUG_REP },
	[MSIV_OP_RELOAD] = { .name = "RELOAD",
	    .req_len = 0, .req_layout = "",
	    .rep_len = sizeof(struct msiv_reload_rep),
	    .rep_layout = L_RELOAD_REP },
	[MSIV_OP_LOG_LEVEL] = { .name = "LOG_LEVEL",
	    .req_len = sizeof(struct msiv_log_level_req),
	    .req_layout = L_LOGLEVEL,
	    .rep_len = sizeof(struct msiv_log_level_rep),
	    .rep_layout = L_LOGLEVEL },
	[MSIV_OP_TENANT_RELEASE] = { .name = "TENANT_RELEASE",
	    .req_len = sizeof(struct msiv_tenant_release_req),
	    .req_layout = L_RELEASE_REQ,
	    .rep_len = sizeof(struct msiv_tenant_release_rep),
	    .rep_layout = L_RELEASE_REP },
	[MSIV_OP_METRICS] = { .name = "METRICS",
	    .req_len = 0, .req_layout = "",
	    .rep_len = sizeof(struct msiv_metrics_rep),
	    .rep_layout = L_METRICS_REP },
	[MSIV_OP_RESTART] = { .name = "RESTART",
	    .req_len = 0, .req_layout = "",
	    .rep_len = sizeof(struct msiv_restart_rep),
	    .rep_layout = L_RESTART_REP },
	[MSIV_OP_SHARD_LIST] = { .name = "SHARD_LIST",
	    .req_len = sizeof(struct msiv_list_req), .req_layout = L_LIST_REQ,
	    .rep_len = sizeof(struct msiv_shard_rec), .paged = 1,
	    .rep_layout = L_SHARD_REC },
};
/* The table is sized by its entries: an opcode appended to enum msiv_op
 * without its entry here does not build. Entry 0 is not an opcode; that
 * none between is left out, test-proto and msivd's start check. */
_Static_assert(sizeof(msiv_wire_table) / sizeof(msiv_wire_table[0]) ==
    MSIV_OP__COUNT, "one wire table entry per opcode");

const struct msiv_opinfo *
msiv_proto_op(unsigned int op)
{
	if (op == 0 || op >= MSIV_OP__COUNT ||
	    msiv_wire_table[op].name == NULL)
		return NULL;
	return &msiv_wire_table[op];
}

const char *
msiv_proto_opname(unsigned int op)
{
	const struct msiv_opinfo *oi = msiv_proto_op(op);

	return oi != NULL ? oi->name : "UNKNOWN";
}

uint32_t
msiv_proto_event_len(unsigned int ev)
{
	switch (ev) {
	case MSIV_EV_MSG_CHANGED:
		return sizeof(struct msiv_ev_msg);
	case MSIV_EV_VFUNC_GONE:
		return sizeof(struct msiv_ev_gone);
	default:
		return 0;
	}
}

const char *
msiv_proto_event_layout(unsigned int ev)
{
	switch (ev) {
	case MSIV_EV_MSG_CHANGED:
		return L_EV_MSG;
	case MSIV_EV_VFUNC_GONE:
		return L_EV_GONE;
	default:
		return NULL;
	}
}

static size_t
msiv_field_size(char c)
{
	switch (c) {
	case 'w':
		return 4;
	case 'q':
		return 8;
	case 'n':
		return MSIV_NAME_MAX;
	case 't':
		return MSIV_TOKEN_LEN;
	case 'm':
		return MSIV_TEXT_MAX;
	default:
		return 0; /* our bug: caught by the codec unit test */
	}
}

size_t
msiv_layout_size(const char *layout)
{
	size_t n = 0;

	for (; *layout != '\0'; layout++)
		n += msiv_field_size(*layout);
	return n;
}

static void
msiv_bswap_one(const char *layout, unsigned char *p)
{
	uint32_t w;
	uint64_t q;

	for (; *layout != '\0'; layout++) {
		switch (*layout) {
		case 'w':
			memcpy(&w, p, 4);
			w = __builtin_bswap32(w);
			memcpy(p, &w, 4);
			break;
		case 'q':
			memcpy(&q, p, 8);
			q = __builtin_bswap64(q);
			memcpy(p, &q, 8);
			break;
		default:
			break; /* names and texts are bytes */
		}
		p += msiv_field_size(*layout);
	}
}

void
msiv_bswap_records(const char *layout, void *buf, size_t len)
{
	size_t sz = msiv_layout_size(layout);
	unsigned char *p = buf;

	for (size_t off = 0; sz != 0 && off + sz <= len; off += sz)
		msiv_bswap_one(layout, p + off);
}

void
msiv_swap(const char *layout, void *buf, size_t len)
{
#if __BYTE_ORDER == __BIG_ENDIAN
	msiv_bswap_records(layout, buf, len);
#else
	(void)layout; /* the wire order is the host order */
	(void)buf;
	(void)len;
#endif
}

void
msiv_swap_page(const char *rec_layout, void *buf, size_t len)
{
	if (len < sizeof(struct msiv_page))
		return;
	msiv_swap("ww", buf, sizeof(struct msiv_page));
	msiv_swap(rec_layout, (unsigned char *)buf + sizeof(struct msiv_page),
	    len - sizeof(struct msiv_page));
}

int
msiv_hdr_decode(const void *pkt, size_t n, struct msiv_hdr *h)
{
	if (n < sizeof(*h))
		return -EPROTO;
	memcpy(h, pkt, sizeof(*h));
	h->magic = le16toh(h->magic);
	h->version = le16toh(h->version);
	h->opcode = le16toh(h->opcode);
	h->flags = le16toh(h->flags);
	h->seq = le32toh(h->seq);
	h->len = le32toh(h->len);
	h->status = (int32_t)le32toh((uint32_t)h->status);
	h->reserved = le32toh(h->reserved);
	if (h->magic != MSIV_PROTO_MAGIC || h->reserved != 0 ||
	    (h->flags & ~MSIV_F_ALL) != 0 ||
	    (h->flags & MSIV_F_ALL) == MSIV_F_ALL ||
	    h->len != n - sizeof(*h))
		return -EPROTO;
	if (h->version == 0 || h->version > MSIV_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	return 0;
}

void
msiv_hdr_encode(const struct msiv_hdr *h, void *pkt)
{
	struct msiv_hdr w;

	w.magic = htole16(h->magic);
	w.version = htole16(h->version);
	w.opcode = htole16(h->opcode);
	w.flags = htole16(h->flags);
	w.seq = htole32(h->seq);
	w.len = htole32(h->len);
	w.status = (int32_t)htole32((uint32_t)h->status);
	w.reserved = htole32(h->reserved);
	memcpy(pkt, &w, sizeof(w));
}

int
msiv_proto_check_req(const struct msiv_hdr *h, const void *payload,
    size_t nfds)
{
	const struct msiv_opinfo *oi = msiv_proto_op(h->opcode);
	size_t want_fds;

	if (h->flags != 0 || h->status != 0)
		return -EPROTO;
	if (oi == NULL)
		return -ENOSYS;
	if (h->len != oi->req_len)
		return -EMSGSIZE;
	want_fds = oi->req_fds;
	if (oi->req_fds_flag != 0) {
		uint32_t flags;

		/* Within the payload: its length is checked above. */
		memcpy(&flags, (const unsigned char *)payload +
		    oi->req_flags_off, sizeof(flags));
		if ((le32toh(flags) & oi->req_fds_flag) == 0)
			want_fds = 0;
	}
	if (nfds != want_fds)
		return -EBADMSG;
	return 0;
}

int
msiv_name_put(char dst[MSIV_NAME_MAX], const char *src)
{
	size_t n = strlen(src);

	if (n >= MSIV_NAME_MAX)
		return -ENAMETOOLONG;
	memset(dst, 0, MSIV_NAME_MAX);
	memcpy(dst, src, n);
	return 0;
}

int
msiv_shard_parse(const char *s, uint32_t *flags)
{
	unsigned long n;
	char *end;

	if (strcmp(s, "auto") == 0) {
		*flags = 0;
		return 0;
	}
	if (strcmp(s, "spread") == 0) {
		*flags = MSIV_ATTACH_SHARD(MSIV_ATTACH_SHARD_SPREAD);
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL; /* no sign, no space */
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || n > MSIV_ATTACH_SHARD_MAX)
		return -EINVAL;
	*flags = MSIV_ATTACH_SHARD(MSIV_ATTACH_SHARD_FIXED + (uint32_t)n);
	return 0;
}

int
msiv_name_check(const char src[MSIV_NAME_MAX])
{
	size_t i;

	for (i = 0; i < MSIV_NAME_MAX && src[i] != '\0'; i++)
		if (src[i] < 0x21 || src[i] > 0x7e)
			return -EINVAL;
	if (i == MSIV_NAME_MAX)
		return -EINVAL;
	for (; i < MSIV_NAME_MAX; i++) /* NUL padded: nothing hidden */
		if (src[i] != '\0')
			return -EINVAL;
	return 0;
}
