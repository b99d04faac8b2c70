`default_nettype none
// The FX2 FD[7:0] bus pads: iCE40 SB_IO with an output enable (PIN_TYPE
// 1010_01: tristate output, plain input). The only vendor primitive in the
// board design; tests/board/sb_io_stub.v models it for Verilator lint.
module sparq_board_fdio (
    inout  wire [7:0] pad_io,
    input  wire [7:0] out_i,
    input  wire       oe_i,
    output wire [7:0] in_o
);
    genvar i;
    generate
        for (i = 0; i < 8; i = i + 1) begin : g_pad
            SB_IO #(
                .PIN_TYPE(6'b1010_01),
                .PULLUP(1'b0)
            ) u_io (
                .PACKAGE_PIN(pad_io[i]),
                .OUTPUT_ENABLE(oe_i),
                .D_OUT_0(out_i[i]),
                .D_IN_0(in_o[i])
            );
        end
    endgenerate
endmodule
`default_nettype wire
