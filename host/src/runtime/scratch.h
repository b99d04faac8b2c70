// Scratch buffers of the runtime's matmul calls, kept for the life of the
// runtime: a call takes a set from the pool and gives it back, so calls that
// run at the same time (the subsampling convs run per utterance in an OpenMP
// loop) each have their own, and once the sizes have been seen no call
// allocates or page-faults.
#ifndef SPARQ_RUNTIME_SCRATCH_H
#define SPARQ_RUNTIME_SCRATCH_H

#include <pthread.h>
#include <stddef.h>

#define RT_SCRATCH_SLOTS 8 // buffers per set (codes, row scales, int32 and int8 results; the FFN chain uses more)

struct rt_scratch {
    struct rt_scratch *next; // in the pool's free list
    void *buf[RT_SCRATCH_SLOTS];
    size_t cap[RT_SCRATCH_SLOTS];
};

struct rt_scratch_pool {
    pthread_mutex_t lock;
    struct rt_scratch *free; // sets not in use
};

void rt_scratch_pool_init(struct rt_scratch_pool *p);
// Frees every set; none may be in use.
void rt_scratch_pool_destroy(struct rt_scratch_pool *p);
// A set for one call (NULL when out of memory); give it back when done.
struct rt_scratch *rt_scratch_take(struct rt_scratch_pool *p);
void rt_scratch_give(struct rt_scratch_pool *p, struct rt_scratch *s);
// Buffer `slot` of at least `bytes` bytes, 64-byte aligned; contents are not
// kept when it grows. NULL when out of memory.
void *rt_scratch_get(struct rt_scratch *s, int slot, size_t bytes);

#endif
