`default_nettype none
// Command controller: parses the byte-stream protocol of docs/protocol.md
// (header + header CRC, body = arguments then payload, body CRC), checks
// every command (length, arguments, buffer state), streams payloads into the
// engine's memories, launches jobs and sends one reply per command.
// host/src/device_model.c is the bit-exact C model of this module.
//
// Buffers written by a command are invalid from the moment their payload
// starts until the whole packet has arrived with a good CRC, so a bad or
// truncated write can never feed a later COMPUTE.
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
    parameter CHK_REG = 0,    // 1: register the argument/length checks (one more cycle per
                              // command; cuts the longest path for slow FPGAs)
    parameter WA = $clog2(WDEPTH),                // derived
    parameter XA = $clog2(XDEPTH),                // derived
    parameter RA = $clog2(RDEPTH),                // derived
    parameter CB = (COLS > 1) ? $clog2(COLS) : 1, // derived
    parameter RB = (ROWS > 1) ? $clog2(ROWS) : 1  // derived
) (
    input  wire          clk_i,
    input  wire          rst_ni,
    // host byte stream in (FIFO read side)
    input  wire [7:0]    rx_data_i,
    input  wire          rx_valid_i,
    output reg           rx_ready_o,
    // host byte stream out (FIFO write side)
    output reg  [7:0]    tx_data_o,
    output reg           tx_valid_o,
    input  wire          tx_ready_i,
    // engine
    output wire          eng_start_o,
    output wire          eng_wbank_o,
    output wire          eng_xbank_o,
    output wire          eng_acc_o,
    output reg  [1:0]    eng_width_o,
    output wire [2:0]    eng_kept_o,
    output wire [15:0]   eng_t_o,
    output wire [15:0]   eng_ncols_o,
    output wire [15:0]   eng_kblocks_o,
    output wire [19:0]   eng_xstride_o,  // activation words per frame in the bank
    output wire [19:0]   eng_xoff_o,     // first activation word of each frame
    input  wire          eng_busy_i,
    input  wire          eng_wbank_i,
    input  wire          eng_xbank_i,
    output reg           w_we_o,
    output reg  [CB-1:0] w_col_o,
    output reg  [WA:0]   w_addr_o,
    output reg  [9:0]    w_data_o,
    output reg           x_we_o,
    output reg  [RB-1:0] x_row_o,
    output reg  [XA:0]   x_addr_o,
    output reg  [31:0]   x_data_o,
    output reg  [RA-1:0] r_addr_o,
    output reg  [CB-1:0] r_col_o,
    input  wire [31:0]   r_data_i,
    output wire          cnt_clear_o,
    input  wire [CNT_W-1:0] busy_cnt_i,
    input  wire [CNT_W-1:0] macs_cnt_i
);
    // Widths of the controller's own counters and of the products in the
    // length checks, from the depths (a field beyond its range is an ARG
    // error before any product needs its high bits).
    localparam TW  = RA + 1;                   // frames, t <= RDEPTH
    localparam NW  = CB + 1;                   // columns, ncols <= COLS
    localparam integer BLMAX = (RDEPTH * COLS * 4 > 40) ? RDEPTH * COLS * 4 : 40;
    localparam BLW = $clog2(BLMAX + 1);        // reply body bytes, index within a reply
    localparam TMW = $clog2(TIMEOUT);          // rx idle counter
    localparam PWW = NW + WA - 1 + 5;          // WRITE_W payload bytes
    localparam PWX = TW + XA - 1 + 4;          // WRITE_X payload bytes
    localparam [BLW-1:0] BL_1 = 1, BL_8 = 8, BL_9 = 9, BL_ID = 24, BL_CNT = 40;

    generate
        if (TIMEOUT < 256 || (TIMEOUT % 256) != 0 || TIMEOUT > 65535 * 256 || COLS > 65535 ||
            RDEPTH > 32768 || CNT_W < 32 || CNT_W > 64 || PWW > 31 || PWX > 31 || BLW > 31 ||
            RQ_SERIAL < 0 || RQ_SERIAL > 1 || WL_DBUF < 0 || WL_DBUF > 1 || CHK_REG < 0 || CHK_REG > 1) begin : g_bad_params
            sparq_ctrl_illegal_parameters u_stop ();
        end
    endgenerate

    // ---- protocol constants (host/include/sparq_protocol.h) ----------------
    localparam [7:0] MAGIC_CMD = 8'hA5, MAGIC_REPLY = 8'h5A;
    localparam [7:0] OP_IDENTIFY = 8'h01, OP_RESET = 8'h02, OP_WRITE_W = 8'h03, OP_WRITE_X = 8'h04,
                     OP_WRITE_Q = 8'h05, OP_COMPUTE = 8'h06, OP_READ = 8'h07, OP_COUNTERS = 8'h08;
    localparam [7:0] ST_OK = 8'h00, ST_HEADER = 8'h01, ST_CRC = 8'h02, ST_OPCODE = 8'h03,
                     ST_LENGTH = 8'h04, ST_ARG = 8'h05, ST_STATE = 8'h06, ST_POSITIONS = 8'h07,
                     ST_TRUNCATED = 8'h08;
    localparam [15:0] CRC_INIT = 16'hFFFF;
    localparam integer TIMEOUT_M1 = TIMEOUT - 1;
    localparam [TMW-1:0] TIMEOUT_LAST = TIMEOUT_M1[TMW-1:0];
    localparam integer TIMEOUT_DIV = TIMEOUT / 256;
    localparam integer ROWS_INT = ROWS, COLS_INT = COLS, RDEPTH_INT = RDEPTH;
    localparam [15:0] ROWS16 = ROWS_INT[15:0], COLS16 = COLS_INT[15:0], RDEPTH16 = RDEPTH_INT[15:0];
    localparam [15:0] TIMEOUT_ID = TIMEOUT_DIV[15:0];
    localparam [31:0] WDEPTH32 = WDEPTH, XDEPTH32 = XDEPTH, RDEPTH32 = RDEPTH;
    localparam integer ROWS_M1_INT = ROWS - 1;
    localparam [TW:0] ROWS_M1_T = ROWS_M1_INT[TW:0];
    localparam integer WKB4 = WDEPTH / 4, WKB8 = WDEPTH / 8, WKB16 = WDEPTH / 16, XKB = XDEPTH / 4;
    localparam [15:0] W_KB_MAX1 = WKB4[15:0], W_KB_MAX2 = WKB8[15:0], W_KB_MAX4 = WKB16[15:0];
    localparam [15:0] X_KB_MAX = XKB[15:0];
    localparam [XA+TW:0] XDEPTH_P = XDEPTH32[XA+TW:0];

    localparam [2:0] S_HDR = 3'd0, S_DECODE = 3'd1, S_BODY = 3'd2, S_CHECK = 3'd3, S_CRC = 3'd4,
                     S_EXEC = 3'd5, S_REPLY = 3'd6;
    localparam [1:0] SRC_NONE = 2'd0, SRC_ID = 2'd1, SRC_CNT = 2'd2, SRC_READ = 2'd3;

    // ---- state -------------------------------------------------------------
    reg [2:0]  st_q;
    reg [7:0]  hdr_q [0:9];
    reg [3:0]  hcnt_q;
    reg [15:0] rcrc_q;
    reg [31:0] got_q;
    reg [7:0]  args_q [0:13];
    reg [7:0]  err_q;
    reg        started_q;
    reg [7:0]  crc_lo_q;
    reg        ccnt_q;
    reg [15:0] crc_rx_q;
    reg [TMW-1:0] tmo_q;
    reg [7:0]  status_q;
    reg [BLW-1:0] blen_q;
    reg [1:0]  bsrc_q;
    reg [1:0]  tph_q;
    reg [BLW-1:0] tidx_q;
    reg [15:0] tcrc_q;

    wire [7:0]  op = hdr_q[1];
    wire [31:0] len = {hdr_q[7], hdr_q[6], hdr_q[5], hdr_q[4]};
    wire        rx_fire = rx_valid_i && rx_ready_o;
    wire        tx_fire = tx_valid_o && tx_ready_i;

    // argument fields
    wire [15:0] a16_2  = {args_q[3], args_q[2]};
    wire [15:0] a16_4  = {args_q[5], args_q[4]};
    wire [15:0] a16_6  = {args_q[7], args_q[6]};
    wire [15:0] a16_8  = {args_q[9], args_q[8]};
    wire [15:0] a16_10 = {args_q[11], args_q[10]};
    wire [15:0] a16_0  = {args_q[1], args_q[0]};
    wire [15:0] a16_12 = {args_q[13], args_q[12]};

    reg  [4:0] argsize;
    reg        known;
    always @* begin
        known = 1'b1;
        case (op)
            OP_IDENTIFY, OP_RESET, OP_COUNTERS: argsize = 5'd0;
            OP_WRITE_W, OP_WRITE_X, OP_READ:    argsize = 5'd8;
            OP_WRITE_Q:                         argsize = 5'd4;
            OP_COMPUTE:                         argsize = 5'd14;
            default: begin
                argsize = 5'd0;
                known = 1'b0;
            end
        endcase
    end

    // a > c as plain logic, MSB first: with c constant it folds into a few
    // LUTs, where the > operator becomes a carry chain as wide as a
    function automatic gtc(input [31:0] a, input [31:0] c);
        reg gt, eq;
        integer b;
        begin
            gt = 1'b0;
            eq = 1'b1;
            for (b = 31; b >= 0; b = b - 1) begin
                gt = gt | (eq & a[b] & ~c[b]);
                eq = eq & (a[b] == c[b]);
            end
            gtc = gt;
        end
    endfunction
    // format of a (width byte, kept byte) pair
    function automatic fmt_ok(input [7:0] width, input [7:0] kept);
        fmt_ok = (width == 8'd8 || width == 8'd4 || width == 8'd2) &&
                 (kept == 8'd4 || kept == 8'd2 || kept == 8'd1);
    endfunction
    /* verilator lint_off UNUSEDSIGNAL */
    // value bytes per 16-channel block: 4*kept values of width bits
    function automatic [4:0] val_bytes(input [7:0] width, input [7:0] kept);
        reg [7:0] vb;
        begin
            vb = ({5'd0, kept[2:0]} * {4'd0, width[3:0]}) >> 1;
            val_bytes = vb[4:0];
        end
    endfunction
    // bytes per block: values, then (kept < 4 ? kept : 0) position bytes
    function automatic [4:0] blk_bytes(input [7:0] width, input [7:0] kept);
        blk_bytes = val_bytes(width, kept) + ((kept == 8'd4) ? 5'd0 : kept[4:0]);
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */

    // ---- argument and length checks (S_CHECK) -------------------------------
    // Products use the low bits of t, ncols and kblocks only: each is
    // range-checked in the same command, and the product matters only when
    // every check passed.
    /* verilator lint_off UNUSEDSIGNAL */
    reg [7:0]  chk_err_c;
    reg [31:0] payload;
    reg [TW:0] tiles_x;
    reg [XA+TW:0] x_words;
    reg        w_kb_big;
    wire       big_cols4 = gtc({16'd0, a16_4}, {16'd0, COLS16});
    wire       big_t2 = gtc({16'd0, a16_2}, {16'd0, RDEPTH16});
    always @* begin
        chk_err_c = ST_OK;
        payload = 32'd0;
        tiles_x = ({1'b0, a16_2[TW-1:0]} + ROWS_M1_T) >> RB;
        x_words = {{(XA+1){1'b0}}, tiles_x[TW-1:0]} * {{(TW+2){1'b0}}, a16_4[XA-2:0]};
        // kblocks * 4 * kept > WDEPTH, for kept 4, 2 or 1 (other kept values are ARG anyway)
        case (args_q[2])
            8'd4:    w_kb_big = gtc({16'd0, a16_6}, {16'd0, W_KB_MAX4});
            8'd2:    w_kb_big = gtc({16'd0, a16_6}, {16'd0, W_KB_MAX2});
            default: w_kb_big = gtc({16'd0, a16_6}, {16'd0, W_KB_MAX1});
        endcase
        case (op)
            OP_WRITE_W: begin
                if (args_q[0][7:1] != 7'd0 || !fmt_ok(args_q[1], args_q[2]) || a16_4 == 16'd0 || big_cols4 ||
                    a16_6 == 16'd0 || w_kb_big)
                    chk_err_c = ST_ARG;
                payload[PWW-1:0] = {{(PWW-NW){1'b0}}, a16_4[NW-1:0]} * {{(PWW-WA+1){1'b0}}, a16_6[WA-2:0]} *
                                   {{(PWW-5){1'b0}}, blk_bytes(args_q[1], args_q[2])};
            end
            OP_WRITE_X: begin
                if (args_q[0][7:1] != 7'd0 || a16_2 == 16'd0 || big_t2 || a16_4 == 16'd0 ||
                    gtc({16'd0, a16_4}, {16'd0, X_KB_MAX}) ||
                    gtc({{(29-XA-TW){1'b0}}, x_words, 2'b00}, {{(31-XA-TW){1'b0}}, XDEPTH_P}))
                    chk_err_c = ST_ARG;
                payload[PWX-1:0] = {{(PWX-TW){1'b0}}, a16_2[TW-1:0]} * {{(PWX-XA+1){1'b0}}, a16_4[XA-2:0]} *
                                   {{(PWX-5){1'b0}}, 5'd16};
            end
            OP_WRITE_Q: begin
                if (a16_0 == 16'd0 || gtc({16'd0, a16_0}, {16'd0, COLS16}))
                    chk_err_c = ST_ARG;
                payload[NW+3:0] = {4'd0, a16_0[NW-1:0]} * {{NW{1'b0}}, 4'd9};
            end
            OP_COMPUTE: begin
                if (args_q[0][7:1] != 7'd0 || args_q[1][7:1] != 7'd0 || !fmt_ok(args_q[3], args_q[4]) ||
                    a16_6 == 16'd0 || gtc({16'd0, a16_6}, {16'd0, RDEPTH16}) || a16_8 == 16'd0 ||
                    gtc({16'd0, a16_8}, {16'd0, COLS16}) || a16_10 == 16'd0)
                    chk_err_c = ST_ARG;
            end
            OP_READ: begin
                if (args_q[0][7:1] != 7'd0 || a16_2 == 16'd0 || big_t2 || a16_4 == 16'd0 || big_cols4)
                    chk_err_c = ST_ARG;
            end
            default: ;
        endcase
        if (chk_err_c == ST_OK && len != {27'd0, argsize} + payload)
            chk_err_c = ST_LENGTH;
    end
    /* verilator lint_on UNUSEDSIGNAL */

    // ---- buffer state flags --------------------------------------------------
    reg        wv_q [0:1];
    reg [7:0]  w_width_q [0:1], w_kept_q [0:1];
    // shapes of valid buffers, stored in the bits their checked ranges need
    reg [NW-1:0] w_ncols_q [0:1];
    reg [WA-2:0] w_kb_q [0:1];     // kblocks <= WDEPTH/4
    reg        xv_q [0:1];
    reg [TW-1:0] x_t_q [0:1];
    reg [XA-2:0] x_kb_q [0:1];     // kblocks <= XDEPTH/4
    reg        r_valid_q;
    reg [TW-1:0] r_t_q;
    reg [NW-1:0] r_ncols_q;
    reg        q_valid_q;
    reg [NW-1:0] q_ncols_q;

    // ---- weight loader: block buffer + entry emitter -----------------------
    reg [NW-1:0] wl_col_q;   // column being received (ncols <= COLS)
    reg [WA-1:0] wl_blk_q;   // block within the column (kblocks <= WDEPTH/4)
    reg [4:0]   wl_bi_q;
    reg [WA-1:0]  wl_base_q;
    reg [127:0] rb_val_q;
    reg [15:0]  rb_pos_q;
    reg         rb_full_q;
    reg [CB-1:0] rb_col_q;
    reg [WA-1:0]  rb_base_q;
    reg         em_active_q;
    wire [127:0] em_val;    // the emitted block's value bytes; entry em_i_q is read in place
    wire [15:0]  em_pos;
    reg [4:0]   em_i_q;
    reg [CB-1:0] em_col_q;
    reg [WA-1:0]  em_base_q;
    reg [1:0]   prevpos_q;
    reg         pos_err_q;
    reg         wl_bank_q;
    reg [7:0]   wl_width_q, wl_kept_q;
    reg [4:0]   wl_bb_q, wl_vb_q;

    wire [4:0] em_n = {wl_kept_q[2:0], 2'b00};
    wire       em_last = (em_i_q == em_n - 5'd1);
    wire       em_free = !em_active_q || em_last;
    wire       em_xfer = rb_full_q && em_free;
    wire       wl_idle = !em_active_q && !rb_full_q;
    // a WRITE_W payload byte must wait: the block buffer is full (double
    // buffer) or still being emitted (single buffer; the last entry is read
    // in the same cycle the next byte is written)
    wire       wl_block = (WL_DBUF != 0) ? (rb_full_q && !em_free) : (rb_full_q || (em_active_q && !em_last));

    // ---- activation loader ----------------------------------------------------
    reg [RB-1:0] xl_r_q;
    reg [XA:0]   xl_g_q, xl_base_q;
    reg [1:0]    xl_bi_q;
    reg [23:0]   xl_word_q;
    reg          xl_bank_q;

    // ---- requant parameter loader ----------------------------------------------
    reg [CB-1:0] ql_col_q;
    reg [3:0]    ql_bi_q;
    reg          ql_bias_we, ql_mult_we;
    reg          q_err_q;
    reg [31:0]   qbias_q [0:COLS-1];
    reg [30:0]   qmult_q [0:COLS-1];  // bit 31 set is an ARG error (params stay invalid)
    reg [5:0]    qshift_q [0:COLS-1];

    // ---- read streamer + byte FIFO -------------------------------------------
    reg [TW-1:0] rd_f_q;
    reg [NW-1:0] rd_c_q;
    reg [BLW-1:0] rd_left_q;
    reg [NW-1:0] rd_ncols_q;
    reg          rd_mode_q;
    reg          rq_v_q;
    reg [CB-1:0] rq_col_q;
    reg [7:0]    fifo_q [0:7];
    reg [2:0]    fwp_q, frp_q;
    reg [3:0]    fcnt_q;

    // ---- counters -------------------------------------------------------------
    // COUNTERS: busy, MACs and stall-in cannot move while its reply is sent
    // (the engine is idle, rx is not ready), so only total and stall-out are
    // captured when it executes.
    reg [CNT_W-1:0] total_q, stall_in_q, stall_out_q;
    reg [CNT_W-1:0] snap_total_q, snap_sout_q;

    // ---- body byte classification ---------------------------------------------
    wire in_args    = (got_q[31:5] == 27'd0) && (got_q[4:0] < argsize);
    wire body_pay   = (st_q == S_BODY) && !in_args && (err_q == ST_OK) && started_q;
    wire pay_fire   = rx_fire && body_pay;
    wire last_arg   = in_args && (got_q + 32'd1 == {27'd0, argsize});

    // ---- exec: status of a complete packet --------------------------------------
    wire crc_ok = (crc_rx_q == rcrc_q);
    wire [15:0] c_t = a16_6, c_ncols = a16_8, c_kb = a16_10, c_xoff = a16_12;
    wire c_wb = args_q[0][0], c_xb = args_q[1][0], c_acc = args_q[2][0];
    wire [15:0] w_ncols_c = {{(16-NW){1'b0}}, w_ncols_q[c_wb]};
    wire [15:0] w_kb_c    = {{(17-WA){1'b0}}, w_kb_q[c_wb]};
    wire [15:0] x_t_c     = {{(16-TW){1'b0}}, x_t_q[c_xb]};
    wire [15:0] x_kb_c    = {{(17-XA){1'b0}}, x_kb_q[c_xb]};
    wire [15:0] r_t16     = {{(16-TW){1'b0}}, r_t_q};
    wire [15:0] r_ncols16 = {{(16-NW){1'b0}}, r_ncols_q};
    wire compute_state_ok =
        wv_q[c_wb] && w_width_q[c_wb] == args_q[3] && w_kept_q[c_wb] == args_q[4] &&
        w_ncols_c == c_ncols && w_kb_c == c_kb &&
        xv_q[c_xb] && x_t_c == c_t && c_kb[15:XA-1] == {(17-XA){1'b0}} && c_xoff[15:XA-1] == {(17-XA){1'b0}} &&
        {1'b0, x_kb_q[c_xb]} >= {1'b0, c_kb[XA-2:0]} + {1'b0, c_xoff[XA-2:0]} &&
        (!c_acc || (r_valid_q && r_t16 == c_t && r_ncols16 == c_ncols));
    wire read_nc_ok = a16_4[15:NW] == {(16-NW){1'b0}};
    wire read_state_ok = r_valid_q && a16_2[15:TW] == {(16-TW){1'b0}} && a16_2[TW-1:0] <= r_t_q &&
                         read_nc_ok && a16_4[NW-1:0] <= r_ncols_q &&
                         (!args_q[0][0] || (q_valid_q && a16_4[NW-1:0] <= q_ncols_q));
    wire needs_idle = (op == OP_RESET || op == OP_COMPUTE || op == OP_READ || op == OP_COUNTERS);
    reg  [7:0] ex_status;
    always @* begin
        if (!crc_ok)
            ex_status = ST_CRC;
        else if (err_q != ST_OK)
            ex_status = err_q;
        else if (in_args)
            ex_status = ST_LENGTH;
        else begin
            case (op)
                OP_WRITE_W: ex_status = pos_err_q ? ST_POSITIONS : ST_OK;
                OP_WRITE_Q: ex_status = q_err_q ? ST_ARG : ST_OK;
                OP_COMPUTE: ex_status = compute_state_ok ? ST_OK : ST_STATE;
                OP_READ:    ex_status = read_state_ok ? ST_OK : ST_STATE;
                default:    ex_status = ST_OK;
            endcase
        end
    end
    wire ex_ok = (ex_status == ST_OK);
    // READ: t x ncols results (both range-checked, so the product fits BLW bits)
    wire [BLW-1:0] rd_n = {{(BLW-TW){1'b0}}, a16_2[TW-1:0]} * {{(BLW-NW){1'b0}}, a16_4[NW-1:0]};
    wire ex_go = (st_q == S_EXEC) && !(op == OP_WRITE_W && !wl_idle) &&
                 !(ex_ok && needs_idle && eng_busy_i);

    assign eng_start_o   = ex_go && ex_ok && op == OP_COMPUTE;
    assign eng_wbank_o   = c_wb;
    assign eng_xbank_o   = c_xb;
    assign eng_acc_o     = c_acc;
    assign eng_kept_o    = args_q[4][2:0];
    assign eng_t_o       = c_t;
    assign eng_ncols_o   = c_ncols;
    assign eng_kblocks_o = c_kb;
    assign eng_xstride_o = {2'b00, x_kb_c, 2'b00};
    assign eng_xoff_o    = {2'b00, c_xoff, 2'b00};
    assign cnt_clear_o   = ex_go && ex_ok && op == OP_RESET;
    always @* begin
        case (args_q[3])
            8'd4:    eng_width_o = 2'd1;
            8'd2:    eng_width_o = 2'd2;
            default: eng_width_o = 2'd0;
        endcase
    end

    // With CHK_REG the checks are registered on the first S_CHECK cycle and
    // used from the second (args and len do not change in S_CHECK).
    reg  [7:0] chk_err_q;
    reg        chk_rdy_q;
    wire [7:0] chk_err = (CHK_REG != 0) ? chk_err_q : chk_err_c;
    wire       chk_go = (CHK_REG == 0) || chk_rdy_q;
    always @(posedge clk_i) chk_err_q <= chk_err_c;

    // S_CHECK may start a write now? (the engine must not be reading the bank)
    wire chk_wait = (chk_err == ST_OK) &&
                    ((op == OP_WRITE_W && ((eng_busy_i && eng_wbank_i == args_q[0][0]) || !wl_idle)) ||
                     (op == OP_WRITE_X && eng_busy_i && eng_xbank_i == args_q[0][0]));

    // ---- rx ready -------------------------------------------------------------
    always @* begin
        case (st_q)
            S_HDR, S_CRC: rx_ready_o = 1'b1;
            S_BODY:       rx_ready_o = !(body_pay && op == OP_WRITE_W && wl_block);
            default:      rx_ready_o = 1'b0;
        endcase
    end
    wire in_packet = (st_q == S_HDR && hcnt_q != 4'd0) || st_q == S_BODY || st_q == S_CRC;
    wire timeout = in_packet && rx_ready_o && !rx_valid_i && (tmo_q == TIMEOUT_LAST);

    // ---- CRC units ------------------------------------------------------------
    wire [15:0] rcrc_next, tcrc_next;
    sparq_crc16 u_rcrc (.crc_i(rcrc_q), .data_i(rx_data_i), .crc_o(rcrc_next));
    sparq_crc16 u_tcrc (.crc_i(tcrc_q), .data_i(tx_data_o), .crc_o(tcrc_next));

    wire [15:0] w_kb_last = a16_6 - 16'd1;
    // activation words per frame - 1 (kblocks*4 <= XDEPTH once WRITE_X passed its checks)
    wire [XA:0] xl_words_m1 = {a16_4[XA-2:0], 2'b00} - {{XA{1'b0}}, 1'b1};
    localparam integer ROWS_M1 = ROWS - 1;
    localparam [RB-1:0] ROWS_LAST = ROWS_M1[RB-1:0];

    // ---- emitter outputs --------------------------------------------------------
    // Entry em_i_q of the block: byte em_i (int8), em_i/2 (int4) or em_i/4
    // (int2), then the nibble / 2-bit slot within it; position em_i.
    wire [1:0] em_posbits = (wl_kept_q == 8'd4) ? em_i_q[1:0] : em_pos[{em_i_q[2:0], 1'b0} +: 2];
    reg  [3:0] em_bidx;
    reg  [7:0] em_byte;
    reg  [7:0] em_code;
    always @* begin
        case (wl_width_q)
            8'd4:    em_bidx = {1'b0, em_i_q[3:1]};
            8'd2:    em_bidx = {2'b00, em_i_q[3:2]};
            default: em_bidx = em_i_q[3:0];
        endcase
        em_byte = em_val[{em_bidx, 3'b000} +: 8];
        case (wl_width_q)
            8'd4:    em_code = {4'd0, em_i_q[0] ? em_byte[7:4] : em_byte[3:0]};
            8'd2:    em_code = {6'd0, em_byte[{em_i_q[1:0], 1'b0} +: 2]};
            default: em_code = em_byte;
        endcase
        w_we_o = em_active_q;
        w_col_o = em_col_q;
        w_addr_o = {wl_bank_q, em_base_q + {{(WA-5){1'b0}}, em_i_q}};
        w_data_o = {em_posbits, em_code};
        x_we_o = pay_fire && op == OP_WRITE_X && xl_bi_q == 2'd3;
        x_row_o = xl_r_q;
        x_addr_o = {xl_bank_q, xl_base_q[XA-1:0] + xl_g_q[XA-1:0]};
        rb_we = pay_fire && op == OP_WRITE_W && wl_bi_q < wl_vb_q;
        ql_bias_we = pay_fire && op == OP_WRITE_Q && ql_bi_q < 4'd4;
        ql_mult_we = pay_fire && op == OP_WRITE_Q && ql_bi_q >= 4'd4 && ql_bi_q < 4'd8;
        x_data_o = {rx_data_i, xl_word_q};
    end

    // ---- read streamer issue / FIFO push / pop -----------------------------------
    wire [3:0] bpv = rd_mode_q ? 4'd1 : 4'd4;
    wire       rq_wait;   // serial requantizer: a result still in flight
    wire       rq_pend;   // ... its byte not yet counted in the FIFO
    wire [3:0] inflight = (rq_v_q || rq_pend) ? bpv : 4'd0;
    wire       rd_issue = (rd_left_q != {BLW{1'b0}}) && !rq_wait && (fcnt_q + inflight + bpv <= 4'd8);
    always @* begin
        r_addr_o = rd_f_q[RA-1:0];
        r_col_o = rd_c_q[CB-1:0];
    end
    wire [7:0] rq_y;
    wire       rq_push;   // rq_y goes into the FIFO this cycle
    generate
        if (RQ_SERIAL != 0) begin : g_rq_serial
            wire rqs_busy, rqs_done;
            sparq_requant_serial u_requant (
                .clk_i   (clk_i),
                .rst_ni  (rst_ni),
                .start_i (rq_v_q && rd_mode_q),
                .acc_i   (r_data_i),
                .bias_i  (qbias_q[rq_col_q]),
                .mult_i  (qmult_q[rq_col_q]),
                .shift_i (qshift_q[rq_col_q]),
                .busy_o  (rqs_busy),
                .done_o  (rqs_done),
                .y_o     (rq_y)
            );
            assign rq_wait = rd_mode_q && (rq_v_q || rqs_busy);
            assign rq_pend = rd_mode_q && (rqs_busy || rqs_done);
            assign rq_push = rqs_done;
        end else begin : g_rq_comb
            wire signed [7:0] rq_y_s;
            sparq_requant u_requant (
                .acc_i   (r_data_i),
                .bias_i  (qbias_q[rq_col_q]),
                .mult_i  ({1'b0, qmult_q[rq_col_q]}),
                .shift_i (qshift_q[rq_col_q]),
                .y_o     (rq_y_s)
            );
            assign rq_y = rq_y_s;
            assign rq_wait = 1'b0;
            assign rq_pend = 1'b0;
            assign rq_push = rq_v_q;
        end
    endgenerate
    wire [3:0]  push_n = rd_mode_q ? (rq_push ? 4'd1 : 4'd0) : (rq_v_q ? 4'd4 : 4'd0);
    wire [31:0] push_bytes = rd_mode_q ? {24'd0, rq_y} : r_data_i;
    wire        pop = (st_q == S_REPLY) && (tph_q == 2'd1) && (bsrc_q == SRC_READ) && tx_ready_i &&
                      (fcnt_q != 4'd0);

    wire pos_hi = (wl_bi_q != wl_vb_q); // second position byte

    // ---- byte-addressed payload buffers (one enable per byte, no shifters) -----
    // WRITE_Q bytes go straight into the parameter registers (bias bytes 0..3,
    // mult bytes 4..7 without bit 31, shift byte 8): the parameters are
    // invalid until the whole packet checked out.
    reg rb_we;
    integer k, cq;
    always @(posedge clk_i) begin
        for (k = 0; k < 16; k = k + 1)
            if (rb_we && wl_bi_q[3:0] == k[3:0])
                rb_val_q[8*k +: 8] <= rx_data_i;
        for (cq = 0; cq < COLS; cq = cq + 1) begin
            if (ql_col_q == cq[CB-1:0]) begin
                for (k = 0; k < 4; k = k + 1)
                    if (ql_bias_we && ql_bi_q[1:0] == k[1:0])
                        qbias_q[cq][8*k +: 8] <= rx_data_i;
                for (k = 0; k < 3; k = k + 1)
                    if (ql_mult_we && ql_bi_q[1:0] == k[1:0])
                        qmult_q[cq][8*k +: 8] <= rx_data_i;
                if (ql_mult_we && ql_bi_q[1:0] == 2'd3)
                    qmult_q[cq][30:24] <= rx_data_i[6:0];
            end
        end
    end

    generate
        if (WL_DBUF != 0) begin : g_wl_dbuf
            reg [127:0] em_val_q;
            reg [15:0]  em_pos_q;
            always @(posedge clk_i)
                if (em_xfer) begin
                    em_val_q <= rb_val_q;
                    em_pos_q <= rb_pos_q;
                end
            assign em_val = em_val_q;
            assign em_pos = em_pos_q;
        end else begin : g_wl_sbuf
            assign em_val = rb_val_q;
            assign em_pos = rb_pos_q;
        end
    endgenerate

    // ---- main sequential block --------------------------------------------------
    integer i;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            st_q <= S_HDR;
            hcnt_q <= 4'd0;
            rcrc_q <= CRC_INIT;
            started_q <= 1'b0;
            chk_rdy_q <= 1'b0;
            tmo_q <= {TMW{1'b0}};
            wv_q[0] <= 1'b0;
            wv_q[1] <= 1'b0;
            xv_q[0] <= 1'b0;
            xv_q[1] <= 1'b0;
            r_valid_q <= 1'b0;
            q_valid_q <= 1'b0;
            rb_full_q <= 1'b0;
            em_active_q <= 1'b0;
            rd_left_q <= {BLW{1'b0}};
            rq_v_q <= 1'b0;
            fwp_q <= 3'd0;
            frp_q <= 3'd0;
            fcnt_q <= 4'd0;
            total_q <= {CNT_W{1'b0}};
            stall_in_q <= {CNT_W{1'b0}};
            stall_out_q <= {CNT_W{1'b0}};
        end else begin
            // counters
            if (cnt_clear_o) begin
                total_q <= {CNT_W{1'b0}};
                stall_in_q <= {CNT_W{1'b0}};
                stall_out_q <= {CNT_W{1'b0}};
            end else begin
                total_q <= total_q + {{(CNT_W-1){1'b0}}, 1'b1};
                if (rx_ready_o && !rx_valid_i)
                    stall_in_q <= stall_in_q + {{(CNT_W-1){1'b0}}, 1'b1};
                if (tx_valid_o && !tx_ready_i)
                    stall_out_q <= stall_out_q + {{(CNT_W-1){1'b0}}, 1'b1};
            end

            // rx idle timeout
            if (!in_packet || rx_valid_i || !rx_ready_o)
                tmo_q <= {TMW{1'b0}};
            else
                tmo_q <= tmo_q + {{(TMW-1){1'b0}}, 1'b1};

            if (timeout) begin
                status_q <= ST_TRUNCATED;
                blen_q <= {BLW{1'b0}};
                bsrc_q <= SRC_NONE;
                st_q <= S_REPLY;
                tph_q <= 2'd0;
                tidx_q <= {BLW{1'b0}};
                tcrc_q <= CRC_INIT;
            end else begin
                case (st_q)
                    S_HDR: if (rx_fire) begin
                        if (hcnt_q != 4'd0 || rx_data_i == MAGIC_CMD) begin
                            // rcrc_q is CRC_INIT whenever a header starts
                            // a truncated header's reply echoes opcode and sequence
                            // number as 0 unless they arrived (bytes 1, 2); the
                            // other header bytes are only read once all 10 are in
                            if (hcnt_q == 4'd0)
                                for (i = 1; i < 3; i = i + 1)
                                    hdr_q[i] <= 8'd0;
                            hdr_q[hcnt_q] <= rx_data_i;
                            if (hcnt_q < 4'd8)
                                rcrc_q <= rcrc_next;
                            if (hcnt_q == 4'd9) begin
                                if ({rx_data_i, hdr_q[8]} != rcrc_q) begin
                                    status_q <= ST_HEADER;
                                    blen_q <= {BLW{1'b0}};
                                    bsrc_q <= SRC_NONE;
                                    st_q <= S_REPLY;
                                    tph_q <= 2'd0;
                                    tidx_q <= {BLW{1'b0}};
                                    tcrc_q <= CRC_INIT;
                                end else begin
                                    st_q <= S_DECODE;
                                end
                            end else begin
                                hcnt_q <= hcnt_q + 4'd1;
                            end
                        end
                    end
                    S_DECODE: begin
                        rcrc_q <= CRC_INIT;
                        got_q <= 32'd0;
                        ccnt_q <= 1'b0;
                        started_q <= 1'b0;
                        err_q <= known ? ST_OK : ST_OPCODE;
                        if (known && argsize == 5'd0)
                            st_q <= S_CHECK;
                        else
                            st_q <= (len == 32'd0) ? S_CRC : S_BODY;
                    end
                    S_BODY: if (rx_fire) begin
                        rcrc_q <= rcrc_next;
                        got_q <= got_q + 32'd1;
                        if (err_q == ST_OK && in_args) begin
                            args_q[got_q[3:0]] <= rx_data_i;
                            if (last_arg)
                                st_q <= S_CHECK;
                            else if (got_q + 32'd1 == len)
                                st_q <= S_CRC;
                        end else if (got_q + 32'd1 == len) begin
                            st_q <= S_CRC;
                        end
                    end
                    S_CHECK: if (chk_go) begin
                        if (chk_err != ST_OK) begin
                            err_q <= chk_err;
                            st_q <= (got_q == len) ? S_CRC : S_BODY;
                        end else if (!chk_wait) begin
                            started_q <= 1'b1;
                            if (op == OP_WRITE_W)
                                wv_q[args_q[0][0]] <= 1'b0;
                            if (op == OP_WRITE_X)
                                xv_q[args_q[0][0]] <= 1'b0;
                            if (op == OP_WRITE_Q)
                                q_valid_q <= 1'b0;
                            st_q <= (got_q == len) ? S_CRC : S_BODY;
                        end
                    end
                    S_CRC: if (rx_fire) begin
                        if (!ccnt_q) begin
                            crc_lo_q <= rx_data_i;
                            ccnt_q <= 1'b1;
                        end else begin
                            crc_rx_q <= {rx_data_i, crc_lo_q};
                            st_q <= S_EXEC;
                        end
                    end
                    S_EXEC: if (ex_go) begin
                        status_q <= ex_status;
                        blen_q <= {BLW{1'b0}};
                        bsrc_q <= SRC_NONE;
                        st_q <= S_REPLY;
                        tph_q <= 2'd0;
                        tidx_q <= {BLW{1'b0}};
                        tcrc_q <= CRC_INIT;
                        if (ex_ok) begin
                            case (op)
                                OP_IDENTIFY: begin
                                    blen_q <= BL_ID;
                                    bsrc_q <= SRC_ID;
                                end
                                OP_RESET: begin
                                    wv_q[0] <= 1'b0;
                                    wv_q[1] <= 1'b0;
                                    xv_q[0] <= 1'b0;
                                    xv_q[1] <= 1'b0;
                                    r_valid_q <= 1'b0;
                                    q_valid_q <= 1'b0;
                                end
                                OP_WRITE_W: begin
                                    wv_q[args_q[0][0]] <= 1'b1;
                                    w_width_q[args_q[0][0]] <= args_q[1];
                                    w_kept_q[args_q[0][0]] <= args_q[2];
                                    w_ncols_q[args_q[0][0]] <= a16_4[NW-1:0];
                                    w_kb_q[args_q[0][0]] <= a16_6[WA-2:0];
                                end
                                OP_WRITE_X: begin
                                    xv_q[args_q[0][0]] <= 1'b1;
                                    x_t_q[args_q[0][0]] <= a16_2[TW-1:0];
                                    x_kb_q[args_q[0][0]] <= a16_4[XA-2:0];
                                end
                                OP_WRITE_Q: begin
                                    q_valid_q <= 1'b1;
                                    q_ncols_q <= a16_0[NW-1:0];
                                end
                                OP_COMPUTE: begin
                                    r_valid_q <= 1'b1;
                                    r_t_q <= c_t[TW-1:0];
                                    r_ncols_q <= c_ncols[NW-1:0];
                                end
                                OP_READ: begin
                                    blen_q <= rd_n << (args_q[0][0] ? 0 : 2);
                                    bsrc_q <= SRC_READ;
                                    rd_left_q <= rd_n;
                                end
                                OP_COUNTERS: begin
                                    blen_q <= BL_CNT;
                                    bsrc_q <= SRC_CNT;
                                    snap_total_q <= total_q;
                                    snap_sout_q <= stall_out_q;
                                end
                                default: ;
                            endcase
                        end
                    end
                    S_REPLY: if (tx_fire) begin
                        case (tph_q)
                            2'd0: begin
                                if (tidx_q < BL_8)
                                    tcrc_q <= tcrc_next;
                                if (tidx_q == BL_9) begin
                                    tcrc_q <= CRC_INIT;
                                    tidx_q <= {BLW{1'b0}};
                                    tph_q <= (blen_q == {BLW{1'b0}}) ? 2'd2 : 2'd1;
                                end else begin
                                    tidx_q <= tidx_q + {{(BLW-1){1'b0}}, 1'b1};
                                end
                            end
                            2'd1: begin
                                tcrc_q <= tcrc_next;
                                if (tidx_q == blen_q - {{(BLW-1){1'b0}}, 1'b1}) begin
                                    tidx_q <= {BLW{1'b0}};
                                    tph_q <= 2'd2;
                                end else begin
                                    tidx_q <= tidx_q + {{(BLW-1){1'b0}}, 1'b1};
                                end
                            end
                            default: begin
                                if (tidx_q == BL_1) begin
                                    st_q <= S_HDR;
                                    rcrc_q <= CRC_INIT;
                                    hcnt_q <= 4'd0;
                                    started_q <= 1'b0;
                                end else begin
                                    tidx_q <= tidx_q + {{(BLW-1){1'b0}}, 1'b1};
                                end
                            end
                        endcase
                    end
                    default: st_q <= S_HDR;
                endcase
            end
            if (timeout || (st_q == S_HDR && rx_fire && hcnt_q == 4'd9))
                hcnt_q <= 4'd0;

            // ---- weight loader ------------------------------------------------
            chk_rdy_q <= (st_q == S_CHECK) && !(chk_go && (chk_err != ST_OK || !chk_wait));
            if (st_q == S_CHECK && chk_go && op == OP_WRITE_W && chk_err == ST_OK && !chk_wait) begin
                wl_col_q <= {NW{1'b0}};
                wl_blk_q <= {WA{1'b0}};
                wl_bi_q <= 5'd0;
                wl_base_q <= {WA{1'b0}};
                wl_bank_q <= args_q[0][0];
                wl_width_q <= args_q[1];
                wl_kept_q <= args_q[2];
                wl_bb_q <= blk_bytes(args_q[1], args_q[2]);
                wl_vb_q <= val_bytes(args_q[1], args_q[2]);
                pos_err_q <= 1'b0;
            end else if (pay_fire && op == OP_WRITE_W) begin
                if (wl_bi_q >= wl_vb_q)
                    rb_pos_q[{pos_hi, 3'b000} +: 8] <= rx_data_i;
                if (wl_bi_q == wl_bb_q - 5'd1) begin
                    wl_bi_q <= 5'd0;
                    rb_col_q <= wl_col_q[CB-1:0];
                    rb_base_q <= wl_base_q;
                    if ({{(16-WA){1'b0}}, wl_blk_q} == w_kb_last) begin
                        wl_blk_q <= {WA{1'b0}};
                        wl_base_q <= {WA{1'b0}};
                        wl_col_q <= wl_col_q + {{(NW-1){1'b0}}, 1'b1};
                    end else begin
                        wl_blk_q <= wl_blk_q + {{(WA-1){1'b0}}, 1'b1};
                        wl_base_q <= wl_base_q + {{(WA-5){1'b0}}, em_n};
                    end
                end else begin
                    wl_bi_q <= wl_bi_q + 5'd1;
                end
            end
            if (pay_fire && op == OP_WRITE_W && wl_bi_q == wl_bb_q - 5'd1)
                rb_full_q <= 1'b1;
            else if (em_xfer)
                rb_full_q <= 1'b0;
            if (em_xfer) begin
                em_active_q <= 1'b1;
                em_i_q <= 5'd0;
                em_col_q <= rb_col_q;
                em_base_q <= rb_base_q;
            end else if (em_active_q) begin
                if (em_i_q == em_n - 5'd1)
                    em_active_q <= 1'b0;
                em_i_q <= em_i_q + 5'd1;
            end
            if (em_active_q) begin
                prevpos_q <= em_posbits;
                if (wl_kept_q == 8'd2 && em_i_q[0] && em_posbits <= prevpos_q)
                    pos_err_q <= 1'b1;
            end

            // ---- activation loader -------------------------------------------------
            if (st_q == S_CHECK && op == OP_WRITE_X) begin
                xl_r_q <= {RB{1'b0}};
                xl_g_q <= {(XA+1){1'b0}};
                xl_base_q <= {(XA+1){1'b0}};
                xl_bi_q <= 2'd0;
                xl_bank_q <= args_q[0][0];
            end else if (pay_fire && op == OP_WRITE_X) begin
                if (xl_bi_q != 2'd3)
                    xl_word_q[{xl_bi_q, 3'b000} +: 8] <= rx_data_i;
                xl_bi_q <= xl_bi_q + 2'd1;
                if (xl_bi_q == 2'd3) begin
                    if (xl_g_q == xl_words_m1) begin
                        xl_g_q <= {(XA+1){1'b0}};
                        xl_r_q <= xl_r_q + {{(RB-1){1'b0}}, 1'b1};
                        if (xl_r_q == ROWS_LAST)
                            xl_base_q <= xl_base_q + xl_words_m1 + {{XA{1'b0}}, 1'b1};
                    end else begin
                        xl_g_q <= xl_g_q + {{XA{1'b0}}, 1'b1};
                    end
                end
            end

            // ---- requant parameter loader -------------------------------------------
            if (st_q == S_CHECK && op == OP_WRITE_Q) begin
                ql_col_q <= {CB{1'b0}};
                ql_bi_q <= 4'd0;
                q_err_q <= 1'b0;
            end else if (pay_fire && op == OP_WRITE_Q) begin
                if (ql_bi_q == 4'd8) begin
                    ql_bi_q <= 4'd0;
                    ql_col_q <= ql_col_q + {{(CB-1){1'b0}}, 1'b1};
                    qshift_q[ql_col_q] <= rx_data_i[5:0];
                    if (rx_data_i > 8'd62)
                        q_err_q <= 1'b1;
                end else begin
                    ql_bi_q <= ql_bi_q + 4'd1;
                    if (ql_bi_q == 4'd7 && rx_data_i[7]) // mult >= 2^31
                        q_err_q <= 1'b1;
                end
            end

            // ---- read streamer ---------------------------------------------------------
            if (st_q == S_EXEC && ex_go && ex_ok && op == OP_READ) begin
                rd_f_q <= {TW{1'b0}};
                rd_c_q <= {NW{1'b0}};
                rd_ncols_q <= a16_4[NW-1:0];
                rd_mode_q <= args_q[0][0];
            end else if (rd_issue) begin
                rd_left_q <= rd_left_q - {{(BLW-1){1'b0}}, 1'b1};
                if (rd_c_q == rd_ncols_q - {{(NW-1){1'b0}}, 1'b1}) begin
                    rd_c_q <= {NW{1'b0}};
                    rd_f_q <= rd_f_q + {{(TW-1){1'b0}}, 1'b1};
                end else begin
                    rd_c_q <= rd_c_q + {{(NW-1){1'b0}}, 1'b1};
                end
            end
            rq_v_q <= rd_issue;
            rq_col_q <= rd_c_q[CB-1:0];
            for (i = 0; i < 4; i = i + 1)
                if (i < push_n)
                    fifo_q[fwp_q + i[2:0]] <= push_bytes[8*i +: 8];
            fwp_q <= fwp_q + push_n[2:0];
            frp_q <= frp_q + {2'b00, pop};
            fcnt_q <= fcnt_q + push_n - {3'd0, pop};
        end
    end


    // ---- tx byte -----------------------------------------------------------------
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
        case (tidx_q[4:0])
            5'd0:  id_byte = 8'd1;  // protocol version
            5'd1:  id_byte = 8'd0;
            5'd2:  id_byte = ROWS16[7:0];
            5'd3:  id_byte = ROWS16[15:8];
            5'd4:  id_byte = COLS16[7:0];
            5'd5:  id_byte = COLS16[15:8];
            5'd6:  id_byte = 8'd2;  // banks
            5'd7:  id_byte = 8'd0;
            5'd8:  id_byte = WDEPTH32[7:0];
            5'd9:  id_byte = WDEPTH32[15:8];
            5'd10: id_byte = WDEPTH32[23:16];
            5'd11: id_byte = WDEPTH32[31:24];
            5'd12: id_byte = XDEPTH32[7:0];
            5'd13: id_byte = XDEPTH32[15:8];
            5'd14: id_byte = XDEPTH32[23:16];
            5'd15: id_byte = XDEPTH32[31:24];
            5'd16: id_byte = RDEPTH32[7:0];
            5'd17: id_byte = RDEPTH32[15:8];
            5'd18: id_byte = RDEPTH32[23:16];
            5'd19: id_byte = RDEPTH32[31:24];
            5'd20: id_byte = 8'd7;  // int8, int4, int2
            5'd21: id_byte = 8'd7;  // 4:4, 2:4, 1:4
            5'd22: id_byte = TIMEOUT_ID[7:0];
            5'd23: id_byte = TIMEOUT_ID[15:8];
            default: id_byte = 8'd0;
        endcase
    end

    always @* begin
        tx_valid_o = 1'b0;
        tx_data_o = 8'd0;
        if (st_q == S_REPLY) begin
            case (tph_q)
                2'd0: begin
                    tx_valid_o = 1'b1;
                    case (tidx_q[3:0])
                        4'd0:    tx_data_o = MAGIC_REPLY;
                        4'd1:    tx_data_o = status_q;
                        4'd2:    tx_data_o = hdr_q[2];
                        4'd3:    tx_data_o = hdr_q[1];
                        4'd4:    tx_data_o = blen32[7:0];
                        4'd5:    tx_data_o = blen32[15:8];
                        4'd6:    tx_data_o = blen32[23:16];
                        4'd7:    tx_data_o = blen32[31:24];
                        4'd8:    tx_data_o = tcrc_q[7:0];
                        default: tx_data_o = tcrc_q[15:8];
                    endcase
                end
                2'd1: begin
                    case (bsrc_q)
                        SRC_ID: begin
                            tx_valid_o = 1'b1;
                            tx_data_o = id_byte;
                        end
                        SRC_CNT: begin
                            tx_valid_o = 1'b1;
                            tx_data_o = cnt_bytes[{tidx_q[5:0], 3'b000} +: 8];
                        end
                        default: begin
                            tx_valid_o = (fcnt_q != 4'd0);
                            tx_data_o = fifo_q[frp_q];
                        end
                    endcase
                end
                default: begin
                    tx_valid_o = 1'b1;
                    tx_data_o = tidx_q[0] ? tcrc_q[15:8] : tcrc_q[7:0];
                end
            endcase
        end
    end
endmodule
`default_nettype wire
