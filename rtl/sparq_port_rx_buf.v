`default_nettype none
// The 3*PB-byte realigning buffer of sparq_port_rx (PB > 1). It takes a word
// while it holds at most 2*PB bytes, so between PB and 2*PB a word comes in
// and a payload group goes out in the same cycle (with 2*PB bytes the count
// could settle where the two alternate: half the rate).
module sparq_port_rx_buf #(
    parameter PB = 4,
    parameter AW = $clog2(3 * PB) + 1
) (
    input  wire          clk_i,
    input  wire          rst_ni,
    input  wire [8*PB-1:0] data_i,
    input  wire [PB-1:0] be_i,
    output wire          ready_o,
    input  wire          flush_i,
    input  wire          wide_i,
    input  wire          take_i,
    output wire [8*PB-1:0] bytes_o,
    output wire          valid_o
);
    localparam N = 3 * PB;
    localparam integer PB_I = PB;

    reg [7:0]    b_q [0:N-1];
    reg [AW-1:0] n_q;
    reg [7:0]    b_d [0:N-1];
    reg [AW-1:0] n_d, wcnt, rem;
    reg          gap;

    localparam integer PB2 = 2 * PB;
    assign ready_o = (n_q <= PB2[AW-1:0]);
    assign valid_o = wide_i ? (n_q >= PB_I[AW-1:0]) : (n_q != {AW{1'b0}});
    wire [AW-1:0] take_n = !(valid_o && take_i) ? {AW{1'b0}} : wide_i ? PB_I[AW-1:0] : {{(AW-1){1'b0}}, 1'b1};
    genvar g;
    generate
        for (g = 0; g < PB; g = g + 1) begin : g_out
            assign bytes_o[8*g +: 8] = b_q[g];
        end
    endgenerate

    integer i, j;
    always @* begin
        // bytes of the word: the enables up to the first clear one
        wcnt = {AW{1'b0}};
        gap = 1'b0;
        for (j = 0; j < PB; j = j + 1) begin
            gap = gap || !be_i[j];
            if (!gap)
                wcnt = wcnt + {{(AW-1){1'b0}}, 1'b1};
        end
        if (!ready_o)
            wcnt = {AW{1'b0}};
        rem = n_q - take_n;
        for (i = 0; i < N; i = i + 1) begin
            b_d[i] = b_q[i];
            if (i + {{(32-AW){1'b0}}, take_n} < N)
                b_d[i] = b_q[i + {{(32-AW){1'b0}}, take_n}];
            for (j = 0; j < PB; j = j + 1)
                if (i == {{(32-AW){1'b0}}, rem} + j && j < {{(32-AW){1'b0}}, wcnt})
                    b_d[i] = data_i[8*j +: 8];
        end
        n_d = flush_i ? {AW{1'b0}} : rem + wcnt;
    end

    always @(posedge clk_i) begin
        if (!rst_ni)
            n_q <= {AW{1'b0}};
        else
            n_q <= n_d;
        for (i = 0; i < N; i = i + 1)
            b_q[i] <= b_d[i];
    end
endmodule
`default_nettype wire
