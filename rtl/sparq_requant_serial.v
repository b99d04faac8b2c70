`default_nettype none
// Multi-cycle requantization for small FPGAs: the same function as
// sparq_requant (docs/format.md: y = clamp((v * mult + 2^(shift-1)) >>>
// shift, -128, 127), v = acc + bias wrapping) in about 200 LUTs instead of a
// 32 x 31-bit multiplier and a 64-bit barrel shifter.
//
// Shift-add multiply, one multiplier bit per cycle (31 cycles): the 33-bit
// upper half gets v added when the multiplier's next bit is set, then the
// whole 64-bit {upper, lower} register moves right by one; the multiplier is
// shifted out of the lower half as the product's low bits shift in. Then the
// rounding shift: the register moves right 8 bits per cycle while at least 8
// remain, then 1 bit per cycle; the last bit shifted out is the rounding bit,
// because (p + 2^(s-1)) >>> s == (p >>> s) + p[s-1]. Latency: 33 + s/8 +
// s%8 cycles (s = shift), at most 47.
module sparq_requant_serial (
    input  wire        clk_i,
    input  wire        rst_ni,
    input  wire        start_i,  // take the operands (only while !busy_o)
    input  wire [31:0] acc_i,
    input  wire [31:0] bias_i,
    input  wire [30:0] mult_i,   // < 2^31, checked when the parameters are written
    input  wire [5:0]  shift_i,  // 0..62
    output wire        busy_o,
    output reg         done_o,   // y_o valid for this one cycle
    output reg  [7:0]  y_o
);
    localparam [1:0] PH_IDLE = 2'd0, PH_MUL = 2'd1, PH_SHIFT = 2'd2, PH_OUT = 2'd3;

    reg [1:0]  ph_q, ph_d;
    reg [31:0] v_q;
    reg [32:0] hi_q, hi_d;  // upper product bits [63:31]
    reg [30:0] lo_q, lo_d;  // multiplier bits still to use, then product bits [30:0]
    reg [5:0]  n_q, n_d;    // multiply steps, then shift steps left
    reg [5:0]  shift_q;
    reg        rb_q, rb_d;  // last bit shifted out (rounding bit)
    reg [32:0] sum;
    reg        fits;
    reg [7:0]  y_d;

    always @* begin
        ph_d = ph_q;
        hi_d = hi_q;
        lo_d = lo_q;
        n_d = n_q;
        rb_d = rb_q;
        sum = hi_q + ((ph_q == PH_MUL && lo_q[0]) ? {v_q[31], v_q} : 33'd0);
        fits = 1'b0;
        y_d = 8'd0;
        case (ph_q)
            PH_IDLE: ;
            PH_MUL: begin
                // |partial product| < 2^31 and |v| <= 2^31: the 33-bit sum cannot overflow
                hi_d = {sum[32], sum[32:1]};
                lo_d = {sum[0], lo_q[30:1]};
                if (n_q == 6'd1) begin
                    ph_d = (shift_q == 6'd0) ? PH_OUT : PH_SHIFT;
                    n_d = shift_q;
                    rb_d = 1'b0;
                end else begin
                    n_d = n_q - 6'd1;
                end
            end
            PH_SHIFT: begin
                if (n_q >= 6'd8) begin
                    hi_d = {{8{hi_q[32]}}, hi_q[32:8]};
                    lo_d = {hi_q[7:0], lo_q[30:8]};
                    rb_d = lo_q[7];
                    n_d = n_q - 6'd8;
                end else begin
                    hi_d = {hi_q[32], hi_q[32:1]};
                    lo_d = {hi_q[0], lo_q[30:1]};
                    rb_d = lo_q[0];
                    n_d = n_q - 6'd1;
                end
                if (n_d == 6'd0)
                    ph_d = PH_OUT;
            end
            default: begin // PH_OUT: saturate (p >>> s) + rounding bit to int8
                // p >>> s fits in int8 when bits 63..7 all equal the sign
                fits = (hi_q == {33{hi_q[32]}}) && (lo_q[30:7] == {24{hi_q[32]}});
                if (!fits)
                    y_d = hi_q[32] ? 8'h80 : 8'h7F;
                else if (lo_q[7:0] == 8'h7F && rb_q)
                    y_d = 8'h7F;
                else
                    y_d = lo_q[7:0] + {7'd0, rb_q};
                ph_d = PH_IDLE;
            end
        endcase
    end

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            ph_q <= PH_IDLE;
            done_o <= 1'b0;
        end else begin
            ph_q <= (ph_q == PH_IDLE && start_i) ? PH_MUL : ph_d;
            done_o <= (ph_q == PH_OUT);
        end
    end

    always @(posedge clk_i) begin
        if (ph_q == PH_IDLE) begin
            v_q <= acc_i + bias_i;
            hi_q <= 33'd0;
            lo_q <= mult_i;
            n_q <= 6'd31;
            shift_q <= shift_i;
            rb_q <= 1'b0;
        end else begin
            hi_q <= hi_d;
            lo_q <= lo_d;
            n_q <= n_d;
            rb_q <= rb_d;
        end
        if (ph_q == PH_OUT)
            y_o <= y_d;
    end

    assign busy_o = (ph_q != PH_IDLE);
endmodule
`default_nettype wire
