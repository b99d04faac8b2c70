`default_nettype none
// Bring-up image: the same FX2 slave-FIFO interface, pins and reset as
// sparq_board_top, with every byte from EP2 echoed back on EP6 instead of
// going to the accelerator. `sparq devices --loopback` (docs/board.md)
// checks the USB <-> FPGA link with it before the accelerator is loaded.
module sparq_board_loopback (
    input  wire       ifclk_i,
    input  wire       fpga_reset_i,
    inout  wire [7:0] fd_io,
    input  wire       flaga_ni,
    input  wire       flagb_ni,
    output wire       slrd_no,
    output wire       slwr_no,
    output wire       sloe_no,
    output wire       pktend_no,
    output wire [1:0] fifoadr_o,
    output wire [1:0] led_o
);
    wire clk = ifclk_i;
    wire rst_n;
    sparq_board_reset u_reset (.clk_i(clk), .fpga_reset_i(fpga_reset_i), .rst_no(rst_n));

    wire [7:0] fd_in, fd_out, data;
    wire       fd_oe, valid, ready;
    sparq_board_fdio u_fdio (.pad_io(fd_io), .out_i(fd_out), .oe_i(fd_oe), .in_o(fd_in));
    sparq_fx2_fifo u_fifo (
        .clk_i(clk), .rst_ni(rst_n),
        .fd_i(fd_in), .fd_o(fd_out), .fd_oe_o(fd_oe),
        .ep2_empty_ni(flaga_ni), .ep6_full_ni(flagb_ni),
        .slrd_no(slrd_no), .slwr_no(slwr_no), .sloe_no(sloe_no), .pktend_no(pktend_no),
        .fifoadr_o(fifoadr_o),
        .rx_data_o(data), .rx_valid_o(valid), .rx_ready_i(ready),
        .tx_data_i(data), .tx_valid_i(valid), .tx_ready_o(ready)
    );
    assign led_o = {valid, !rst_n};
endmodule
`default_nettype wire
