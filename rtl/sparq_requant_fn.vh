// Requantization of one int32 accumulator to int8 as a function, bit for bit
// the formula of docs/format.md (sparq_requant() in host/include/sparq_gemm.h):
//   v = acc + bias (int32 wrap); p = v * mult (64-bit); r = (p + 2^(shift-1))
//   >>> shift (shift > 0); y = clamp(r, -128, 127).
// mult < 2^31 and shift <= 62 are checked when the parameters are written.
// Included by sparq_requant (combinational) and sparq_epilogue (in its
// clocked block, so a simulator evaluates it only for valid frames).
function automatic [7:0] requant_fn(input [31:0] acc, input [31:0] bias, input [31:0] mult, input [5:0] shift);
    reg signed [31:0] v;
    reg signed [63:0] v64, m64, p, r;
    begin
        v = acc + bias;
        v64 = {{32{v[31]}}, v};
        m64 = {{32{mult[31]}}, mult};
        p = v64 * m64;
        if (shift != 6'd0)
            r = (p + (64'sd1 <<< (shift - 6'd1))) >>> shift;
        else
            r = p;
        if (r < -64'sd128)
            requant_fn = 8'h80;
        else if (r > 64'sd127)
            requant_fn = 8'h7F;
        else
            requant_fn = r[7:0];
    end
endfunction
