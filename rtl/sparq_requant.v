`default_nettype none
// Requantization of one int32 accumulator to int8, bit for bit the formula
// of docs/format.md (sparq_requant() in host/include/sparq_gemm.h):
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
    reg signed [31:0] v;
    reg signed [63:0] v64, m64, p, r;
    always @* begin
        v = acc_i + bias_i;
        v64 = {{32{v[31]}}, v};
        m64 = {{32{mult_i[31]}}, mult_i};
        p = v64 * m64;
        if (shift_i != 6'd0)
            r = (p + (64'sd1 <<< (shift_i - 6'd1))) >>> shift_i;
        else
            r = p;
        if (r < -64'sd128)
            y_o = -8'sd128;
        else if (r > 64'sd127)
            y_o = 8'sd127;
        else
            y_o = r[7:0];
    end
endmodule
`default_nettype wire
