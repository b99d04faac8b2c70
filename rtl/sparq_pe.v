`default_nettype none
// One processing element of the output-stationary array. Each step it gets
// the 4 int8 activations of one group of 4 input channels from the left and
// one kept weight (raw code bits + its 2-bit position in the group) from the
// top, selects the activation the position names (the weight stays
// compressed: a 2:4 row takes 2 steps per group, a 1:4 row 1 step), and
// accumulates the product in int32. Activations move right and weights move
// down one PE per cycle. On the last step of a tile the sum enters the
// result chain, which moves results up to the result writer.
//
// ACC_W < 32 narrows the accumulator and the result chain when a tile's sum
// provably fits (the engine derives it from the weight depth: at most WDEPTH
// products of magnitude <= 2^14); the result writer sign-extends it to int32.
module sparq_pe #(
    parameter ACC_W = 32 // accumulator / result chain bits, 17..32
) (
    input  wire        clk_i,
    input  wire        rst_ni,
    input  wire [1:0]  width_i,   // 0: int8, 1: int4, 2: int2 weight codes
    // from the left neighbour / the row feeder
    input  wire [31:0] x_i,       // activations of channels 4g..4g+3, channel 4g in [7:0]
    input  wire        xv_i,      // step valid
    input  wire        first_i,   // first step of a tile: restart the sum
    input  wire        last_i,    // last step of a tile: emit the sum
    // from the upper neighbour / the column feeder
    input  wire [7:0]  w_i,       // weight code bits, zero above the width
    input  wire [1:0]  pos_i,     // position of the weight in its group
    // result chain from the PE below
    input  wire [ACC_W-1:0] chain_i,
    input  wire        chain_v_i,
    // to the right / lower neighbour
    output reg  [31:0] x_o,
    output reg         xv_o,
    output reg         first_o,
    output reg         last_o,
    output reg  [7:0]  w_o,
    output reg  [1:0]  pos_o,
    // result chain towards the top of the column
    output reg  [ACC_W-1:0] chain_o,
    output reg         chain_v_o
);
    reg signed [7:0]  w_ext;
    reg signed [7:0]  x_sel;
    reg signed [15:0] prod;
    reg        [ACC_W-1:0] acc_q, acc_d;
    reg        [ACC_W-1:0] chain_d;
    reg                    chain_v_d;

    generate
        if (ACC_W < 17 || ACC_W > 32) begin : g_bad_params
            sparq_pe_illegal_parameters u_stop ();
        end
    endgenerate

    // Everything below the valid test is skipped by an idle PE (the
    // simulation of an idle array stays cheap; the logic is the same).
    always @* begin
        w_ext = 8'sd0;
        x_sel = 8'sd0;
        prod = 16'sd0;
        acc_d = acc_q;
        chain_d = chain_i;
        chain_v_d = chain_v_i;
        if (xv_i) begin
            case (width_i)
                2'd1:    w_ext = {{4{w_i[3]}}, w_i[3:0]};
                2'd2:    w_ext = {{6{w_i[1]}}, w_i[1:0]};
                default: w_ext = w_i;
            endcase
            case (pos_i)
                2'd0:    x_sel = x_i[7:0];
                2'd1:    x_sel = x_i[15:8];
                2'd2:    x_sel = x_i[23:16];
                default: x_sel = x_i[31:24];
            endcase
            prod = x_sel * w_ext;
            acc_d = (first_i ? {ACC_W{1'b0}} : acc_q) + {{(ACC_W-16){prod[15]}}, prod};
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
