// CRC-16/CCITT-FALSE, the protocol CRC (rtl/sparq_crc16.v computes the same
// byte step in logic). Bitwise on purpose: it is short and obviously equal to
// the Verilog; the link, not this loop, limits throughput.
#include "sparq_device.h"
#include "sparq_protocol.h"

uint16_t sparq_crc16(uint16_t crc, const uint8_t *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(data[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ SPARQ_CRC16_POLY : crc << 1);
    }
    return crc;
}
