`default_nettype none
// The board design without pads or reset: the FX2 slave-FIFO adapter in
// front of the accelerator, the FD bus split into in / out / enable. Used
// by the board top (rtl/board/sparq_board_top.v) and, Verilated as it is,
// by the board simulation under a C++ model of the FX2's FIFOs
// (tests/board/board_sim.cpp).
module sparq_board_core #(
    parameter ROWS    = 4,        // array rows
    parameter COLS    = 4,        // array columns
    parameter WDEPTH  = 256,      // weight entries per column per bank
    parameter XDEPTH  = 256,      // activation words per row per bank
    parameter RDEPTH  = 64,       // result frames
    parameter TIMEOUT = 2097152,  // rx idle cycles ending a partial packet
    parameter CNT_W   = 48,       // counter bits
    parameter RQ_SERIAL = 1,      // multi-cycle requantizer
    parameter WL_DBUF = 0,        // single weight-block buffer
    parameter CHK_REG = 2,        // registered command checks and products
    parameter LANES   = 0         // bit-serial PEs (sparq_pe_serial)
) (
    input  wire       clk_i,
    input  wire       rst_ni,
    input  wire [7:0] fd_i,
    output wire [7:0] fd_o,
    output wire       fd_oe_o,
    input  wire       flaga_ni,   // EP2 empty
    input  wire       flagb_ni,   // EP6 full
    output wire       slrd_no,
    output wire       slwr_no,
    output wire       sloe_no,
    output wire       pktend_no,
    output wire [1:0] fifoadr_o,
    output wire       activity_o  // a byte moved between the link and the accelerator
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
    sparq_top #(
        .ROWS(ROWS), .COLS(COLS), .WDEPTH(WDEPTH), .XDEPTH(XDEPTH), .RDEPTH(RDEPTH), .TIMEOUT(TIMEOUT),
        .CNT_W(CNT_W), .RQ_SERIAL(RQ_SERIAL), .WL_DBUF(WL_DBUF), .CHK_REG(CHK_REG), .LANES(LANES)
    ) u_top (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .rx_data_i(rx_data), .rx_valid_i(rx_valid), .rx_ready_o(rx_ready),
        .tx_data_o(tx_data), .tx_valid_o(tx_valid), .tx_ready_i(tx_ready)
    );
    assign activity_o = (rx_valid && rx_ready) || (tx_valid && tx_ready);
endmodule
`default_nettype wire
