// The runtime's pool of per-call scratch buffers (scratch.h).
#include "scratch.h"

#include <stdlib.h>

void rt_scratch_pool_init(struct rt_scratch_pool *p)
{
    pthread_mutex_init(&p->lock, NULL);
    p->free = NULL;
}

void rt_scratch_pool_destroy(struct rt_scratch_pool *p)
{
    while (p->free) {
        struct rt_scratch *s = p->free;
        p->free = s->next;
        for (int i = 0; i < RT_SCRATCH_SLOTS; i++)
            free(s->buf[i]);
        free(s);
    }
    pthread_mutex_destroy(&p->lock);
}

struct rt_scratch *rt_scratch_take(struct rt_scratch_pool *p)
{
    pthread_mutex_lock(&p->lock);
    struct rt_scratch *s = p->free;
    if (s)
        p->free = s->next;
    pthread_mutex_unlock(&p->lock);
    return s ? s : calloc(1, sizeof *s);
}

void rt_scratch_give(struct rt_scratch_pool *p, struct rt_scratch *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&p->lock);
    s->next = p->free;
    p->free = s;
    pthread_mutex_unlock(&p->lock);
}

void *rt_scratch_get(struct rt_scratch *s, int slot, size_t bytes)
{
    if (bytes <= s->cap[slot])
        return s->buf[slot];
    // Grow by half again: the subsampling convs see slowly growing sizes
    // (utterances come length-sorted), which would otherwise grow each call.
    size_t cap = bytes + bytes / 2;
    cap = (cap + 63) / 64 * 64;
    free(s->buf[slot]);
    s->buf[slot] = aligned_alloc(64, cap);
    s->cap[slot] = s->buf[slot] ? cap : 0;
    return s->buf[slot];
}
