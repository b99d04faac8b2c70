`default_nettype none
// The UART board design without pads, clock or reset: receiver -> byte
// FIFO -> accelerator (sparq_top, the same controller the FX2 boards use)
// -> transmitter. Used by the iCE40 and ECP5 UART tops and, Verilated as it
// is, by the PTY board simulation (tests/board/uart_rtl_device.cpp), which
// drives rx_i and samples tx_o bit by bit.
module sparq_board_uart_core #(
    parameter ROWS         = 4,       // array rows
    parameter COLS         = 2,       // array columns
    parameter WDEPTH       = 256,     // weight entries per column per bank
    parameter XDEPTH       = 256,     // activation words per row per bank
    parameter RDEPTH       = 64,      // result frames
    parameter TIMEOUT      = 1048576, // rx idle cycles ending a partial packet: at most
                                      // SPARQ_UART_RX_TIMEOUT_MS (50 ms) at the board clock
    parameter CNT_W        = 48,      // counter bits
    parameter RQ_SERIAL    = 1,       // multi-cycle requantizer
    parameter WL_DBUF      = 0,       // single weight-block buffer
    parameter CHK_REG      = 2,       // registered command checks and products
    parameter CLKS_PER_BIT = 8,       // clock / baud
    parameter RX_FIFO      = 8        // bytes buffered in front of the controller
) (
    input  wire clk_i,
    input  wire rst_ni,
    input  wire rx_i,          // from the USB-serial bridge's TXD
    output wire tx_o,          // to its RXD
    output wire activity_o,    // a byte moved between the link and the accelerator
    output wire frame_err_o,   // one cycle per frame with a low stop bit (dropped)
    output wire overflow_o     // sticky: a received byte found the FIFO full (dropped)
);
    wire [7:0] urx_data, rx_data, tx_data;
    wire       urx_valid;
    wire       rx_valid, rx_ready, tx_valid, tx_ready;

    sparq_uart_rx #(.CLKS_PER_BIT(CLKS_PER_BIT)) u_rx (
        .clk_i(clk_i), .rst_ni(rst_ni), .rx_i(rx_i),
        .data_o(urx_data), .valid_o(urx_valid), .frame_err_o(frame_err_o)
    );
    sparq_uart_fifo #(.DEPTH(RX_FIFO)) u_fifo (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .in_data_i(urx_data), .in_valid_i(urx_valid),
        .out_data_o(rx_data), .out_valid_o(rx_valid), .out_ready_i(rx_ready),
        .overflow_o(overflow_o)
    );
    sparq_top #(
        .ROWS(ROWS), .COLS(COLS), .WDEPTH(WDEPTH), .XDEPTH(XDEPTH), .RDEPTH(RDEPTH), .TIMEOUT(TIMEOUT),
        .CNT_W(CNT_W), .RQ_SERIAL(RQ_SERIAL), .WL_DBUF(WL_DBUF), .CHK_REG(CHK_REG)
    ) u_top (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .rx_data_i(rx_data), .rx_valid_i(rx_valid), .rx_ready_o(rx_ready),
        .tx_data_o(tx_data), .tx_valid_o(tx_valid), .tx_ready_i(tx_ready)
    );
    sparq_uart_tx #(.CLKS_PER_BIT(CLKS_PER_BIT)) u_tx (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .data_i(tx_data), .valid_i(tx_valid), .ready_o(tx_ready), .tx_o(tx_o)
    );

    assign activity_o = (rx_valid && rx_ready) || (tx_valid && tx_ready);
endmodule
`default_nettype wire
