/*
 * The input framing of the msivd fuzz target (fuzz-dispatch.c), shared
 * with the seed generator (mkseeds.c). doc/fuzzing.md describes it too.
 *
 * An input is a sequence of records, each sent as one packet:
 *
 *	len:u16 (little-endian)  flags:u8  body[len & 0x7fff]
 *
 * Bit 15 of len (FUZZ_LEN_B) sends the packet on the input's second
 * session, B, rather than on A. A is an admin (its peer is the daemon's
 * own uid); B stands for a peer that is not one, admitted by the one
 * [tenant] section of the harness's configuration, so the permission
 * checks, the tenant's policy and what one tenant may see of another are
 * reached. B is opened at its first record.
 *
 * The last record may be short (its body is what is left); fewer than 3
 * bytes left end the input. Without FUZZ_F_HDR the body is the packet,
 * header included, sent as it is (up to FUZZ_PKT_MAX bytes), so malformed
 * headers are reached. With FUZZ_F_HDR the body is opcode:u8 then the
 * payload, and the harness writes a valid header in front of it: magic,
 * version, the opcode, seq = the record's number, len = the payload's
 * length, flags, status and reserved 0. That saves the fuzzer 24 bytes
 * per message and takes it past the header checks to the handlers.
 *
 * Every durable change, every reply and every event the input causes is
 * over before the next record is sent (unless FUZZ_F_BATCH), so an input
 * always runs the same way.
 */
#ifndef MSIV_FUZZ_H
#define MSIV_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include <msiv/protocol.h>

/* The libFuzzer entry points (fuzz-dispatch.c). Without libFuzzer,
 * fuzz-main.c calls them. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REC_HDR 3u                  /* len:u16 flags:u8 */
#define FUZZ_LEN_B    0x8000u            /* the record goes to session B */
#define FUZZ_LEN_MASK 0x7fffu
/* Packets longer than the daemon takes (MSIV_MSG_MAX) are sent too: it
 * must drop the session. Twice that is as good as any length above. */
#define FUZZ_PKT_MAX (2 * MSIV_MSG_MAX)

/* Bits 0-2 of the flags: the fds that go with the packet (SCM_RIGHTS). */
#define FUZZ_FDS_MASK      0x07u
enum fuzz_fds {
	FUZZ_FDS_NONE = 0,
	FUZZ_FDS_EVENTFD = 1,            /* a target, as VEC_SETUP wants */
	FUZZ_FDS_EVENTFD2 = 2,           /* two eventfds */
	FUZZ_FDS_PIPE = 3,               /* the read end of a pipe */
	FUZZ_FDS_FILE = 4,               /* /dev/null, read only */
	FUZZ_FDS_EVENTFD_PIPE = 5,       /* an eventfd and a pipe's write end */
	FUZZ_FDS_MAXFDS = 6,             /* MSIV_FDS_MAX eventfds */
	FUZZ_FDS_TOOMANY = 7,            /* MSIV_FDS_MAX + 1: more than any
					    packet carries (the daemon sees a
					    truncated control message) */
};
#define FUZZ_FDS_MOST (MSIV_FDS_MAX + 1)

/* The body is opcode:u8 + payload; the harness writes the header. */
#define FUZZ_F_HDR    0x08u
/* With FUZZ_F_HDR: cut or zero-pad the payload to the opcode's exact
 * request length (lib/proto.c), so length checks pass. */
#define FUZZ_F_EXACT  0x10u
/*
 * The first 8 payload bytes (the vfunc handle, first field of every
 * request that names one) become one of the handles VFUNC_OPEN replies
 * gave either session of this input so far, in the order they came:
 * number payload[0] % n of the n handles (unchanged while there is
 * none). Handles are random 64-bit values; the fuzzer reaches what is
 * behind a handle lookup only this way, and B can try A's handles.
 */
#define FUZZ_F_HANDLE 0x20u
/* Send the next record at once: both packets are read in one turn of the
 * daemon's loop (one group commit, several held replies). */
#define FUZZ_F_BATCH  0x40u
/* The client reads no replies after this packet (until a packet without
 * the flag): the daemon's replies queue (EAGAIN, max_queued). */
#define FUZZ_F_NOREAD 0x80u

#endif /* MSIV_FUZZ_H */
