`default_nettype none
// Activation loader of sparq_ctrl: packs WRITE_X payload bytes into 32-bit
// words (4 channels) and writes them row by row: frame f goes to row
// f mod ROWS, each tile of ROWS frames after the previous tile's words.
// A wide host port hands it PB bytes at once (the payload is a multiple of 4).
module sparq_ctrl_xload #(
    parameter ROWS   = 16,
    parameter PB     = 1,    // payload bytes per byte_i: 1, 2 or 4
    parameter XDEPTH = 4096,
    parameter XBANKS = 2,
    parameter XA = $clog2(XDEPTH),                // derived
    parameter RB = (ROWS > 1) ? $clog2(ROWS) : 1, // derived
    parameter XBB = (XBANKS > 1) ? $clog2(XBANKS) : 1 // derived
) (
    input  wire          clk_i,
    input  wire          rst_ni,
    input  wire          start_i,    // a WRITE_X is being checked: restart at frame 0
    input  wire [XBB-1:0] bank_i,
    input  wire [XA:0]   words_m1_i, // words per frame - 1
    input  wire          byte_i,     // PB payload bytes arrive
    input  wire [8*PB-1:0] data_i,
    output wire          x_we_o,
    output wire [RB-1:0] x_row_o,
    output wire [XBB+XA-1:0] x_addr_o,
    output wire [31:0]   x_data_o
);
    localparam integer ROWS_M1 = ROWS - 1;
    localparam [RB-1:0] ROWS_LAST = ROWS_M1[RB-1:0];

    reg [RB-1:0] r_q, r_d;       // row (frame within the tile)
    reg [XA:0]   g_q, g_d;       // word within the frame
    reg [XA:0]   base_q, base_d; // first word of the tile
    reg [1:0]    bi_q, bi_d;     // byte within the word
    /* verilator lint_off UNUSEDSIGNAL */ // (PB = 4: a word arrives whole)
    reg [23:0]   word_q, word_d; // its first three bytes
    /* verilator lint_on UNUSEDSIGNAL */
    reg [XBB-1:0] bank_q;

    localparam integer BI_LAST_I = 4 - PB, BI_STEP_I = PB;
    localparam [1:0] BI_LAST = BI_LAST_I[1:0];  // first byte of the word's last group
    localparam [1:0] BI_STEP = BI_STEP_I[1:0];
    assign x_we_o = byte_i && bi_q == BI_LAST;
    assign x_row_o = r_q;
    assign x_addr_o = {bank_q, base_q[XA-1:0] + g_q[XA-1:0]};
    generate
        if (PB == 4) begin : g_w4
            assign x_data_o = data_i;
        end else begin : g_wn
            assign x_data_o = {data_i, word_q[8*(4-PB)-1:0]};
        end
    endgenerate

    integer j;
    always @* begin
        r_d = r_q;
        g_d = g_q;
        base_d = base_q;
        bi_d = bi_q;
        word_d = word_q;
        if (start_i) begin
            r_d = {RB{1'b0}};
            g_d = {(XA+1){1'b0}};
            base_d = {(XA+1){1'b0}};
            bi_d = 2'd0;
        end else if (byte_i) begin
            for (j = 0; j < PB; j = j + 1)
                if ({30'd0, bi_q} + j < 3)
                    word_d[8*({30'd0, bi_q} + j) +: 8] = data_i[8*j +: 8];
            bi_d = bi_q + BI_STEP;
            if (bi_q == BI_LAST) begin
                if (g_q == words_m1_i) begin
                    g_d = {(XA+1){1'b0}};
                    r_d = r_q + {{(RB-1){1'b0}}, 1'b1};
                    if (r_q == ROWS_LAST)
                        base_d = base_q + words_m1_i + {{XA{1'b0}}, 1'b1};
                end else begin
                    g_d = g_q + {{XA{1'b0}}, 1'b1};
                end
            end
        end
    end

    // no reset: every field is set by start_i before the first byte
    always @(posedge clk_i) begin
        if (rst_ni) begin
            r_q <= r_d;
            g_q <= g_d;
            base_q <= base_d;
            bi_q <= bi_d;
            word_q <= word_d;
            if (start_i)
                bank_q <= bank_i;
        end
    end
endmodule
`default_nettype wire
