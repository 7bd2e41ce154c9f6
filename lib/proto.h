/*
 * The protocol codec shared by libmsiv and msivd: the wire table, which
 * says for every opcode how long its request and reply payloads are, how
 * many fds they carry and how their fields are laid out; header
 * encode/decode; the request checker; and byte order conversion of
 * payloads (a no-op on little-endian hosts).
 */
#ifndef MSIV_PROTO_H
#define MSIV_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <msiv/protocol.h>

/*
 * The wire table: one entry per opcode, indexed by it (lib/proto.c). It
 * is all the codec and the checker know of an opcode; msivd's dispatch
 * table (daemon/cmd.c) adds who may call it and its handler.
 *
 * Payload layouts are strings, one character per field: 'w' a 32-bit
 * integer, 'q' a 64-bit integer, 'n' a MSIV_NAME_MAX byte name, 't' a
 * MSIV_TOKEN_LEN byte token, 'm' a MSIV_TEXT_MAX byte text (names, tokens
 * and texts are bytes: never swapped). A paged reply is a "ww" page header
 * then records of rep_layout.
 */
struct msiv_opinfo {
	const char *name;
	uint32_t req_len;        /* exact */
	uint8_t req_fds;         /* exact, unless req_fds_flag */
	uint8_t rep_fds;         /* most fds a reply carries */
	uint8_t paged;           /* reply is a struct msiv_page + records */
	uint32_t rep_len;        /* exact; paged: the record size */
	const char *req_layout;
	const char *rep_layout;  /* paged: the record layout */
	/* Non-zero: the request carries req_fds fds when the 32-bit flags
	 * field at offset req_flags_off of its payload has this bit, and
	 * none when it has not (VEC_RETARGET's MSIV_RETARGET_TARGET). */
	uint32_t req_fds_flag;
	uint32_t req_flags_off;
};

/* NULL for an opcode that is not defined. */
const struct msiv_opinfo *msiv_proto_op(unsigned int op);
const char *msiv_proto_opname(unsigned int op);

/* Event payload length and layout; 0 / NULL if the code is unknown. */
uint32_t msiv_proto_event_len(unsigned int ev);
const char *msiv_proto_event_layout(unsigned int ev);

/* Size in bytes a layout string describes. */
size_t msiv_layout_size(const char *layout);
/* Convert a payload between wire (little-endian) and host order in place.
 * The same call goes both ways. len must equal a whole number of layouts
 * (records) after the optional page header. */
void msiv_swap(const char *layout, void *buf, size_t len);
/* Byte-reverse every integer field of consecutive records, whatever the
 * host order: what msiv_swap does on big-endian hosts (and what the codec
 * test checks on any host). */
void msiv_bswap_records(const char *layout, void *buf, size_t len);
void msiv_swap_page(const char *rec_layout, void *buf, size_t len);

/*
 * Decode and check a received packet's header: magic, version, reserved
 * field, known flags, and that len matches the packet size n. Returns 0 or
 * -EPROTO (not msiv: bad magic, short, length mismatch, reserved bits),
 * -EPROTONOSUPPORT (unknown version).
 */
int msiv_hdr_decode(const void *pkt, size_t n, struct msiv_hdr *h);
void msiv_hdr_encode(const struct msiv_hdr *h, void *pkt);

/*
 * Check a request's header and payload against the wire table, in this
 * order: no flags or status in a request (-EPROTO), known opcode
 * (-ENOSYS), exact length (-EMSGSIZE), exact fd count (-EBADMSG; where
 * the entry has req_fds_flag, the flag in the payload decides the count:
 * VEC_RETARGET carries one fd iff its flags have MSIV_RETARGET_TARGET).
 * Returns 0 or the negative errno.
 */
int msiv_proto_check_req(const struct msiv_hdr *h, const void *payload,
    size_t nfds);

/* Copy a name into a fixed field (NUL padded); -ENAMETOOLONG if it does
 * not fit with its NUL. Read a field back: the name must be NUL terminated
 * within the field and printable (-EINVAL otherwise). */
int msiv_name_put(char dst[MSIV_NAME_MAX], const char *src);
int msiv_name_check(const char src[MSIV_NAME_MAX]);

/* A device's delivery shard as msivd.conf(5) and msivctl attach write it
 * ("auto", "spread" or 0 to MSIV_ATTACH_SHARD_MAX) into DEVICE_ATTACH's
 * flag bits (MSIV_ATTACH_SHARD_*); -EINVAL for anything else. */
int msiv_shard_parse(const char *s, uint32_t *flags);

#endif /* MSIV_PROTO_H */
