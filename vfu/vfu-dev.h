/*
 * The PCI function msiv-vfu presents over vfio-user: a type 0 config
 * space with one capability, MSI-X, whose table and PBA are in BAR0, and
 * nothing else (no INTx, no MSI, no DMA). Its MSI-X vectors are a vfunc's
 * vectors on msivd, reached through a backend (vfu_backend): libmsiv in
 * msiv-vfu, a recorder in the fuzz target.
 */
#ifndef MSIV_VFU_DEV_H
#define MSIV_VFU_DEV_H

#include <stddef.h>
#include <stdint.h>

#include "vfu-msg.h"

#define VFU_CFG_SIZE 256u
#define VFU_MSIX_CAP 0x40u

/* The vfunc's side. Each call returns 0 or a negative errno. */
struct vfu_backend {
	/* MSI-X Enable on (vectors may be set up) or off (rule 1). */
	int (*enable)(void *arg, int on);
	/* Function reset: every vector freed, the function disabled. */
	int (*reset)(void *arg);
	/* Attach eventfd fd to vector: set it up (first) or move it there
	 * atomically (rule 6). It stays masked or unmasked as it was; a
	 * vector set up here starts masked. */
	int (*attach)(void *arg, unsigned int vector, int fd, int first);
	int (*mask)(void *arg, unsigned int vector, int masked);
	/* The 64 pending bits of PBA qword q. */
	int (*pba)(void *arg, unsigned int q, uint64_t *bits);
};

/* Per vector (vfu_dev.vec) */
#define VFU_VEC_SETUP    0x1u /* set up on the vfunc (has had an eventfd) */
#define VFU_VEC_DETACHED 0x2u /* its eventfd taken away (fd -1, DATA_NONE) */
#define VFU_VEC_MASKED   0x4u /* masked by SET_IRQS ACTION_MASK */

struct vfu_dev {
	const struct vfu_backend *be;
	void *arg;
	unsigned int nvec;
	uint32_t bar_size;   /* BAR0: the table at 0, the PBA at pba_off */
	uint32_t pba_off;
	int enabled;         /* MSI-X enabled through SET_IRQS */
	uint8_t cfg[VFU_CFG_SIZE];
	uint8_t cfg_reset[VFU_CFG_SIZE];
	uint8_t wmask[VFU_CFG_SIZE];
	uint8_t *vec;        /* nvec VFU_VEC_* */
};

/* nvec 1..MSIV_VECTORS_MAX. Returns 0 or -ENOMEM / -EINVAL. */
int vfu_dev_init(struct vfu_dev *d, unsigned int nvec, uint16_t vendor,
    uint16_t device, const struct vfu_backend *be, void *arg);
void vfu_dev_free(struct vfu_dev *d);

/* The function as after a reset, without calling the backend (a new
 * connection on a freshly opened vfunc). */
void vfu_dev_clear(struct vfu_dev *d);

/*
 * Give the vfunc the enable and mask state the VMM last asked for again:
 * after msivd restarted, its restored state may predate changes it had not
 * yet written down (msivd.conf(5), write_behind_ms), and QEMU will not
 * send them again.
 */
int vfu_dev_resync(struct vfu_dev *d);

/*
 * Carry out a request vfu_decode() accepted, with its fds (req->nfds of
 * them; the caller closes them afterwards: the backend duplicates what it
 * keeps). The reply's payload goes to out (outmax bytes, at least
 * VFU_MSG_MAX). Returns the payload's length, or a negative errno for an
 * error reply.
 */
long vfu_dev_handle(struct vfu_dev *d, const struct vfu_req *req,
    const int *fds, uint8_t *out, size_t outmax);

#endif /* MSIV_VFU_DEV_H */
