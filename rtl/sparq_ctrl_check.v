`default_nettype none
// Argument and length checks of sparq_ctrl (docs/protocol.md): each field
// of a command against its range and the device's sizes, then the body
// length against the arguments (status ARG, then LENGTH). Combinational,
// or with REG = 1 the products (body size, activation words) come from
// registers loaded the cycle before, so no path runs from a multiplier (a
// combinational SB_MAC16 on the UP5K) through the comparisons: the status
// is valid one cycle after the arguments are.
module sparq_ctrl_check #(
    parameter ROWS   = 16,
    parameter COLS   = 16,
    parameter WDEPTH = 1024,
    parameter XDEPTH = 4096,
    parameter RDEPTH = 256,
    parameter XBANKS = 2,
    parameter RBUFS  = 1,
    parameter WSTORE = 0,
    parameter QDEPTH = 16,
    parameter LUTS   = 0,
    parameter V3     = 0,                         // protocol version 3 (a v3 feature is on)
    parameter REG    = 0,                         // 1: registered products (see above)
    parameter WA = $clog2(WDEPTH),                // derived
    parameter XA = $clog2(XDEPTH),                // derived
    parameter RA = $clog2(RDEPTH),                // derived
    parameter CB = (COLS > 1) ? $clog2(COLS) : 1, // derived
    parameter RB = (ROWS > 1) ? $clog2(ROWS) : 1  // derived
) (
    input  wire         clk_i,
    input  wire [7:0]   op_i,
    input  wire [31:0]  len_i,        // body bytes
    input  wire [4:0]   argsize_i,    // argument bytes of op_i
    input  wire [127:0] args_i,       // argument byte k in [8k+7:8k]
    output wire [7:0]   err_o,        // ST_OK, ST_ARG or ST_LENGTH
    output wire [4:0]   wblk_bytes_o, // WRITE_W bytes per block
    output wire [4:0]   wval_bytes_o  // ... of which values
);
    `include "rtl/sparq_protocol.vh"
    localparam TW  = RA + 1;                   // frames, t <= RDEPTH
    localparam NW  = CB + 1;                   // columns, ncols <= COLS
    localparam PWW = NW + WA - 1 + 5;          // WRITE_W payload bytes
    localparam PWX = TW + XA - 1 + 4;          // WRITE_X payload bytes
    localparam integer COLS_INT = COLS, RDEPTH_INT = RDEPTH;
    localparam [15:0] COLS16 = COLS_INT[15:0], RDEPTH16 = RDEPTH_INT[15:0];
    localparam [31:0] XDEPTH32 = XDEPTH;
    localparam integer ROWS_M1_INT = ROWS - 1;
    localparam [TW:0] ROWS_M1_T = ROWS_M1_INT[TW:0];
    localparam integer WKB4 = WDEPTH / 4, WKB8 = WDEPTH / 8, WKB16 = WDEPTH / 16, XKB = XDEPTH / 4;
    localparam [15:0] W_KB_MAX1 = WKB4[15:0], W_KB_MAX2 = WKB8[15:0], W_KB_MAX4 = WKB16[15:0];
    localparam [15:0] X_KB_MAX = XKB[15:0];
    localparam [XA+TW:0] XDEPTH_P = XDEPTH32[XA+TW:0];

    wire [7:0]  op = op_i;
    wire [31:0] len = len_i;
    wire [4:0]  argsize = argsize_i;
    wire [7:0]  args_q [0:15];
    genvar g;
    generate
        for (g = 0; g < 16; g = g + 1) begin : g_args
            assign args_q[g] = args_i[8*g +: 8];
        end
    endgenerate
    wire [15:0] a16_0 = {args_q[1], args_q[0]};
    wire [15:0] a16_2 = {args_q[3], args_q[2]};
    wire [15:0] a16_4 = {args_q[5], args_q[4]};
    wire [15:0] a16_6 = {args_q[7], args_q[6]};
    wire [15:0] a16_8 = {args_q[9], args_q[8]};
    wire [15:0] a16_10 = {args_q[11], args_q[10]};
    wire [15:0] a16_12 = {args_q[13], args_q[12]};
    wire [31:0] a32_0 = {args_q[3], args_q[2], args_q[1], args_q[0]};
    wire [31:0] a32_8 = {args_q[11], args_q[10], args_q[9], args_q[8]};
    localparam integer EPI_COLS = (COLS < 16) ? COLS : 16;
    localparam [15:0] EPI_COLS16 = EPI_COLS[15:0];
    localparam integer QDEPTH_INT = QDEPTH;
    localparam [31:0] WSTORE32 = WSTORE;
    localparam [16:0] QDEPTH17 = QDEPTH_INT[16:0];
    localparam integer XBANKS_M1 = XBANKS - 1, RBUFS_M1 = RBUFS - 1, LUTS_M1 = LUTS - 1;
    localparam [7:0] XBANKS_MAX = XBANKS_M1[7:0], RBUFS_MAX = RBUFS_M1[7:0];
    localparam [7:0] LUTS_MAX = LUTS_M1[7:0]; // LUTS > 0 wherever it is used
    // store tile: addr + kblocks*4*kept > WSTORE (ARG; kept is 4, 2 or 1 when it matters)
    /* verilator lint_off UNUSEDSIGNAL */
    function automatic store_big(input [31:0] addr, input [15:0] kb, input [7:0] kept);
        reg [33:0] e;
        begin
            e = {16'd0, kb, 2'b00} * {31'd0, kept[2:0]};
            store_big = ({2'b00, addr} + e) > {2'b00, WSTORE32};
        end
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */
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
    reg        w_kb_big;
    wire       big_cols4 = gtc({16'd0, a16_4}, {16'd0, COLS16});
    wire       big_t2 = gtc({16'd0, a16_2}, {16'd0, RDEPTH16});
    // the activation bank a WRITE_X (t, kblocks) or an EPILOGUE (t, dkblocks) fills
    wire       is_epi = (LUTS > 0) && (op == OP_EPILOGUE);
    wire [15:0] xt = is_epi ? a16_4 : a16_2;
    wire [15:0] xkb = is_epi ? a16_12 : a16_4;
    wire [TW:0] tiles_x = ({1'b0, xt[TW-1:0]} + ROWS_M1_T) >> RB;
    wire [XA+TW:0] x_words_c = {{(XA+1){1'b0}}, tiles_x[TW-1:0]} * {{(TW+2){1'b0}}, xkb[XA-2:0]};
    reg  [XA+TW:0] x_words_q;
    reg  [31:0]    payload_q;
    always @(posedge clk_i) begin
        x_words_q <= x_words_c;
        payload_q <= payload;
    end
    wire [XA+TW:0] x_words = (REG != 0) ? x_words_q : x_words_c;
    wire [31:0]    payload_u = (REG != 0) ? payload_q : payload;
    wire       x_big = xkb == 16'd0 || gtc({16'd0, xkb}, {16'd0, X_KB_MAX}) ||
                       gtc({{(29-XA-TW){1'b0}}, x_words, 2'b00}, {{(31-XA-TW){1'b0}}, XDEPTH_P});
    always @* begin
        chk_err_c = ST_OK;
        payload = 32'd0;
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
                if (args_q[0] > XBANKS_MAX || a16_2 == 16'd0 || big_t2 || x_big)
                    chk_err_c = ST_ARG;
                payload[PWX-1:0] = {{(PWX-TW){1'b0}}, a16_2[TW-1:0]} * {{(PWX-XA+1){1'b0}}, a16_4[XA-2:0]} *
                                   {{(PWX-5){1'b0}}, 5'd16};
            end
            OP_WRITE_Q: begin
                if (a16_0 == 16'd0 || gtc({16'd0, a16_0}, {16'd0, COLS16}) ||
                    (V3 != 0 && {1'b0, a16_2} + {1'b0, a16_0} > QDEPTH17))
                    chk_err_c = ST_ARG;
                payload[NW+3:0] = {4'd0, a16_0[NW-1:0]} * {{NW{1'b0}}, 4'd9};
            end
            OP_COMPUTE: begin
                if (args_q[0][7:1] != 7'd0 || args_q[1] > XBANKS_MAX || !fmt_ok(args_q[3], args_q[4]) ||
                    (V3 != 0 && RBUFS == 1 && args_q[2][1]) ||
                    a16_6 == 16'd0 || gtc({16'd0, a16_6}, {16'd0, RDEPTH16}) || a16_8 == 16'd0 ||
                    gtc({16'd0, a16_8}, {16'd0, COLS16}) || a16_10 == 16'd0)
                    chk_err_c = ST_ARG;
            end
            OP_READ: begin
                if (args_q[0][7:1] != 7'd0 || a16_2 == 16'd0 || big_t2 || a16_4 == 16'd0 || big_cols4 ||
                    (V3 != 0 && (args_q[1] > RBUFS_MAX ||
                                 (args_q[0][0] && {1'b0, a16_6} + {1'b0, a16_4} > QDEPTH17))))
                    chk_err_c = ST_ARG;
            end
            OP_STORE_W: begin
                if (WSTORE == 0 || !fmt_ok(args_q[0], args_q[1]) || a16_2 == 16'd0 ||
                    gtc({16'd0, a16_2}, {16'd0, COLS16}) || a16_4 == 16'd0 || store_big(a32_8, a16_4, args_q[1]))
                    chk_err_c = ST_ARG;
                if (WSTORE > 0)
                    payload = {{(32-NW){1'b0}}, a16_2[NW-1:0]} * {16'd0, a16_4} *
                              {27'd0, blk_bytes(args_q[0], args_q[1])};
            end
            OP_COMPUTE_S: begin
                if (WSTORE == 0 || args_q[4] > XBANKS_MAX || (RBUFS == 1 && args_q[5][1]) ||
                    !fmt_ok(args_q[6], args_q[7]) || a16_8 == 16'd0 || gtc({16'd0, a16_8}, {16'd0, RDEPTH16}) ||
                    {args_q[11], args_q[10]} == 16'd0 || gtc({16'd0, args_q[11], args_q[10]}, {16'd0, COLS16}) ||
                    a16_12 == 16'd0 || store_big(a32_0, a16_12, args_q[7]))
                    chk_err_c = ST_ARG;
            end
            OP_WRITE_LUT: begin
                if (LUTS == 0 || args_q[0] > LUTS_MAX)
                    chk_err_c = ST_ARG;
                if (LUTS > 0)
                    payload = 32'd256;
            end
            OP_EPILOGUE: begin
                if (LUTS == 0 || args_q[0] > RBUFS_MAX || args_q[1] > XBANKS_MAX ||
                    (args_q[2] > LUTS_MAX && args_q[2] != 8'hFF) ||
                    a16_4 == 16'd0 || gtc({16'd0, a16_4}, {16'd0, RDEPTH16}) ||
                    a16_6 == 16'd0 || gtc({16'd0, a16_6}, {16'd0, EPI_COLS16}) ||
                    {1'b0, a16_8} + {1'b0, a16_6} > QDEPTH17 || x_big || a16_10 >= a16_12)
                    chk_err_c = ST_ARG;
            end
            default: ;
        endcase
    end
    /* verilator lint_on UNUSEDSIGNAL */
    assign err_o = (chk_err_c == ST_OK && len != {27'd0, argsize} + payload_u) ? ST_LENGTH : chk_err_c;
    // WRITE_W: width, kept in bytes 1, 2; STORE_W in bytes 0, 1
    wire st = (WSTORE > 0) && (op == OP_STORE_W);
    assign wblk_bytes_o = st ? blk_bytes(args_q[0], args_q[1]) : blk_bytes(args_q[1], args_q[2]);
    assign wval_bytes_o = st ? val_bytes(args_q[0], args_q[1]) : val_bytes(args_q[1], args_q[2]);
endmodule
`default_nettype wire
