/*
 * Virtual MSI-X functions: a guest-visible table of nvec vectors backed by
 * nvec contiguous slots of one device, owned by one session. Handles are
 * random 64-bit values, so a handle cannot be guessed from another.
 */
#ifndef MSIVD_VFUNC_H
#define MSIVD_VFUNC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <msiv/protocol.h>

#include "device.h"

struct session;

struct vfunc {
	uint64_t id;
	struct device *dev;
	struct session *session;     /* owner */
	uint32_t first;              /* first slot */
	uint32_t nvec;
	enum vector_policy policy;
	bool enabled;                /* MSI-X Enable */
	bool fmasked;                /* Function Mask */
	char tenant[MSIV_NAME_MAX];
	struct vfunc *hnext;         /* handle hash chain */
	TAILQ_ENTRY(vfunc) entry;    /* all vfuncs, in creation order */
	TAILQ_ENTRY(vfunc) sentry;   /* the owner session's */
};

TAILQ_HEAD(vfunc_list, vfunc);
extern struct vfunc_list vfuncs;

/* Allocate nvec slots of dev (-ENOSPC), arm them with the backend (host
 * side first, rule 9), and put every vector in the reset state. */
int vfunc_open(struct session *s, struct device *dev, uint32_t nvec,
    enum vector_policy policy, struct vfunc **out);
/* Free every vector (rule 8), disarm and release the slots. Nothing is
 * delivered once this returns. */
void vfunc_close(struct vfunc *vf);
struct vfunc *vfunc_find(uint64_t id);
uint32_t vfunc_count(void);
uint32_t vfunc_vector_count(void);

static inline struct slot *
vfunc_slot(const struct vfunc *vf, uint32_t vector)
{
	return &vf->dev->slots[vf->first + vector];
}



/*
 * Every vector operation is: vfunc_vec_lock(), one vector_* call,
 * vfunc_vec_done() with its actions. done carries out a DELIVER under the
 * lock (deliver.c), releases it, and announces a new effective message to
 * the owner (rule 10) once the lock is released.
 */
struct slot *vfunc_vec_lock(struct vfunc *vf, uint32_t vector);
void vfunc_vec_done(struct vfunc *vf, uint32_t vector, unsigned int act);
/* A vector's state for VEC_QUERY and VEC_LIST. */
void vfunc_vec_info(struct vfunc *vf, uint32_t vector,
    struct msiv_vec_info *info);
#endif /* MSIVD_VFUNC_H */
