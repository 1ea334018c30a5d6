// sf_spram: one iCE40 UltraPlus SPRAM block, 16K x 16, single port. Under synthesis it is the
// SB_SPRAM256KA primitive; in simulation a model of the same port behaviour (tests/spram.rs
// checks it against Yosys's SB_SPRAM256KA simulation model): a read (we = 0) presents
// mem[addr] on dout one cycle later; a write (we = 1) stores the nibbles of din selected by
// mask and leaves dout undefined, so callers never use dout after a write cycle.
`timescale 1ns/1ps
`default_nettype none
module sf_spram (
    input  wire        clk,
    input  wire [13:0] addr,
    input  wire [15:0] din,
    input  wire [3:0]  mask,
    input  wire        we,
    output wire [15:0] dout
);
`ifdef SYNTHESIS
    SB_SPRAM256KA spram (
        .ADDRESS(addr), .DATAIN(din), .MASKWREN(mask), .WREN(we), .CHIPSELECT(1'b1),
        .CLOCK(clk), .STANDBY(1'b0), .SLEEP(1'b0), .POWEROFF(1'b1), .DATAOUT(dout));
`else
    reg [15:0] mem [0:16383];
    reg [15:0] q;
    integer i;
    initial begin
        q = 16'd0;
        for (i = 0; i < 16384; i = i + 1) mem[i] = 16'd0;
    end
    always @(posedge clk) begin
        if (we) begin
            if (mask[0]) mem[addr][3:0]   <= din[3:0];
            if (mask[1]) mem[addr][7:4]   <= din[7:4];
            if (mask[2]) mem[addr][11:8]  <= din[11:8];
            if (mask[3]) mem[addr][15:12] <= din[15:12];
        end else q <= mem[addr];
    end
    assign dout = q;
`endif
endmodule
`default_nettype wire
