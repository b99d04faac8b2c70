`default_nettype none
// Bit-serial processing element (LANES = 0, the iCE40 board PE): one kept
// weight takes B = 8 / 4 / 2 cycles (int8 / int4 / int2), one weight bit a
// cycle, LSB first; the activation is parallel. Activations are broadcast
// along the row and weights down the column (sparq_array_serial), so every
// PE sees the same bit step in the same cycle and the control lines are
// shared by the whole array.
//
// Per kept weight: while the PE still adds the previous weight, the row
// bus shows the weight's group of 4 activations as two halves on two
// cycles (channels 0-1, then 2-3) and hce_i (the column: the half its
// position names) latches the byte pos0_i names into a hold register: a
// 2:1 pick instead of 4:1. ld_i then moves it into a shift register,
// sign-extended to 15 bits; each later cycle adds the register into the
// accumulator if the weight bit is set (ce_i: the column's bit gates the
// accumulator's flip-flop enable, so the adder has no AND) and shifts it
// left. Before the sign bit (bit B-1, weight -2^(B-1)) the shift also
// complements it (inv_i) and the adder's carry-in (sub_i) adds the 1 of the
// two's complement: the sign plane is a subtract step. clr_i (with ce_i)
// zeroes the accumulator (the iCE40 flip-flop's synchronous reset); cap_i
// copies it into the result chain, which moves results up the column one
// PE a cycle.
module sparq_pe_serial #(
    parameter ACC_W = 24 // accumulator / result chain bits, 17..32
) (
    input  wire             clk_i,
    input  wire [15:0]      x_i,     // the row's half group: channels 4g, 4g+1 or 4g+2, 4g+3
    input  wire             pos0_i,  // the column's kept position, bit 0: the byte of the half
    input  wire             hce_i,   // the column's kept position names this half: latch it
    input  wire             ld_i,    // load the picked activation
    input  wire             inv_i,   // shift with complement (the next step is the sign bit)
    input  wire             sub_i,   // this step is the sign bit: carry-in 1
    input  wire             ce_i,    // the column's weight bit is 1 (or clr_i): the accumulator moves
    input  wire             clr_i,   // zero the accumulator (with ce_i)
    input  wire             cap_i,   // copy the accumulator into the result chain
    input  wire [ACC_W-1:0] chain_i, // result chain from the PE below
    output reg  [ACC_W-1:0] chain_o  // result chain towards the top of the column
);
    generate
        if (ACC_W < 17 || ACC_W > 32) begin : g_bad_params
            sparq_pe_serial_illegal_parameters u_stop ();
        end
    endgenerate

    reg [7:0] hold_q;
    always @(posedge clk_i)
        if (hce_i)
            hold_q <= pos0_i ? x_i[15:8] : x_i[7:0];

    // a << k for bit step k (k <= 7: 15 bits), or its complement before the sign step
    reg [14:0] sr_q;
    always @(posedge clk_i) begin
        if (ld_i)
            sr_q <= {{7{hold_q[7]}}, hold_q};
        else
            sr_q <= {sr_q[13:0] ^ {14{inv_i}}, inv_i};
    end

    // acc + sext(sr) + sub_i as one carry chain: the carry-in rides on a low bit
    reg  [ACC_W-1:0] acc_q;
    /* verilator lint_off UNUSEDSIGNAL */ // (bit 0: the carry-in's)
    wire [ACC_W:0]   sum = {acc_q, 1'b1} + {{(ACC_W-15){sr_q[14]}}, sr_q, sub_i};
    /* verilator lint_on UNUSEDSIGNAL */
    always @(posedge clk_i) begin
        if (ce_i) begin
            if (clr_i)
                acc_q <= {ACC_W{1'b0}};
            else
                acc_q <= sum[ACC_W:1];
        end
    end

    always @(posedge clk_i)
        chain_o <= cap_i ? acc_q : chain_i;
endmodule
`default_nettype wire
