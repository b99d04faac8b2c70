`default_nettype none
// One processing element of the output-stationary array. Each step it gets
// activations from the left and kept weights (raw code + 2-bit position in
// its group of 4 input channels) from the top and multiply-accumulates them
// into its output: frame r of the tile, output channel c. The weights stay
// compressed: a 2:4 row takes half, a 1:4 row a quarter of the steps.
//
// LANES = 1: one int8 x int8 MAC a step. x_i is one group of 4 activations,
// w_i one code already sign-extended to 8 bits by the column feeder.
// LANES = 4 (precision-scalable): a step carries 1 int8, 2 int4 or 4 int2
// weights of consecutive kept entries, one per lane. x_i holds 4 words of 4
// activations, word i for lane i (the row feeder already picked the group
// each lane's weight falls in); w_i is the lane-split code word: lane 0 an
// int8 (int4/int2 codes arrive sign-extended), lane 1 a signed int4, lanes 2
// and 3 signed int2. Unused lanes carry code 0. Narrow multipliers for the
// narrow lanes: 8x8 + 8x4 + 2 x 8x2 per PE instead of 4 x 8x8.
//
// PASS = 1: activations move right and weights move down one PE per cycle;
// PASS = 0 (the LANES = 4 array): both are broadcast, the PE passes nothing
// on. On the last step of a tile the sum enters the result chain, which
// moves results up.
// en_i (the engine runs a job) holds every register otherwise: functionally
// the array is quiet then anyway, and Verilator skips an idle array's PEs
// in one test each instead of evaluating their datapaths.
//
// ACC_W < 32 narrows the accumulator and the result chain when a tile's sum
// provably fits (the engine derives it from the weight depth: at most WDEPTH
// products of magnitude <= 2^14); the result writer sign-extends it to int32.
module sparq_pe #(
    parameter ACC_W = 32,                   // accumulator / result chain bits, 17..32
    parameter LANES = 1,                    // MAC lanes: 1 or 4
    parameter PASS = 1,                     // 1: pass activations right and weights down; 0: the array broadcasts both
    parameter XB = 32 * LANES,              // derived: activation bits
    parameter WB = (LANES == 1) ? 8 : 16,   // derived: lane code bits
    parameter PB = 2 * LANES                // derived: lane position bits
) (
    input  wire          clk_i,
    input  wire          rst_ni,
    input  wire          en_i,      // a job runs: registers may move
    // from the left neighbour / the row feeder
    input  wire [XB-1:0] x_i,       // lane i's group of 4 activations in [32i +: 32], channel 4g in [7:0]
    input  wire          xv_i,      // step valid
    input  wire          first_i,   // first step of a tile: restart the sum
    input  wire          last_i,    // last step of a tile: emit the sum
    // from the upper neighbour / the column feeder
    input  wire [WB-1:0] w_i,       // lane codes: [7:0] int8, [11:8] int4, [13:12], [15:14] int2
    input  wire [PB-1:0] pos_i,     // lane i's position in its group: [2i +: 2]
    // result chain from the PE below
    input  wire [ACC_W-1:0] chain_i,
    input  wire          chain_v_i,
    // to the right / lower neighbour (0 when PASS = 0)
    output wire [XB-1:0] x_o,
    output wire          xv_o,
    output wire          first_o,
    output wire          last_o,
    output wire [WB-1:0] w_o,
    output wire [PB-1:0] pos_o,
    // result chain towards the top of the column
    output reg  [ACC_W-1:0] chain_o,
    output reg           chain_v_o
);
    generate
        if (ACC_W < 17 || ACC_W > 32 || (LANES != 1 && LANES != 4)) begin : g_bad_params
            sparq_pe_illegal_parameters u_stop ();
        end
    endgenerate

    // the activation a lane's position names within its word. LANES = 4 (the
    // simulated build): a shift, so the Verilator model has no data-dependent
    // branch per lane (measured in docs/accelerator.md, Simulation speed); the
    // one-lane board PE keeps the case (its UP5K timing has 3 % margin).
    function automatic signed [7:0] pick(input [31:0] word, input [1:0] pos);
        if (LANES == 4)
            pick = word[{pos, 3'b000} +: 8];
        else
            case (pos)
                2'd0:    pick = word[7:0];
                2'd1:    pick = word[15:8];
                2'd2:    pick = word[23:16];
                default: pick = word[31:24];
            endcase
    endfunction

    // The step's sum of products, |sum| <= 128*(128+8+2+2) < 2^15, on the
    // 4-lane word layout (a one-lane PE's inputs arrive zero-padded, so its
    // lanes 1-3 multiply by 0 and are optimised away).
    function automatic signed [15:0] step_sum(input [127:0] x, input [15:0] w, input [7:0] pos);
        reg signed [15:0] p0;
        reg signed [11:0] p1;
        reg signed [9:0]  p2, p3;
        begin
            p0 = pick(x[31:0], pos[1:0]) * $signed(w[7:0]);
            p1 = pick(x[63:32], pos[3:2]) * $signed(w[11:8]);
            p2 = pick(x[95:64], pos[5:4]) * $signed(w[13:12]);
            p3 = pick(x[127:96], pos[7:6]) * $signed(w[15:14]);
            step_sum = p0 + {{4{p1[11]}}, p1} + {{6{p2[9]}}, p2} + {{6{p3[9]}}, p3};
        end
    endfunction

    wire [127:0] x4;
    wire [15:0]  w4;
    wire [7:0]   pos4;
    generate
        if (LANES == 4) begin : g_lanes4
            assign x4 = x_i;
            assign w4 = w_i;
            assign pos4 = pos_i;
        end else begin : g_lane1
            assign x4 = {96'd0, x_i};
            assign w4 = {8'd0, w_i};
            assign pos4 = {6'd0, pos_i};
        end
    endgenerate

    reg [ACC_W-1:0] acc_q;
    /* verilator lint_off UNUSEDSIGNAL */ // (PASS = 0)
    /* verilator lint_off UNDRIVEN */
    reg [XB-1:0] x_q;
    reg          xv_q, first_q, last_q;
    reg [WB-1:0] w_q;
    reg [PB-1:0] pos_q;
    /* verilator lint_on UNDRIVEN */
    /* verilator lint_on UNUSEDSIGNAL */
    assign x_o = (PASS != 0) ? x_q : {XB{1'b0}};
    assign xv_o = (PASS != 0) ? xv_q : 1'b0;
    assign first_o = (PASS != 0) ? first_q : 1'b0;
    assign last_o = (PASS != 0) ? last_q : 1'b0;
    assign w_o = (PASS != 0) ? w_q : {WB{1'b0}};
    assign pos_o = (PASS != 0) ? pos_q : {PB{1'b0}};
    // A one-lane PE (the iCE40 builds) names its product once: both
    // registers below then share one multiplier, where Yosys's -dsp mapping
    // gave each its own SB_MAC16 (2 per PE). The four-lane PE keeps the
    // expression inside the clocked block (Verilator speed, see below).
    /* verilator lint_off UNUSEDSIGNAL */ // (LANES = 4)
    wire signed [15:0] sum1 = (LANES == 1) ? step_sum(x4, w4, pos4) : 16'sd0;
    /* verilator lint_on UNUSEDSIGNAL */
    // The new sum is written where it is used, inside the clocked block's
    // tests: a Verilator model evaluates every continuous assignment of
    // every PE every cycle (a wire acc_d cost 2.5x of the simulation time
    // when the array is idle), but a clocked block's branch only when taken.
    function automatic [ACC_W-1:0] acc_next(input first, input [ACC_W-1:0] acc, input signed [15:0] sum);
        acc_next = (first ? {ACC_W{1'b0}} : acc) + {{(ACC_W-16){sum[15]}}, sum};
    endfunction

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            xv_q <= 1'b0;
            chain_v_o <= 1'b0;
        end else if (en_i) begin
            if (PASS != 0)
                xv_q <= xv_i;
            chain_v_o <= chain_v_i || (xv_i && last_i);
        end
    end

    // Datapath registers: no reset; they only move with a valid step or
    // result (this also keeps a running array's idle PEs cheap to simulate).
    generate
        if (LANES == 4) begin : g_dp4
            // The chain is written before the accumulator: Verilator then
            // reads the old acc_q in place instead of keeping a shadow copy
            // of every PE's acc_q, copied in and out on every clock edge.
            // (The one-lane board PE keeps the order below: the same logic,
            // but its UP5K placement has 3 % timing margin.)
            always @(posedge clk_i) begin
                if (en_i) begin
                    if (xv_i && last_i)
                        chain_o <= acc_next(first_i, acc_q, step_sum(x4, w4, pos4));
                    else if (chain_v_i)
                        chain_o <= chain_i;
                    if (xv_i) begin
                        if (PASS != 0) begin
                            x_q <= x_i;
                            first_q <= first_i;
                            last_q <= last_i;
                            w_q <= w_i;
                            pos_q <= pos_i;
                        end
                        acc_q <= acc_next(first_i, acc_q, step_sum(x4, w4, pos4));
                    end
                end
            end
        end else begin : g_dp1
            always @(posedge clk_i) begin
                if (en_i) begin
                    if (xv_i) begin
                        x_q <= x_i;
                        first_q <= first_i;
                        last_q <= last_i;
                        w_q <= w_i;
                        pos_q <= pos_i;
                        acc_q <= acc_next(first_i, acc_q, sum1);
                    end
                    if (xv_i && last_i)
                        chain_o <= acc_next(first_i, acc_q, sum1);
                    else if (chain_v_i)
                        chain_o <= chain_i;
                end
            end
        end
    endgenerate
endmodule
`default_nettype wire
