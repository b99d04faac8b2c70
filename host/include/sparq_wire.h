// sparq-layer: base
// Little-endian field access for the wire protocol and the file formats:
// byte by byte, so it is right on any host and any alignment.
#ifndef SPARQ_WIRE_H
#define SPARQ_WIRE_H

#include <stdint.h>

static inline unsigned sparq_rd16(const uint8_t *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }
static inline uint32_t sparq_rd32(const uint8_t *p)
{
    return (uint32_t)sparq_rd16(p) | (uint32_t)sparq_rd16(p + 2) << 16;
}
static inline uint64_t sparq_rd64(const uint8_t *p)
{
    return (uint64_t)sparq_rd32(p) | (uint64_t)sparq_rd32(p + 4) << 32;
}

static inline void sparq_wr16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void sparq_wr32(uint8_t *p, uint32_t v)
{
    sparq_wr16(p, v & 0xFFFF);
    sparq_wr16(p + 2, v >> 16);
}
static inline void sparq_wr64(uint8_t *p, uint64_t v)
{
    sparq_wr32(p, (uint32_t)v);
    sparq_wr32(p + 4, (uint32_t)(v >> 32));
}

#endif
