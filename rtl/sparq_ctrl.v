`default_nettype none
// Command controller: parses the byte-stream protocol of docs/protocol.md
// (header + header CRC, body = arguments then payload, body CRC), checks
// every command (length, arguments, buffer state), streams payloads into the
// engine's memories, launches jobs and sends one reply per command.
// host/src/device/device_model.c is the bit-exact C model of this module.
// This file is the packet parser and the command checks; the sub-units are
// sparq_ctrl_wload (weights), sparq_ctrl_xload (activations), sparq_ctrl_qload
// (requant parameters), sparq_ctrl_reader (READ results) and sparq_ctrl_reply.
//
// Buffers written by a command are invalid from the moment their payload
// starts until the whole packet has arrived with a good CRC, so a bad or
// truncated write can never feed a later COMPUTE.
//
// Protocol version 3 (any of XBANKS != 2, RBUFS != 1, WSTORE, QDEPTH > COLS,
// LUTS): more activation banks, a second result buffer, the weight store
// (STORE_W, COMPUTE_S), a QDEPTH-entry parameter memory (sparq_ctrl_qmem,
// WRITE_Q / READ qaddr) and the epilogue (WRITE_LUT, EPILOGUE). Without
// them the controller is the version 1/2 one, reserved bytes ignored.
//
// PORT_BYTES > 1 (version 3 only): a word-wide host port (sparq_port_rx,
// docs/accelerator.md "Host port"); a WRITE_X payload is taken PORT_BYTES
// bytes a cycle, a READ body leaves as fast; the rest stays a byte a cycle.
module sparq_ctrl #(
    parameter ROWS    = 16,   // array rows; a power of two
    parameter COLS    = 16,   // array columns
    parameter WDEPTH  = 1024, // weight entries per column per bank
    parameter XDEPTH  = 4096, // activation words per row per bank
    parameter RDEPTH  = 256,  // result frames
    parameter TIMEOUT = 4096, // rx idle cycles that end a partial packet; a multiple of 256
    parameter CNT_W   = 64,   // performance counter bits; COUNTERS zero-extends them to 64
    parameter RQ_SERIAL = 0,  // 1: multi-cycle requantizer (sparq_requant_serial, small FPGAs)
    parameter WL_DBUF = 1,    // 1: the weight loader receives block b+1 while emitting block b;
                              // 0: one block buffer (144 fewer flip-flops, rx waits while it emits)
    parameter LANES   = 1,    // MAC lanes per PE (sparq_engine); IDENTIFY reports it
    parameter CHK_REG = 0,    // 1: register the argument/length checks (one more cycle per
                              // command; cuts the longest path for slow FPGAs); 2: also
                              // register their products (two more cycles; the UP5K)
    parameter XBANKS  = 2,    // activation banks
    parameter RBUFS   = 1,    // result buffers (1 or 2)
    parameter WSTORE  = 0,    // weight-store entries per column (0: none)
    parameter QDEPTH  = COLS, // requant parameter entries
    parameter LUTS    = 0,    // epilogue tables (0: no EPILOGUE)
    parameter PORT_BYTES = 1, // host port bytes per word: 1, 2 or 4 (> 1 needs version 3)
    parameter WA = $clog2(WDEPTH),                // derived
    parameter XA = $clog2(XDEPTH),                // derived
    parameter RA = $clog2(RDEPTH),                // derived
    parameter CB = (COLS > 1) ? $clog2(COLS) : 1, // derived
    parameter RB = (ROWS > 1) ? $clog2(ROWS) : 1, // derived
    parameter XBB = (XBANKS > 1) ? $clog2(XBANKS) : 1, // derived
    parameter SA = (WSTORE > 1) ? $clog2(WSTORE) : 1,  // derived
    parameter LB = (LUTS > 1) ? $clog2(LUTS) : 1,      // derived
    parameter EL = (COLS < 16) ? COLS : 16,            // derived
    parameter WL = (LANES == 4) ? 4 : 1                // derived: weight entries per write
) (
    input  wire          clk_i,
    input  wire          rst_ni,
    // host byte stream in (FIFO read side): words, the valid bytes' enables
    input  wire [8*PORT_BYTES-1:0] rx_data_i,
    input  wire [PORT_BYTES-1:0] rx_valid_i,
    output wire          rx_ready_o,
    // host byte stream out (FIFO write side)
    output wire [8*PORT_BYTES-1:0] tx_data_o,
    output wire [PORT_BYTES-1:0] tx_valid_o,
    input  wire          tx_ready_i,
    // engine
    output wire          eng_start_o,
    output reg  [1:0]    eng_job_o,      // 0 COMPUTE, 1 COMPUTE_S, 2 EPILOGUE
    output wire          eng_wbank_o,
    output wire [XBB-1:0] eng_xbank_o,
    output wire          eng_rbuf_o,
    output wire [SA-1:0] eng_saddr_o,
    output wire [7:0]    eng_lut_o,
    output wire          eng_acc_o,
    output reg  [1:0]    eng_width_o,
    output wire [2:0]    eng_kept_o,
    output wire [15:0]   eng_t_o,
    output wire [15:0]   eng_ncols_o,
    output wire [15:0]   eng_kblocks_o,
    output wire [19:0]   eng_xstride_o,  // activation words per frame in the bank
    output wire [19:0]   eng_xoff_o,     // first activation word of each frame
    input  wire          eng_busy_i,
    input  wire [1:0]    eng_job_i,
    input  wire          eng_wbank_i,
    input  wire [XBB-1:0] eng_xbank_i,
    input  wire          eng_rbuf_i,
    output wire [WL-1:0] w_we_o,         // entry w_addr_o + j in lane j (WL: 1, or 4 with LANES = 4)
    output wire          w_st_o,
    output wire [CB-1:0] w_col_o,
    output wire [WA:0]   w_addr_o,
    output wire [SA-1:0] w_saddr_o,
    output wire [10*WL-1:0] w_data_o,
    output wire          x_we_o,
    output wire [RB-1:0] x_row_o,
    output wire [XBB+XA-1:0] x_addr_o,
    output wire [31:0]   x_data_o,
    output wire          r_buf_o,
    output wire [RA-1:0] r_addr_o,
    output wire [CB-1:0] r_col_o,
    output wire          r_re_o,         // the result at r_addr_o is read this cycle
    input  wire [31:0]   r_data_i,
    input  wire [32*COLS-1:0] r_all_i,   // every column's result at r_addr_o (PORT_BYTES > 1)
    input  wire          qb_re_i,        // the epilogue reads its parameters
    output wire [EL*69-1:0] qb_data_o,
    output wire          lut_we_o,
    output wire [LB+7:0] lut_waddr_o,
    output wire [7:0]    lut_wdata_o,
    output wire          cnt_clear_o,
    input  wire [CNT_W-1:0] busy_cnt_i,
    input  wire [CNT_W-1:0] macs_cnt_i
);
    // Widths of the controller's own counters and of the products in the
    // length checks, from the depths (a field beyond its range is an ARG
    // error before any product needs its high bits).
    localparam TW  = RA + 1;                   // frames, t <= RDEPTH
    localparam NW  = CB + 1;                   // columns, ncols <= COLS
    localparam integer BLMAX = (RDEPTH * COLS * 4 > 42) ? RDEPTH * COLS * 4 : 42;
    localparam V3 = (XBANKS != 2 || RBUFS != 1 || WSTORE != 0 || QDEPTH > COLS || LUTS != 0) ? 1 : 0;
    localparam QA = V3 ? $clog2(QDEPTH) : CB;  // parameter entry index bits
    localparam HAS_S = (WSTORE > 0) ? 1 : 0, HAS_E = (LUTS > 0) ? 1 : 0, RB2 = (RBUFS > 1) ? 1 : 0;
    localparam LV = 1 << LB;                    // table valid flags (LUTS rounded up)
    localparam [1:0] JOB_BANK = 2'd0, JOB_STORE = 2'd1, JOB_EPI = 2'd2;
    localparam BLW = $clog2(BLMAX + 1);        // reply body bytes, index within a reply
    localparam TMW = $clog2(TIMEOUT);          // rx idle counter
    localparam PWW = NW + WA - 1 + 5;          // WRITE_W payload bytes
    localparam PWX = TW + XA - 1 + 4;          // WRITE_X payload bytes

    generate
        if (TIMEOUT < 256 || (TIMEOUT % 256) != 0 || TIMEOUT > 65535 * 256 || COLS > 65535 ||
            RDEPTH > 32768 || CNT_W < 32 || CNT_W > 64 || PWW > 31 || PWX > 31 || BLW > 31 ||
            RQ_SERIAL < 0 || RQ_SERIAL > 1 || WL_DBUF < 0 || WL_DBUF > 1 || CHK_REG < 0 || CHK_REG > 2 ||
            QDEPTH < COLS || QDEPTH > 32768 || (V3 != 0 && (QDEPTH < 32 || (QDEPTH & (QDEPTH - 1)) != 0)) ||
            !(PORT_BYTES == 1 || PORT_BYTES == 2 || PORT_BYTES == 4) ||
            (PORT_BYTES > 1 && (V3 == 0 || RQ_SERIAL != 0)) || (LANES == 0 && PORT_BYTES > 2)) begin : g_bad_params
            // version 3: QDEPTH a power of two >= 32 (sparq_ctrl_qmem's 16 banks); bit-serial
            // (LANES = 0) row memories take a 32-bit word in two halves, two cycles apart
            sparq_ctrl_illegal_parameters u_stop ();
        end
    endgenerate

    `include "rtl/sparq_protocol.vh"
    localparam integer TIMEOUT_M1 = TIMEOUT - 1;
    localparam [TMW-1:0] TIMEOUT_LAST = TIMEOUT_M1[TMW-1:0];

    localparam [2:0] S_HDR = 3'd0, S_DECODE = 3'd1, S_BODY = 3'd2, S_CHECK = 3'd3, S_CRC = 3'd4,
                     S_EXEC = 3'd5, S_REPLY = 3'd6;

    // ---- parser state ------------------------------------------------------
    reg [2:0]  st_q, st_d;
    reg [7:0]  hdr_q [0:9];
    reg [3:0]  hcnt_q, hcnt_d;
    reg [15:0] rcrc_q, rcrc_d;
    reg [31:0] got_q, got_d;     // body bytes received
    reg [7:0]  args_q [0:15];
    reg [7:0]  err_q, err_d;     // status decided before the body ended
    reg        started_q, started_d; // the payload goes to its buffer
    reg [7:0]  crc_lo_q;
    reg        ccnt_q, ccnt_d;
    reg [15:0] crc_rx_q;
    reg [TMW-1:0] tmo_q, tmo_d;
    reg        hdr_we, hdr_clr, arg_we, crc_lo_we, crc_rx_we, hdr_bad;

    wire [7:0]  op = hdr_q[1];
    wire [31:0] len = {hdr_q[7], hdr_q[6], hdr_q[5], hdr_q[4]};
    // the parser's side of the host port: one byte (b_data), or PORT_BYTES
    // (b_bytes) in a WRITE_X payload (wide)
    localparam PB = PORT_BYTES;
    localparam integer PB_I = PORT_BYTES;
    reg         b_ready;
    wire        b_valid, port_in, wide;
    wire [8*PB-1:0] b_bytes;
    wire [7:0]  b_data = b_bytes[7:0];
    wire        rx_fire = b_valid && b_ready;
    // len - 1, registered (len is complete long before the body): the body's
    // last byte is an equality test, not a 32-bit carry chain into the state
    reg  [31:0] len_m1, len_mpb;
    always @(posedge clk_i) begin
        len_m1 <= len - 32'd1;
        len_mpb <= len - PB_I;
    end

    // argument fields
    wire [15:0] a16_2  = {args_q[3], args_q[2]};
    wire [15:0] a16_4  = {args_q[5], args_q[4]};
    wire [15:0] a16_6  = {args_q[7], args_q[6]};
    wire [15:0] a16_8  = {args_q[9], args_q[8]};
    wire [15:0] a16_10 = {args_q[11], args_q[10]};
    /* verilator lint_off UNUSEDSIGNAL */
    wire [15:0] a16_0  = {args_q[1], args_q[0]}; // only its checked low bits are kept
    /* verilator lint_on UNUSEDSIGNAL */
    wire [15:0] a16_12 = {args_q[13], args_q[12]};
    wire [15:0] a16_14 = {args_q[15], args_q[14]};
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] a32_0 = {args_q[3], args_q[2], args_q[1], args_q[0]};   // COMPUTE_S addr
    wire [31:0] a32_8 = {args_q[11], args_q[10], args_q[9], args_q[8]}; // STORE_W addr
    /* verilator lint_on UNUSEDSIGNAL */

    // Argument size and "known" of the opcode, registered: the opcode
    // arrives at least 8 cycles before S_DECODE reads them, and the decode is
    // then off the path from the header to rx_ready and the argument enables.
    reg  [4:0] argsize_c, argsize;
    reg        known_c, known;
    always @* begin
        known_c = 1'b1;
        case (op)
            OP_IDENTIFY, OP_RESET, OP_COUNTERS: argsize_c = 5'd0;
            OP_WRITE_W, OP_WRITE_X, OP_READ:    argsize_c = 5'd8;
            OP_WRITE_Q, OP_WRITE_LUT:           argsize_c = 5'd4;
            OP_COMPUTE, OP_EPILOGUE:            argsize_c = 5'd14;
            OP_STORE_W:                         argsize_c = 5'd12;
            OP_COMPUTE_S:                       argsize_c = 5'd16;
            default: begin
                argsize_c = 5'd0;
                known_c = 1'b0;
            end
        endcase
    end
    always @(posedge clk_i) begin
        argsize <= argsize_c;
        known <= known_c;
    end


    // ---- argument and length checks (S_CHECK) -------------------------------
    // With CHK_REG the checks are registered on the first S_CHECK cycle and
    // used from the second (args and len do not change in S_CHECK); with
    // CHK_REG 2 the products on the first, the checks on the second, used
    // from the third.
    wire [7:0] chk_err_c;
    wire [4:0] wblk_bytes, wval_bytes;
    wire [127:0] args_flat;
    genvar ga;
    generate
        for (ga = 0; ga < 16; ga = ga + 1) begin : g_args
            assign args_flat[8*ga +: 8] = args_q[ga];
        end
    endgenerate
    sparq_ctrl_check #(.ROWS(ROWS), .COLS(COLS), .WDEPTH(WDEPTH), .XDEPTH(XDEPTH), .RDEPTH(RDEPTH),
                       .XBANKS(XBANKS), .RBUFS(RBUFS), .WSTORE(WSTORE), .QDEPTH(QDEPTH), .LUTS(LUTS),
                       .V3(V3), .REG((CHK_REG == 2) ? 1 : 0)) u_check (
        .clk_i(clk_i), .op_i(op), .len_i(len), .argsize_i(argsize), .args_i(args_flat), .err_o(chk_err_c),
        .wblk_bytes_o(wblk_bytes), .wval_bytes_o(wval_bytes)
    );
    reg  [7:0] chk_err_q;
    reg        chk_rdy_q, chk_rdy1_q;
    wire [7:0] chk_err = (CHK_REG != 0) ? chk_err_q : chk_err_c;
    wire       chk_go = (CHK_REG == 0) || chk_rdy_q;
    always @(posedge clk_i) chk_err_q <= chk_err_c;

    // ---- buffer state flags --------------------------------------------------
    reg        wv_q [0:1];
    reg [7:0]  w_width_q [0:1], w_kept_q [0:1];
    // shapes of valid buffers, stored in the bits their checked ranges need
    reg [NW-1:0] w_ncols_q [0:1];
    reg [WA-2:0] w_kb_q [0:1];     // kblocks <= WDEPTH/4
    reg        xv_q [0:XBANKS-1];
    reg [TW-1:0] x_t_q [0:XBANKS-1];
    reg [XA-2:0] x_kb_q [0:XBANKS-1];   // kblocks <= XDEPTH/4
    reg        x_ep_q [0:XBANKS-1];     // being built by EPILOGUEs (not by a WRITE_X)
    reg [XA-2:0] x_next_q [0:XBANKS-1]; // ... its next block
    reg        r_valid_q [0:RBUFS-1];
    reg [TW-1:0] r_t_q [0:RBUFS-1];
    reg [NW-1:0] r_ncols_q [0:RBUFS-1];
    reg        q_valid_q;
    reg [NW-1:0] q_ncols_q;
    reg        s_valid_q;               // the weight store holds what the last STORE_Ws wrote
    reg [LV-1:0] lut_v_q;               // table loaded

    // ---- body byte classification ---------------------------------------------
    // in_args: got_q < argsize, kept as a flag (got_q starts at 0 in S_DECODE
    // and counts up by one), so the received count is no path to rx_ready
    reg  in_args;
    wire body_pay   = (st_q == S_BODY) && !in_args && (err_q == ST_OK) && started_q;
    wire pay_fire   = rx_fire && body_pay;
    wire last_arg   = in_args && (got_q[4:0] + 5'd1 == argsize);
    always @(posedge clk_i)
        if (st_q == S_DECODE)
            in_args <= (argsize != 5'd0);
        else if (st_q == S_BODY && rx_fire)
            in_args <= in_args && !last_arg;

    // ---- sub-units --------------------------------------------------------------
    wire wl_idle, wl_block, pos_err, q_err, wl_start;
    // STORE_W: width, kept, ncols, kblocks in bytes 0, 1, 2-3, 4-5 (WRITE_W: 1, 2, 4-5, 6-7)
    wire is_sw = (HAS_S != 0) && (op == OP_STORE_W);
    wire is_w = (op == OP_WRITE_W) || is_sw;
    sparq_ctrl_wload #(.COLS(COLS), .WDEPTH(WDEPTH), .WL_DBUF(WL_DBUF), .WSTORE(WSTORE), .LANES(WL)) u_wload (
        .clk_i(clk_i), .rst_ni(rst_ni), .start_i(wl_start), .bank_i(args_q[0][0]),
        .store_i(is_sw), .saddr_i(a32_8[SA-1:0]),
        .width_i(is_sw ? args_q[0] : args_q[1]), .kept_i(is_sw ? args_q[1] : args_q[2]),
        .blk_bytes_i(wblk_bytes), .val_bytes_i(wval_bytes),
        .kb_last_i((is_sw ? a16_4 : a16_6) - 16'd1), .byte_i(pay_fire && is_w), .data_i(b_data),
        .idle_o(wl_idle), .block_o(wl_block), .pos_err_o(pos_err),
        .w_we_o(w_we_o), .w_st_o(w_st_o), .w_col_o(w_col_o), .w_addr_o(w_addr_o), .w_saddr_o(w_saddr_o),
        .w_data_o(w_data_o)
    );
    // activation words per frame - 1 (kblocks*4 <= XDEPTH once WRITE_X passed its checks)
    wire [XA:0] xl_words_m1 = {a16_4[XA-2:0], 2'b00} - {{XA{1'b0}}, 1'b1};
    sparq_ctrl_xload #(.ROWS(ROWS), .PB(PB), .XDEPTH(XDEPTH), .XBANKS(XBANKS)) u_xload (
        .clk_i(clk_i), .rst_ni(rst_ni), .start_i(st_q == S_CHECK && op == OP_WRITE_X),
        .bank_i(args_q[0][XBB-1:0]), .words_m1_i(xl_words_m1), .byte_i(pay_fire && op == OP_WRITE_X),
        .data_i(b_bytes), .x_we_o(x_we_o), .x_row_o(x_row_o), .x_addr_o(x_addr_o), .x_data_o(x_data_o)
    );
    // requant parameters: COLS registers (v1/v2) or the QDEPTH-entry memory (v3)
    wire [QA-1:0] q_idx;   // entry the read streamer asks for (data the next cycle)
    wire          q_re;       // a READ result is read (the v1/v2 registers need no read enable)
    /* verilator lint_off UNUSEDSIGNAL */
    reg  [QA-1:0] ep_qaddr_q; // first parameter entry of the running epilogue
    /* verilator lint_on UNUSEDSIGNAL */
    assign r_re_o = q_re;
    wire [32*PB-1:0] q_bias;   // entries q_idx + j, j < PB
    wire [31*PB-1:0] q_mult;
    wire [6*PB-1:0]  q_shift;
    generate
        if (V3 != 0) begin : g_qmem
            sparq_ctrl_qmem #(.QDEPTH(QDEPTH), .EL(EL), .AP(PB)) u_qmem (
                .clk_i(clk_i), .rst_ni(rst_ni), .start_i(st_q == S_CHECK && op == OP_WRITE_Q),
                .qaddr_i(a16_2[QA-1:0]), .byte_i(pay_fire && op == OP_WRITE_Q), .data_i(b_data),
                .err_o(q_err), .a_re_i(q_re), .a_addr_i(q_idx), .a_bias_o(q_bias), .a_mult_o(q_mult),
                .a_shift_o(q_shift), .b_re_i(qb_re_i), .b_base_i(ep_qaddr_q), .b_data_o(qb_data_o)
            );
            always @(posedge clk_i)
                if (eng_start_o)
                    ep_qaddr_q <= a16_8[QA-1:0];
        end else begin : g_qload
            reg [CB-1:0] q_col_q;
            always @(posedge clk_i)
                q_col_q <= q_idx[CB-1:0];
            sparq_ctrl_qload #(.COLS(COLS)) u_qload (
                .clk_i(clk_i), .rst_ni(rst_ni), .start_i(st_q == S_CHECK && op == OP_WRITE_Q),
                .byte_i(pay_fire && op == OP_WRITE_Q), .data_i(b_data), .err_o(q_err),
                .col_i(q_col_q), .bias_o(q_bias), .mult_o(q_mult), .shift_o(q_shift)
            );
            assign qb_data_o = {(EL*69){1'b0}};
            always @(posedge clk_i)
                ep_qaddr_q <= {QA{1'b0}};
        end
    endgenerate
    // WRITE_LUT: payload byte i is entry i of the table
    reg [7:0] lut_i_q;
    always @(posedge clk_i)
        if (st_q == S_CHECK)
            lut_i_q <= 8'd0;
        else if (pay_fire)
            lut_i_q <= lut_i_q + 8'd1;
    assign lut_we_o = (HAS_E != 0) && pay_fire && op == OP_WRITE_LUT;
    assign lut_waddr_o = {args_q[0][LB-1:0], lut_i_q};
    assign lut_wdata_o = b_data;

    // ---- exec: status of a complete packet --------------------------------------
    wire crc_ok = (crc_rx_q == rcrc_q);
    // COMPUTE and COMPUTE_S: the same fields at other offsets
    wire is_cs = (HAS_S != 0) && (op == OP_COMPUTE_S);
    wire is_ep = (HAS_E != 0) && (op == OP_EPILOGUE);
    /* verilator lint_off UNUSEDSIGNAL */
    wire [7:0]  c_flags = is_cs ? args_q[5] : args_q[2];  // bit 0 accumulate, bit 1 result buffer
    /* verilator lint_on UNUSEDSIGNAL */
    wire [7:0]  c_width = is_cs ? args_q[6] : args_q[3];
    wire [7:0]  c_kept  = is_cs ? args_q[7] : args_q[4];
    wire [15:0] c_t     = is_cs ? a16_8 : a16_6;
    wire [15:0] c_ncols = is_cs ? a16_10 : a16_8;
    wire [15:0] c_kb    = is_cs ? a16_12 : a16_10;
    wire [15:0] c_xoff  = is_cs ? a16_14 : a16_12;
    wire c_wb = args_q[0][0], c_acc = c_flags[0];
    wire [XBB-1:0] c_xb = is_cs ? args_q[4][XBB-1:0] : args_q[1][XBB-1:0];
    wire c_rb = (RB2 != 0) && c_flags[1];
    wire [15:0] w_ncols_c = {{(16-NW){1'b0}}, w_ncols_q[c_wb]};
    wire [15:0] w_kb_c    = {{(17-WA){1'b0}}, w_kb_q[c_wb]};
    wire [15:0] x_t_c     = {{(16-TW){1'b0}}, x_t_q[c_xb]};
    wire [15:0] x_kb_c    = {{(17-XA){1'b0}}, x_kb_q[c_xb]};
    wire [15:0] r_t16     = {{(16-TW){1'b0}}, r_t_q[c_rb]};
    wire [15:0] r_ncols16 = {{(16-NW){1'b0}}, r_ncols_q[c_rb]};
    wire compute_state_ok =
        (is_cs ? s_valid_q :
                 (wv_q[c_wb] && w_width_q[c_wb] == c_width && w_kept_q[c_wb] == c_kept &&
                  w_ncols_c == c_ncols && w_kb_c == c_kb)) &&
        xv_q[c_xb] && x_t_c == c_t && c_kb[15:XA-1] == {(17-XA){1'b0}} && c_xoff[15:XA-1] == {(17-XA){1'b0}} &&
        {1'b0, x_kb_q[c_xb]} >= {1'b0, c_kb[XA-2:0]} + {1'b0, c_xoff[XA-2:0]} &&
        (!c_acc || (r_valid_q[c_rb] && r_t16 == c_t && r_ncols16 == c_ncols));
    // READ (v3: result buffer in byte 1, parameter entry of column 0 in bytes 6-7)
    wire rd_rb = (V3 != 0) && (RB2 != 0) && args_q[1][0];
    wire read_nc_ok = a16_4[15:NW] == {(16-NW){1'b0}};
    wire read_state_ok = r_valid_q[rd_rb] && a16_2[15:TW] == {(16-TW){1'b0}} && a16_2[TW-1:0] <= r_t_q[rd_rb] &&
                         read_nc_ok && a16_4[NW-1:0] <= r_ncols_q[rd_rb] &&
                         (!args_q[0][0] || (q_valid_q && (V3 != 0 || a16_4[NW-1:0] <= q_ncols_q)));
    // EPILOGUE: rbuf, dst, lut, -, t, ncols, qaddr, dblock, dkblocks (all range-checked)
    wire ep_rb = (RB2 != 0) && args_q[0][0];
    wire [XBB-1:0] ep_dst = args_q[1][XBB-1:0];
    wire [7:0] ep_lut = args_q[2];
    wire ep_lut_ok = (ep_lut == LUT_NONE) || lut_v_q[ep_lut[LB-1:0]];  // ep_lut < LUTS (checked)
    wire epi_state_ok =
        r_valid_q[ep_rb] && {{(16-TW){1'b0}}, r_t_q[ep_rb]} == a16_4 &&
        {{(16-NW){1'b0}}, r_ncols_q[ep_rb]} >= a16_6 && q_valid_q && ep_lut_ok &&
        (a16_10 == 16'd0 ||
         (x_ep_q[ep_dst] && {{(17-XA){1'b0}}, x_next_q[ep_dst]} == a16_10 &&
          {{(16-TW){1'b0}}, x_t_q[ep_dst]} == a16_4 && {{(17-XA){1'b0}}, x_kb_q[ep_dst]} == a16_12));
    wire read_wait = eng_busy_i && (RB2 == 0 || eng_rbuf_i == rd_rb);
    wire needs_idle = (op == OP_RESET || op == OP_COMPUTE || op == OP_COUNTERS || is_cs || is_ep);
    reg  [7:0] ex_status_c;
    always @* begin
        if (!crc_ok)
            ex_status_c = ST_CRC;
        else if (err_q != ST_OK)
            ex_status_c = err_q;
        else if (in_args)
            ex_status_c = ST_LENGTH;
        else begin
            case (op)
                OP_WRITE_W, OP_STORE_W: ex_status_c = pos_err ? ST_POSITIONS : ST_OK;
                OP_WRITE_Q: ex_status_c = q_err ? ST_ARG : ST_OK;
                OP_COMPUTE: ex_status_c = compute_state_ok ? ST_OK : ST_STATE;
                OP_READ:    ex_status_c = read_state_ok ? ST_OK : ST_STATE;
                // (a device without the feature answered ARG already; the constant
                // lets synthesis drop the unused state of a v1/v2 build)
                OP_COMPUTE_S: ex_status_c = (HAS_S != 0 && compute_state_ok) ? ST_OK : ST_STATE;
                OP_EPILOGUE: ex_status_c = (HAS_E != 0 && epi_state_ok) ? ST_OK : ST_STATE;
                default:    ex_status_c = ST_OK;
            endcase
        end
    end
    // CHK_REG 2: the status is registered on the first S_EXEC cycle (the
    // loader idle, so POSITIONS is final) and acted on from the second: the
    // state checks' comparisons are then no path into the engine's start.
    reg  [7:0] ex_status_q;
    reg        ex_rdy_q;
    always @(posedge clk_i)
        ex_status_q <= ex_status_c;
    wire [7:0] ex_status = (CHK_REG == 2) ? ex_status_q : ex_status_c;
    wire ex_ok = (ex_status == ST_OK);
    // READ: t x ncols results (both range-checked, so the product fits BLW bits)
    wire [BLW-1:0] rd_n = {{(BLW-TW){1'b0}}, a16_2[TW-1:0]} * {{(BLW-NW){1'b0}}, a16_4[NW-1:0]};
    wire ex_go = (st_q == S_EXEC) && (CHK_REG != 2 || ex_rdy_q) && !(is_w && !wl_idle) &&
                 !(ex_ok && ((needs_idle && eng_busy_i) || (op == OP_READ && read_wait)));

    assign eng_start_o   = ex_go && ex_ok && (op == OP_COMPUTE || is_cs || is_ep);
    always @* begin
        if (is_ep)
            eng_job_o = JOB_EPI;
        else if (is_cs)
            eng_job_o = JOB_STORE;
        else
            eng_job_o = JOB_BANK;
    end
    assign eng_wbank_o   = c_wb;
    assign eng_xbank_o   = is_ep ? ep_dst : c_xb;
    assign eng_rbuf_o    = is_ep ? ep_rb : c_rb;
    assign eng_saddr_o   = a32_0[SA-1:0];
    assign eng_lut_o     = ep_lut;
    assign eng_acc_o     = c_acc;
    assign eng_kept_o    = c_kept[2:0];
    assign eng_t_o       = is_ep ? a16_4 : c_t;
    assign eng_ncols_o   = is_ep ? a16_6 : c_ncols;
    assign eng_kblocks_o = c_kb;
    // epilogue: the destination's words per frame and its block's first word
    assign eng_xstride_o = is_ep ? {2'b00, a16_12, 2'b00} : {2'b00, x_kb_c, 2'b00};
    assign eng_xoff_o    = is_ep ? {2'b00, a16_10, 2'b00} : {2'b00, c_xoff, 2'b00};
    assign cnt_clear_o   = ex_go && ex_ok && op == OP_RESET;
    always @* begin
        case (c_width)
            8'd4:    eng_width_o = 2'd1;
            8'd2:    eng_width_o = 2'd2;
            default: eng_width_o = 2'd0;
        endcase
    end

    // S_CHECK may start a write now? (the engine must not be reading the bank;
    // an epilogue also holds the activation write port, the tables and the
    // parameter memory)
    wire ep_run = (HAS_E != 0) && eng_busy_i && eng_job_i == JOB_EPI;
    wire chk_wait = (chk_err == ST_OK) &&
                    ((op == OP_WRITE_W && ((eng_busy_i && eng_wbank_i == args_q[0][0]) || !wl_idle)) ||
                     (op == OP_WRITE_X && ((eng_busy_i && eng_xbank_i == args_q[0][XBB-1:0]) || ep_run)) ||
                     (is_sw && ((eng_busy_i && eng_job_i == JOB_STORE) || !wl_idle)) ||
                     ((op == OP_WRITE_Q || op == OP_WRITE_LUT) && ep_run));

    // ---- rx ready -------------------------------------------------------------
    always @* begin
        case (st_q)
            S_HDR, S_CRC: b_ready = 1'b1;
            S_BODY:       b_ready = !(body_pay && is_w && wl_block);
            default:      b_ready = 1'b0;
        endcase
    end
    wire in_packet = (st_q == S_HDR && hcnt_q != 4'd0) || st_q == S_BODY || st_q == S_CRC;
    // (a word arriving restarts the count: with PORT_BYTES > 1 the parser may
    // wait for the rest of a group)
    wire timeout = in_packet && b_ready && !b_valid && !port_in && (tmo_q == TIMEOUT_LAST);
    assign wide = (PB > 1) && body_pay && op == OP_WRITE_X;
    sparq_port_rx #(.PB(PB)) u_port_rx (
        .clk_i(clk_i), .rst_ni(rst_ni), .data_i(rx_data_i), .be_i(rx_valid_i), .ready_o(rx_ready_o),
        .flush_i(timeout), .wide_i(wide), .take_i(b_ready), .bytes_o(b_bytes), .valid_o(b_valid), .in_o(port_in)
    );

    // ---- read streamer and reply ----------------------------------------------
    wire       reply_done;
    wire [2:0] pop;
    wire [8*PB-1:0] fifo_bytes;
    wire [4:0] fifo_count;
    sparq_ctrl_reader #(.PB(PB), .COLS(COLS), .RDEPTH(RDEPTH), .RQ_SERIAL(RQ_SERIAL), .BLW(BLW), .QA(QA)) u_reader (
        .clk_i(clk_i), .rst_ni(rst_ni), .start_i(ex_go && ex_ok && op == OP_READ), .n_i(rd_n),
        .ncols_i(a16_4[NW-1:0]), .mode_i(args_q[0][0]), .rbuf_i(rd_rb),
        .qaddr_i((V3 != 0) ? a16_6[QA-1:0] : {QA{1'b0}}), .hold_i((V3 != 0) && qb_re_i),
        .r_addr_o(r_addr_o), .r_col_o(r_col_o), .r_buf_o(r_buf_o),
        .r_data_i(r_data_i), .r_all_i(r_all_i), .q_idx_o(q_idx), .q_re_o(q_re), .q_bias_i(q_bias), .q_mult_i(q_mult), .q_shift_i(q_shift),
        .bytes_o(fifo_bytes), .count_o(fifo_count), .pop_i(pop)
    );
    wire       reply_start = timeout || hdr_bad || ex_go;
    wire [7:0] reply_status = timeout ? ST_TRUNCATED : (hdr_bad ? ST_HEADER : ex_status);
    sparq_ctrl_reply #(.PB(PB), .ROWS(ROWS), .COLS(COLS), .WDEPTH(WDEPTH), .XDEPTH(XDEPTH), .RDEPTH(RDEPTH),
                       .TIMEOUT(TIMEOUT), .CNT_W(CNT_W), .LANES(LANES), .XBANKS(XBANKS), .RBUFS(RBUFS),
                       .WSTORE(WSTORE), .QDEPTH(QDEPTH), .LUTS(LUTS), .V3(V3), .BLW(BLW)) u_reply (
        .clk_i(clk_i), .rst_ni(rst_ni), .start_i(reply_start), .status_i(reply_status),
        .op_i(hdr_q[1]), .seq_i(hdr_q[2]), .read_len_i(rd_n << (args_q[0][0] ? 0 : 2)),
        .active_i(st_q == S_REPLY), .done_o(reply_done),
        .tx_data_o(tx_data_o), .tx_valid_o(tx_valid_o), .tx_ready_i(tx_ready_i),
        .fifo_bytes_i(fifo_bytes), .fifo_count_i(fifo_count), .pop_o(pop),
        .cnt_clear_i(cnt_clear_o), .rx_ready_i(rx_ready_o), .rx_valid_i(rx_valid_i[0]),
        .busy_cnt_i(busy_cnt_i), .macs_cnt_i(macs_cnt_i)
    );

    // ---- packet parser ------------------------------------------------------------
    // body CRC over one byte (rcrc_w[1]) or a wide group (rcrc_w[PB])
    wire [15:0] rcrc_w [0:PB];
    assign rcrc_w[0] = rcrc_q;
    genvar gc;
    generate
        for (gc = 0; gc < PB; gc = gc + 1) begin : g_rcrc
            sparq_crc16 u_rcrc (.crc_i(rcrc_w[gc]), .data_i(b_bytes[8*gc +: 8]), .crc_o(rcrc_w[gc+1]));
        end
    endgenerate
    wire [15:0] rcrc_next = rcrc_w[1];
    wire chk_pass = (st_q == S_CHECK) && chk_go && chk_err == ST_OK && !chk_wait; // the payload may start
    assign wl_start = chk_pass && is_w;
    always @* begin
        st_d = st_q;
        hcnt_d = hcnt_q;
        rcrc_d = rcrc_q;
        got_d = got_q;
        err_d = err_q;
        started_d = started_q;
        ccnt_d = ccnt_q;
        hdr_we = 1'b0;
        hdr_clr = 1'b0;
        hdr_bad = 1'b0;
        arg_we = 1'b0;
        crc_lo_we = 1'b0;
        crc_rx_we = 1'b0;
        tmo_d = (!in_packet || b_valid || port_in || !b_ready) ? {TMW{1'b0}} : tmo_q + {{(TMW-1){1'b0}}, 1'b1};
        if (timeout) begin
            st_d = S_REPLY;
        end else begin
            case (st_q)
                S_HDR: if (rx_fire && (hcnt_q != 4'd0 || b_data == MAGIC_CMD)) begin
                    // rcrc_q is CRC16_INIT whenever a header starts. A truncated
                    // header's reply echoes opcode and sequence number as 0
                    // unless they arrived (bytes 1, 2); the other header bytes
                    // are only read once all 10 are in.
                    hdr_clr = (hcnt_q == 4'd0);
                    hdr_we = 1'b1;
                    if (hcnt_q < 4'd8)
                        rcrc_d = rcrc_next;
                    if (hcnt_q == 4'd9) begin
                        hdr_bad = ({b_data, hdr_q[8]} != rcrc_q);
                        st_d = hdr_bad ? S_REPLY : S_DECODE;
                    end else begin
                        hcnt_d = hcnt_q + 4'd1;
                    end
                end
                S_DECODE: begin
                    rcrc_d = CRC16_INIT;
                    got_d = 32'd0;
                    ccnt_d = 1'b0;
                    started_d = 1'b0;
                    err_d = known ? ST_OK : ST_OPCODE;
                    if (known && argsize == 5'd0)
                        st_d = S_CHECK;
                    else
                        st_d = (len == 32'd0) ? S_CRC : S_BODY;
                end
                S_BODY: if (rx_fire) begin
                    rcrc_d = wide ? rcrc_w[PB] : rcrc_next;
                    got_d = got_q + (wide ? PB_I : 32'd1);
                    arg_we = (err_q == ST_OK && in_args);
                    if (arg_we && last_arg)
                        st_d = S_CHECK;
                    else if (wide ? (got_q == len_mpb) : (got_q == len_m1))
                        st_d = S_CRC;
                end
                S_CHECK: if (chk_go) begin
                    if (chk_err != ST_OK) begin
                        err_d = chk_err;
                        st_d = (got_q == len) ? S_CRC : S_BODY;
                    end else if (!chk_wait) begin
                        started_d = 1'b1;
                        st_d = (got_q == len) ? S_CRC : S_BODY;
                    end
                end
                S_CRC: if (rx_fire) begin
                    ccnt_d = 1'b1;
                    crc_lo_we = !ccnt_q;
                    crc_rx_we = ccnt_q;
                    if (ccnt_q)
                        st_d = S_EXEC;
                end
                S_EXEC: if (ex_go) st_d = S_REPLY;
                S_REPLY: if (reply_done) begin
                    st_d = S_HDR;
                    rcrc_d = CRC16_INIT;
                    hcnt_d = 4'd0;
                    started_d = 1'b0;
                end
                default: st_d = S_HDR;
            endcase
        end
        if (timeout || (st_q == S_HDR && rx_fire && hcnt_q == 4'd9))
            hcnt_d = 4'd0;
    end

    integer i;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            st_q <= S_HDR;
            hcnt_q <= 4'd0;
            rcrc_q <= CRC16_INIT;
            started_q <= 1'b0;
            chk_rdy_q <= 1'b0;
            chk_rdy1_q <= 1'b0;
            ex_rdy_q <= 1'b0;
            tmo_q <= {TMW{1'b0}};
            for (i = 0; i < 2; i = i + 1)
                wv_q[i] <= 1'b0;
            for (i = 0; i < XBANKS; i = i + 1) begin
                xv_q[i] <= 1'b0;
                x_ep_q[i] <= 1'b0;
            end
            for (i = 0; i < RBUFS; i = i + 1)
                r_valid_q[i] <= 1'b0;
            q_valid_q <= 1'b0;
            s_valid_q <= 1'b0;
            lut_v_q <= {LV{1'b0}};
        end else begin
            st_q <= st_d;
            hcnt_q <= hcnt_d;
            rcrc_q <= rcrc_d;
            got_q <= got_d;
            err_q <= err_d;
            started_q <= started_d;
            ccnt_q <= ccnt_d;
            tmo_q <= tmo_d;
            ex_rdy_q <= (st_q == S_EXEC) && !(is_w && !wl_idle) && !ex_go;
            chk_rdy1_q <= (st_q == S_CHECK) && !(chk_go && (chk_err != ST_OK || !chk_wait));
            chk_rdy_q <= (CHK_REG != 2 || chk_rdy1_q) && (st_q == S_CHECK) &&
                         !(chk_go && (chk_err != ST_OK || !chk_wait));
            if (hdr_clr)
                for (i = 1; i < 3; i = i + 1)
                    hdr_q[i] <= 8'd0;
            if (hdr_we)
                hdr_q[hcnt_q] <= b_data;
            if (arg_we)
                args_q[got_q[3:0]] <= b_data;
            if (crc_lo_we)
                crc_lo_q <= b_data;
            if (crc_rx_we)
                crc_rx_q <= {b_data, crc_lo_q};

            // buffer state: a write's buffer is invalid from the start of its
            // payload until its packet checked out
            if (chk_pass && op == OP_WRITE_W)
                wv_q[args_q[0][0]] <= 1'b0;
            if (chk_pass && op == OP_WRITE_X) begin
                xv_q[args_q[0][XBB-1:0]] <= 1'b0;
                x_ep_q[args_q[0][XBB-1:0]] <= 1'b0;
            end
            if (chk_pass && op == OP_WRITE_Q)
                q_valid_q <= 1'b0;
            // the store also loses its contents with a STORE_W of the wrong length
            if (is_sw && (chk_pass || (st_q == S_CHECK && chk_go && chk_err == ST_LENGTH)))
                s_valid_q <= 1'b0;
            if (HAS_E != 0 && chk_pass && op == OP_WRITE_LUT)
                lut_v_q[args_q[0][LB-1:0]] <= 1'b0;
            if (ex_go && ex_ok) begin
                case (op)
                    OP_RESET: begin
                        for (i = 0; i < 2; i = i + 1)
                            wv_q[i] <= 1'b0;
                        for (i = 0; i < XBANKS; i = i + 1) begin
                            xv_q[i] <= 1'b0;
                            x_ep_q[i] <= 1'b0;
                        end
                        for (i = 0; i < RBUFS; i = i + 1)
                            r_valid_q[i] <= 1'b0;
                        q_valid_q <= 1'b0;
                        s_valid_q <= 1'b0;
                        lut_v_q <= {LV{1'b0}};
                    end
                    OP_STORE_W: s_valid_q <= 1'b1;
                    OP_WRITE_LUT: lut_v_q[args_q[0][LB-1:0]] <= 1'b1;
                    OP_EPILOGUE: if (HAS_E != 0) begin
                        // dblock 0 (re)starts the bank; valid once its last block is in
                        x_ep_q[ep_dst] <= 1'b1;
                        x_t_q[ep_dst] <= a16_4[TW-1:0];
                        x_kb_q[ep_dst] <= a16_12[XA-2:0];
                        x_next_q[ep_dst] <= a16_10[XA-2:0] + {{(XA-2){1'b0}}, 1'b1};
                        xv_q[ep_dst] <= (a16_10[XA-2:0] + {{(XA-2){1'b0}}, 1'b1} == a16_12[XA-2:0]);
                    end
                    OP_WRITE_W: begin
                        wv_q[args_q[0][0]] <= 1'b1;
                        w_width_q[args_q[0][0]] <= args_q[1];
                        w_kept_q[args_q[0][0]] <= args_q[2];
                        w_ncols_q[args_q[0][0]] <= a16_4[NW-1:0];
                        w_kb_q[args_q[0][0]] <= a16_6[WA-2:0];
                    end
                    OP_WRITE_X: begin
                        xv_q[args_q[0][XBB-1:0]] <= 1'b1;
                        x_t_q[args_q[0][XBB-1:0]] <= a16_2[TW-1:0];
                        x_kb_q[args_q[0][XBB-1:0]] <= a16_4[XA-2:0];
                    end
                    OP_WRITE_Q: begin
                        q_valid_q <= 1'b1;
                        q_ncols_q <= a16_0[NW-1:0];
                    end
                    OP_COMPUTE, OP_COMPUTE_S: if (op == OP_COMPUTE || HAS_S != 0) begin
                        r_valid_q[c_rb] <= 1'b1;
                        r_t_q[c_rb] <= c_t[TW-1:0];
                        r_ncols_q[c_rb] <= c_ncols[NW-1:0];
                    end
                    default: ;
                endcase
            end
        end
    end
endmodule
`default_nettype wire
