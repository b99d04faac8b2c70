`default_nettype none
// Reply sender of sparq_ctrl: the 10-byte reply header (magic, status,
// sequence number, opcode, body length, header CRC), then the body (the
// identify block, the counters, or read bytes from the read streamer's FIFO)
// and its CRC. Also keeps the cycle counters the COUNTERS reply reports.
// A wide host port (PB > 1): a READ's body leaves up to PB bytes a word (as
// many as the FIFO holds), every other reply byte in a word of its own.
module sparq_ctrl_reply #(
    parameter PB      = 1,   // host port bytes per word: 1, 2 or 4
    parameter ROWS    = 16,
    parameter COLS    = 16,
    parameter WDEPTH  = 1024,
    parameter XDEPTH  = 4096,
    parameter RDEPTH  = 256,
    parameter TIMEOUT = 4096,
    parameter CNT_W   = 64,
    parameter LANES   = 1,   // MAC lanes per PE; 1 answers IDENTIFY as protocol version 1
    parameter XBANKS  = 2,   // version-3 sizes (IDENTIFY bytes 26..41)
    parameter RBUFS   = 1,
    parameter WSTORE  = 0,
    parameter QDEPTH  = 16,
    parameter LUTS    = 0,
    parameter V3      = 0,   // a version-3 feature is on: IDENTIFY is version 3
    parameter BLW     = 16   // reply body length bits
) (
    input  wire           clk_i,
    input  wire           rst_ni,
    input  wire           start_i,   // a reply starts (its fields are sampled)
    input  wire [7:0]     status_i,
    input  wire [7:0]     op_i,      // the command's opcode and sequence number, echoed
    input  wire [7:0]     seq_i,
    input  wire [BLW-1:0] read_len_i, // body bytes of a successful READ
    input  wire           active_i,  // sparq_ctrl is in its reply state
    output wire           done_o,    // the last reply byte leaves this cycle
    output reg  [8*PB-1:0] tx_data_o,
    output wire [PB-1:0]  tx_valid_o, // byte enables of the word (the low ones)
    input  wire           tx_ready_i,
    // read streamer FIFO
    input  wire [8*PB-1:0] fifo_bytes_i,
    input  wire [4:0]     fifo_count_i,
    output wire [2:0]     pop_o,     // bytes taken
    // counters
    input  wire           cnt_clear_i,
    input  wire           rx_ready_i,
    input  wire           rx_valid_i,
    input  wire [CNT_W-1:0] busy_cnt_i,
    input  wire [CNT_W-1:0] macs_cnt_i
);
    `include "rtl/sparq_protocol.vh"
    localparam [1:0] SRC_NONE = 2'd0, SRC_ID = 2'd1, SRC_CNT = 2'd2, SRC_READ = 2'd3;
    localparam [1:0] PH_HDR = 2'd0, PH_BODY = 2'd1, PH_CRC = 2'd2;
    localparam [BLW-1:0] BL_1 = 1, BL_8 = 8, BL_9 = 9;
    // Version 3 (42 bytes) with any v3 feature; otherwise a one-lane device is
    // a version-1 device (24 bytes, no lanes) and a 4-lane one version 2 (26).
    // The version numbers are this file's, not SPARQ_PROTO_VERSION (the
    // newest version a host speaks).
    localparam integer ID_BYTES = (V3 != 0) ? IDENTIFY_BYTES_V3 : (LANES == 1) ? IDENTIFY_BYTES_V1 : ID_XBANKS;
    localparam [7:0] ID_VER = (V3 != 0) ? 8'd3 : (LANES == 1) ? 8'd1 : 8'd2;
    // (zero unless version 3, so a v1/v2 device's identify table stays as small as before)
    localparam [31:0] XBANKS32 = (V3 != 0) ? XBANKS : 0, RBUFS32 = (V3 != 0) ? RBUFS : 0,
                      WSTORE32 = (V3 != 0) ? WSTORE : 0, QDEPTH32 = (V3 != 0) ? QDEPTH : 0,
                      LUTS32 = (V3 != 0) ? LUTS : 0;
    localparam [7:0] CAPS8 = ((WSTORE > 0) ? CAP_STORE : 8'd0) | ((LUTS > 0) ? CAP_EPILOGUE : 8'd0) |
                             ((RBUFS > 1) ? CAP_RBUF2 : 8'd0);
    localparam [7:0] PB8 = (V3 != 0 && PB > 1) ? PB_I[7:0] : 8'd0;
    localparam integer LANES_INT = LANES;
    localparam [7:0] LANES8 = LANES_INT[7:0];
    localparam [BLW-1:0] BL_ID = ID_BYTES[BLW-1:0], BL_CNT = COUNTERS_BYTES[BLW-1:0];
    localparam integer TIMEOUT_DIV = TIMEOUT / 256;
    localparam integer ROWS_INT = ROWS, COLS_INT = COLS;
    localparam [15:0] ROWS16 = ROWS_INT[15:0], COLS16 = COLS_INT[15:0], TIMEOUT_ID = TIMEOUT_DIV[15:0];
    localparam [31:0] WDEPTH32 = WDEPTH, XDEPTH32 = XDEPTH, RDEPTH32 = RDEPTH;

    reg [7:0]     status_q;
    reg [BLW-1:0] blen_q, blen_d;
    reg [1:0]     src_q, src_d;
    reg [1:0]     ph_q, ph_d;     // header, body, body CRC
    reg [BLW-1:0] idx_q, idx_d;   // byte within the phase
    reg [15:0]    crc_q, crc_d;
    reg           tx_v;           // a word goes out (its first byte valid)
    // bytes of this cycle's word: one, or a READ body's min(PB, FIFO, left)
    localparam integer PB_I = PB;
    wire [BLW-1:0] b_left = blen_q - idx_q;
    reg  [2:0]    m;
    always @* begin
        m = 3'd1;
        if (PB > 1 && ph_q == PH_BODY && src_q == SRC_READ) begin
            m = PB_I[2:0];
            if (fifo_count_i < {2'b00, m})
                m = fifo_count_i[2:0];
            if (b_left < {{(BLW-3){1'b0}}, m})
                m = b_left[2:0];
        end
    end
    // CRC over the word's first 1..PB bytes
    wire [15:0] crc_w [0:PB];
    assign crc_w[0] = crc_q;
    genvar g;
    generate
        for (g = 0; g < PB; g = g + 1) begin : g_crc
            sparq_crc16 u_crc (.crc_i(crc_w[g]), .data_i(tx_data_o[8*g +: 8]), .crc_o(crc_w[g+1]));
            assign tx_valid_o[g] = tx_v && (g < m);
        end
    endgenerate
    wire [15:0] crc_next;
    generate
        if (PB == 1) begin : g_crc1
            assign crc_next = crc_w[1];
        end else begin : g_crcn
            assign crc_next = crc_w[m[$clog2(PB + 1)-1:0]];
        end
    endgenerate
    wire tx_fire = tx_v && tx_ready_i;
    wire [BLW-1:0] idx_inc = idx_q + {{(BLW-1){1'b0}}, 1'b1};
    wire [BLW-1:0] idx_m = idx_q + {{(BLW-3){1'b0}}, m};

    // COUNTERS: busy, MACs and stall-in cannot move while its reply is sent
    // (the engine is idle, rx is not ready), so only total and stall-out are
    // captured when it starts.
    reg [CNT_W-1:0] total_q, stall_in_q, stall_out_q;
    reg [CNT_W-1:0] snap_total_q, snap_sout_q;

    always @* begin
        blen_d = blen_q;
        src_d = src_q;
        ph_d = ph_q;
        idx_d = idx_q;
        crc_d = crc_q;
        if (start_i) begin
            blen_d = {BLW{1'b0}};
            src_d = SRC_NONE;
            if (status_i == ST_OK) begin
                case (op_i)
                    OP_IDENTIFY: begin
                        blen_d = BL_ID;
                        src_d = SRC_ID;
                    end
                    OP_READ: begin
                        blen_d = read_len_i;
                        src_d = SRC_READ;
                    end
                    OP_COUNTERS: begin
                        blen_d = BL_CNT;
                        src_d = SRC_CNT;
                    end
                    default: ;
                endcase
            end
            ph_d = PH_HDR;
            idx_d = {BLW{1'b0}};
            crc_d = CRC16_INIT;
        end else if (active_i && tx_fire) begin
            case (ph_q)
                PH_HDR: begin
                    if (idx_q < BL_8)
                        crc_d = crc_next;
                    if (idx_q == BL_9) begin
                        crc_d = CRC16_INIT;
                        idx_d = {BLW{1'b0}};
                        ph_d = (blen_q == {BLW{1'b0}}) ? PH_CRC : PH_BODY;
                    end else begin
                        idx_d = idx_inc;
                    end
                end
                PH_BODY: begin
                    crc_d = crc_next;
                    if (idx_m == blen_q) begin
                        idx_d = {BLW{1'b0}};
                        ph_d = PH_CRC;
                    end else begin
                        idx_d = idx_m;
                    end
                end
                default:
                    if (idx_q != BL_1)
                        idx_d = idx_inc;
            endcase
        end
    end
    assign done_o = active_i && tx_fire && ph_q != PH_HDR && ph_q != PH_BODY && idx_q == BL_1;
    assign pop_o = (active_i && ph_q == PH_BODY && src_q == SRC_READ && tx_ready_i && fifo_count_i != 5'd0) ? m : 3'd0;

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            total_q <= {CNT_W{1'b0}};
            stall_in_q <= {CNT_W{1'b0}};
            stall_out_q <= {CNT_W{1'b0}};
        end else begin
            if (cnt_clear_i) begin
                total_q <= {CNT_W{1'b0}};
                stall_in_q <= {CNT_W{1'b0}};
                stall_out_q <= {CNT_W{1'b0}};
            end else begin
                total_q <= total_q + {{(CNT_W-1){1'b0}}, 1'b1};
                if (rx_ready_i && !rx_valid_i)
                    stall_in_q <= stall_in_q + {{(CNT_W-1){1'b0}}, 1'b1};
                if (tx_v && !tx_ready_i)
                    stall_out_q <= stall_out_q + {{(CNT_W-1){1'b0}}, 1'b1};
            end
            if (start_i) begin
                status_q <= status_i;
                if (status_i == ST_OK && op_i == OP_COUNTERS) begin
                    snap_total_q <= total_q;
                    snap_sout_q <= stall_out_q;
                end
            end
            blen_q <= blen_d;
            src_q <= src_d;
            ph_q <= ph_d;
            idx_q <= idx_d;
            crc_q <= crc_d;
        end
    end

    // ---- body bytes ---------------------------------------------------------
    localparam [63:0] ZERO64 = 64'd0;
    wire [31:0]  blen32 = {{(32-BLW){1'b0}}, blen_q};
    wire [319:0] cnt_bytes;
    generate
        if (CNT_W < 64) begin : g_cnt_narrow
            assign cnt_bytes = {ZERO64[63:CNT_W], macs_cnt_i, ZERO64[63:CNT_W], snap_sout_q,
                                ZERO64[63:CNT_W], stall_in_q, ZERO64[63:CNT_W], busy_cnt_i,
                                ZERO64[63:CNT_W], snap_total_q};
        end else begin : g_cnt_full
            assign cnt_bytes = {macs_cnt_i, snap_sout_q, stall_in_q, busy_cnt_i, snap_total_q};
        end
    endgenerate
    reg [7:0] id_byte;
    always @* begin
        case (idx_q[5:0])
            6'd0:  id_byte = ID_VER;
            6'd1:  id_byte = 8'd0;
            6'd2:  id_byte = ROWS16[7:0];
            6'd3:  id_byte = ROWS16[15:8];
            6'd4:  id_byte = COLS16[7:0];
            6'd5:  id_byte = COLS16[15:8];
            6'd6:  id_byte = 8'd2;  // banks
            6'd7:  id_byte = 8'd0;
            6'd8:  id_byte = WDEPTH32[7:0];
            6'd9:  id_byte = WDEPTH32[15:8];
            6'd10: id_byte = WDEPTH32[23:16];
            6'd11: id_byte = WDEPTH32[31:24];
            6'd12: id_byte = XDEPTH32[7:0];
            6'd13: id_byte = XDEPTH32[15:8];
            6'd14: id_byte = XDEPTH32[23:16];
            6'd15: id_byte = XDEPTH32[31:24];
            6'd16: id_byte = RDEPTH32[7:0];
            6'd17: id_byte = RDEPTH32[15:8];
            6'd18: id_byte = RDEPTH32[23:16];
            6'd19: id_byte = RDEPTH32[31:24];
            6'd20: id_byte = 8'd7;  // int8, int4, int2
            6'd21: id_byte = 8'd7;  // 4:4, 2:4, 1:4
            6'd22: id_byte = TIMEOUT_ID[7:0];
            6'd23: id_byte = TIMEOUT_ID[15:8];
            6'd24: id_byte = LANES8;  // version >= 2 only (BL_ID ends the body before)
            6'd25: id_byte = 8'd0;
            6'd26: id_byte = XBANKS32[7:0];  // version 3 only
            6'd27: id_byte = XBANKS32[15:8];
            6'd28: id_byte = RBUFS32[7:0];
            6'd29: id_byte = RBUFS32[15:8];
            6'd30: id_byte = WSTORE32[7:0];
            6'd31: id_byte = WSTORE32[15:8];
            6'd32: id_byte = WSTORE32[23:16];
            6'd33: id_byte = WSTORE32[31:24];
            6'd34: id_byte = QDEPTH32[7:0];
            6'd35: id_byte = QDEPTH32[15:8];
            6'd36: id_byte = LUTS32[7:0];
            6'd37: id_byte = LUTS32[15:8];
            6'd38: id_byte = CAPS8;
            6'd39: id_byte = PB8;     // host port bytes per word (0: one)
            default: id_byte = 8'd0;
        endcase
    end

    always @* begin
        tx_v = 1'b0;
        tx_data_o = {(8*PB){1'b0}};
        if (active_i) begin
            case (ph_q)
                PH_HDR: begin
                    tx_v = 1'b1;
                    case (idx_q[3:0])
                        4'd0:    tx_data_o[7:0] = MAGIC_REPLY;
                        4'd1:    tx_data_o[7:0] = status_q;
                        4'd2:    tx_data_o[7:0] = seq_i;
                        4'd3:    tx_data_o[7:0] = op_i;
                        4'd4:    tx_data_o[7:0] = blen32[7:0];
                        4'd5:    tx_data_o[7:0] = blen32[15:8];
                        4'd6:    tx_data_o[7:0] = blen32[23:16];
                        4'd7:    tx_data_o[7:0] = blen32[31:24];
                        4'd8:    tx_data_o[7:0] = crc_q[7:0];
                        default: tx_data_o[7:0] = crc_q[15:8];
                    endcase
                end
                PH_BODY: begin
                    case (src_q)
                        SRC_ID: begin
                            tx_v = 1'b1;
                            tx_data_o[7:0] = id_byte;
                        end
                        SRC_CNT: begin
                            tx_v = 1'b1;
                            tx_data_o[7:0] = cnt_bytes[{idx_q[5:0], 3'b000} +: 8];
                        end
                        default: begin
                            tx_v = fifo_count_i != 5'd0;
                            tx_data_o = fifo_bytes_i;
                        end
                    endcase
                end
                default: begin
                    tx_v = 1'b1;
                    tx_data_o[7:0] = idx_q[0] ? crc_q[15:8] : crc_q[7:0];
                end
            endcase
        end
    end
endmodule
`default_nettype wire
