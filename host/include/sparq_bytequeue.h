// sparq-layer: base
// A growable first-in first-out byte queue: transports and the device model
// append what arrives and take from the front what a reader asks for.
#ifndef SPARQ_BYTEQUEUE_H
#define SPARQ_BYTEQUEUE_H

#include <stddef.h>
#include <stdint.h>

// Zero-initialise ({0}) to get an empty queue; sparq_bytequeue_free() at the end.
struct sparq_bytequeue {
    uint8_t *buf;
    size_t head, tail, cap; // bytes buf[head..tail) are queued
};

// Appends n bytes; SPARQ_ENOMEM (queue unchanged) if it cannot grow.
int sparq_bytequeue_push(struct sparq_bytequeue *q, const void *data, size_t n);
// Bytes queued.
static inline size_t sparq_bytequeue_size(const struct sparq_bytequeue *q) { return q->tail - q->head; }
// The queued bytes, contiguous and editable in place, valid until the next push.
static inline uint8_t *sparq_bytequeue_data(struct sparq_bytequeue *q) { return q->buf + q->head; }
// Removes the first n bytes (at most all of them).
void sparq_bytequeue_drop(struct sparq_bytequeue *q, size_t n);
// Copies up to n bytes from the front into out and removes them; returns how many.
size_t sparq_bytequeue_pop(struct sparq_bytequeue *q, void *out, size_t n);
void sparq_bytequeue_clear(struct sparq_bytequeue *q);
void sparq_bytequeue_free(struct sparq_bytequeue *q);

#endif
