`default_nettype none
// Compute engine: the weight, activation and result memories, the step
// sequencer that streams one COMPUTE job through sparq_array, and the
// per-column result writers (overwrite or accumulate).
//
// Schedule of a job (t frames, kblocks blocks of 16 input channels, kept
// weights per group of 4, weight width int8/int4/int2): the frames are cut
// into tiles of ROWS; a step carries L consecutive kept weights, so a tile
// takes S = kblocks*4*kept / L steps and lasts P = max(S, 2*ROWS) cycles
// (the result chain needs 2*ROWS cycles per tile). L = 1 with LANES = 1;
// with LANES = 4, L = 1, 2 or 4 for int8, int4, int2. After the last tile
// the pipeline drains for DRAIN_CYCLES. The busy counter thus grows by
// tiles*P + DRAIN_CYCLES per job; sparq_devmodel_format_cycles() in
// host/src/device/device_model.c is the same formula.
//
// Feeding L weights per step (LANES = 4): each column's weight memory is 4
// banks by entry index mod 4, so the L entries of a step (L-aligned) are one
// read. Those L entries span up to L / kept groups of 4 channels (int2 1:4:
// 4 groups), so each row's activation memory is 4 banks by word mod 4 too
// (frames and block offsets are whole blocks of 4 words) and the row feeder
// hands lane i the word of the group its weight falls in: group i / kept.
// LANES = 1 keeps one memory per row and per column.
//
// Memories are double-banked (bank = address MSB): the controller fills one
// bank while a job reads the other.
module sparq_engine #(
    parameter ROWS   = 16,   // array rows (frames per tile); a power of two
    parameter COLS   = 16,   // array columns (output channels per job)
    parameter WDEPTH = 1024, // weight entries per column per bank
    parameter XDEPTH = 4096, // activation words (4 x int8) per row per bank
    parameter RDEPTH = 256,  // result frames per column
    parameter CNT_W  = 64,   // busy / MAC counter bits (the protocol zero-extends to 64)
    parameter LANES  = 1,    // MAC lanes per PE: 1, or 4 (an int4 step does 2, an int2 step 4 MACs)
    parameter WA = $clog2(WDEPTH),          // derived: entry address bits
    parameter XA = $clog2(XDEPTH),          // derived: activation address bits
    parameter RA = $clog2(RDEPTH),          // derived: result address bits
    parameter CB = (COLS > 1) ? $clog2(COLS) : 1, // derived: column index bits
    parameter RB = (ROWS > 1) ? $clog2(ROWS) : 1  // derived: row index bits
) (
    input  wire              clk_i,
    input  wire              rst_ni,
    // job
    input  wire              start_i,
    input  wire              wbank_i,
    input  wire              xbank_i,
    input  wire              acc_i,      // add into the result memory
    input  wire [1:0]        width_i,    // 0 int8, 1 int4, 2 int2
    input  wire [2:0]        kept_i,     // 4, 2 or 1
    // the controller bounds the job fields; the engine keeps the bits the depths need
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [15:0]       t_i,        // frames, 1..RDEPTH
    input  wire [15:0]       ncols_i,    // output channels, 1..COLS
    input  wire [15:0]       kblocks_i,  // blocks of 16 input channels
    input  wire [19:0]       xstride_i,  // activation words per frame in the bank
    input  wire [19:0]       xoff_i,     // first activation word used in each frame
    /* verilator lint_on UNUSEDSIGNAL */
    output wire              busy_o,
    output wire              wbank_o,    // banks the running job reads
    output wire              xbank_o,
    // weight memory write port: entry = {pos[1:0], code[7:0]}
    input  wire              w_we_i,
    input  wire [CB-1:0]     w_col_i,
    input  wire [WA:0]       w_addr_i,   // {bank, entry}
    input  wire [9:0]        w_data_i,
    // activation memory write port
    input  wire              x_we_i,
    input  wire [RB-1:0]     x_row_i,
    input  wire [XA:0]       x_addr_i,   // {bank, word}
    input  wire [31:0]       x_data_i,
    // result read port (only while not busy); data one cycle later
    input  wire [RA-1:0]     r_addr_i,
    input  wire [CB-1:0]     r_col_i,
    output wire [31:0]       r_data_o,
    // counters
    input  wire              cnt_clear_i,
    output reg  [CNT_W-1:0]  busy_cnt_o,
    output reg  [CNT_W-1:0]  macs_cnt_o
);
    localparam DRAIN_CYCLES = 2 * ROWS + COLS + 4;
    // A tile has at most WDEPTH steps (the controller checks
    // kblocks*4*kept <= WDEPTH), each adding a product of magnitude <= 2^14:
    // the PE accumulator needs WA + 16 bits, not 32.
    localparam ACC_W = (WA + 16 > 32) ? 32 : WA + 16;
    // Internal counter widths from the depths (the ports stay 16/20 bits).
    localparam SW = ((WA > RB + 1) ? WA : RB + 1) + 1;   // steps, period, step index
    localparam TW = RA + 1;                             // frames (t <= RDEPTH)
    localparam NW = CB + 1;                             // columns (ncols <= COLS)
    localparam XW = XA + 1;                             // activation word addresses
    localparam MW = RB + CB + 4;                        // MACs per step (<= 4 per PE)
    localparam DL = (ROWS > COLS) ? ROWS : COLS; // skew delay line length
    localparam BW = 3 + XA + WA;                 // bundle: valid, first, last, xaddr, waddr
    localparam integer ROWS_INT = ROWS;
    localparam integer MIN_PERIOD_INT = 2 * ROWS;
    localparam [TW-1:0] ROWS_T = ROWS_INT[TW-1:0];
    localparam [SW-1:0] MIN_PERIOD = MIN_PERIOD_INT[SW-1:0];
    localparam [7:0] DRAIN8 = DRAIN_CYCLES[7:0];

    generate
        if ((ROWS & (ROWS - 1)) != 0 || ROWS < 2 || COLS < 2 || WDEPTH < 32 || XDEPTH < 4 ||
            RDEPTH < ROWS || (WDEPTH & (WDEPTH - 1)) != 0 || (XDEPTH & (XDEPTH - 1)) != 0 ||
            (RDEPTH & (RDEPTH - 1)) != 0 || CNT_W < 32 || CNT_W > 64 || RDEPTH > 32768 ||
            WDEPTH > 262144 || XDEPTH > 262144 || (LANES != 1 && LANES != 4)) begin : g_bad_params
            // ROWS and the depths must be powers of two, ROWS, COLS >= 2, RDEPTH >= ROWS,
            // WDEPTH >= 32 (the weight loader adds a 5-bit entry count to a bank address),
            // counters 32..64 bits, 1 or 4 lanes.
            sparq_engine_illegal_parameters u_stop ();
        end
    endgenerate

    localparam [1:0] ST_IDLE = 2'd0, ST_RUN = 2'd1, ST_DRAIN = 2'd2;

    reg [1:0]  state_q, state_d;
    reg        wbank_q, xbank_q, acc_q;
    reg [1:0]  width_q;
    /* verilator lint_off UNUSEDSIGNAL */
    reg [2:0]  kept_q;        // bit 0 only steers the LANES = 4 row feeders
    /* verilator lint_on UNUSEDSIGNAL */
    reg [TW-1:0] t_q;
    reg [NW-1:0] ncols_q;
    reg [XW-1:0] xstride_q;   // activation words per frame
    reg [SW-1:0] steps_q;     // S
    reg [SW-1:0] period_q;    // P
    reg [TW-1:0] tiles_q, tile_q;
    reg [SW-1:0] p_q, e_q;
    reg [XW-1:0] xbase_q;
    reg [TW-1:0] rem_q;       // frames left from this tile on
    reg [7:0]    drain_q;

    reg [TW-1:0] tiles_d, tile_d;
    reg [SW-1:0] p_d, e_d;
    reg [XW-1:0] xbase_d;
    reg [TW-1:0] rem_d;
    reg [7:0]    drain_d;

    // The controller's checks bound every job field before start_i:
    // t <= RDEPTH, ncols <= COLS, kblocks*4*kept <= WDEPTH, and the frame
    // stride and offset keep every activation address below XDEPTH.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [TW-1:0] t_in       = t_i[TW-1:0];
    wire [NW-1:0] ncols_in   = ncols_i[NW-1:0];
    wire [SW-1:0] kb_in      = kblocks_i[SW-1:0];
    wire [XW-1:0] xstride_in = xstride_i[XW-1:0];
    wire [XW-1:0] xoff_in    = xoff_i[XW-1:0];
    /* verilator lint_on UNUSEDSIGNAL */

    // step issued this cycle
    wire          iv     = (state_q == ST_RUN) && (p_q < steps_q);
    wire          ifirst = (e_q == {SW{1'b0}});
    wire          ilast  = (e_q == steps_q - {{(SW-1){1'b0}}, 1'b1});
    /* verilator lint_off UNUSEDSIGNAL */
    // first kept entry of this step (L-aligned) and the group it falls in
    wire [1:0]    lshift_q = (LANES == 4) ? width_q : 2'd0;  // log2 L
    wire [1:0]    lshift_i = (LANES == 4) ? width_i : 2'd0;
    wire [WA-1:0] ient   = e_q[WA-1:0] << lshift_q;
    wire [WA-1:0] igroup = ient >> {kept_q[2], kept_q[1]};
    wire [31:0]   igroup32 = {{(32-WA){1'b0}}, igroup};
    wire [XW-1:0] ixaddr = xbase_q + igroup32[XW-1:0];  // < XDEPTH by the controller's checks
    /* verilator lint_on UNUSEDSIGNAL */
    wire [RB:0]   rows_valid = (rem_q > ROWS_T) ? ROWS_T[RB:0] : rem_q[RB:0];
    wire [MW-1:0] tile_macs = ({{(MW-RB-1){1'b0}}, rows_valid} * {{(MW-NW){1'b0}}, ncols_q}) << lshift_q;

    wire [SW-1:0] entries_new = {kb_in[SW-3:0], 2'b00} * {{(SW-3){1'b0}}, kept_i};
    wire [SW-1:0] steps_new = entries_new >> lshift_i;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [TW:0]   t_plus = {1'b0, t_in} + {1'b0, ROWS_T} - {{TW{1'b0}}, 1'b1};
    wire [TW:0]   tiles_new = t_plus >> RB;
    /* verilator lint_on UNUSEDSIGNAL */

    always @* begin
        state_d = state_q;
        tiles_d = tiles_q;
        tile_d = tile_q;
        p_d = p_q;
        e_d = e_q;
        xbase_d = xbase_q;
        rem_d = rem_q;
        drain_d = drain_q;
        case (state_q)
            ST_IDLE: begin
                if (start_i) begin
                    state_d = ST_RUN;
                    tiles_d = tiles_new[TW-1:0];
                    tile_d = {TW{1'b0}};
                    p_d = {SW{1'b0}};
                    e_d = {SW{1'b0}};
                    xbase_d = xoff_in;
                    rem_d = t_in;
                end
            end
            ST_RUN: begin
                if (p_q == period_q - {{(SW-1){1'b0}}, 1'b1}) begin
                    if (tile_q == tiles_q - {{(TW-1){1'b0}}, 1'b1}) begin
                        state_d = ST_DRAIN;
                        drain_d = DRAIN8 - 8'd1;
                    end else begin
                        tile_d = tile_q + {{(TW-1){1'b0}}, 1'b1};
                        xbase_d = xbase_q + xstride_q;
                        rem_d = rem_q - ROWS_T;
                        p_d = {SW{1'b0}};
                        e_d = {SW{1'b0}};
                    end
                end else begin
                    p_d = p_q + {{(SW-1){1'b0}}, 1'b1};
                    if (iv)
                        e_d = e_q + {{(SW-1){1'b0}}, 1'b1};
                end
            end
            ST_DRAIN: begin
                if (drain_q == 8'd0)
                    state_d = ST_IDLE;
                else
                    drain_d = drain_q - 8'd1;
            end
            default: state_d = ST_IDLE;
        endcase
    end

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            state_q <= ST_IDLE;
            busy_cnt_o <= {CNT_W{1'b0}};
            macs_cnt_o <= {CNT_W{1'b0}};
        end else begin
            state_q <= state_d;
            if (cnt_clear_i) begin
                busy_cnt_o <= {CNT_W{1'b0}};
                macs_cnt_o <= {CNT_W{1'b0}};
            end else begin
                if (state_q != ST_IDLE)
                    busy_cnt_o <= busy_cnt_o + {{(CNT_W-1){1'b0}}, 1'b1};
                if (iv)
                    macs_cnt_o <= macs_cnt_o + {{(CNT_W-MW){1'b0}}, tile_macs};
            end
        end
    end

    always @(posedge clk_i) begin
        tiles_q <= tiles_d;
        tile_q <= tile_d;
        p_q <= p_d;
        e_q <= e_d;
        xbase_q <= xbase_d;
        rem_q <= rem_d;
        drain_q <= drain_d;
        if (state_q == ST_IDLE && start_i) begin
            wbank_q <= wbank_i;
            xbank_q <= xbank_i;
            acc_q <= acc_i;
            width_q <= width_i;
            kept_q <= kept_i;
            t_q <= t_in;
            ncols_q <= ncols_in;
            xstride_q <= xstride_in;
            steps_q <= steps_new;
            period_q <= (steps_new > MIN_PERIOD) ? steps_new : MIN_PERIOD;
        end
    end

    assign busy_o = (state_q != ST_IDLE);
    assign wbank_o = wbank_q;
    assign xbank_o = xbank_q;

    // ---- skew delay line of the step bundle -------------------------------
    wire [BW-1:0] issue = {iv, ifirst, ilast, ixaddr[XA-1:0], ient};
    reg  [BW-1:0] dl_q [1:DL-1];
    wire [BW-1:0] tap  [0:DL-1];
    assign tap[0] = issue;
    genvar k;
    generate
        for (k = 1; k < DL; k = k + 1) begin : g_dl
            always @(posedge clk_i) begin
                if (!rst_ni)
                    dl_q[k] <= {BW{1'b0}};
                else
                    dl_q[k] <= tap[k-1];
            end
            assign tap[k] = dl_q[k];
        end
    endgenerate

    // ---- activation and weight feeders --------------------------------------
    // The feeder memories are read only while a job runs (the array uses
    // their words only on valid steps); that also spares the Verilator
    // model 2 x 16 x 4 memory reads a cycle when idle.
    localparam XB = 32 * LANES, WB = (LANES == 1) ? 8 : 16, PB = 2 * LANES;
    wire [ROWS*XB-1:0] arr_x;
    reg  [ROWS-1:0]    arr_xv, arr_first, arr_last;
    wire [COLS*WB-1:0] arr_w;
    wire [COLS*PB-1:0] arr_pos;
    genvar r, c, mb;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_xrow
            wire [BW-1:0] b = tap[r];
            wire [XA-1:0] xaddr = b[WA +: XA];
            if (LANES == 1) begin : g_x1
                sparq_ram #(.WIDTH(32), .DEPTH(2 * XDEPTH)) u_xmem (
                    .clk_i   (clk_i),
                    .we_i    (x_we_i && (x_row_i == r[RB-1:0])),
                    .re_i    (busy_o),
                    .waddr_i (x_addr_i),
                    .wdata_i (x_data_i),
                    .raddr_i ({xbank_q, xaddr}),
                    .rdata_o (arr_x[32*r +: 32])
                );
            end else begin : g_x4
                // 4 word banks; lane i's word is the group its weight falls
                // in: group i / kept of the step's window (kept 4: all lanes
                // group 0; kept 2: 0,0,1,1; kept 1: 0..3).
                wire [1:0] grp1 = kept_q[0] ? 2'd1 : 2'd0;
                wire [1:0] grp2 = kept_q[0] ? 2'd2 : kept_q[1] ? 2'd1 : 2'd0;
                wire [1:0] grp3 = kept_q[0] ? 2'd3 : kept_q[1] ? 2'd1 : 2'd0;
                wire [127:0] quad;   // words 4q .. 4q+3 of the read quad
                reg  [1:0]   word_q; // the step's first word within the quad
                for (mb = 0; mb < 4; mb = mb + 1) begin : g_xbank
                    sparq_ram #(.WIDTH(32), .DEPTH(2 * XDEPTH / 4)) u_xmem (
                        .clk_i   (clk_i),
                        .we_i    (x_we_i && (x_row_i == r[RB-1:0]) && (x_addr_i[1:0] == mb[1:0])),
                        .re_i    (busy_o),
                        .waddr_i (x_addr_i[XA:2]),
                        .wdata_i (x_data_i),
                        .raddr_i ({xbank_q, xaddr[XA-1:2]}),
                        .rdata_o (quad[32*mb +: 32])
                    );
                end
                always @(posedge clk_i)
                    word_q <= xaddr[1:0];
                wire [1:0] s0 = word_q, s1 = word_q + grp1, s2 = word_q + grp2, s3 = word_q + grp3;
                wire [127:0] lanes_x = {quad[32*s3 +: 32], quad[32*s2 +: 32], quad[32*s1 +: 32],
                                        quad[32*s0 +: 32]};
`ifdef VERILATOR
                // the model skips the word mux while idle (used on valid steps only)
                assign arr_x[128*r +: 128] = busy_o ? lanes_x : 128'd0;
`else
                assign arr_x[128*r +: 128] = lanes_x;
`endif
            end
            always @(posedge clk_i) begin
                if (!rst_ni) begin
                    arr_xv[r] <= 1'b0;
                end else begin
                    arr_xv[r] <= b[BW-1];
                end
                arr_first[r] <= b[BW-2];
                arr_last[r] <= b[BW-3];
            end
        end

        // Weight feeders and the lane split: entry j of a step goes to lane
        // j (int8 lane 0; int4 lanes 0-1; int2 lanes 0-3), sign-extended to
        // its lane's width (lane 0: 8 bits, lane 1: 4). A narrow code keeps
        // its packed width in the low bits of its entry.
        for (c = 0; c < COLS; c = c + 1) begin : g_wcol
            wire [WA-1:0] ent_c = tap[c][WA-1:0];
            if (LANES == 1) begin : g_w1
                wire [9:0] e;
                sparq_ram #(.WIDTH(10), .DEPTH(2 * WDEPTH)) u_wmem (
                    .clk_i   (clk_i),
                    .we_i    (w_we_i && (w_col_i == c[CB-1:0])),
                    .re_i    (busy_o),
                    .waddr_i (w_addr_i),
                    .wdata_i (w_data_i),
                    .raddr_i ({wbank_q, ent_c}),
                    .rdata_o (e)
                );
                assign arr_w[8*c +: 8] = (width_q == 2'd1) ? {{4{e[3]}}, e[3:0]} :
                                         (width_q == 2'd2) ? {{6{e[1]}}, e[1:0]} : e[7:0];
                assign arr_pos[2*c +: 2] = e[9:8];
            end else begin : g_w4
                wire [39:0] quad;   // entries 4q .. 4q+3, {pos, code} each
                reg  [1:0]  ent_q;  // the step's first entry within the quad
                for (mb = 0; mb < 4; mb = mb + 1) begin : g_wbank
                    sparq_ram #(.WIDTH(10), .DEPTH(2 * WDEPTH / 4)) u_wmem (
                        .clk_i   (clk_i),
                        .we_i    (w_we_i && (w_col_i == c[CB-1:0]) && (w_addr_i[1:0] == mb[1:0])),
                        .re_i    (busy_o),
                        .waddr_i (w_addr_i[WA:2]),
                        .wdata_i (w_data_i),
                        .raddr_i ({wbank_q, ent_c[WA-1:2]}),
                        .rdata_o (quad[10*mb +: 10])
                    );
                end
                always @(posedge clk_i)
                    ent_q <= ent_c[1:0];
                /* verilator lint_off UNUSEDSIGNAL */
                wire [9:0] e8  = quad[10*ent_q +: 10];             // int8: one entry
                wire [9:0] e40 = quad[10*{ent_q[1], 1'b0} +: 10];  // int4: two entries
                wire [9:0] e41 = quad[10*{ent_q[1], 1'b1} +: 10];
                wire [9:0] q0 = quad[9:0], q1 = quad[19:10], q2 = quad[29:20], q3 = quad[39:30];
                /* verilator lint_on UNUSEDSIGNAL */
                reg  [15:0] lw;
                reg  [7:0]  lp;
                always @* begin
                    lw = 16'd0;
                    lp = 8'd0;
`ifdef VERILATOR
                    // the model skips the lane split while idle (used on valid steps only)
                    if (busy_o)
`endif
                    case (width_q)
                        2'd1: begin
                            lw = {4'd0, e41[3:0], {4{e40[3]}}, e40[3:0]};
                            lp = {4'd0, e41[9:8], e40[9:8]};
                        end
                        2'd2: begin
                            lw = {q3[1:0], q2[1:0], {2{q1[1]}}, q1[1:0], {6{q0[1]}}, q0[1:0]};
                            lp = {q3[9:8], q2[9:8], q1[9:8], q0[9:8]};
                        end
                        default: begin
                            lw = {8'd0, e8[7:0]};
                            lp = {6'd0, e8[9:8]};
                        end
                    endcase
                end
                assign arr_w[16*c +: 16] = lw;
                assign arr_pos[8*c +: 8] = lp;
            end
        end
    endgenerate

    // ---- the array ----------------------------------------------------------
    wire [COLS*32-1:0] res;
    wire [COLS-1:0]    res_v;
    sparq_array #(.ROWS(ROWS), .COLS(COLS), .ACC_W(ACC_W), .LANES(LANES)) u_array (
        .clk_i   (clk_i),
        .rst_ni  (rst_ni),
        .en_i    (busy_o),
        .x_i     (arr_x),
        .xv_i    (arr_xv),
        .first_i (arr_first),
        .last_i  (arr_last),
        .w_i     (arr_w),
        .pos_i   (arr_pos),
        .res_o   (res),
        .res_v_o (res_v)
    );

    // ---- result writers: read-modify-write, one column memory each ---------
    reg  [CB-1:0] r_col_q;
    always @(posedge clk_i)
        r_col_q <= r_col_i;
    wire [31:0] rdata [0:COLS-1];
    generate
        for (c = 0; c < COLS; c = c + 1) begin : g_rcol
            reg  [TW-1:0] fr_q;  // frame of the next result leaving this column
            reg         a_v_q;
            reg  [RA-1:0] a_addr_q;
            reg  [31:0] a_item_q;
            wire        keep = res_v[c] && (fr_q < t_q) && (c < {{(32-NW){1'b0}}, ncols_q});
            always @(posedge clk_i) begin
                if (!rst_ni) begin
                    a_v_q <= 1'b0;
                end else begin
                    a_v_q <= keep;
                end
                if (state_q == ST_IDLE)
                    fr_q <= {TW{1'b0}};
                else if (res_v[c])
                    fr_q <= fr_q + {{(TW-1){1'b0}}, 1'b1};
                a_addr_q <= fr_q[RA-1:0];
                a_item_q <= res[32*c +: 32];
            end
            sparq_ram #(.WIDTH(32), .DEPTH(RDEPTH)) u_rmem (
                .clk_i   (clk_i),
                .we_i    (a_v_q),
                .re_i    (1'b1),
                .waddr_i (a_addr_q),
                .wdata_i ((acc_q ? rdata[c] : 32'd0) + a_item_q),
                .raddr_i (busy_o ? fr_q[RA-1:0] : r_addr_i),
                .rdata_o (rdata[c])
            );
        end
    endgenerate
    assign r_data_o = rdata[r_col_q];
endmodule
`default_nettype wire
