// sf_acc_term: one accumulator lane's addend, for a state memory that adds it in an adder
// shared by its units (docs/hardware.md 4c). term = ((w * val) << SHIFT) modulo 2^TW when EN,
// else 0. Binary weights (WB = 1) give +val for bit 1 and -val for bit 0: no multiplier.
// Multi-bit weights are two's complement. No saturation: old + term modulo 2^TW equals
// sf_acc_lane's result with SAT = 0 (the sum's low TW bits depend only on the operands' low
// TW bits), so a unit only uses it when its layer does not saturate.
`timescale 1ns/1ps
`default_nettype none
module sf_acc_term #(
    parameter integer TW         = 16,   // state width
    parameter integer WB         = 1,    // weight bits (1: binary +-1)
    parameter integer VW         = 1,    // event value width
    parameter integer VAL_SIGNED = 0,
    parameter integer SHIFT      = 0
) (
    input  wire          en,
    input  wire [WB-1:0] w,
    input  wire [VW-1:0] val,
    output wire [TW-1:0] term
);
    localparam integer PW = WB + VW + 1 + SHIFT;           // product width incl. sign
    localparam integer CW = (PW > TW ? PW : TW) + 2;       // computation width
    wire signed [CW-1:0] v_ext = (VAL_SIGNED != 0) ? {{(CW-VW){val[VW-1]}}, val} : {{(CW-VW){1'b0}}, val};
    wire signed [CW-1:0] w_ext = {{(CW-WB){w[WB-1]}}, w};
    wire signed [CW-1:0] vs    = v_ext <<< SHIFT;
    /* verilator lint_off UNUSEDSIGNAL */
    // (the product's bits above TW: the sum is taken modulo 2^TW)
    wire signed [CW-1:0] prod  = (WB == 1) ? (w[0] ? vs : -vs) : ((w_ext * v_ext) <<< SHIFT);
    /* verilator lint_on UNUSEDSIGNAL */
    assign term = en ? prod[TW-1:0] : {TW{1'b0}};
endmodule
`default_nettype wire
