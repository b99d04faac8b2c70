`default_nettype none
// Requantization of one int32 accumulator to int8, bit for bit the formula
// of docs/format.md (sparq_requant() in host/include/sparq_gemm.h), in
// rtl/sparq_requant_fn.vh:
//   v = acc + bias (int32 wrap); p = v * mult (64-bit); r = (p + 2^(shift-1))
//   >>> shift (shift > 0); y = clamp(r, -128, 127).
// mult < 2^31 and shift <= 62 are checked when the parameters are written.
module sparq_requant (
    input  wire signed [31:0] acc_i,
    input  wire signed [31:0] bias_i,
    input  wire signed [31:0] mult_i,
    input  wire        [5:0]  shift_i,
    output reg  signed [7:0]  y_o
);
    `include "rtl/sparq_requant_fn.vh"
    always @*
        y_o = requant_fn(acc_i, bias_i, mult_i, shift_i);
endmodule
`default_nettype wire
