// sparq-layer: device
/* sparq device protocol constants (docs/protocol.md is the normative text).
 * Shared by the host C code, the RTL testbenches and the FX2 firmware, so it
 * is plain C89: #defines only, no C99/C11 constructs.
 *
 * Framing, both directions (all multi-byte fields little-endian):
 *   header  10 bytes: magic, opcode|status, seq, opcode-echo|0, len (u32),
 *                     crc16 of the 8 bytes before it (u16)
 *   body    len bytes: fixed-size arguments, then the payload
 *   crc     2 bytes:  crc16 of the body (0xFFFF when the body is empty)
 * crc16 = CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, MSB first, no xorout.
 */
#ifndef SPARQ_PROTOCOL_H
#define SPARQ_PROTOCOL_H

#define SPARQ_PROTO_VERSION 3
/* Oldest version a host still drives. Version 2 adds the IDENTIFY field
 * lanes; a device with one MAC lane per PE answers exactly as version 1
 * (24-byte IDENTIFY, version 1), and a host treats a version-1 device as
 * one lane. Version 3 adds the weight store, the epilogue, two result
 * buffers and more activation banks / requant entries (42-byte IDENTIFY);
 * a device without any of them answers as version 2 (or 1). */
#define SPARQ_PROTO_VERSION_MIN 1

/* First byte of every packet. Bytes that are not a magic byte where a
 * header must start are skipped (resynchronisation). */
#define SPARQ_MAGIC_CMD   0xA5 /* host -> device */
#define SPARQ_MAGIC_REPLY 0x5A /* device -> host */

#define SPARQ_HEADER_BYTES 10
#define SPARQ_CRC_BYTES    2
#define SPARQ_CRC16_INIT   0xFFFF
#define SPARQ_CRC16_POLY   0x1021

/* Command header byte offsets. */
#define SPARQ_HDR_MAGIC  0
#define SPARQ_HDR_OPCODE 1 /* reply: status */
#define SPARQ_HDR_SEQ    2
#define SPARQ_HDR_ECHO   3 /* command: 0; reply: opcode being answered */
#define SPARQ_HDR_LEN    4 /* u32 body length */
#define SPARQ_HDR_CRC    8 /* u16 crc16 of bytes 0..7 */

/* Opcodes. */
#define SPARQ_OP_IDENTIFY 0x01 /* args 0; reply body SPARQ_IDENTIFY_BYTES */
#define SPARQ_OP_RESET    0x02 /* args 0; clears buffers' valid flags (store, tables, params too), counters, results */
#define SPARQ_OP_WRITE_W  0x03 /* args 8; payload ncols * kblocks * block_bytes */
#define SPARQ_OP_WRITE_X  0x04 /* args 8; payload t * kblocks * 16 */
#define SPARQ_OP_WRITE_Q  0x05 /* args 4; payload ncols * 9 */
#define SPARQ_OP_COMPUTE  0x06 /* args 14; no payload */
#define SPARQ_OP_READ     0x07 /* args 8; reply body t * ncols * (4 raw | 1 requant) */
#define SPARQ_OP_COUNTERS 0x08 /* args 0; reply body SPARQ_COUNTERS_BYTES */
/* Version 3 (caps bits in IDENTIFY say which a device has). */
#define SPARQ_OP_STORE_W   0x09 /* args 12; payload as WRITE_W, into the weight store */
#define SPARQ_OP_COMPUTE_S 0x0A /* args 16; COMPUTE with the weights from the store */
#define SPARQ_OP_WRITE_LUT 0x0B /* args 4; payload 256 int8 */
#define SPARQ_OP_EPILOGUE  0x0C /* args 14; results -> requant -> table -> activation bank */

#define SPARQ_ARGS_WRITE_W 8 /* u8 bank, u8 width, u8 kept, u8 0, u16 ncols, u16 kblocks */
#define SPARQ_ARGS_WRITE_X 8 /* u8 xbank (< XBANKS), u8 0, u16 t, u16 kblocks, u16 0 */
#define SPARQ_ARGS_WRITE_Q 4 /* u16 ncols, u16 qaddr (v3; qaddr + ncols <= QDEPTH) */
#define SPARQ_ARGS_COMPUTE 14 /* u8 wbank, u8 xbank, u8 flags, u8 width, u8 kept, u8 0,
                                 u16 t, u16 ncols, u16 kblocks, u16 xoffset: first block
                                 of the activation rows to use */
#define SPARQ_ARGS_READ 8    /* u8 mode, u8 rbuf (v3), u16 t, u16 ncols, u16 qaddr (v3) */
#define SPARQ_ARGS_STORE_W 12   /* u8 width, u8 kept, u16 ncols, u16 kblocks, u16 0, u32 addr */
#define SPARQ_ARGS_COMPUTE_S 16 /* u32 addr, u8 xbank, u8 flags, u8 width, u8 kept,
                                   u16 t, u16 ncols, u16 kblocks, u16 xoffset */
#define SPARQ_ARGS_WRITE_LUT 4  /* u8 lut, u8 0, u16 0 */
#define SPARQ_ARGS_EPILOGUE 14  /* u8 rbuf, u8 dst, u8 lut (0xFF none), u8 0, u16 t,
                                   u16 ncols, u16 qaddr, u16 dblock, u16 dkblocks */
#define SPARQ_LUT_ENTRIES 256   /* entry i: output for input code i - 128 */
#define SPARQ_LUT_NONE    0xFF  /* EPILOGUE lut: no table */
#define SPARQ_EPILOGUE_CYCLES 4 /* busy cycles of an EPILOGUE: t + this */

#define SPARQ_Q_ENTRY_BYTES 9 /* i32 bias, i32 mult (< 2^31), u8 shift (<= 62) */

#define SPARQ_COMPUTE_ACCUMULATE 0x01 /* flags bit: add into the result buffer */
#define SPARQ_COMPUTE_RBUF       0x02 /* flags bit (v3): result buffer 1 instead of 0 */
#define SPARQ_READ_RAW     0 /* int32 little-endian per result */
#define SPARQ_READ_REQUANT 1 /* int8 per result, sparq_requant() with WRITE_Q params */

/* Reply status (header byte 1). */
#define SPARQ_ST_OK        0x00
#define SPARQ_ST_HEADER    0x01 /* header crc mismatch; the 10 bytes are dropped */
#define SPARQ_ST_CRC       0x02 /* body crc mismatch; command not executed */
#define SPARQ_ST_OPCODE    0x03 /* unknown opcode; body skipped */
#define SPARQ_ST_LENGTH    0x04 /* len disagrees with the arguments */
#define SPARQ_ST_ARG       0x05 /* argument out of range (bank, format, shape, params) */
#define SPARQ_ST_STATE     0x06 /* buffer not loaded or loaded with another shape */
#define SPARQ_ST_POSITIONS 0x07 /* weight positions repeated or not increasing */
#define SPARQ_ST_TRUNCATED 0x08 /* packet stopped mid-way (rx idle timeout) */

/* IDENTIFY reply body (26 bytes from a version-2 device; 24 from a
 * version-1 device; 42 from a version-3 device, below). */
#define SPARQ_IDENTIFY_BYTES    26
#define SPARQ_IDENTIFY_BYTES_V1 24
#define SPARQ_ID_VERSION  0  /* u16 protocol version */
#define SPARQ_ID_ROWS     2  /* u16 array rows (frames per tile) */
#define SPARQ_ID_COLS     4  /* u16 array columns (output channels per tile) */
#define SPARQ_ID_BANKS    6  /* u16 banks of the weight and activation buffers */
#define SPARQ_ID_WDEPTH   8  /* u32 weight entries per column per bank */
#define SPARQ_ID_XDEPTH   12 /* u32 activation words (4 channels) per row per bank */
#define SPARQ_ID_RDEPTH   16 /* u32 result frames */
#define SPARQ_ID_WIDTHS   20 /* u8 bit0 int8, bit1 int4, bit2 int2 */
#define SPARQ_ID_SPARSITY 21 /* u8 bit0 4:4, bit1 2:4, bit2 1:4 */
#define SPARQ_ID_TIMEOUT  22 /* u16 rx idle timeout in cycles / 256 */
#define SPARQ_ID_LANES    24 /* u16 MAC lanes per PE (version >= 2): an int8 step does 1, int4
                                min(2, lanes), int2 lanes multiply-accumulates per PE */

/* Version 3 IDENTIFY fields (42 bytes). A device without any v3 feature
 * answers as version 2 (or 1). */
#define SPARQ_IDENTIFY_BYTES_V3 42
#define SPARQ_ID_XBANKS 26 /* u16 activation banks */
#define SPARQ_ID_RBUFS  28 /* u16 result buffers */
#define SPARQ_ID_WSTORE 30 /* u32 weight-store entries per column (0: no store) */
#define SPARQ_ID_QDEPTH 34 /* u16 requant parameter entries */
#define SPARQ_ID_LUTS   36 /* u16 epilogue tables */
#define SPARQ_ID_CAPS   38 /* u32 SPARQ_CAP_* */
#define SPARQ_CAP_STORE    0x01 /* STORE_W, COMPUTE_S */
#define SPARQ_CAP_EPILOGUE 0x02 /* WRITE_LUT, EPILOGUE */
#define SPARQ_CAP_RBUF2    0x04 /* two result buffers */

/* COUNTERS reply body: five u64. */
#define SPARQ_COUNTERS_BYTES 40
#define SPARQ_CNT_TOTAL     0  /* cycles since reset */
#define SPARQ_CNT_BUSY      8  /* cycles the compute engine ran a job */
#define SPARQ_CNT_STALL_IN  16 /* cycles rx was ready but the host sent nothing */
#define SPARQ_CNT_STALL_OUT 24 /* cycles tx had a byte but the host did not take it */
#define SPARQ_CNT_MACS      32 /* multiply-accumulates on kept weights, inside the shape */

#endif
