// sf_neuron: one neuron lane of the update datapath shared by all layers (layers update
// one at a time). Same arithmetic as the plan (src/hw/mod.rs, docs/hardware.md section 2):
//   cuba: i = Y + S + CS (+ CSL after step 0);  Y' = leak_syn(i);  v = X + i + C (+ CL)
//   else: v = X + S + C (+ CL after step 0)
//   s = v > THR (v >= THR with FIRE_EQ), only for spiking layers
//   n = s ? 1 : 0, or for a multi-spike layer (`multi`) s ? floor(v / THR) : 0
//   vhat = zero: s ? VR : v   subtract: v - n*THR   subtract-undecayed: v
//   vhat = max(vhat, VMIN) for a layer with a floor (`floor_en`)
//   X' = leak(vhat) - (undecayed ? n*THR : 0);  X' = Y' = 0 after the last step
//   leak: 0 -> 0, 1 -> x, 2 -> x - (x >>> k), 3 -> (x * b + 2^(P-1)) >>> P
// Widths are the largest of all layers; inputs arrive sign-extended. A layer's own width
// applies through `sat` (clamp to [lo, hi] when the layer saturates) and through the
// truncation when the result is written back, which is exact because range analysis bounds
// every non-saturating value to its layer's width.
//
// Pipelined: the per-row inputs (x, s, y and the parameter words) are sampled every cycle
// and the results appear LAT = 12 + QB cycles later (schedule::upd_tail), one row per cycle.
// QB > 0 (a design with multi-spike layers, QB the widest count) inserts a restoring divider
// after the threshold stage: one stage per quotient bit, most significant first, each one
// subtraction; range analysis guarantees v < THR << QB, and THR > 0, for a multi-spike layer.
// The floor adds no stage: its compares run beside the threshold's (and the divider's last
// subtraction) and the reset stage selects VMIN.
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
    parameter integer KW = 5,       // width of the shift amounts
    parameter integer FLOOR = 0,    // some layer has a membrane floor
    parameter integer QB = 0,       // count bits of the widest multi-spike layer (0: none)
    parameter integer QW = 1        // width of `count` (max(QB, 1))
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
    input  wire [VW-1:0] vmin,      // the floor VMIN
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire          floor_en,  // the layer has a floor (read when FLOOR)
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire          multi,     // the layer is multi-spike (read when QB > 0)
    /* verilator lint_on UNUSEDSIGNAL */
    output wire          spike,
    output wire [QW-1:0] count,     // spikes this step: 1, or floor(v / THR) when multi
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
    reg signed [W-1:0] x1, s1, y1, thr1, bias1, bl1, vr1, cs1, csl1, vm1;
    reg [P:0] bb1, sb1;
    always @(posedge clk) begin
        x1 <= sx_v(x); s1 <= sx_s(s); y1 <= sx_y(y);
        thr1 <= sx_v(thr); bias1 <= sx_v(bias); bl1 <= sx_v(bias_late); vr1 <= sx_v(vreset);
        cs1 <= sx_y(syn_bias); csl1 <= sx_y(syn_bias_late);
        bb1 <= beta_b; sb1 <= syn_b; vm1 <= (FLOOR != 0) ? sx_v(vmin) : {W{1'b0}};
    end
    // S2: partial sums; the floor's constants (THR + VMIN, VR < VMIN) beside them.
    reg signed [W-1:0] p2, q2, r2, u2, thr2, vr2, vm2, tv2;
    reg [P:0] bb2, sb2;
    reg vrlo2;
    wire signed [W:0] vrmm = {vr1[W-1], vr1} - {vm1[W-1], vm1};   // VR - VMIN
    always @(posedge clk) begin
        p2 <= y1 + s1;
        q2 <= cs1 + (late ? csl1 : {W{1'b0}});
        r2 <= x1 + bias1;
        u2 <= (late ? bl1 : {W{1'b0}}) + (cuba ? {W{1'b0}} : s1);
        thr2 <= thr1; vr2 <= vr1; bb2 <= bb1; sb2 <= sb1;
        vm2 <= vm1; tv2 <= (FLOOR != 0) ? thr1 + vm1 : {W{1'b0}}; vrlo2 <= (FLOOR != 0) && vrmm[W];
    end
    // S3: the current and the membrane without it.
    reg signed [W-1:0] cr3, w3, thr3, vr3, vm3, tv3;
    reg [P:0] bb3, sb3;
    reg vrlo3;
    always @(posedge clk) begin
        cr3 <= p2 + q2;
        w3  <= r2 + u2;
        thr3 <= thr2; vr3 <= vr2; bb3 <= bb2; sb3 <= sb2; vm3 <= vm2; tv3 <= tv2; vrlo3 <= vrlo2;
    end
    // S4: the current clamped.
    reg signed [W-1:0] c4, w4, thr4, vr4, vm4, tv4;
    reg [P:0] bb4, sb4;
    reg vrlo4;
    always @(posedge clk) begin
        c4 <= sat ? clamp(cr3, yhi, ylo) : cr3;
        w4 <= w3;
        thr4 <= thr3; vr4 <= vr3; bb4 <= bb3; sb4 <= sb3; vm4 <= vm3; tv4 <= tv3; vrlo4 <= vrlo3;
    end
    // S5: the membrane; the synaptic decay's first half.
    reg signed [W-1:0] vr5_, c5, csh5, thr5, vr5, vm5, tv5;
    reg signed [PW-1:0] cprod5;
    reg [P:0] bb5;
    reg vrlo5;
    always @(posedge clk) begin
        vr5_ <= w4 + (cuba ? c4 : {W{1'b0}});
        c5 <= c4;
        csh5 <= c4 >>> syn_k;
        cprod5 <= mul(c4, sb4);
        thr5 <= thr4; vr5 <= vr4; bb5 <= bb4; vm5 <= vm4; tv5 <= tv4; vrlo5 <= vrlo4;
    end
    // S6: the membrane clamped; the synaptic decay done.
    reg signed [W-1:0] v6, yl6, thr6, vr6, vm6, tv6;
    reg [P:0] bb6;
    reg vrlo6;
    always @(posedge clk) begin
        v6  <= sat ? clamp(vr5_, vhi, vlo) : vr5_;
        yl6 <= leak2(c5, csh5, cprod5, syn_mode);
        thr6 <= thr5; vr6 <= vr5; bb6 <= bb5; vm6 <= vm5; tv6 <= tv5; vrlo6 <= vrlo5;
    end
    wire fl = (FLOOR != 0) && floor_en;   // this layer floors (designs without a floor: none)
    // S7: against the threshold (the sign of one difference decides); beside it, where v and
    // v - THR fall against the floor (v < VMIN, v - THR < VMIN: v < THR + VMIN).
    reg signed [W-1:0] v7, d7, yl7, thr7, vr7, vm7;
    reg f7, vlo7, dlo7, vrlo7;
    reg [P:0] bb7;
    wire signed [W:0] vmt = {v6[W-1], v6} - {thr6[W-1], thr6};   // v - thr
    wire signed [W:0] tmv = {thr6[W-1], thr6} - {v6[W-1], v6};   // thr - v
    wire signed [W:0] vmm = {v6[W-1], v6} - {vm6[W-1], vm6};     // v - VMIN
    wire signed [W:0] vmtv = {v6[W-1], v6} - {tv6[W-1], tv6};    // v - (THR + VMIN)
    always @(posedge clk) begin
        v7 <= v6;
        d7 <= vmt[W-1:0];
        f7 <= spiking && ((FIRE_EQ != 0) ? !vmt[W] : tmv[W]);
        yl7 <= yl6; thr7 <= thr6; vr7 <= vr6; bb7 <= bb6; vm7 <= vm6;
        vlo7 <= fl && vmm[W]; dlo7 <= fl && vmtv[W]; vrlo7 <= fl && vrlo6;
    end
    // The count divider (QB > 0): stage b (QB-1 down to 0) subtracts THR << b from the
    // remainder when it fits, setting quotient bit b. Its input is S7's; its output takes
    // S7's place for the reset stage: the remainder v - n THR (in `d`) for a multi-spike layer
    // that fired (else v - THR), n, and whether the remainder is below the floor (its last
    // stage compares both candidate remainders with VMIN beside its subtraction).
    localparam integer DW = W + (QB > 0 ? QB : 1) + 1;   // the divider's width: THR << (QB-1) fits
    localparam [QW-1:0] QONE = 1;
    wire signed [W-1:0] v7q, d7q, yl7q, thr7q, vr7q, vm7q;
    wire f7q, vlo7q, dlo7q, vrlo7q;
    wire [P:0] bb7q;
    wire [QW-1:0] n7q;
    generate
        if (QB == 0) begin : nodiv
            assign {v7q, d7q, yl7q, thr7q, vr7q, vm7q} = {v7, d7, yl7, thr7, vr7, vm7};
            assign {f7q, vlo7q, dlo7q, vrlo7q, bb7q} = {f7, vlo7, dlo7, vrlo7, bb7};
            assign n7q = f7 ? QONE : {QW{1'b0}};
        end else begin : div
            // What passes through the stages unchanged, packed: v, v - THR, the decayed
            // current, THR, VR, VMIN, bb and the flags (multi fired, fired, v < VMIN,
            // v - THR < VMIN, VR < VMIN).
            localparam integer PSW = 6 * W + (P + 1) + 5;
            wire [(QB+1)*DW-1:0] rem_b;
            wire [(QB+1)*QW-1:0] q_b;
            wire [(QB+1)*PSW-1:0] ps_b;
            /* verilator lint_off UNUSEDSIGNAL */
            wire [QB:0] rlo_b;   // read after the last stage only
            /* verilator lint_on UNUSEDSIGNAL */
            assign rem_b[DW-1:0] = {{(DW-W){v7[W-1]}}, v7};
            assign q_b[QW-1:0] = {QW{1'b0}};
            assign ps_b[PSW-1:0] = {v7, d7, yl7, thr7, vr7, vm7, bb7, multi && f7, f7, vlo7, dlo7, vrlo7};
            assign rlo_b[0] = 1'b0;
            genvar gb;
            for (gb = 0; gb < QB; gb = gb + 1) begin : bit_
                // Stage gb sets quotient bit QB-1-gb.
                wire signed [DW-1:0] rem = rem_b[gb*DW +: DW];
                wire [PSW-1:0] ps = ps_b[gb*PSW +: PSW];
                wire signed [W-1:0] thr_s = ps[PSW-1-3*W -: W];
                wire signed [W-1:0] vm_s = ps[PSW-1-5*W -: W];
                wire signed [DW:0] ts = {rem[DW-1], rem} - ({{(DW-W+1){thr_s[W-1]}}, thr_s} <<< (QB - 1 - gb));
                wire fits = !ts[DW];
                // Beside it: the remainder after this stage against the floor, for both
                // outcomes (used after the last stage only).
                wire signed [DW:0] rm  = {rem[DW-1], rem} - {{(DW-W+1){vm_s[W-1]}}, vm_s};
                wire signed [DW:0] rtm = ts - {{(DW-W+1){vm_s[W-1]}}, vm_s};
                reg signed [DW-1:0] rem_r;
                reg [QW-1:0] q_r;
                reg [PSW-1:0] ps_r;
                reg rlo_r;
                always @(posedge clk) begin
                    rem_r <= fits ? ts[DW-1:0] : rem;
                    q_r <= q_b[gb*QW +: QW] | (fits ? (QONE << (QB - 1 - gb)) : {QW{1'b0}});
                    rlo_r <= fits ? rtm[DW] : rm[DW];
                    ps_r <= ps;
                end
                assign rem_b[(gb+1)*DW +: DW] = rem_r;
                assign q_b[(gb+1)*QW +: QW] = q_r;
                assign ps_b[(gb+1)*PSW +: PSW] = ps_r;
                assign rlo_b[gb+1] = rlo_r;
            end
            wire [PSW-1:0] pso = ps_b[QB*PSW +: PSW];
            wire signed [W-1:0] dd = pso[PSW-1-W -: W];
            wire dml = pso[4], ddlo = pso[1];
            assign {v7q} = pso[PSW-1 -: W];
            assign {yl7q, thr7q, vr7q, vm7q, bb7q} = pso[PSW-1-2*W -: 4*W + P + 1];
            assign {f7q, vlo7q, vrlo7q} = {pso[3], pso[2], pso[0]};
            // A multi-spike layer that fired: its remainder v - n THR and its count n; else
            // v - THR and 0 or 1.
            /* verilator lint_off UNUSEDSIGNAL */
            wire signed [DW-1:0] rq = rem_b[QB*DW +: DW];   // below THR: its low W bits
            /* verilator lint_on UNUSEDSIGNAL */
            assign d7q = dml ? rq[W-1:0] : dd;
            assign dlo7q = dml ? (fl && rlo_b[QB]) : ddlo;
            assign n7q = dml ? q_b[QB*QW +: QW] : (f7q ? QONE : {QW{1'b0}});
        end
    endgenerate
    // S8: the reset (and the floor); n THR for the undecayed reset (v - the remainder).
    reg signed [W-1:0] vh8, v8, yl8, nt8;
    reg f8;
    reg [QW-1:0] n8;
    reg [P:0] bb8;
    always @(posedge clk) begin
        vh8 <= (f7q && RESET == 0) ? (vrlo7q ? vm7q : vr7q)
             : (f7q && RESET == 1) ? (dlo7q ? vm7q : d7q)
             : (vlo7q ? vm7q : v7q);
        nt8 <= (QB == 0) ? thr7q : v7q - d7q;   // n THR: v - (v - n THR)
        v8 <= v7q; f8 <= f7q; n8 <= n7q; yl8 <= yl7q; bb8 <= bb7q;
    end
    // S9: the membrane decay's first half.
    reg signed [W-1:0] vh9, vsh9, v9, yl9, nt9;
    reg signed [PW-1:0] vprod9;
    reg f9;
    reg [QW-1:0] n9;
    always @(posedge clk) begin
        vh9 <= vh8;
        vsh9 <= vh8 >>> leak_k;
        vprod9 <= mul(vh8, bb8);
        v9 <= v8; f9 <= f8; n9 <= n8; yl9 <= yl8; nt9 <= nt8;
    end
    // S10: the decay done.
    reg signed [W-1:0] lk10, v10, yl10, nt10;
    reg f10;
    reg [QW-1:0] n10;
    always @(posedge clk) begin
        lk10 <= leak2(vh9, vsh9, vprod9, leak_mode);
        v10 <= v9; f10 <= f9; n10 <= n9; yl10 <= yl9; nt10 <= nt9;
    end
    // S11: the undecayed reset (n THR).
    reg signed [W-1:0] n11, v11, yl11;
    reg f11;
    reg [QW-1:0] c11;
    always @(posedge clk) begin
        n11 <= lk10 - ((f10 && RESET == 2) ? nt10 : {W{1'b0}});
        v11 <= v10; f11 <= f10; c11 <= n10; yl11 <= yl10;
    end
    // S12: clamped and cleared after the last step.
    /* verilator lint_off UNUSEDSIGNAL */
    // Computed wide; the written-back state keeps the layer's width.
    reg signed [W-1:0] n12, v12, y12;
    /* verilator lint_on UNUSEDSIGNAL */
    reg f12;
    reg [QW-1:0] c12;
    always @(posedge clk) begin
        n12 <= last ? {W{1'b0}} : sat ? clamp(n11, vhi, vlo) : n11;
        y12 <= (last || !cuba) ? {W{1'b0}} : yl11;
        v12 <= v11; f12 <= f11; c12 <= c11;
    end

    assign count  = c12;
    assign spike  = f12;
    assign v_out  = v12[VW-1:0];
    assign x_next = n12[VW-1:0];
    assign y_next = y12[YW-1:0];
endmodule
`default_nettype wire
