`default_nettype none
// Board top level: the sparq accelerator behind an FX2LP slave FIFO on an
// iCE40 (HX8K CT256 reference wiring, docs/board.md; rtl/board/*.pcf).
// One clock domain: IFCLK (30 MHz, driven by the FX2) clocks everything, so
// no clock-domain crossing exists between the USB bridge and the array.
// Reset: power-on counter, then the FX2's FPGA_RESET line (PD0, vendor
// request SPARQ_REQ_FPGA_RESET), synchronised.
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
    parameter CHK_REG = 1         // registered command checks (the longest path otherwise)
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

    // --- reset -------------------------------------------------------------
    reg [7:0] por_q = 8'd0; // iCE40 FFs power up as 0; the only initialised register
    reg [1:0] rst_sync_q = 2'b11;
    always @(posedge clk) begin
        if (!por_q[7])
            por_q <= por_q + 8'd1;
        rst_sync_q <= {rst_sync_q[0], fpga_reset_i};
    end
    wire rst_n = por_q[7] && !rst_sync_q[1];

    // --- FD bus ----------------------------------------------------------------
    wire [7:0] fd_in, fd_out;
    wire       fd_oe;
    sparq_board_fdio u_fdio (
        .pad_io(fd_io), .out_i(fd_out), .oe_i(fd_oe), .in_o(fd_in)
    );

    wire [7:0] rx_data, tx_data;
    wire       rx_valid, rx_ready, tx_valid, tx_ready;

    sparq_fx2_fifo u_fifo (
        .clk_i(clk), .rst_ni(rst_n),
        .fd_i(fd_in), .fd_o(fd_out), .fd_oe_o(fd_oe),
        .ep2_empty_ni(flaga_ni), .ep6_full_ni(flagb_ni),
        .slrd_no(slrd_no), .slwr_no(slwr_no), .sloe_no(sloe_no), .pktend_no(pktend_no),
        .fifoadr_o(fifoadr_o),
        .rx_data_o(rx_data), .rx_valid_o(rx_valid), .rx_ready_i(rx_ready),
        .tx_data_i(tx_data), .tx_valid_i(tx_valid), .tx_ready_o(tx_ready)
    );

    sparq_top #(
        .ROWS(ROWS), .COLS(COLS), .WDEPTH(WDEPTH), .XDEPTH(XDEPTH), .RDEPTH(RDEPTH), .TIMEOUT(TIMEOUT),
        .CNT_W(CNT_W), .RQ_SERIAL(RQ_SERIAL), .WL_DBUF(WL_DBUF), .CHK_REG(CHK_REG)
    ) u_top (
        .clk_i(clk), .rst_ni(rst_n),
        .rx_data_i(rx_data), .rx_valid_i(rx_valid), .rx_ready_o(rx_ready),
        .tx_data_o(tx_data), .tx_valid_o(tx_valid), .tx_ready_i(tx_ready)
    );

    // --- LEDs: reset, and link activity stretched to ~0.5 s -------------------
    reg [23:0] act_q = 24'd0;
    always @(posedge clk) begin
        if ((rx_valid && rx_ready) || (tx_valid && tx_ready))
            act_q <= 24'hFFFFFF;
        else if (act_q != 24'd0)
            act_q <= act_q - 24'd1;
    end
    assign led_o = {act_q != 24'd0, !rst_n};
endmodule
`default_nettype wire
