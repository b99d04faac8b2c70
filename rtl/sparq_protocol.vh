// Generated from host/include/sparq_protocol.h by scripts/gen_protocol_vh.sh; do not edit.
// Included inside each module that needs it (localparams, hence no include guard).
/* verilator lint_off UNUSEDPARAM */
localparam [7:0] PROTO_VERSION = 8'd1;
localparam [7:0] MAGIC_CMD = 8'hA5;
localparam [7:0] MAGIC_REPLY = 8'h5A;
localparam [15:0] CRC16_INIT = 16'hFFFF;
localparam [7:0] OP_IDENTIFY = 8'h01;
localparam [7:0] OP_RESET = 8'h02;
localparam [7:0] OP_WRITE_W = 8'h03;
localparam [7:0] OP_WRITE_X = 8'h04;
localparam [7:0] OP_WRITE_Q = 8'h05;
localparam [7:0] OP_COMPUTE = 8'h06;
localparam [7:0] OP_READ = 8'h07;
localparam [7:0] OP_COUNTERS = 8'h08;
localparam [7:0] ST_OK = 8'h00;
localparam [7:0] ST_HEADER = 8'h01;
localparam [7:0] ST_CRC = 8'h02;
localparam [7:0] ST_OPCODE = 8'h03;
localparam [7:0] ST_LENGTH = 8'h04;
localparam [7:0] ST_ARG = 8'h05;
localparam [7:0] ST_STATE = 8'h06;
localparam [7:0] ST_POSITIONS = 8'h07;
localparam [7:0] ST_TRUNCATED = 8'h08;
localparam integer IDENTIFY_BYTES = 24;
localparam integer COUNTERS_BYTES = 40;
/* verilator lint_on UNUSEDPARAM */
