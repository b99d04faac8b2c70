`default_nettype none
// Compute engine: the weight, activation and result memories, the step
// sequencer that streams one COMPUTE job through sparq_array, and the
// per-column result writers (overwrite or accumulate).
//
// Schedule of a job (t frames, kblocks blocks of 16 input channels, kept
// weights per group of 4, width int8/int4/int2): tiles of ROWS frames, each
// S = kblocks*4*kept / L steps of L kept weights, lasting P = max(S, M)
// cycles (M: what the result chains need per tile). LANES = 1: L = 1, M =
// 2*ROWS (systolic, row and column skew). LANES = 4: L = 1, 2, 4 for int8,
// int4, int2, M = ROWS/2 (broadcast array, two chains a column). LANES = 0
// (bit-serial, sparq_array_serial): a kept weight takes B = 8, 4, 2 steps,
// P = max(S*B + 1, ROWS) (+1: the accumulators' clear). The pipeline then
// drains for DRAIN_CYCLES = M + 4 (+ COLS with LANES = 1, + 8 with LANES =
// 0), so busy grows by tiles*P + DRAIN_CYCLES per job, the formula of
// sparq_devmodel_format_cycles() (host/src/device/job_cycles.c).
//
// Feeding L weights per step (LANES = 4): each column's weight memory is 4
// banks by entry index mod 4, so the L entries of a step (L-aligned) are one
// read. Those L entries span up to L / kept groups of 4 channels (int2 1:4:
// 4 groups), so each row's activation memory is 4 banks by word mod 4 too
// (frames and block offsets are whole blocks of 4 words) and the row feeder
// hands lane i the word of the group its weight falls in: group i / kept.
// LANES = 1 keeps one memory per row and per column.
//
// Memories are banked (bank = address MSBs): the controller fills one bank
// while a job reads another. Weights: 2 banks, plus (WSTORE > 0) a weight
// store a COMPUTE_S job reads at any entry address; activations: XBANKS
// banks; results: RBUFS buffers, each a memory per column, so a READ of one
// streams while a job writes the other.
//
// An EPILOGUE job (LUTS > 0, sparq_epilogue) turns one result buffer into
// one 16-channel block of an activation bank, a frame per cycle: cycle 0
// reads the requant parameters, cycle 1+f reads frame f of every column, 2+f
// requantizes, 3+f looks up the table, 4+f writes the block's 4 words into
// row f mod ROWS. So it is busy t + 4 cycles (SPARQ_EPILOGUE_CYCLES) and
// does no MACs.
module sparq_engine #(
    parameter ROWS   = 16,   // array rows (frames per tile); a power of two
    parameter COLS   = 16,   // array columns (output channels per job)
    parameter WDEPTH = 1024, // weight entries per column per bank
    parameter XDEPTH = 4096, // activation words (4 x int8) per row per bank
    parameter RDEPTH = 256,  // result frames per column
    parameter CNT_W  = 64,   // busy / MAC counter bits (the protocol zero-extends to 64)
    parameter LANES  = 1,    // MAC lanes per PE: 1, or 4 (an int4 step does 2, an int2 step 4 MACs);
                             // 0: bit-serial PEs (a kept weight takes 8 / 4 / 2 cycles)
    parameter XBANKS = 2,    // activation banks (power of two)
    parameter RBUFS  = 1,    // result buffers: 1 or 2
    parameter WSTORE = 0,    // weight-store entries per column (0: none)
    parameter LUTS   = 0,    // epilogue tables (0: no EPILOGUE)
    parameter QW     = 69,   // requant parameter entry bits {shift[5:0], mult[30:0], bias[31:0]}
    parameter WA = $clog2(WDEPTH),          // derived: entry address bits
    parameter XA = $clog2(XDEPTH),          // derived: activation address bits
    parameter RA = $clog2(RDEPTH),          // derived: result address bits
    parameter CB = (COLS > 1) ? $clog2(COLS) : 1, // derived: column index bits
    parameter RB = (ROWS > 1) ? $clog2(ROWS) : 1, // derived: row index bits
    parameter XBB = (XBANKS > 1) ? $clog2(XBANKS) : 1, // derived: activation bank bits
    parameter SA = (WSTORE > 1) ? $clog2(WSTORE) : 1,  // derived: store entry bits
    parameter LB = (LUTS > 1) ? $clog2(LUTS) : 1,      // derived: table index bits
    parameter EL = (COLS < 16) ? COLS : 16,            // derived: epilogue channels per cycle
    parameter WL = (LANES == 4) ? 4 : 1                // derived: weight entries per write
) (
    input  wire              clk_i,
    input  wire              rst_ni,
    // job
    input  wire              start_i,
    input  wire [1:0]        job_i,      // JOB_BANK (COMPUTE), JOB_STORE (COMPUTE_S), JOB_EPI (EPILOGUE)
    input  wire              wbank_i,
    input  wire [XBB-1:0]    xbank_i,    // activation bank read (compute) or written (epilogue)
    input  wire              rbuf_i,     // result buffer written (compute) or read (epilogue)
    input  wire [SA-1:0]     saddr_i,    // store entry of the tile (COMPUTE_S)
    input  wire [7:0]        lut_i,      // epilogue table, 0xFF none
    input  wire              acc_i,      // add into the result memory
    input  wire [1:0]        width_i,    // 0 int8, 1 int4, 2 int2
    input  wire [2:0]        kept_i,     // 4, 2 or 1
    // the controller bounds the job fields; the engine keeps the bits the depths need
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [15:0]       t_i,        // frames, 1..RDEPTH
    input  wire [15:0]       ncols_i,    // output channels, 1..COLS (epilogue: 1..EL)
    input  wire [15:0]       kblocks_i,  // blocks of 16 input channels
    input  wire [19:0]       xstride_i,  // activation words per frame in the bank
    input  wire [19:0]       xoff_i,     // first activation word used (epilogue: written) in each frame
    /* verilator lint_on UNUSEDSIGNAL */
    output wire              busy_o,
    output wire [1:0]        job_o,      // the running job's kind and buffers
    output wire              wbank_o,
    output wire [XBB-1:0]    xbank_o,
    output wire              rbuf_o,
    // weight memory write port: entry = {pos[1:0], code[7:0]}; lane j (w_we_i[j])
    // writes entry w_addr_i / w_saddr_i + j (LANES = 4: up to 4 consecutive entries)
    input  wire [WL-1:0]     w_we_i,
    input  wire              w_st_i,     // 1: into the store at w_saddr_i, 0: bank memory at w_addr_i
    input  wire [CB-1:0]     w_col_i,
    input  wire [WA:0]       w_addr_i,   // {bank, entry}
    /* verilator lint_off UNUSEDSIGNAL */ // (without a store / an epilogue / two result buffers)
    input  wire [SA-1:0]     w_saddr_i,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [10*WL-1:0]  w_data_i,
    // activation memory write port (the controller does not write while an epilogue runs)
    input  wire              x_we_i,
    input  wire [RB-1:0]     x_row_i,
    input  wire [XBB+XA-1:0] x_addr_i,   // {bank, word}
    input  wire [31:0]       x_data_i,
    // result read port (buffer r_buf_i, not the one a running job uses); data one cycle later
    input  wire              r_buf_i,
    input  wire [RA-1:0]     r_addr_i,
    input  wire [CB-1:0]     r_col_i,
    input  wire              r_re_i,     // the controller reads r_addr_i this cycle
    output wire [31:0]       r_data_o,
    output wire [32*COLS-1:0] r_all_o,   // every column's result at r_addr_i, a cycle later (wide host port)
    // epilogue: requant parameters (the controller's memory: read request in cycle 0,
    // the EL entries in cycle 1) and the table write port
    output wire              qb_re_o,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [EL*QW-1:0]  qb_data_i,
    input  wire              lut_we_i,
    input  wire [LB+7:0]     lut_waddr_i, // {table, entry}
    input  wire [7:0]        lut_wdata_i,
    /* verilator lint_on UNUSEDSIGNAL */
    // counters
    input  wire              cnt_clear_i,
    output reg  [CNT_W-1:0]  busy_cnt_o,
    output reg  [CNT_W-1:0]  macs_cnt_o
);
    localparam SERIAL = (LANES == 0);
    localparam MIN_P = (LANES == 4) ? ROWS / 2 : SERIAL ? ROWS : 2 * ROWS; // M above
    localparam DRAIN_CYCLES = MIN_P + 4 + ((LANES == 1) ? COLS : SERIAL ? 8 : 0);
    // Entry address bits of a job: a bank tile has at most WDEPTH entries, a
    // store tile at most WSTORE (the controller checks both).
    localparam EA = (WSTORE > 0 && SA > WA) ? SA : WA;
    // A tile has at most 2^EA steps, each adding a product of magnitude
    // <= 2^14: the PE accumulator needs EA + 16 bits, not 32.
    localparam ACC_W = (EA + 16 > 32) ? 32 : EA + 16;
    // Internal counter widths from the depths (the ports stay 16/20 bits).
    localparam SB = SERIAL ? 3 : 0;                     // bit steps per entry: up to 2^SB
    localparam SW = ((EA + SB > RB + 1) ? EA + SB : RB + 1) + 1; // steps, period, step index
    localparam TW = RA + 1;                             // frames (t <= RDEPTH)
    localparam NW = CB + 1;                             // columns (ncols <= COLS)
    localparam XW = XA + 1;                             // activation word addresses
    localparam MW = RB + CB + 4;                        // MACs per step (<= 4 per PE)
    localparam DL = (LANES != 1) ? 1 : (ROWS > COLS) ? ROWS : COLS; // skew delay line length (no skew: 1)
    localparam BW = 3 + XA + EA;                 // bundle: valid, first, last, xaddr, waddr
    localparam integer ROWS_INT = ROWS;
    localparam integer MIN_PERIOD_INT = MIN_P;
    localparam [TW-1:0] ROWS_T = ROWS_INT[TW-1:0];
    localparam [SW-1:0] MIN_PERIOD = MIN_PERIOD_INT[SW-1:0];
    localparam [7:0] DRAIN8 = DRAIN_CYCLES[7:0];
    // The four-lane build (the Verilator model) holds the delay line, the
    // result writers' data registers and the result memories' reads while
    // nothing uses them, which its model then skips on idle cycles. The
    // one-lane board build keeps them free-running (the same results; its
    // UP5K image is timed with 3 % margin).
    localparam GATE_IDLE = (LANES == 4);

    generate
        if ((ROWS & (ROWS - 1)) != 0 || ROWS < 2 || COLS < 2 || WDEPTH < 32 || XDEPTH < 4 ||
            RDEPTH < ROWS || (WDEPTH & (WDEPTH - 1)) != 0 || (XDEPTH & (XDEPTH - 1)) != 0 ||
            (RDEPTH & (RDEPTH - 1)) != 0 || CNT_W < 32 || CNT_W > 64 || RDEPTH > 32768 ||
            WDEPTH > 262144 || XDEPTH > 262144 || (LANES != 0 && LANES != 1 && LANES != 4) ||
            XBANKS < 2 || (XBANKS & (XBANKS - 1)) != 0 || XBANKS > 16 || RBUFS < 1 || RBUFS > 2 ||
            (WSTORE != 0 && (WSTORE < 16 || (WSTORE & (WSTORE - 1)) != 0 || WSTORE > 16777216)) ||
            LUTS < 0 || LUTS > 255 || (LUTS > 0 && LANES != 4) || (LANES == 4 && RDEPTH < 4)) begin : g_bad_params
            // ROWS and the depths powers of two, ROWS, COLS >= 2, RDEPTH >= ROWS, WDEPTH >= 32
            // (the weight loader adds a 5-bit entry count to a bank address), counters 32..64
            // bits, 0 (bit-serial), 1 or 4 lanes; 2..16 activation banks (a power of two), 1 or 2
            // result buffers, a store of 0 or a power of two >= 16 entries; the epilogue writes a
            // 16-channel block in one cycle: it needs the 4 word banks of LANES = 4.
            sparq_engine_illegal_parameters u_stop ();
        end
    endgenerate

    localparam [1:0] ST_IDLE = 2'd0, ST_RUN = 2'd1, ST_DRAIN = 2'd2, ST_EPI = 2'd3;
    localparam [1:0] JOB_BANK = 2'd0, JOB_STORE = 2'd1, JOB_EPI = 2'd2;

    reg [1:0]  state_q, state_d;
    reg        wbank_q, acc_q, rbuf_q;
    reg [XBB-1:0] xbank_q;
    reg [1:0]  job_q;
    reg [SA-1:0] saddr_q;
    /* verilator lint_off UNUSEDSIGNAL */
    reg [7:0]  lut_q;
    /* verilator lint_on UNUSEDSIGNAL */
    reg [TW+1:0] epn_q, epn_d; // epilogue cycle, 0 .. t + 3
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
    wire [31:0]   kb32       = {16'd0, kblocks_i};
    wire [SW-1:0] kb_in      = kb32[SW-1:0];
    wire [XW-1:0] xstride_in = xstride_i[XW-1:0];
    wire [XW-1:0] xoff_in    = xoff_i[XW-1:0];
    /* verilator lint_on UNUSEDSIGNAL */

    // step issued this cycle (bit-serial: a step per weight bit, the entry's read on bit 0)
    wire [2:0]    bmask  = SERIAL ? (3'd7 >> width_q) : 3'd0;
    wire          iv     = (state_q == ST_RUN) && (p_q < steps_q) && ((p_q[2:0] & bmask) == 3'd0);
    wire          ifirst = (e_q == {SW{1'b0}});
    wire          ilast  = (e_q == steps_q - {{(SW-1){1'b0}}, 1'b1});
    /* verilator lint_off UNUSEDSIGNAL */
    // first kept entry of this step (L-aligned) and the group it falls in
    wire [1:0]    lshift_q = (LANES == 4) ? width_q : 2'd0;  // log2 L
    wire [1:0]    lshift_i = (LANES == 4) ? width_i : 2'd0;
    wire [EA-1:0] ient   = e_q[EA-1:0] << lshift_q;
    wire [EA-1:0] igroup = ient >> {kept_q[2], kept_q[1]};
    wire [31:0]   igroup32 = {{(32-EA){1'b0}}, igroup};
    wire [31:0]   ient32 = {{(32-EA){1'b0}}, ient} +
                           ((job_q == JOB_STORE) ? {{(32-SA){1'b0}}, saddr_q} : 32'd0);
    wire [EA-1:0] iaddr  = ient32[EA-1:0];  // entry in the bank, or in the store (< WSTORE)
    wire [XW-1:0] ixaddr = xbase_q + igroup32[XW-1:0];  // < XDEPTH by the controller's checks
    /* verilator lint_on UNUSEDSIGNAL */
    wire [RB:0]   rows_valid = (rem_q > ROWS_T) ? ROWS_T[RB:0] : rem_q[RB:0];
    wire [MW-1:0] tile_macs = ({{(MW-RB-1){1'b0}}, rows_valid} * {{(MW-NW){1'b0}}, ncols_q}) << lshift_q;

    wire [SW-1:0] entries_new = {kb_in[SW-3:0], 2'b00} * {{(SW-3){1'b0}}, kept_i};
    wire [SW-1:0] steps_new = SERIAL ? entries_new << (2'd3 - width_i) : entries_new >> lshift_i;
    wire [SW-1:0] busy_new = steps_new + (SERIAL ? {{(SW-1){1'b0}}, 1'b1} : {SW{1'b0}});
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
        epn_d = epn_q;
        case (state_q)
            ST_IDLE: begin
                epn_d = {(TW+2){1'b0}};
                if (start_i && job_i == JOB_EPI && LUTS > 0) begin
                    state_d = ST_EPI;
                end else if (start_i) begin
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
            default: begin // ST_EPI: t + 4 cycles (unreachable without tables)
                if (LUTS == 0 || epn_q == {2'b00, t_q} + {{TW{1'b0}}, 2'd3})
                    state_d = ST_IDLE;
                else
                    epn_d = epn_q + {{(TW+1){1'b0}}, 1'b1};
            end
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
        epn_q <= epn_d;
        if (state_q == ST_IDLE && start_i) begin
            job_q <= job_i;
            rbuf_q <= (RBUFS > 1) ? rbuf_i : 1'b0;
            saddr_q <= saddr_i;
            lut_q <= lut_i;
            wbank_q <= wbank_i;
            xbank_q <= xbank_i;
            acc_q <= acc_i;
            width_q <= width_i;
            kept_q <= kept_i;
            t_q <= t_in;
            ncols_q <= ncols_in;
            xstride_q <= xstride_in;
            steps_q <= steps_new;
            period_q <= (busy_new > MIN_PERIOD) ? busy_new : MIN_PERIOD;
        end
    end

    assign busy_o = (state_q != ST_IDLE);
    assign job_o = job_q;
    assign wbank_o = wbank_q;
    assign xbank_o = xbank_q;
    assign rbuf_o = rbuf_q;
    wire run_store = busy_o && (job_q == JOB_STORE);
    wire run_bank = busy_o && (job_q == JOB_BANK);

    // ---- skew delay line of the step bundle -------------------------------
    wire [BW-1:0] issue = {iv, ifirst, ilast, ixaddr[XA-1:0], iaddr};
    wire [BW-1:0] tap  [0:DL-1];
    assign tap[0] = issue;
    genvar k;
    generate
        for (k = 1; k < DL; k = k + 1) begin : g_dl
            // moves while a job runs: the DRAIN state (longer than the line)
            // leaves it full of invalid steps, which the feeders ignore
            reg [BW-1:0] dl_q;
            always @(posedge clk_i) begin
                if (!rst_ni)
                    dl_q <= {BW{1'b0}};
                else if (busy_o || !GATE_IDLE)
                    dl_q <= tap[k-1];
            end
            assign tap[k] = dl_q;
        end
    endgenerate

    // ---- activation and weight feeders --------------------------------------
    // The feeder memories are read only while a job runs (the array uses
    // their words only on valid steps); that also spares the Verilator
    // model 2 x 16 x 4 memory reads a cycle when idle.
    localparam XB = (LANES == 4) ? 128 : SERIAL ? 16 : 32, WB = (LANES == 4) ? 16 : 8, PB = (LANES == 4) ? 8 : 2;
    wire [ROWS*XB-1:0] arr_x;
    /* verilator lint_off UNUSEDSIGNAL */ // (LANES = 0: none used)
    reg  [ROWS-1:0]    arr_xv, arr_first, arr_last;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [COLS*WB-1:0] arr_w;
    wire [COLS*PB-1:0] arr_pos;
    // weight writes steered to the 4 entry banks (LANES = 4; below)
    localparam SR = (SA > 2) ? SA - 2 : 1;
    /* verilator lint_off UNUSEDSIGNAL */ // (LANES = 1; st_row without a store)
    wire [3:0]      bk_we, st_we;
    wire [39:0]     bk_data;
    wire [4*SR-1:0] st_row;
    /* verilator lint_on UNUSEDSIGNAL */
    // Bit-serial (LANES = 0): each row memory holds 16-bit halves, read on
    // two cycles per kept weight (x_hi_q: the second), so one iCE40 block
    // RAM (256 x 16) serves a row with no output mux (writes: sparq_xhalf).
    /* verilator lint_off UNUSEDSIGNAL */ // (LANES != 0)
    /* verilator lint_off UNDRIVEN */
    reg              x_hi_q;
    reg [XA-1:0]     xh_raddr_q;
    wire             xh_we;
    wire [RB-1:0]    xh_row;
    wire [XBB+XA:0]  xh_waddr;
    wire [15:0]      xh_wdata;
    /* verilator lint_on UNDRIVEN */
    wire             xh_re = (run_bank || run_store) && (tap[0][BW-1] || x_hi_q);
    generate
        if (SERIAL) begin : g_xhalf
            always @(posedge clk_i) begin
                x_hi_q <= rst_ni && iv;
                xh_raddr_q <= tap[0][EA +: XA];
            end
            sparq_xhalf #(.AW(XBB + XA), .RB(RB)) u_xhalf (.clk_i(clk_i), .rst_ni(rst_ni), .we_i(x_we_i),
                .row_i(x_row_i), .addr_i(x_addr_i), .data_i(x_data_i), .we_o(xh_we), .row_o(xh_row),
                .addr_o(xh_waddr), .data_o(xh_wdata));
        end
    endgenerate
    /* verilator lint_on UNUSEDSIGNAL */
    genvar r, c, mb;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_xrow
            wire [BW-1:0] b = tap[(LANES == 1) ? r : 0]; // no skew with the broadcast arrays
            wire [XA-1:0] xaddr = b[EA +: XA];
            if (SERIAL) begin : g_xs
                // {bank, word, half}: the low half read with the entry, the high half a cycle later
                sparq_ram #(.WIDTH(16), .DEPTH(2 * XBANKS * XDEPTH)) u_xmem (
                    .clk_i   (clk_i),
                    .we_i    (xh_we && (xh_row == r[RB-1:0])),
                    .re_i    (xh_re),
                    .waddr_i (xh_waddr),
                    .wdata_i (xh_wdata),
                    .raddr_i (x_hi_q ? {xbank_q, xh_raddr_q, 1'b1} : {xbank_q, xaddr, 1'b0}),
                    .rdata_o (arr_x[16*r +: 16])
                );
            end else if (LANES == 1) begin : g_x1
                sparq_ram #(.WIDTH(32), .DEPTH(XBANKS * XDEPTH)) u_xmem (
                    .clk_i   (clk_i),
                    .we_i    (x_we_i && (x_row_i == r[RB-1:0])),
                    .re_i    (run_bank || run_store),
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
                // the epilogue writes a whole block (4 words, one per bank) of a frame
                wire ep_row = ep_we && (ep_row_q == r[RB-1:0]);
                for (mb = 0; mb < 4; mb = mb + 1) begin : g_xbank
                    sparq_ram #(.WIDTH(32), .DEPTH(XBANKS * XDEPTH / 4)) u_xmem (
                        .clk_i   (clk_i),
                        .we_i    (ep_row || (x_we_i && (x_row_i == r[RB-1:0]) && (x_addr_i[1:0] == mb[1:0]))),
                        .re_i    (run_bank || run_store),
                        .waddr_i (ep_row ? {xbank_q, ep_quad_q} : x_addr_i[XBB+XA-1:2]),
                        .wdata_i (ep_row ? ep_word[32*mb +: 32] : x_data_i),
                        .raddr_i ({xbank_q, xaddr[XA-1:2]}),
                        .rdata_o (quad[32*mb +: 32])
                    );
                end
                always @(posedge clk_i)
                    if (busy_o)
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

        // Weight writes (LANES = 4): loader lane j holds entry a + j, which
        // falls in bank (a + j) mod 4, row (a + j) / 4; so bank mb takes lane
        // (mb - a) mod 4. A bank tile's writes never cross a row (a is a
        // multiple of the entries written), a store tile's may (any start).
        if (LANES == 4) begin : g_wsteer
            wire [1:0] sa_lo;
            if (WSTORE > 0) begin : g_srow
                assign sa_lo = w_saddr_i[1:0];
                for (mb = 0; mb < 4; mb = mb + 1) begin : g_row
                    /* verilator lint_off CMPCONST */
                    assign st_row[SR*mb +: SR] = w_saddr_i[SA-1:2] + {{(SR-1){1'b0}}, (mb[1:0] < sa_lo)};
                    /* verilator lint_on CMPCONST */
                end
            end else begin : g_nosrow
                assign sa_lo = 2'd0;
                assign st_row = {(4*SR){1'b0}};
            end
            wire [1:0] a = w_st_i ? sa_lo : w_addr_i[1:0];
            for (mb = 0; mb < 4; mb = mb + 1) begin : g_wlane
                wire [1:0] j = mb[1:0] - a;
                assign bk_we[mb] = w_we_i[j] && !w_st_i;
                assign st_we[mb] = w_we_i[j] && w_st_i;
                assign bk_data[10*mb +: 10] = w_data_i[10*j +: 10];
            end
        end else begin : g_nowsteer
            assign {bk_we, st_we, bk_data, st_row} = {(48 + 4*SR){1'b0}};
        end

        // Weight feeders and the lane split: entry j of a step goes to lane
        // j (int8 lane 0; int4 lanes 0-1; int2 lanes 0-3), sign-extended to
        // its lane's width (lane 0: 8 bits, lane 1: 4). A narrow code keeps
        // its packed width in the low bits of its entry.
        for (c = 0; c < COLS; c = c + 1) begin : g_wcol
            /* verilator lint_off UNUSEDSIGNAL */
            wire [EA-1:0] ent_a = tap[(LANES == 1) ? c : 0][EA-1:0]; // bank entry (low WA bits) or store entry
            /* verilator lint_on UNUSEDSIGNAL */
            wire [WA-1:0] ent_c = ent_a[WA-1:0];
            wire          wcol = (w_col_i == c[CB-1:0]);
            if (LANES != 4) begin : g_w1
                wire [9:0] eb, e;
                sparq_ram #(.WIDTH(10), .DEPTH(2 * WDEPTH)) u_wmem (
                    .clk_i   (clk_i),
                    .we_i    (w_we_i[0] && wcol && !w_st_i),
                    .re_i    (run_bank && (!SERIAL || iv)),
                    .waddr_i (w_addr_i),
                    .wdata_i (w_data_i[9:0]),
                    .raddr_i ({wbank_q, ent_c}),
                    .rdata_o (eb)
                );
                if (WSTORE > 0) begin : g_st1
                    wire [9:0] es;
                    sparq_ram #(.WIDTH(10), .DEPTH(WSTORE)) u_smem (
                        .clk_i   (clk_i),
                        .we_i    (w_we_i[0] && wcol && w_st_i),
                        .re_i    (run_store && (!SERIAL || iv)),
                        .waddr_i (w_saddr_i),
                        .wdata_i (w_data_i[9:0]),
                        .raddr_i (ent_a[SA-1:0]),
                        .rdata_o (es)
                    );
                    assign e = (job_q == JOB_STORE) ? es : eb;
                end else begin : g_nost1
                    assign e = eb;
                end
                assign arr_w[8*c +: 8] = (width_q == 2'd1) ? {{4{e[3]}}, e[3:0]} :
                                         (width_q == 2'd2) ? {{6{e[1]}}, e[1:0]} : e[7:0];
                assign arr_pos[2*c +: 2] = e[9:8];
            end else begin : g_w4
                wire [39:0] bquad;  // entries 4q .. 4q+3, {pos, code} each
                reg  [1:0]  ent_q;  // the step's first entry within the quad
                for (mb = 0; mb < 4; mb = mb + 1) begin : g_wbank
                    sparq_ram #(.WIDTH(10), .DEPTH(2 * WDEPTH / 4)) u_wmem (
                        .clk_i   (clk_i),
                        .we_i    (wcol && bk_we[mb]),
                        .re_i    (run_bank),
                        .waddr_i (w_addr_i[WA:2]),
                        .wdata_i (bk_data[10*mb +: 10]),
                        .raddr_i ({wbank_q, ent_c[WA-1:2]}),
                        .rdata_o (bquad[10*mb +: 10])
                    );
                end
                always @(posedge clk_i)
                    if (busy_o)
                        ent_q <= ent_c[1:0];
                // Store (WSTORE > 0): 4 banks by entry mod 4 too, but a tile may start
                // at any entry, so bank b reads the row of the first of the step's 4
                // entries that falls in it and the quad is rotated to start at the
                // step's first entry (offset 0).
                wire [39:0] squad;
                if (WSTORE > 0) begin : g_st4
                    wire [SA-1:0] sa = ent_a[SA-1:0];
                    wire [39:0]   sraw;
                    reg  [1:0]    sa_q;
                    for (mb = 0; mb < 4; mb = mb + 1) begin : g_sbank
                        /* verilator lint_off CMPCONST */
                        wire [SA-3:0] row = sa[SA-1:2] + {{(SA-3){1'b0}}, (mb[1:0] < sa[1:0])};
                        /* verilator lint_on CMPCONST */
                        sparq_ram #(.WIDTH(10), .DEPTH(WSTORE / 4)) u_smem (
                            .clk_i   (clk_i),
                            .we_i    (wcol && st_we[mb]),
                            .re_i    (run_store),
                            .waddr_i (st_row[(SA-2)*mb +: SA-2]),
                            .wdata_i (bk_data[10*mb +: 10]),
                            .raddr_i (row),
                            .rdata_o (sraw[10*mb +: 10])
                        );
                    end
                    always @(posedge clk_i)
                        if (busy_o)
                            sa_q <= sa[1:0];
                    wire [1:0] s1 = sa_q + 2'd1, s2 = sa_q + 2'd2, s3 = sa_q + 2'd3;
                    assign squad = {sraw[10*s3 +: 10], sraw[10*s2 +: 10], sraw[10*s1 +: 10], sraw[10*sa_q +: 10]};
                end else begin : g_nost4
                    assign squad = 40'd0;
                end
                reg  [15:0] lw;
                reg  [7:0]  lp;
                /* verilator lint_off UNUSEDSIGNAL */
                reg  [39:0] quad;
                reg  [1:0]  off;
                reg  [9:0]  e8, e40, e41, q0, q1, q2, q3;
                /* verilator lint_on UNUSEDSIGNAL */
                always @* begin
                    lw = 16'd0;
                    lp = 8'd0;
`ifdef VERILATOR
                    // the model skips the lane split while idle (used on valid steps only)
                    {quad, off, e8, e40, e41, q0, q1, q2, q3} = 112'd0;
                    if (busy_o) begin
`endif
                    quad = (WSTORE > 0 && job_q == JOB_STORE) ? squad : bquad;
                    off = (WSTORE > 0 && job_q == JOB_STORE) ? 2'd0 : ent_q;
                    e8  = quad[10*off +: 10];             // int8: one entry
                    e40 = quad[10*{off[1], 1'b0} +: 10];  // int4: two entries
                    e41 = quad[10*{off[1], 1'b1} +: 10];
                    q0 = quad[9:0];
                    q1 = quad[19:10];
                    q2 = quad[29:20];
                    q3 = quad[39:30];
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
`ifdef VERILATOR
                    end
`endif
                end
                assign arr_w[16*c +: 16] = lw;
                assign arr_pos[8*c +: 8] = lp;
            end
        end
    endgenerate

    // ---- the array ----------------------------------------------------------
    wire [COLS*32-1:0] res;
    /* verilator lint_off UNUSEDSIGNAL */ // (LANES = 1: one chain)
    wire [COLS*32-1:0] res2;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [COLS-1:0]    res_v;
    generate
        if (SERIAL) begin : g_serial // (the issue stage's flags; the array times the rest)
            wire a = (state_q == ST_RUN) && (p_q < steps_q);
            sparq_array_serial #(.ROWS(ROWS), .COLS(COLS), .ACC_W(ACC_W)) u_array (
                .clk_i(clk_i), .rst_ni(rst_ni), .width_i(width_q), .iv_i(iv), .a_i(a),
                .sg_i(a && ((p_q[2:0] | ~bmask) == 3'd7)),
                .tl_i(a && (p_q == steps_q - {{(SW-1){1'b0}}, 1'b1})),
                .st_i(state_q == ST_RUN && p_q == {SW{1'b0}} && tile_q == {TW{1'b0}}),
                .x_i(arr_x), .w_i(arr_w), .pos_i(arr_pos), .res_o(res), .res_v_o(res_v)
            );
            assign res2 = {(COLS*32){1'b0}};
        end else begin : g_par
            sparq_array #(.ROWS(ROWS), .COLS(COLS), .ACC_W(ACC_W), .LANES(LANES)) u_array (
                .clk_i   (clk_i),
                .rst_ni  (rst_ni),
                .en_i    (run_bank || run_store),
                .x_i     (arr_x),
                .xv_i    (arr_xv),
                .first_i (arr_first),
                .last_i  (arr_last),
                .w_i     (arr_w),
                .pos_i   (arr_pos),
                .res_o   (res),
                .res2_o  (res2),
                .res_v_o (res_v)
            );
        end
    endgenerate

    // ---- epilogue: frame f of the result buffer -> block of activation bank --
    // Cycle 1+f reads frame f of every column (ep_rv), 2+f requantizes, 3+f
    // looks up the table, 4+f writes (ep_we): see the header.
    wire [RA-1:0] ep_raddr = epn_q[RA-1:0] - {{(RA-1){1'b0}}, 1'b1};
    wire          ep_rv = (state_q == ST_EPI) && (epn_q != {(TW+2){1'b0}}) && (epn_q <= {2'b00, t_q});
    assign qb_re_o = (state_q == ST_EPI) && (epn_q == {(TW+2){1'b0}});
    /* verilator lint_off UNUSEDSIGNAL */
    wire [127:0]  ep_word;
    wire          ep_we;
    reg  [RB-1:0] ep_row_q;   // row of the frame written next (frame mod ROWS)
    reg  [XA-3:0] ep_quad_q;  // its block's quad address in the bank (the same for a tile's frames)
    wire [31:0]   rd_ep [0:EL-1];
    reg           ep_rv_q;    // frame data leaves the result memories
    /* verilator lint_on UNUSEDSIGNAL */
    generate
        if (LUTS > 0) begin : g_epi
            wire [EL*32-1:0] ep_r;
            for (c = 0; c < EL; c = c + 1) begin : g_epr
                assign ep_r[32*c +: 32] = rd_ep[c];
            end
            // per-frame words are kblocks*4 apart, the block at dblock*4 (multiples of 4)
            /* verilator lint_off UNUSEDSIGNAL */
            wire [XW-1:0] xs4 = xstride_q >> 2;
            wire [XW-1:0] xo4 = xoff_i[XW-1:0] >> 2;
            /* verilator lint_on UNUSEDSIGNAL */
            always @(posedge clk_i) begin
                if (state_q == ST_IDLE) begin
                    ep_row_q <= {RB{1'b0}};
                    ep_quad_q <= xo4[XA-3:0];
                end else if (ep_we) begin
                    ep_row_q <= ep_row_q + {{(RB-1){1'b0}}, 1'b1};
                    if (ep_row_q == ROWS_T[RB-1:0] - {{(RB-1){1'b0}}, 1'b1})
                        ep_quad_q <= ep_quad_q + xs4[XA-3:0];
                end
            end
            sparq_epilogue #(.EL(EL), .LUTS(LUTS), .QW(QW), .NW(NW)) u_epi (
                .clk_i(clk_i), .rst_ni(rst_ni),
                .pload_i(state_q == ST_EPI && epn_q == {{(TW+1){1'b0}}, 1'b1}), .params_i(qb_data_i),
                .lut_i(lut_q), .ncols_i(ncols_q),
                .v_i(ep_rv_q), .r_i(ep_r), .v_o(ep_we), .word_o(ep_word),
                .lut_we_i(lut_we_i), .lut_waddr_i(lut_waddr_i), .lut_wdata_i(lut_wdata_i)
            );
        end else begin : g_noepi
            assign ep_we = 1'b0;
            assign ep_word = 128'd0;
            always @(posedge clk_i) begin
                ep_row_q <= {RB{1'b0}};
                ep_quad_q <= {(XA-2){1'b0}};
            end
        end
    endgenerate
    always @(posedge clk_i)
        ep_rv_q <= ep_rv;

    // ---- result writers: read-modify-write, one per column (sparq_rcol) -----
    // (per result buffer; the job's buffer is read at the job's address, the
    // other at the READ streamer's). LANES = 4: two results a cycle per column.
    localparam RCH = (LANES == 4) ? 2 : 1;
    reg  [CB-1:0] r_col_q;
    /* verilator lint_off UNUSEDSIGNAL */ // (one result buffer; LANES = 1)
    reg           r_buf_q, r_par_q, ep_par_q;
    /* verilator lint_on UNUSEDSIGNAL */
    always @(posedge clk_i) begin
        r_col_q <= r_col_i;
        r_buf_q <= r_buf_i;
        r_par_q <= r_addr_i[0];
        ep_par_q <= ep_raddr[0];
    end
    wire [31:0] rdata_rd [0:COLS-1];
    // a result memory is read while a job runs (its result writer or the
    // epilogue) or when the controller's READ asks: the data is used only
    // then, and the idle cycles of the Verilator model skip the reads
    wire        r_re = busy_o || r_re_i || !GATE_IDLE;
    generate
        for (c = 0; c < COLS; c = c + 1) begin : g_rcol
            /* verilator lint_off UNUSEDSIGNAL */ // (columns >= EL)
            wire [31:0] jd;
            /* verilator lint_on UNUSEDSIGNAL */
            sparq_rcol #(.RDEPTH(RDEPTH), .RBUFS(RBUFS), .RCH(RCH), .GATE_IDLE(GATE_IDLE)) u_rcol (
                .clk_i      (clk_i),
                .rst_ni     (rst_ni),
                .idle_i     (state_q == ST_IDLE),
                .busy_i     (busy_o),
                .res_v_i    (res_v[c]),
                .res_i      (res[32*c +: 32]),
                .res2_i     (res2[32*c +: 32]),
                .ep_par_i   (ep_par_q),
                .r_par_i    (r_par_q),
                .col_i      (c < {{(32-NW){1'b0}}, ncols_q}),
                .t_i        (t_q),
                .acc_i      (acc_q),
                .rbuf_i     (rbuf_q),
                .epi_i      (job_q == JOB_EPI),
                .ep_addr_i  (ep_raddr),
                .re_i       (r_re),
                .r_buf_i    (r_buf_q),
                .r_addr_i   (r_addr_i),
                .job_data_o (jd),
                .rd_data_o  (rdata_rd[c])
            );
            assign r_all_o[32*c +: 32] = rdata_rd[c];
            if (c < EL) begin : g_ep
                assign rd_ep[c] = jd;
            end
        end
    endgenerate
    assign r_data_o = rdata_rd[r_col_q];
endmodule
`default_nettype wire
