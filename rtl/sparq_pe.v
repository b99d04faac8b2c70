`default_nettype none
// One processing element of the output-stationary array, precision-scalable:
// each step it multiply-accumulates up to 4 kept weights (lanes) against
// their activations, so a step carries 1 int8, 2 int4 or 4 int2 weights of
// consecutive kept entries. From the left it gets 4 words of 4 int8
// activations, word i for lane i (the row feeder already picked the group
// each lane's weight falls in); from the top one lane-split weight word:
// lane 0 an int8 (int4/int2 codes arrive sign-extended), lane 1 a signed
// int4, lanes 2 and 3 signed int2, each with its 2-bit position in its
// group. Unused lanes carry code 0. Narrow multipliers for the narrow lanes:
// 8x8 + 8x4 + 2 x 8x2 per PE instead of 4 x 8x8.
// Activations move right and weights move down one PE per cycle. On the last
// step of a tile the sum enters the result chain, which moves results up.
//
// ACC_W < 32 narrows the accumulator and the result chain when a tile's sum
// provably fits (the engine derives it from the weight depth: at most WDEPTH
// products of magnitude <= 2^14); the result writer sign-extends it to int32.
module sparq_pe #(
    parameter ACC_W = 32 // accumulator / result chain bits, 17..32
) (
    input  wire        clk_i,
    input  wire        rst_ni,
    // from the left neighbour / the row feeder
    input  wire [127:0] x_i,      // lane i's group of 4 activations in [32i +: 32]
    input  wire        xv_i,      // step valid
    input  wire        first_i,   // first step of a tile: restart the sum
    input  wire        last_i,    // last step of a tile: emit the sum
    // from the upper neighbour / the column feeder
    input  wire [15:0] w_i,       // lane codes: [7:0] int8, [11:8] int4, [13:12], [15:14] int2
    input  wire [7:0]  pos_i,     // lane i's position in its group: [2i +: 2]
    // result chain from the PE below
    input  wire [ACC_W-1:0] chain_i,
    input  wire        chain_v_i,
    // to the right / lower neighbour
    output reg  [127:0] x_o,
    output reg         xv_o,
    output reg         first_o,
    output reg         last_o,
    output reg  [15:0] w_o,
    output reg  [7:0]  pos_o,
    // result chain towards the top of the column
    output reg  [ACC_W-1:0] chain_o,
    output reg         chain_v_o
);
    reg signed [15:0] p0;
    reg signed [11:0] p1;
    reg signed [9:0]  p2, p3;
    reg signed [15:0] psum;  // |sum| <= 128*(128+8+2+2) < 2^15
    reg        [ACC_W-1:0] acc_q, acc_d;
    reg        [ACC_W-1:0] chain_d;
    reg                    chain_v_d;

    generate
        if (ACC_W < 17 || ACC_W > 32) begin : g_bad_params
            sparq_pe_illegal_parameters u_stop ();
        end
    endgenerate

    // the activation lane i's position names within its word
    function automatic signed [7:0] pick(input [31:0] word, input [1:0] pos);
        case (pos)
            2'd0:    pick = word[7:0];
            2'd1:    pick = word[15:8];
            2'd2:    pick = word[23:16];
            default: pick = word[31:24];
        endcase
    endfunction

    // Everything below the valid test is skipped by an idle PE (the
    // simulation of an idle array stays cheap; the logic is the same).
    always @* begin
        p0 = 16'sd0;
        p1 = 12'sd0;
        p2 = 10'sd0;
        p3 = 10'sd0;
        psum = 16'sd0;
        acc_d = acc_q;
        chain_d = chain_i;
        chain_v_d = chain_v_i;
        if (xv_i) begin
            p0 = pick(x_i[31:0], pos_i[1:0]) * $signed(w_i[7:0]);
            p1 = pick(x_i[63:32], pos_i[3:2]) * $signed(w_i[11:8]);
            p2 = pick(x_i[95:64], pos_i[5:4]) * $signed(w_i[13:12]);
            p3 = pick(x_i[127:96], pos_i[7:6]) * $signed(w_i[15:14]);
            psum = p0 + {{4{p1[11]}}, p1} + {{6{p2[9]}}, p2} + {{6{p3[9]}}, p3};
            acc_d = (first_i ? {ACC_W{1'b0}} : acc_q) + {{(ACC_W-16){psum[15]}}, psum};
            if (last_i) begin
                chain_d = acc_d;
                chain_v_d = 1'b1;
            end
        end
    end

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            xv_o <= 1'b0;
            chain_v_o <= 1'b0;
        end else begin
            xv_o <= xv_i;
            chain_v_o <= chain_v_d;
        end
    end

    // Datapath registers: no reset; they only move with a valid step or
    // result (this also keeps an idle array cheap to simulate).
    always @(posedge clk_i) begin
        if (xv_i) begin
            x_o <= x_i;
            first_o <= first_i;
            last_o <= last_i;
            w_o <= w_i;
            pos_o <= pos_i;
            acc_q <= acc_d;
        end
        if (chain_v_d)
            chain_o <= chain_d;
    end
endmodule
`default_nettype wire
