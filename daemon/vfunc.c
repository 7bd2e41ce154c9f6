/*
 * Virtual function lifetime: slot allocation, handles, release (rules 8
 * and 9). The vector operations themselves are in cmd-vector.c.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "server.h"
#include "vfunc.h"

#define VFUNC_HASH 1024u

struct vfunc_list vfuncs = TAILQ_HEAD_INITIALIZER(vfuncs);
static struct vfunc *vfunc_hash[VFUNC_HASH];
static uint32_t vfunc_n, vfunc_nvec;

static struct vfunc **
vfunc_bucket(uint64_t id)
{
	return &vfunc_hash[(id ^ (id >> 32)) % VFUNC_HASH];
}

struct vfunc *
vfunc_find(uint64_t id)
{
	struct vfunc *vf;

	for (vf = *vfunc_bucket(id); vf != NULL; vf = vf->hnext)
		if (vf->id == id)
			return vf;
	return NULL;
}

static int
vfunc_new_id(uint64_t *id)
{
	do {
		if (getrandom(id, sizeof(*id), 0) != sizeof(*id))
			return -errno;
	} while (*id == 0 || vfunc_find(*id) != NULL);
	return 0;
}

/* Put slots back in the unowned state: disabled, so interrupts drop. */
static void
vfunc_reset_slots(struct vfunc *vf)
{
	for (uint32_t i = 0; i < vf->nvec; i++) {
		struct slot *s = vfunc_slot(vf, i);
		int old;

		pthread_mutex_lock(&s->lock);
		vector_init(&s->vec, vf->policy);
		old = s->target;
		s->target = -1;
		pthread_mutex_unlock(&s->lock);
		if (old >= 0)
			close(old);
	}
}

int
vfunc_open(struct session *sess, struct device *dev, uint32_t nvec,
    enum vector_policy policy, struct vfunc **out)
{
	struct vfunc *vf;
	uint32_t first;
	int r;

	if ((r = device_find_free(dev, nvec, &first)) < 0)
		return r;
	vf = calloc(1, sizeof(*vf));
	if (vf == NULL)
		return -ENOMEM;
	if ((r = vfunc_new_id(&vf->id)) < 0) {
		free(vf);
		return r;
	}
	vf->dev = dev;
	vf->session = sess;
	vf->first = first;
	vf->nvec = nvec;
	vf->policy = policy;
	session_tenant(sess, vf->tenant);
	/* Rule 9: the host side is armed while every vector is still masked
	 * and the function disabled, before anything can be deliverable. */
	if ((r = dev->ops->arm(dev, first, nvec)) < 0) {
		free(vf);
		return r;
	}
	for (uint32_t i = 0; i < nvec; i++)
		dev->slots[first + i].vfunc = vf;
	dev->used += nvec;
	vfunc_reset_slots(vf);
	vf->hnext = *vfunc_bucket(vf->id);
	*vfunc_bucket(vf->id) = vf;
	TAILQ_INSERT_TAIL(&vfuncs, vf, entry);
	vfunc_n++;
	vfunc_nvec += nvec;
	*out = vf;
	return 0;
}

void
vfunc_close(struct vfunc *vf)
{
	struct vfunc **pp;

	vfunc_reset_slots(vf);
	vf->dev->ops->disarm(vf->dev, vf->first, vf->nvec);
	for (uint32_t i = 0; i < vf->nvec; i++)
		vfunc_slot(vf, i)->vfunc = NULL;
	vf->dev->used -= vf->nvec;
	for (pp = vfunc_bucket(vf->id); *pp != vf; pp = &(*pp)->hnext)
		;
	*pp = vf->hnext;
	TAILQ_REMOVE(&vfuncs, vf, entry);
	vfunc_n--;
	vfunc_nvec -= vf->nvec;
	free(vf);
}

uint32_t
vfunc_count(void)
{
	return vfunc_n;
}

uint32_t
vfunc_vector_count(void)
{
	return vfunc_nvec;
}

struct slot *
vfunc_vec_lock(struct vfunc *vf, uint32_t vector)
{
	struct slot *s = vfunc_slot(vf, vector);

	pthread_mutex_lock(&s->lock);
	return s;
}

void
vfunc_vec_done(struct vfunc *vf, uint32_t vector, unsigned int act)
{
	struct slot *s = vfunc_slot(vf, vector);
	uint64_t addr = s->vec.eff_addr;
	uint32_t data = s->vec.eff_data;

	deliver_actions(s, act);
	pthread_mutex_unlock(&s->lock);
	if ((act & VECTOR_ACT_MSG_CHANGED) && vf->session != NULL)
		session_event_msg(vf->session, vf->id, vector, addr, data);
}

void
vfunc_vec_info(struct vfunc *vf, uint32_t vector, struct msiv_vec_info *info)
{
	struct slot *s = vfunc_vec_lock(vf, vector);
	const struct vector *v = &s->vec;

	memset(info, 0, sizeof(*info));
	info->prog_addr = v->prog_addr;
	info->eff_addr = v->eff_addr;
	info->prog_data = v->prog_data;
	info->eff_data = v->eff_data;
	info->state = ((v->flags & VECTOR_F_MASKED) ? MSIV_VEC_MASKED : 0) |
	    ((v->flags & VECTOR_F_PENDING) ? MSIV_VEC_PENDING : 0) |
	    ((v->flags & VECTOR_F_TARGET) ? MSIV_VEC_TARGET : 0) |
	    ((v->flags & VECTOR_F_FMASKED) ? MSIV_VEC_FMASKED : 0) |
	    ((v->flags & VECTOR_F_ENABLED) ? MSIV_VEC_ENABLED : 0);
	info->slot = s->index;
	info->fired = v->fired;
	info->delivered = v->delivered;
	info->coalesced = v->coalesced;
	info->dropped = v->dropped;
	vfunc_vec_done(vf, vector, 0);
}
