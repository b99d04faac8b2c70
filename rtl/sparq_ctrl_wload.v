`default_nettype none
// Weight loader of sparq_ctrl: collects each 16-channel block of a WRITE_W
// payload (value bytes, then position bytes) in a block buffer and emits its
// entries into the weight memory: one per cycle, or (LANES = 4) one value
// byte per cycle, i.e. 2 int4 or 4 int2 entries, so that dense int4/int2
// blocks (2 or 4 entries per link byte) emit as fast as they arrive. A 2:4
// block whose two positions in a group do not increase sets pos_err_o
// (status POSITIONS).
// STORE_W (store_i) writes the same entries to the weight store, each column
// from entry saddr_i on, instead of a bank.
module sparq_ctrl_wload #(
    parameter COLS    = 16,
    parameter WDEPTH  = 1024,
    parameter WL_DBUF = 1,                        // 1: receive block b+1 while emitting block b
    parameter WSTORE  = 0,                        // weight-store entries per column
    parameter LANES   = 1,                        // entries per write: 1, or 4 (a value byte a cycle)
    parameter WA = $clog2(WDEPTH),                // derived
    parameter CB = (COLS > 1) ? $clog2(COLS) : 1, // derived
    parameter SA = (WSTORE > 1) ? $clog2(WSTORE) : 1 // derived
) (
    input  wire          clk_i,
    input  wire          rst_ni,
    input  wire          start_i,     // a WRITE_W passed its checks: restart at column 0
    input  wire          bank_i,
    input  wire          store_i,     // STORE_W: into the store from entry saddr_i
    input  wire [SA-1:0] saddr_i,
    input  wire [7:0]    width_i,
    input  wire [7:0]    kept_i,
    input  wire [4:0]    blk_bytes_i, // bytes per block
    input  wire [4:0]    val_bytes_i, // value bytes per block (positions follow)
    input  wire [15:0]   kb_last_i,   // kblocks - 1
    input  wire          byte_i,      // a payload byte arrives
    input  wire [7:0]    data_i,
    output wire          idle_o,      // nothing buffered or being emitted
    output wire          block_o,     // the next payload byte must wait
    output reg           pos_err_o,
    output reg  [LANES-1:0] w_we_o,               // entry w_addr_o + j in lane j
    output reg           w_st_o,
    output reg  [CB-1:0] w_col_o,
    output reg  [WA:0]   w_addr_o,
    output reg  [SA-1:0] w_saddr_o,
    output reg  [10*LANES-1:0] w_data_o
);
    localparam NW = CB + 1; // columns, ncols <= COLS
    // entry address bits: a bank tile has <= WDEPTH entries, a store tile ends below WSTORE
    localparam EW = (WSTORE > 0 && SA > WA) ? SA : WA;

    reg [NW-1:0] col_q, col_d;   // column being received
    reg [EW-1:0] blk_q, blk_d;   // block within the column (kblocks*4 <= 2^EW)
    reg [4:0]    bi_q, bi_d;     // byte within the block
    reg [EW-1:0] base_q, base_d; // first entry of the block in the column
    reg          bank_q, store_q;
    reg [EW-1:0] col_base_q;     // first entry of every column (store: saddr, bank: 0)
    reg [7:0]    width_q, kept_q;
    reg [4:0]    bb_m1_q, vb_q;  // bytes per block - 1, value bytes per block
    reg [127:0]  rb_val_q;       // block buffer: value bytes, positions
    reg [15:0]   rb_pos_q;
    reg          rb_full_q, rb_full_d;
    reg [CB-1:0] rb_col_q, rb_col_d;
    reg [EW-1:0] rb_base_q, rb_base_d;
    reg          em_active_q, em_active_d;
    reg [4:0]    em_i_q, em_i_d;
    reg [CB-1:0] em_col_q, em_col_d;
    reg [EW-1:0] em_base_q, em_base_d;
    reg [1:0]    prevpos_q;
    reg          pos_err_d;
    wire [127:0] em_val;         // the emitted block's value bytes; entry em_i_q is read in place
    wire [15:0]  em_pos;

    wire [4:0] em_n = {kept_q[2:0], 2'b00};
    // entries per emission cycle: 1, or (LANES = 4) one value byte's worth,
    // 2^lsh; em_i_q counts by that, so it stays a multiple of it
    wire [1:0] lsh = (LANES == 4) ? ((width_q == 8'd4) ? 2'd1 : (width_q == 8'd2) ? 2'd2 : 2'd0) : 2'd0;
    wire [4:0] em_step = 5'd1 << lsh;
    wire       em_one = (LANES == 4) && width_q == 8'd2 && kept_q == 8'd1; // int2 1:4: one cycle a block
    // em_i_q == em_n - em_step, kept as a flag (em_i_q restarts at 0 and
    // counts up by em_step): no subtract-and-compare on the path from the
    // loader to rx_ready and the payload byte enables
    reg        em_last;
    wire       em_free = !em_active_q || em_last;
    wire       em_xfer = rb_full_q && em_free;
    wire       blk_end = byte_i && bi_q == bb_m1_q;
    wire       rb_we = byte_i && bi_q < vb_q;
    wire       pos_hi = (bi_q != vb_q); // second position byte
    assign idle_o = !em_active_q && !rb_full_q;
    // the block buffer is full (double buffer) or still being emitted (single
    // buffer; the last entry is read in the same cycle the next byte is written)
    assign block_o = (WL_DBUF != 0) ? (rb_full_q && !em_free) : (rb_full_q || (em_active_q && !em_last));

    // Entry em_i_q + j of the block in lane j: byte em_i (int8), em_i/2
    // (int4) or em_i/4 (int2), then the nibble / 2-bit slot within it;
    // position em_i + j. em_i_q is a multiple of em_step, so em_i_q + j is
    // em_i_q | j for the lanes written.
    reg  [3:0] em_bidx;
    reg  [7:0] em_byte;
    wire [LANES-1:0]    em_we;
    wire [10*LANES-1:0] em_data;
    genvar j;
    generate
        for (j = 0; j < LANES; j = j + 1) begin : g_lane
            wire [2:0] ej = em_i_q[2:0] | j[2:0];
            reg  [7:0] code;
            always @*
                case (width_q)
                    8'd4:    code = {4'd0, ej[0] ? em_byte[7:4] : em_byte[3:0]};
                    8'd2:    code = {6'd0, em_byte[{ej[1:0], 1'b0} +: 2]};
                    default: code = em_byte;
                endcase
            wire [1:0] pb = (kept_q == 8'd4) ? ej[1:0] : em_pos[{ej[2:0], 1'b0} +: 2];
            assign em_data[10*j +: 10] = {pb, code};
            assign em_we[j] = em_active_q && (j[4:0] < em_step);
        end
    endgenerate
    wire [1:0] em_posbits = em_data[9:8];
    // LANES = 4: a 2:4 block's 4 position pairs are checked as it moves to
    // emission (pairs are written together); LANES = 1 checks entry by entry
    wire pos_bad = (rb_pos_q[3:2] <= rb_pos_q[1:0]) || (rb_pos_q[7:6] <= rb_pos_q[5:4]) ||
                   (rb_pos_q[11:10] <= rb_pos_q[9:8]) || (rb_pos_q[15:14] <= rb_pos_q[13:12]);
    /* verilator lint_off UNUSEDSIGNAL */
    reg  [EW-1:0] em_addr;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [EW-1:0] saddr_e = (WSTORE > 0 && store_i) ? {{(EW-SA){1'b0}}, saddr_i} : {EW{1'b0}};
    always @* begin
        case (width_q)
            8'd4:    em_bidx = {1'b0, em_i_q[3:1]};
            8'd2:    em_bidx = {2'b00, em_i_q[3:2]};
            default: em_bidx = em_i_q[3:0];
        endcase
        em_byte = em_val[{em_bidx, 3'b000} +: 8];
        em_addr = em_base_q + {{(EW-5){1'b0}}, em_i_q};
        w_we_o = em_we;
        w_st_o = store_q;
        w_col_o = em_col_q;
        w_addr_o = {bank_q, em_addr[WA-1:0]};
        w_saddr_o = em_addr[SA-1:0];
        w_data_o = em_data;
    end

    always @* begin
        col_d = col_q;
        blk_d = blk_q;
        bi_d = bi_q;
        base_d = base_q;
        rb_col_d = rb_col_q;
        rb_base_d = rb_base_q;
        pos_err_d = pos_err_o;
        if (start_i) begin
            col_d = {NW{1'b0}};
            blk_d = {EW{1'b0}};
            bi_d = 5'd0;
            base_d = saddr_e;
            pos_err_d = 1'b0;
        end else if (byte_i) begin
            if (blk_end) begin
                bi_d = 5'd0;
                rb_col_d = col_q[CB-1:0];
                rb_base_d = base_q;
                if ({{(32-EW){1'b0}}, blk_q} == {16'd0, kb_last_i}) begin
                    blk_d = {EW{1'b0}};
                    base_d = col_base_q;
                    col_d = col_q + {{(NW-1){1'b0}}, 1'b1};
                end else begin
                    blk_d = blk_q + {{(EW-1){1'b0}}, 1'b1};
                    base_d = base_q + {{(EW-5){1'b0}}, em_n};
                end
            end else begin
                bi_d = bi_q + 5'd1;
            end
        end
        rb_full_d = blk_end ? 1'b1 : (em_xfer ? 1'b0 : rb_full_q);
        em_active_d = em_active_q;
        em_i_d = em_i_q;
        em_col_d = em_col_q;
        em_base_d = em_base_q;
        if (em_xfer) begin
            em_active_d = 1'b1;
            em_i_d = 5'd0;
            em_col_d = rb_col_q;
            em_base_d = rb_base_q;
        end else if (em_active_q) begin
            if (em_last)
                em_active_d = 1'b0;
            em_i_d = em_i_q + em_step;
        end
        if (LANES == 1 ? (em_active_q && kept_q == 8'd2 && em_i_q[0] && em_posbits <= prevpos_q)
                       : (em_xfer && kept_q == 8'd2 && pos_bad))
            pos_err_d = 1'b1;
    end

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            rb_full_q <= 1'b0;
            em_active_q <= 1'b0;
        end else begin
            col_q <= col_d;
            blk_q <= blk_d;
            bi_q <= bi_d;
            base_q <= base_d;
            rb_col_q <= rb_col_d;
            rb_base_q <= rb_base_d;
            pos_err_o <= pos_err_d;
            rb_full_q <= rb_full_d;
            em_active_q <= em_active_d;
            em_last <= em_xfer ? em_one : (em_active_q ? (em_i_q == em_n - {em_step[3:0], 1'b0}) : em_last);
            em_i_q <= em_i_d;
            em_col_q <= em_col_d;
            em_base_q <= em_base_d;
            if (start_i) begin
                bank_q <= bank_i;
                store_q <= (WSTORE > 0) && store_i;
                col_base_q <= saddr_e;
                width_q <= width_i;
                kept_q <= kept_i;
                bb_m1_q <= blk_bytes_i - 5'd1;
                vb_q <= val_bytes_i;
            end
            if (em_active_q)
                prevpos_q <= em_posbits;
            if (!start_i && byte_i && bi_q >= vb_q)
                rb_pos_q[{pos_hi, 3'b000} +: 8] <= data_i;
        end
    end

    // value bytes: one enable per byte, no shifter
    integer k;
    always @(posedge clk_i)
        for (k = 0; k < 16; k = k + 1)
            if (rb_we && bi_q[3:0] == k[3:0])
                rb_val_q[8*k +: 8] <= data_i;

    generate
        if (WL_DBUF != 0) begin : g_dbuf
            reg [127:0] em_val_q;
            reg [15:0]  em_pos_q;
            always @(posedge clk_i)
                if (em_xfer) begin
                    em_val_q <= rb_val_q;
                    em_pos_q <= rb_pos_q;
                end
            assign em_val = em_val_q;
            assign em_pos = em_pos_q;
        end else begin : g_sbuf
            assign em_val = rb_val_q;
            assign em_pos = rb_pos_q;
        end
    endgenerate
endmodule
`default_nettype wire
