// sf_neuron: one neuron lane of the update datapath shared by all layers (layers update
// one at a time). Same arithmetic as the plan (src/hw/mod.rs, docs/hardware.md section 2):
//   cuba: i = Y + S + CS (+ CSL after step 0);  Y' = leak_syn(i);  v = X + i + C (+ CL)
//   else: v = X + S + C (+ CL after step 0)
//   s = v > THR (v >= THR with FIRE_EQ), only for spiking layers
//   vhat = zero: s ? VR : v   subtract: v - s*THR   subtract-undecayed: v
//   X' = leak(vhat) - (undecayed && s ? THR : 0);  X' = Y' = 0 after the last step
//   leak: 0 -> 0, 1 -> x, 2 -> x - (x >>> k), 3 -> (x * b + 2^(P-1)) >>> P
// Widths are the largest of all layers; inputs arrive sign-extended. A layer's own width
// applies through `sat` (clamp to [lo, hi] when the layer saturates) and through the
// truncation when the result is written back, which is exact because range analysis bounds
// every non-saturating value to its layer's width.
//
// Pipelined: the per-row inputs (x, s, y and the parameter words) are sampled every cycle
// and the results appear LAT = 12 cycles later (schedule::UPD_TAIL), one row per cycle.
// Each stage holds at most one carry chain, so the lane closes at the clock of one adder.
// The per-layer controls (modes, shifts, spiking, cuba, sat, bounds, late, last) must stay
// constant while a layer's rows are in flight, which the sequencer guarantees: a layer's
// update phase ends only when its last row has left the pipeline.
`timescale 1ns/1ps
`default_nettype none
module sf_neuron #(
    parameter integer VW = 16,      // widest membrane
    parameter integer SW = 1,       // widest static accumulator
    parameter integer YW = 1,       // widest synaptic state
    parameter integer RESET = 0,    // 0 zero, 1 subtract, 2 subtract-undecayed
    parameter integer FIRE_EQ = 0,
    parameter integer P = 16,
    parameter integer KW = 5        // width of the shift amounts
) (
    input  wire          clk,
    input  wire [VW-1:0] x,
    input  wire [SW-1:0] s,
    input  wire [YW-1:0] y,
    input  wire [VW-1:0] thr,
    input  wire [VW-1:0] bias,
    input  wire [VW-1:0] bias_late,
    input  wire [VW-1:0] vreset,
    input  wire [YW-1:0] syn_bias,
    input  wire [YW-1:0] syn_bias_late,
    input  wire [P:0]    beta_b,
    input  wire [P:0]    syn_b,
    input  wire [1:0]    leak_mode,
    input  wire [KW-1:0] leak_k,
    input  wire [1:0]    syn_mode,
    input  wire [KW-1:0] syn_k,
    input  wire          spiking,
    input  wire          cuba,
    input  wire          sat,       // the layer saturates
    input  wire [VW-1:0] v_hi,      // its membrane bounds (when sat)
    input  wire [VW-1:0] v_lo,
    input  wire [YW-1:0] y_hi,
    input  wire [YW-1:0] y_lo,
    input  wire          late,
    input  wire          last,
    output wire          spike,
    output wire [VW-1:0] v_out,
    output wire [VW-1:0] x_next,
    output wire [YW-1:0] y_next
);
    localparam integer MW0 = (VW > SW ? VW : SW);
    localparam integer MW1 = (MW0 > YW ? MW0 : YW);
    localparam integer W   = MW1 + 4;
    localparam integer PW  = W + P + 2;
    localparam [PW-1:0] RND = {{(PW-P){1'b0}}, 1'b1, {(P-1){1'b0}}};

    function signed [W-1:0] sx_v(input [VW-1:0] a); sx_v = {{(W-VW){a[VW-1]}}, a}; endfunction
    function signed [W-1:0] sx_s(input [SW-1:0] a); sx_s = {{(W-SW){a[SW-1]}}, a}; endfunction
    function signed [W-1:0] sx_y(input [YW-1:0] a); sx_y = {{(W-YW){a[YW-1]}}, a}; endfunction

    wire signed [W-1:0] vhi = sx_v(v_hi), vlo = sx_v(v_lo), yhi = sx_y(y_hi), ylo = sx_y(y_lo);
    function signed [W-1:0] clamp(input signed [W-1:0] a, input signed [W-1:0] hi, input signed [W-1:0] lo);
        clamp = (a > hi) ? hi : (a < lo) ? lo : a;
    endfunction

    // The decay in two stages: first the shifted or multiplied term, then the difference or
    // the rounding shift.
    /* verilator lint_off UNUSEDSIGNAL */
    function signed [PW-1:0] mul(input signed [W-1:0] a, input [P:0] b);
        mul = $signed({{(PW-W){a[W-1]}}, a}) * $signed({{(PW-P-1){1'b0}}, b});
    endfunction
    function signed [W-1:0] leak2(input signed [W-1:0] a, input signed [W-1:0] sh, input signed [PW-1:0] prod,
                                  input [1:0] mode);
        reg signed [PW-1:0] rounded;
        begin
            rounded = (prod + $signed(RND)) >>> P;
            case (mode)
                2'd0: leak2 = {W{1'b0}};
                2'd1: leak2 = a;
                2'd2: leak2 = a - sh;
                default: leak2 = rounded[W-1:0];
            endcase
        end
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */

    // S1: the row's inputs, sign-extended.
    reg signed [W-1:0] x1, s1, y1, thr1, bias1, bl1, vr1, cs1, csl1;
    reg [P:0] bb1, sb1;
    always @(posedge clk) begin
        x1 <= sx_v(x); s1 <= sx_s(s); y1 <= sx_y(y);
        thr1 <= sx_v(thr); bias1 <= sx_v(bias); bl1 <= sx_v(bias_late); vr1 <= sx_v(vreset);
        cs1 <= sx_y(syn_bias); csl1 <= sx_y(syn_bias_late);
        bb1 <= beta_b; sb1 <= syn_b;
    end
    // S2: partial sums.
    reg signed [W-1:0] p2, q2, r2, u2, thr2, vr2;
    reg [P:0] bb2, sb2;
    always @(posedge clk) begin
        p2 <= y1 + s1;
        q2 <= cs1 + (late ? csl1 : {W{1'b0}});
        r2 <= x1 + bias1;
        u2 <= (late ? bl1 : {W{1'b0}}) + (cuba ? {W{1'b0}} : s1);
        thr2 <= thr1; vr2 <= vr1; bb2 <= bb1; sb2 <= sb1;
    end
    // S3: the current and the membrane without it.
    reg signed [W-1:0] cr3, w3, thr3, vr3;
    reg [P:0] bb3, sb3;
    always @(posedge clk) begin
        cr3 <= p2 + q2;
        w3  <= r2 + u2;
        thr3 <= thr2; vr3 <= vr2; bb3 <= bb2; sb3 <= sb2;
    end
    // S4: the current clamped.
    reg signed [W-1:0] c4, w4, thr4, vr4;
    reg [P:0] bb4, sb4;
    always @(posedge clk) begin
        c4 <= sat ? clamp(cr3, yhi, ylo) : cr3;
        w4 <= w3;
        thr4 <= thr3; vr4 <= vr3; bb4 <= bb3; sb4 <= sb3;
    end
    // S5: the membrane; the synaptic decay's first half.
    reg signed [W-1:0] vr5_, c5, csh5, thr5, vr5;
    reg signed [PW-1:0] cprod5;
    reg [P:0] bb5;
    always @(posedge clk) begin
        vr5_ <= w4 + (cuba ? c4 : {W{1'b0}});
        c5 <= c4;
        csh5 <= c4 >>> syn_k;
        cprod5 <= mul(c4, sb4);
        thr5 <= thr4; vr5 <= vr4; bb5 <= bb4;
    end
    // S6: the membrane clamped; the synaptic decay done.
    reg signed [W-1:0] v6, yl6, thr6, vr6;
    reg [P:0] bb6;
    always @(posedge clk) begin
        v6  <= sat ? clamp(vr5_, vhi, vlo) : vr5_;
        yl6 <= leak2(c5, csh5, cprod5, syn_mode);
        thr6 <= thr5; vr6 <= vr5; bb6 <= bb5;
    end
    // S7: against the threshold (the sign of one difference decides).
    reg signed [W-1:0] v7, d7, yl7, thr7, vr7;
    reg f7;
    reg [P:0] bb7;
    wire signed [W:0] vmt = {v6[W-1], v6} - {thr6[W-1], thr6};   // v - thr
    wire signed [W:0] tmv = {thr6[W-1], thr6} - {v6[W-1], v6};   // thr - v
    always @(posedge clk) begin
        v7 <= v6;
        d7 <= vmt[W-1:0];
        f7 <= spiking && ((FIRE_EQ != 0) ? !vmt[W] : tmv[W]);
        yl7 <= yl6; thr7 <= thr6; vr7 <= vr6; bb7 <= bb6;
    end
    // S8: the reset.
    reg signed [W-1:0] vh8, v8, yl8, thr8;
    reg f8;
    reg [P:0] bb8;
    always @(posedge clk) begin
        vh8 <= (f7 && RESET == 0) ? vr7 : (f7 && RESET == 1) ? d7 : v7;
        v8 <= v7; f8 <= f7; yl8 <= yl7; thr8 <= thr7; bb8 <= bb7;
    end
    // S9: the membrane decay's first half.
    reg signed [W-1:0] vh9, vsh9, v9, yl9, thr9;
    reg signed [PW-1:0] vprod9;
    reg f9;
    always @(posedge clk) begin
        vh9 <= vh8;
        vsh9 <= vh8 >>> leak_k;
        vprod9 <= mul(vh8, bb8);
        v9 <= v8; f9 <= f8; yl9 <= yl8; thr9 <= thr8;
    end
    // S10: the decay done.
    reg signed [W-1:0] lk10, v10, yl10, thr10;
    reg f10;
    always @(posedge clk) begin
        lk10 <= leak2(vh9, vsh9, vprod9, leak_mode);
        v10 <= v9; f10 <= f9; yl10 <= yl9; thr10 <= thr9;
    end
    // S11: the undecayed reset.
    reg signed [W-1:0] n11, v11, yl11;
    reg f11;
    always @(posedge clk) begin
        n11 <= lk10 - ((f10 && RESET == 2) ? thr10 : {W{1'b0}});
        v11 <= v10; f11 <= f10; yl11 <= yl10;
    end
    // S12: clamped and cleared after the last step.
    /* verilator lint_off UNUSEDSIGNAL */
    // Computed wide; the written-back state keeps the layer's width.
    reg signed [W-1:0] n12, v12, y12;
    /* verilator lint_on UNUSEDSIGNAL */
    reg f12;
    always @(posedge clk) begin
        n12 <= last ? {W{1'b0}} : sat ? clamp(n11, vhi, vlo) : n11;
        y12 <= (last || !cuba) ? {W{1'b0}} : yl11;
        v12 <= v11; f12 <= f11;
    end

    assign spike  = f12;
    assign v_out  = v12[VW-1:0];
    assign x_next = n12[VW-1:0];
    assign y_next = y12[YW-1:0];
endmodule
`default_nettype wire
