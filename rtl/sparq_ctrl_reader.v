`default_nettype none
// Read streamer of sparq_ctrl: walks the t x ncols results of a READ frame by
// frame, reads each from the result memory, requantizes it (mode 1) or
// splits it into 4 bytes (mode 0), and queues the bytes in an 8-byte FIFO
// that the reply sender drains. A result is issued only when its bytes
// (and those in flight) fit the FIFO. Version 3: from result buffer rbuf,
// with the requant parameters of entry qaddr + column.
module sparq_ctrl_reader #(
    parameter COLS      = 16,
    parameter RDEPTH    = 256,
    parameter RQ_SERIAL = 0,                       // 1: multi-cycle requantizer
    parameter BLW       = 16,                      // result counter bits
    parameter QA        = 4,                       // requant parameter index bits
    parameter RA = $clog2(RDEPTH),                 // derived
    parameter CB = (COLS > 1) ? $clog2(COLS) : 1   // derived
) (
    input  wire          clk_i,
    input  wire          rst_ni,
    input  wire          start_i,  // a READ executes
    input  wire [BLW-1:0] n_i,     // results to send
    input  wire [CB:0]   ncols_i,
    input  wire          mode_i,   // 1: requantized int8, 0: raw int32
    input  wire          rbuf_i,   // result buffer
    input  wire [QA-1:0] qaddr_i,  // parameter entry of column 0
    input  wire          hold_i,   // the parameter memory is taken this cycle: issue nothing
    output wire [RA-1:0] r_addr_o,
    output wire [CB-1:0] r_col_o,
    output reg           r_buf_o,
    input  wire [31:0]   r_data_i,
    // requant parameters of entry q_idx_o (asked when q_re_o), the cycle after
    output wire [QA-1:0] q_idx_o,
    output wire          q_re_o,
    input  wire [31:0]   q_bias_i,
    input  wire [30:0]   q_mult_i,
    input  wire [5:0]    q_shift_i,
    // byte FIFO read side
    output wire [7:0]    byte_o,
    output wire          nonempty_o,
    input  wire          pop_i
);
    localparam TW = RA + 1; // frames, t <= RDEPTH
    localparam NW = CB + 1; // columns, ncols <= COLS

    reg [TW-1:0]  f_q, f_d;
    reg [NW-1:0]  c_q, c_d;
    reg [BLW-1:0] left_q, left_d;
    reg [NW-1:0]  ncols_q;
    reg           mode_q;
    reg [QA-1:0]  qaddr_q;
    reg           rq_v_q;   // a result leaves the memory this cycle
    reg [7:0]     fifo_q [0:7];
    reg [2:0]     fwp_q, frp_q;
    reg [3:0]     fcnt_q;

    wire [3:0] bpv = mode_q ? 4'd1 : 4'd4;
    wire       rq_wait;   // serial requantizer: a result still in flight
    wire       rq_pend;   // ... its byte not yet counted in the FIFO
    wire [3:0] inflight = (rq_v_q || rq_pend) ? bpv : 4'd0;
    wire       issue = (left_q != {BLW{1'b0}}) && !rq_wait && !hold_i && (fcnt_q + inflight + bpv <= 4'd8);
    assign r_addr_o = f_q[RA-1:0];
    assign r_col_o = c_q[CB-1:0];
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] qsum = {{(32-QA){1'b0}}, qaddr_q} + {{(32-NW){1'b0}}, c_q}; // < QDEPTH (checked)
    /* verilator lint_on UNUSEDSIGNAL */
    assign q_idx_o = qsum[QA-1:0];
    assign q_re_o = issue;
    assign byte_o = fifo_q[frp_q];
    assign nonempty_o = (fcnt_q != 4'd0);

    wire [7:0] rq_y;
    wire       rq_push;   // rq_y goes into the FIFO this cycle
    generate
        if (RQ_SERIAL != 0) begin : g_rq_serial
            wire rqs_busy, rqs_done;
            sparq_requant_serial u_requant (
                .clk_i   (clk_i),
                .rst_ni  (rst_ni),
                .start_i (rq_v_q && mode_q),
                .acc_i   (r_data_i),
                .bias_i  (q_bias_i),
                .mult_i  (q_mult_i),
                .shift_i (q_shift_i),
                .busy_o  (rqs_busy),
                .done_o  (rqs_done),
                .y_o     (rq_y)
            );
            assign rq_wait = mode_q && (rq_v_q || rqs_busy);
            assign rq_pend = mode_q && (rqs_busy || rqs_done);
            assign rq_push = rqs_done;
        end else begin : g_rq_comb
            wire signed [7:0] rq_y_s;
            sparq_requant u_requant (
                .acc_i   (r_data_i),
                .bias_i  (q_bias_i),
                .mult_i  ({1'b0, q_mult_i}),
                .shift_i (q_shift_i),
                .y_o     (rq_y_s)
            );
            assign rq_y = rq_y_s;
            assign rq_wait = 1'b0;
            assign rq_pend = 1'b0;
            assign rq_push = rq_v_q;
        end
    endgenerate
    wire [3:0]  push_n = mode_q ? (rq_push ? 4'd1 : 4'd0) : (rq_v_q ? 4'd4 : 4'd0);
    wire [31:0] push_bytes = mode_q ? {24'd0, rq_y} : r_data_i;

    always @* begin
        f_d = f_q;
        c_d = c_q;
        left_d = left_q;
        if (start_i) begin
            f_d = {TW{1'b0}};
            c_d = {NW{1'b0}};
            left_d = n_i;
        end else if (issue) begin
            left_d = left_q - {{(BLW-1){1'b0}}, 1'b1};
            if (c_q == ncols_q - {{(NW-1){1'b0}}, 1'b1}) begin
                c_d = {NW{1'b0}};
                f_d = f_q + {{(TW-1){1'b0}}, 1'b1};
            end else begin
                c_d = c_q + {{(NW-1){1'b0}}, 1'b1};
            end
        end
    end

    integer i;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            left_q <= {BLW{1'b0}};
            rq_v_q <= 1'b0;
            fwp_q <= 3'd0;
            frp_q <= 3'd0;
            fcnt_q <= 4'd0;
        end else begin
            f_q <= f_d;
            c_q <= c_d;
            left_q <= left_d;
            if (start_i) begin
                ncols_q <= ncols_i;
                mode_q <= mode_i;
                qaddr_q <= qaddr_i;
                r_buf_o <= rbuf_i;
            end
            rq_v_q <= issue;
            for (i = 0; i < 4; i = i + 1)
                if (i < push_n)
                    fifo_q[fwp_q + i[2:0]] <= push_bytes[8*i +: 8];
            fwp_q <= fwp_q + push_n[2:0];
            frp_q <= frp_q + {2'b00, pop_i};
            fcnt_q <= fcnt_q + push_n - {3'd0, pop_i};
        end
    end
endmodule
`default_nettype wire
