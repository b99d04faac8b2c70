`default_nettype none
// Test-only wrapper: the board design without its pads (the FD bus split
// into in/out/enable), so Verilator can run it under a C++ model of the
// FX2's FIFOs (tests/board/board_sim.cpp). Same adapter and accelerator as
// rtl/board/sparq_board_top.v, with the board's lean options (48-bit
// counters, serial requantizer, single weight-block buffer, registered
// checks); small buffers so
// GEMMs need many tiles.
module sparq_board_core (
    input  wire       clk_i,
    input  wire       rst_ni,
    input  wire [7:0] fd_i,
    output wire [7:0] fd_o,
    output wire       fd_oe_o,
    input  wire       flaga_ni,
    input  wire       flagb_ni,
    output wire       slrd_no,
    output wire       slwr_no,
    output wire       sloe_no,
    output wire       pktend_no,
    output wire [1:0] fifoadr_o
);
    wire [7:0] rx_data, tx_data;
    wire       rx_valid, rx_ready, tx_valid, tx_ready;
    sparq_fx2_fifo u_fifo (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .fd_i(fd_i), .fd_o(fd_o), .fd_oe_o(fd_oe_o),
        .ep2_empty_ni(flaga_ni), .ep6_full_ni(flagb_ni),
        .slrd_no(slrd_no), .slwr_no(slwr_no), .sloe_no(sloe_no), .pktend_no(pktend_no),
        .fifoadr_o(fifoadr_o),
        .rx_data_o(rx_data), .rx_valid_o(rx_valid), .rx_ready_i(rx_ready),
        .tx_data_i(tx_data), .tx_valid_i(tx_valid), .tx_ready_o(tx_ready)
    );
    sparq_top #(.ROWS(4), .COLS(4), .WDEPTH(64), .XDEPTH(64), .RDEPTH(16), .TIMEOUT(4096),
                .CNT_W(48), .RQ_SERIAL(1), .WL_DBUF(0), .CHK_REG(1)) u_top (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .rx_data_i(rx_data), .rx_valid_i(rx_valid), .rx_ready_o(rx_ready),
        .tx_data_o(tx_data), .tx_valid_o(tx_valid), .tx_ready_i(tx_ready)
    );
endmodule
`default_nettype wire
