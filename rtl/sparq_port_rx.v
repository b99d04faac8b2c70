`default_nettype none
// Receive side of a wide host port (PORT_BYTES > 1, e.g. an FT601's 32-bit
// FIFO): words of PB bytes with FT601-style byte enables (the valid bytes are
// the low ones; any word may be partial) go into a 3*PB-byte buffer, and the
// command parser takes 0, 1 or PB bytes a cycle from its front. The buffer
// realigns the stream, so a payload can be taken PB bytes at a time whatever
// the word boundaries. It accepts a word while it holds at most 2*PB bytes
// (a registered count: no path from the parser to rx_ready). PB = 1: wires,
// the parser's ready is the port's (the byte-wide boards, unchanged).
module sparq_port_rx #(
    parameter PB = 4                   // bytes per word: 1, 2 or 4
) (
    /* verilator lint_off UNUSEDSIGNAL */ // (PB = 1: no buffer)
    input  wire          clk_i,
    input  wire          rst_ni,
    input  wire [8*PB-1:0] data_i,   // word, first stream byte in [7:0]
    input  wire [PB-1:0] be_i,       // byte enables: 1, 11, 111, ... (bytes after a 0 are ignored)
    output wire          ready_o,
    input  wire          flush_i,    // a partial packet timed out: drop what is buffered
    input  wire          wide_i,     // the parser takes PB bytes at once (else one)
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire          take_i,     // ... and it takes them this cycle if valid_o
    output wire [8*PB-1:0] bytes_o,  // the next PB bytes, first in [7:0]
    output wire          valid_o,    // the parser's 1 (or PB with wide_i) bytes are there
    output wire          in_o        // a word is accepted this cycle
);
    generate
        if (PB == 1) begin : g_byte
            assign ready_o = take_i;
            assign bytes_o = data_i;
            assign valid_o = be_i[0];
            assign in_o = be_i[0] && take_i;
        end else begin : g_wide
            sparq_port_rx_buf #(.PB(PB)) u_buf (
                .clk_i(clk_i), .rst_ni(rst_ni), .data_i(data_i), .be_i(be_i), .ready_o(ready_o),
                .flush_i(flush_i), .wide_i(wide_i), .take_i(take_i), .bytes_o(bytes_o), .valid_o(valid_o)
            );
            assign in_o = be_i[0] && ready_o;
        end
    endgenerate
endmodule
`default_nettype wire
