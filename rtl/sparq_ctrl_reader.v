`default_nettype none
// Read streamer of sparq_ctrl: walks the t x ncols results of a READ frame by
// frame, reads each from the result memory, requantizes it (mode 1) or
// splits it into 4 bytes (mode 0), and queues the bytes in an 8-byte FIFO
// that the reply sender drains. A result is issued only when its bytes
// (and those in flight) fit the FIFO. Version 3: from result buffer rbuf,
// with the requant parameters of entry qaddr + column.
// A wide host port (PB > 1): a 16-byte FIFO that PB bytes a cycle can leave,
// and an int8 READ issues up to PB consecutive columns of a frame at once
// (every column's result memory is read at the frame, r_all_i; PB
// requantizers with PB parameter entries, qaddr + column onwards).
module sparq_ctrl_reader #(
    parameter PB        = 1,                       // host port bytes: 1, 2 or 4
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
    /* verilator lint_off UNUSEDSIGNAL */ // (r_data_i: PB > 1; r_all_i: PB = 1)
    input  wire [31:0]   r_data_i,
    input  wire [32*COLS-1:0] r_all_i, // PB > 1: every column's result at r_addr_o, the cycle after
    /* verilator lint_on UNUSEDSIGNAL */
    // requant parameters of entries q_idx_o + j (asked when q_re_o), the cycle after
    output wire [QA-1:0] q_idx_o,
    output wire          q_re_o,
    input  wire [32*PB-1:0] q_bias_i,
    input  wire [31*PB-1:0] q_mult_i,
    input  wire [6*PB-1:0]  q_shift_i,
    // byte FIFO read side: the next PB bytes (first in [7:0]), how many wait
    output wire [8*PB-1:0] bytes_o,
    output wire [4:0]    count_o,
    input  wire [2:0]    pop_i      // bytes taken (<= PB, <= count_o)
);
    localparam TW = RA + 1; // frames, t <= RDEPTH
    localparam NW = CB + 1; // columns, ncols <= COLS
    localparam FD = (PB > 1) ? 16 : 8; // FIFO bytes
    localparam FA = (PB > 1) ? 4 : 3;
    localparam FCW = (PB > 1) ? 5 : 4;  // FIFO count bits: the issue test sums to <= FD + 4
    localparam integer FD_I = FD;
    localparam [FCW-1:0] FDC = FD_I[FCW-1:0], FOUR = 4;
    localparam integer PB_I = PB;
    localparam [4:0] PB5 = PB_I[4:0];

    generate
        if (!(PB == 1 || PB == 2 || PB == 4) || (PB > 1 && (RQ_SERIAL != 0 || COLS < PB))) begin : g_bad_params
            sparq_ctrl_reader_illegal_parameters u_stop ();
        end
    endgenerate

    reg [TW-1:0]  f_q, f_d;
    reg [NW-1:0]  c_q, c_d;
    reg [BLW-1:0] left_q, left_d;
    reg [NW-1:0]  ncols_q;
    reg           mode_q;
    reg [QA-1:0]  qaddr_q;
    reg           rq_v_q;   // results leave the memory this cycle
    reg [2:0]     rq_k_q;   // ... how many (int8, PB > 1)
    reg [7:0]     fifo_q [0:FD-1];
    reg [FA-1:0]  fwp_q, frp_q;
    reg [FCW-1:0] fcnt_q;

    // results issued this cycle: one, or with PB > 1 and int8 up to PB
    // columns of the frame
    wire [NW:0]   cols_left = {1'b0, ncols_q} - {1'b0, c_q};
    wire [2:0]    k_iss = (PB == 1 || !mode_q) ? 3'd1 : (cols_left >= PB_I[NW:0]) ? PB5[2:0] : cols_left[2:0];
    wire [NW:0]   k_n = {{(NW-2){1'b0}}, k_iss};
    wire [FCW-1:0] bpv = mode_q ? {{(FCW-3){1'b0}}, k_iss} : FOUR;
    wire          rq_wait;  // serial requantizer: a result still in flight
    wire          rq_pend;  // ... its byte not yet counted in the FIFO
    wire [FCW-1:0] inflight = (rq_v_q || rq_pend) ? (mode_q ? {{(FCW-3){1'b0}}, rq_k_q} : FOUR) : {FCW{1'b0}};
    wire          issue = (left_q != {BLW{1'b0}}) && !rq_wait && !hold_i && (fcnt_q + inflight + bpv <= FDC);
    assign r_addr_o = f_q[RA-1:0];
    assign r_col_o = c_q[CB-1:0];
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] qsum = {{(32-QA){1'b0}}, qaddr_q} + {{(32-NW){1'b0}}, c_q}; // < QDEPTH (checked)
    /* verilator lint_on UNUSEDSIGNAL */
    assign q_idx_o = qsum[QA-1:0];
    assign q_re_o = issue;
    generate
        if (FCW == 5) begin : g_cnt5
            assign count_o = fcnt_q;
        end else begin : g_cnt4
            assign count_o = {1'b0, fcnt_q};
        end
    endgenerate
    genvar g;
    generate
        for (g = 0; g < PB; g = g + 1) begin : g_out
            wire [FA-1:0] a = frp_q + g[FA-1:0];
            assign bytes_o[8*g +: 8] = fifo_q[a];
        end
    endgenerate

    wire [8*PB-1:0] rq_y;
    wire [31:0] r_word;      // the int32 result of this cycle
    wire        rq_push;     // rq_y goes into the FIFO this cycle
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
            assign r_word = r_data_i;
        end else if (PB == 1) begin : g_rq_comb
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
            assign r_word = r_data_i;
        end else begin : g_rq_wide
            // lane j: column c + j of the frame (the columns of the cycle before)
            reg [CB-1:0] rc_q;
            always @(posedge clk_i)
                rc_q <= c_q[CB-1:0];
            for (g = 0; g < PB; g = g + 1) begin : g_lane
                /* verilator lint_off UNUSEDSIGNAL */
                wire [31:0] ci = {{(32-CB){1'b0}}, rc_q} + g;
                /* verilator lint_on UNUSEDSIGNAL */
                wire [31:0] acc = r_all_i[32*ci[CB-1:0] +: 32];
                wire signed [7:0] y;
                sparq_requant u_requant (
                    .acc_i   (acc),
                    .bias_i  (q_bias_i[32*g +: 32]),
                    .mult_i  ({1'b0, q_mult_i[31*g +: 31]}),
                    .shift_i (q_shift_i[6*g +: 6]),
                    .y_o     (y)
                );
                assign rq_y[8*g +: 8] = y;
            end
            assign r_word = r_all_i[32*rc_q +: 32];
            assign rq_wait = 1'b0;
            assign rq_pend = 1'b0;
            assign rq_push = rq_v_q;
        end
    endgenerate
    wire [FCW-1:0] push_n = mode_q ? (rq_push ? {{(FCW-3){1'b0}}, rq_k_q} : {FCW{1'b0}}) : (rq_v_q ? FOUR : {FCW{1'b0}});
    wire [31:0] push_bytes;
    generate
        if (PB == 4) begin : g_pb4
            assign push_bytes = mode_q ? rq_y : r_word;
        end else begin : g_pbn
            assign push_bytes = mode_q ? {{(32-8*PB){1'b0}}, rq_y} : r_word;
        end
    endgenerate

    always @* begin
        f_d = f_q;
        c_d = c_q;
        left_d = left_q;
        if (start_i) begin
            f_d = {TW{1'b0}};
            c_d = {NW{1'b0}};
            left_d = n_i;
        end else if (issue) begin
            left_d = left_q - {{(BLW-3){1'b0}}, k_iss};
            if ({1'b0, c_q} + k_n == {1'b0, ncols_q}) begin
                c_d = {NW{1'b0}};
                f_d = f_q + {{(TW-1){1'b0}}, 1'b1};
            end else begin
                c_d = c_q + k_n[NW-1:0];
            end
        end
    end

    /* verilator lint_off UNUSEDSIGNAL */
    wire [4:0] pop5 = {2'b00, pop_i};
    /* verilator lint_on UNUSEDSIGNAL */
    integer i;
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            left_q <= {BLW{1'b0}};
            rq_v_q <= 1'b0;
            fwp_q <= {FA{1'b0}};
            frp_q <= {FA{1'b0}};
            fcnt_q <= {FCW{1'b0}};
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
            rq_k_q <= k_iss;
            for (i = 0; i < 4; i = i + 1)
                if (i < push_n)
                    fifo_q[fwp_q + i[FA-1:0]] <= push_bytes[8*i +: 8];
            fwp_q <= fwp_q + push_n[FA-1:0];
            frp_q <= frp_q + pop5[FA-1:0];
            fcnt_q <= fcnt_q + push_n - pop5[FCW-1:0];
        end
    end
endmodule
`default_nettype wire
