// sf_acc_lane: one accumulator lane. new = old + ((w * val) << SHIFT) when EN, else old.
// Binary weights (WB = 1) add +val for bit 1 and -val for bit 0: no multiplier. Multi-bit
// weights are two's complement. With SAT=1 the sum saturates to TW bits; otherwise range
// analysis guarantees it fits and the sum is truncated.
`timescale 1ns/1ps
`default_nettype none
module sf_acc_lane #(
    parameter integer TW         = 16,   // state width
    parameter integer WB         = 1,    // weight bits (1: binary +-1)
    parameter integer VW         = 1,    // event value width
    parameter integer VAL_SIGNED = 0,
    parameter integer SHIFT      = 0,
    parameter integer SAT        = 0
) (
    input  wire          en,
    input  wire [TW-1:0] old,
    input  wire [WB-1:0] w,
    input  wire [VW-1:0] val,
    output wire [TW-1:0] result
);
    localparam integer PW = WB + VW + 1 + SHIFT;           // product width incl. sign
    localparam integer CW = (PW > TW ? PW : TW) + 2;       // computation width
    wire signed [CW-1:0] v_ext = (VAL_SIGNED != 0) ? {{(CW-VW){val[VW-1]}}, val} : {{(CW-VW){1'b0}}, val};
    wire signed [CW-1:0] w_ext = {{(CW-WB){w[WB-1]}}, w};
    wire signed [CW-1:0] o_ext = {{(CW-TW){old[TW-1]}}, old};
    // Binary: old + (v << SHIFT) or old - (v << SHIFT) = old + ~(v << SHIFT) + 1, one carry
    // chain with the weight's complement as carry-in.
    wire signed [CW-1:0] vs    = v_ext <<< SHIFT;
    wire signed [CW-1:0] sum   = (WB == 1) ? (o_ext + (w[0] ? vs : ~vs) + {{(CW-1){1'b0}}, ~w[0]})
                                           : (o_ext + ((w_ext * v_ext) <<< SHIFT));
    // `sum` is exact in CW bits, so it fits TW bits iff its bits CW-1 .. TW-1 are all equal;
    // otherwise its sign picks the bound. (A test of a few top bits, not two comparators
    // after the adder's carry chain.)
    wire [CW-TW:0] top  = sum[CW-1:TW-1];
    wire       fits     = (top == {(CW-TW+1){1'b0}}) || (top == {(CW-TW+1){1'b1}});
    wire [TW-1:0] clamped = fits ? sum[TW-1:0]
                          : sum[CW-1] ? {1'b1, {(TW-1){1'b0}}} : {1'b0, {(TW-1){1'b1}}};
    assign result = !en ? old : (SAT != 0) ? clamped : sum[TW-1:0];
endmodule
`default_nettype wire
