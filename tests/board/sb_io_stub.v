// Lint-only model of the iCE40 SB_IO primitive as sparq_board_fdio uses it
// (PIN_TYPE 1010_01: tristate output, plain input). Not for synthesis.
/* verilator lint_off UNUSEDPARAM */
module SB_IO #(
    parameter [5:0] PIN_TYPE = 6'b0,
    parameter [0:0] PULLUP = 1'b0
) (
    inout  wire PACKAGE_PIN,
    input  wire OUTPUT_ENABLE,
    input  wire D_OUT_0,
    output wire D_IN_0
);
    assign PACKAGE_PIN = OUTPUT_ENABLE ? D_OUT_0 : 1'bz;
    assign D_IN_0 = PACKAGE_PIN;
endmodule
/* verilator lint_on UNUSEDPARAM */
