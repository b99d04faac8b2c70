`default_nettype none
// One byte step of CRC-16/CCITT-FALSE (poly 0x1021, MSB first), the
// protocol CRC; host/src/crc16.c computes the same function.
module sparq_crc16 (
    input  wire [15:0] crc_i,   // running CRC
    input  wire [7:0]  data_i,  // next byte
    output reg  [15:0] crc_o    // CRC after the byte
);
    integer b;
    always @* begin
        crc_o = crc_i ^ {data_i, 8'h00};
        for (b = 0; b < 8; b = b + 1)
            crc_o = crc_o[15] ? ({crc_o[14:0], 1'b0} ^ 16'h1021) : {crc_o[14:0], 1'b0};
    end
endmodule
`default_nettype wire
