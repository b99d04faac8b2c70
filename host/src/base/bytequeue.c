// The byte queue behind the link layer, the fault injector and the device
// model. Consumed bytes are reclaimed by sliding the rest to the front only
// when more room is needed, so a reader taking a few bytes at a time costs
// no copying.
#include "sparq_bytequeue.h"

#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"

int sparq_bytequeue_push(struct sparq_bytequeue *q, const void *data, size_t n)
{
    if (!n)
        return SPARQ_OK;
    if (q->tail + n > q->cap && q->head) {
        memmove(q->buf, q->buf + q->head, q->tail - q->head);
        q->tail -= q->head;
        q->head = 0;
    }
    if (q->tail + n > q->cap) {
        size_t cap = q->cap ? q->cap : 1024;
        while (cap < q->tail + n)
            cap *= 2;
        uint8_t *p = realloc(q->buf, cap);
        if (!p)
            return sparq_fail(SPARQ_ENOMEM, "byte queue: out of memory growing to %zu bytes", cap);
        q->buf = p;
        q->cap = cap;
    }
    memcpy(q->buf + q->tail, data, n);
    q->tail += n;
    return SPARQ_OK;
}

void sparq_bytequeue_drop(struct sparq_bytequeue *q, size_t n)
{
    q->head += n < q->tail - q->head ? n : q->tail - q->head;
    if (q->head == q->tail)
        q->head = q->tail = 0;
}

size_t sparq_bytequeue_pop(struct sparq_bytequeue *q, void *out, size_t n)
{
    size_t have = q->tail - q->head;
    if (n > have)
        n = have;
    if (n)
        memcpy(out, q->buf + q->head, n);
    sparq_bytequeue_drop(q, n);
    return n;
}

void sparq_bytequeue_clear(struct sparq_bytequeue *q) { q->head = q->tail = 0; }

void sparq_bytequeue_free(struct sparq_bytequeue *q)
{
    free(q->buf);
    *q = (struct sparq_bytequeue){ 0 };
}
