// sf_plane: a spike plane (docs/hardware.md 4c): simple dual-port memory of GROUPS lane groups
// per word with one write enable per group (the update pass writes one row's lanes, a masked
// write), and one synchronous, read-first read port. LOGIC=1 asks synthesis for flip-flops or
// LUTs; otherwise block RAM with a bit mask (iCE40 EBR MASK, ECP5 byte enables or per-group
// blocks). The designs never read a word in the cycle it is written (a plane is written in its
// layer's update pass and read in its readers' accumulate phases, which never overlap on one
// step's words).
`timescale 1ns/1ps
`default_nettype none
module sf_plane #(
    parameter integer WIDTH  = 8,
    parameter integer GROUPS = 1,
    parameter integer DEPTH  = 16,
    parameter integer AW     = 4,
    parameter integer LOGIC  = 0
) (
    input  wire              clk,
    input  wire [GROUPS-1:0] we,
    input  wire [AW-1:0]     waddr,
    input  wire [WIDTH-1:0]  wdata,
    input  wire [AW-1:0]     raddr,
    output wire [WIDTH-1:0]  rdata
);
    localparam integer GW = WIDTH / GROUPS;
    /* verilator lint_off UNUSEDPARAM */
    localparam STYLE = (LOGIC != 0) ? "logic" : "auto";
    /* verilator lint_on UNUSEDPARAM */
    (* no_rw_check, ram_style = STYLE *) reg [WIDTH-1:0] mem [0:DEPTH-1];
    reg [WIDTH-1:0] q;
    integer i;
    initial begin
        q = {WIDTH{1'b0}};
`ifndef SYNTHESIS
        for (i = 0; i < DEPTH; i = i + 1) mem[i] = {WIDTH{1'b0}};
`endif
    end
    genvar g;
    generate
        for (g = 0; g < GROUPS; g = g + 1) begin : wr
            always @(posedge clk) if (we[g]) mem[waddr][g*GW +: GW] <= wdata[g*GW +: GW];
        end
    endgenerate
    always @(posedge clk) q <= mem[raddr];
    assign rdata = q;
endmodule
`default_nettype wire
