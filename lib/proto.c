/*
 * The msiv protocol codec (see proto.h): the per-opcode table of payload
 * lengths, fd counts and field layouts, header checks, and conversion
 * between wire and host byte order.
 */
#include "config.h"

#include <endian.h>
#include <errno.h>
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
#define L_EV_MSG     "qwwq"
#define L_EV_GONE    "qww"

#define OP(op, nm, rql, rqf, rpl, rpf, pg, rqlay, rplay) \
	[op] = { nm, rql, rqf, rpf, pg, rpl, rqlay, rplay }

static const struct msiv_opinfo msiv_ops[MSIV_OP__COUNT] = {
	OP(MSIV_OP_HELLO, "HELLO", sizeof(struct msiv_hello_req), 0,
	    sizeof(struct msiv_hello_rep), 0, 0, L_HELLO_REQ, L_HELLO_REP),
	OP(MSIV_OP_STATUS, "STATUS", 0, 0,
	    sizeof(struct msiv_status_rep), 0, 0, "", L_STATUS_REP),
	OP(MSIV_OP_DEVICE_LIST, "DEVICE_LIST", sizeof(struct msiv_list_req), 0,
	    sizeof(struct msiv_device_rec), 0, 1, L_LIST_REQ, L_DEVICE_REC),
	OP(MSIV_OP_VFUNC_OPEN, "VFUNC_OPEN", sizeof(struct msiv_vfunc_open_req),
	    0, sizeof(struct msiv_vfunc_open_rep), 0, 0, L_OPEN_REQ, L_OPEN_REP),
	OP(MSIV_OP_VFUNC_CLOSE, "VFUNC_CLOSE", sizeof(struct msiv_vfunc_req), 0,
	    0, 0, 0, L_VFUNC_REQ, ""),
	OP(MSIV_OP_VFUNC_ENABLE, "VFUNC_ENABLE", sizeof(struct msiv_vfunc_req),
	    0, 0, 0, 0, L_VFUNC_REQ, ""),
	OP(MSIV_OP_VFUNC_FMASK, "VFUNC_FMASK", sizeof(struct msiv_vfunc_req), 0,
	    0, 0, 0, L_VFUNC_REQ, ""),
	OP(MSIV_OP_VFUNC_RESET, "VFUNC_RESET", sizeof(struct msiv_vfunc_req), 0,
	    0, 0, 0, L_VFUNC_REQ, ""),
	OP(MSIV_OP_VEC_SETUP, "VEC_SETUP", sizeof(struct msiv_vec_setup_req), 1,
	    0, 0, 0, L_SETUP_REQ, ""),
	OP(MSIV_OP_VEC_MASK, "VEC_MASK", sizeof(struct msiv_vec_req), 0,
	    0, 0, 0, L_VEC_REQ, ""),
	OP(MSIV_OP_VEC_UNMASK, "VEC_UNMASK", sizeof(struct msiv_vec_req), 0,
	    0, 0, 0, L_VEC_REQ, ""),
	OP(MSIV_OP_VEC_RETARGET, "VEC_RETARGET",
	    sizeof(struct msiv_vec_retarget_req), 1, 0, 0, 0, L_SETUP_REQ, ""),
	OP(MSIV_OP_VEC_FREE, "VEC_FREE", sizeof(struct msiv_vec_req), 0,
	    0, 0, 0, L_VEC_REQ, ""),
	OP(MSIV_OP_VEC_QUERY, "VEC_QUERY", sizeof(struct msiv_vec_req), 0,
	    sizeof(struct msiv_vec_info), 0, 0, L_VEC_REQ, L_VEC_INFO),
	OP(MSIV_OP_TABLE_WRITE, "TABLE_WRITE", sizeof(struct msiv_table_req), 0,
	    0, 0, 0, L_TABLE_REQ, ""),
	OP(MSIV_OP_TABLE_READ, "TABLE_READ", sizeof(struct msiv_table_req), 0,
	    sizeof(struct msiv_table_rep), 0, 0, L_TABLE_REQ, L_TABLE_REP),
	OP(MSIV_OP_VFUNC_LIST, "VFUNC_LIST", sizeof(struct msiv_list_req), 0,
	    sizeof(struct msiv_vfunc_rec), 0, 1, L_LIST_REQ, L_VFUNC_REC),
	OP(MSIV_OP_VEC_LIST, "VEC_LIST", sizeof(struct msiv_list_req), 0,
	    sizeof(struct msiv_vec_rec), 0, 1, L_LIST_REQ, L_VEC_REC),
	OP(MSIV_OP_SESSION_LIST, "SESSION_LIST", sizeof(struct msiv_list_req),
	    0, sizeof(struct msiv_session_rec), 0, 1, L_LIST_REQ, L_SESS_REC),
	OP(MSIV_OP_SIM_TRIGGERS, "SIM_TRIGGERS", sizeof(struct msiv_sim_req), 0,
	    0, MSIV_FDS_MAX, 0, L_SIM_REQ, ""),
	OP(MSIV_OP_SIM_FIRE, "SIM_FIRE", sizeof(struct msiv_sim_req), 0,
	    0, 0, 0, L_SIM_REQ, ""),
	OP(MSIV_OP_SHUTDOWN, "SHUTDOWN", 0, 0, 0, 0, 0, "", ""),
	OP(MSIV_OP_DEVICE_ATTACH, "DEVICE_ATTACH",
	    sizeof(struct msiv_attach_req), 0, 0, 0, 0, L_ATTACH_REQ, ""),
	OP(MSIV_OP_DEVICE_DETACH, "DEVICE_DETACH",
	    sizeof(struct msiv_detach_req), 0, 0, 0, 0, L_DETACH_REQ, ""),
	OP(MSIV_OP_IRQ_AFFINITY, "IRQ_AFFINITY",
	    sizeof(struct msiv_affinity_req), 0,
	    sizeof(struct msiv_affinity_rep), 0, 0, L_AFF_REQ, L_AFF_REP),
	OP(MSIV_OP_REVOKE, "REVOKE", sizeof(struct msiv_revoke_req), 0,
	    sizeof(struct msiv_revoke_rep), 0, 0, L_REVOKE_REQ, L_REVOKE_REP),
	OP(MSIV_OP_HOTPLUG_STATUS, "HOTPLUG_STATUS", 0, 0,
	    sizeof(struct msiv_hotplug_rep), 0, 0, "", L_HOTPLUG_REP),
	OP(MSIV_OP_RELOAD, "RELOAD", 0, 0, sizeof(struct msiv_reload_rep), 0, 0,
	    "", L_RELOAD_REP),
	OP(MSIV_OP_LOG_LEVEL, "LOG_LEVEL", sizeof(struct msiv_log_level_req), 0,
	    sizeof(struct msiv_log_level_rep), 0, 0, L_LOGLEVEL, L_LOGLEVEL),
	OP(MSIV_OP_TENANT_RELEASE, "TENANT_RELEASE",
	    sizeof(struct msiv_tenant_release_req), 0,
	    sizeof(struct msiv_tenant_release_rep), 0, 0, L_RELEASE_REQ,
	    L_RELEASE_REP),
	OP(MSIV_OP_METRICS, "METRICS", 0, 0,
	    sizeof(struct msiv_metrics_rep), 0, 0, "", L_METRICS_REP),
};
/* Entry 0 is not an opcode; every other entry is filled in (test-proto
 * and msivd's start check it). */
_Static_assert(sizeof(msiv_ops) / sizeof(msiv_ops[0]) == MSIV_OP__COUNT,
    "one codec entry per opcode");

const struct msiv_opinfo *
msiv_proto_op(unsigned int op)
{
	if (op == 0 || op >= MSIV_OP__COUNT || msiv_ops[op].name == NULL)
		return NULL;
	return &msiv_ops[op];
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
	if (h->opcode == MSIV_OP_VEC_RETARGET) {
		struct msiv_vec_retarget_req rq;

		memcpy(&rq, payload, sizeof(rq));
		want_fds = (le32toh(rq.flags) & MSIV_RETARGET_TARGET) ? 1 : 0;
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
