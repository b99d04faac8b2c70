`default_nettype none
// Board top level: the sparq accelerator behind an FX2LP slave FIFO on an
// iCE40 (HX8K CT256 reference wiring, docs/board.md; rtl/board/*.pcf).
// One clock domain: IFCLK (30 MHz, driven by the FX2) clocks everything, so
// no clock-domain crossing exists between the USB bridge and the array.
// Pads, reset (sparq_board_reset) and LEDs around sparq_board_core.
module sparq_board_top #(
    parameter ROWS    = 4,        // array rows (see board.mk for the built size)
    parameter COLS    = 4,        // array columns
    parameter WDEPTH  = 256,      // weight entries per column per bank
    parameter XDEPTH  = 256,      // activation words per row per bank
    parameter RDEPTH  = 64,       // result frames
    parameter TIMEOUT = 2097152,  // rx idle cycles ending a partial packet: 70 ms at 30 MHz,
                                  // longer than any USB scheduling gap
    parameter CNT_W   = 48,       // counter bits: wrap after 108 days of cycles at 30 MHz
    parameter RQ_SERIAL = 1,      // multi-cycle requantizer (no DSPs on the HX8K)
    parameter WL_DBUF = 0,        // single weight-block buffer (the FX2 link, one byte per
                                  // 2 cycles, is slower than the loader anyway)
    parameter CHK_REG = 2,        // registered command checks and their products (the longest
                                  // paths otherwise: 17 MHz on the UP5K with 1)
    parameter LANES   = 0         // bit-serial PEs (sparq_pe_serial): int8 8, int4 4, int2 2 cycles
                                  // a kept weight, ~72 logic cells against the one-MAC PE's ~330
) (
    input  wire       ifclk_i,      // FX2 IFCLK
    input  wire       fpga_reset_i, // FX2 PD0, active high
    inout  wire [7:0] fd_io,        // FX2 FD[7:0]
    input  wire       flaga_ni,     // EP2 empty
    input  wire       flagb_ni,     // EP6 full
    output wire       slrd_no,
    output wire       slwr_no,
    output wire       sloe_no,
    output wire       pktend_no,
    output wire [1:0] fifoadr_o,
    output wire [1:0] led_o         // 0: in reset, 1: link activity
);
    wire clk = ifclk_i;
    wire rst_n;
    sparq_board_reset u_reset (.clk_i(clk), .fpga_reset_i(fpga_reset_i), .rst_no(rst_n));

    wire [7:0] fd_in, fd_out;
    wire       fd_oe, activity;
    sparq_board_fdio u_fdio (.pad_io(fd_io), .out_i(fd_out), .oe_i(fd_oe), .in_o(fd_in));
    sparq_board_core #(
        .ROWS(ROWS), .COLS(COLS), .WDEPTH(WDEPTH), .XDEPTH(XDEPTH), .RDEPTH(RDEPTH), .TIMEOUT(TIMEOUT),
        .CNT_W(CNT_W), .RQ_SERIAL(RQ_SERIAL), .WL_DBUF(WL_DBUF), .CHK_REG(CHK_REG), .LANES(LANES)
    ) u_core (
        .clk_i(clk), .rst_ni(rst_n),
        .fd_i(fd_in), .fd_o(fd_out), .fd_oe_o(fd_oe),
        .flaga_ni(flaga_ni), .flagb_ni(flagb_ni),
        .slrd_no(slrd_no), .slwr_no(slwr_no), .sloe_no(sloe_no), .pktend_no(pktend_no),
        .fifoadr_o(fifoadr_o), .activity_o(activity)
    );

    // --- LEDs: reset, and link activity stretched to ~0.5 s -------------------
    reg [23:0] act_q = 24'd0;
    always @(posedge clk) begin
        if (activity)
            act_q <= 24'hFFFFFF;
        else if (act_q != 24'd0)
            act_q <= act_q - 24'd1;
    end
    assign led_o = {act_q != 24'd0, !rst_n};
endmodule
`default_nettype wire
