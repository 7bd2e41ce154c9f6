/*
 * The delivery loop (relay mode): a dedicated thread that waits on every
 * slot's trigger and writes the vector's target. See deliver.c for the
 * synchronisation protocol with the control thread.
 */
#ifndef MSIVD_DELIVER_H
#define MSIVD_DELIVER_H

#include <stdint.h>

#include "device.h"

struct deliver_stats {
	uint64_t interrupts; /* trigger wakeups */
	uint64_t delivered;  /* target writes, replays included */
	uint64_t dropped;    /* function disabled or slot not allocated */
};

int deliver_init(void);
int deliver_start(void);
void deliver_stop(void);
const char *deliver_loop_name(void);

/* Watch / stop watching a slot's trigger. Any thread; the slot must stay
 * allocated until the loop is stopped or deliver_sync() has returned. */
int deliver_add(struct slot *s);
void deliver_del(struct slot *s);
/* Control thread: wait until the loop holds no wakeup gathered before the
 * call (so no pointer to a slot unwatched before it). Device detach. */
void deliver_sync(void);

/*
 * Carry out a vector operation's actions. Call with s->lock held, right
 * after the vector_* call that returned act: a DELIVER action writes the
 * target before the lock is released.
 */
void deliver_actions(struct slot *s, unsigned int act);

void deliver_get_stats(struct deliver_stats *st);

#endif /* MSIVD_DELIVER_H */
