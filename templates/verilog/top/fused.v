{#- A fused layer's unit (view::fused::FusedView, docs/streaming.md section 3): `l` the layer, `fz` its FusedView. #}

    // ---------------- fused: {{ fz.rows }} rows x {{ fz.words }} words, its {{ fz.t }} steps side by side
    // One FUSE phase, in {{ fz.nb }} block(s) of up to 16 rows: the gather (stage A walks row r's
    // R = {{ fz.r }} cycles, its projections' (plane word, weight word) pairs one after the other,
    // then padding to T; B the memories read; C to C3 each step's popcounts, P of s_t and per
    // lane A of s_t & w; D each step's row sum accumulated, each pair's term (2 A - P) << shift)
    // writes each row's T sums into the block's half of the sum buffer one a cycle. A block's
    // sums are all there {{ fz.dly + 1 }} cycles after its last row's last stage-A cycle; its T
    // update passes ({{ fz.pf }} cycles each, the last block's {{ fz.pl }}) start then, or when
    // the block before's end, and read row i at step t at the pass's i-th cycle, its membrane
    // plus the step's sum (schedule::fused_cycles). A block's gather waits for the updates of
    // the block two before (its half of the buffer). The phase ends when its last row is
    // written, as an UPD phase.
    /* verilator lint_off UNUSEDSIGNAL */
    // (the plane address's high bits a short plane does not use)
    reg                  {{ fz.pre }}_g_on;
    reg  [{{ fz.rw - 1 }}:0] {{ fz.pre }}_g_r;
    reg  [{{ fz.cw - 1 }}:0] {{ fz.pre }}_g_c;
{%- if fz.nb > 2 %}
    // Non-last blocks whose updates have ended, counted a cycle after the end: block b's first
    // row waits in stage A until b - 2's have (ended >= b - 1).
    reg  [{{ fz.gbw }}:0] {{ fz.pre }}_g_ue;
    reg                  {{ fz.pre }}_uq;
    wire                 {{ fz.pre }}_g_st = ({{ fz.pre }}_g_c == {{ fz.cw }}'d0) && ({{ fz.pre }}_g_r[{{ fz.blk - 1 }}:0] == {{ fz.blk }}'d0)
                                 && ({1'b0, {{ fz.pre }}_g_r[{{ fz.rw - 1 }}:{{ fz.blk }}]} > {{ fz.pre }}_g_ue + {{ fz.gbw + 1 }}'d1);
{%- else %}
    wire                 {{ fz.pre }}_g_st = 1'b0;   // (two blocks at most: the buffer's halves never wait)
{%- endif %}
    wire                 {{ fz.pre }}_g_go = {{ fz.pre }}_g_on && !{{ fz.pre }}_g_st;
    // The cycle of a block's last row's last pair (or padding) in stage A.
{%- if fz.nb > 1 %}
    wire                 {{ fz.pre }}_g_be = {{ fz.pre }}_g_go && ({{ fz.pre }}_g_c == {{ fz.cw }}'d{{ fz.r - 1 }})
                                 && (({{ fz.pre }}_g_r[{{ fz.blk - 1 }}:0] == {{ fz.blk }}'d{{ fz.nf - 1 }}) || ({{ fz.pre }}_g_r == {{ fz.rw }}'d{{ fz.rows - 1 }}));
{%- else %}
    wire                 {{ fz.pre }}_g_be = {{ fz.pre }}_g_go && ({{ fz.pre }}_g_c == {{ fz.cw }}'d{{ fz.r - 1 }}) && ({{ fz.pre }}_g_r == {{ fz.rw }}'d{{ fz.rows - 1 }});
{%- endif %}
    always @(posedge clk) begin
        if (rst) {{ fz.pre }}_g_on <= 1'b0;
        else if (go_{{ fz.pre }}) {{ fz.pre }}_g_on <= 1'b1;
        else if ({{ fz.pre }}_g_go && ({{ fz.pre }}_g_c == {{ fz.cw }}'d{{ fz.r - 1 }}) && ({{ fz.pre }}_g_r == {{ fz.rw }}'d{{ fz.rows - 1 }})) {{ fz.pre }}_g_on <= 1'b0;
        if (go_{{ fz.pre }}) begin
            {{ fz.pre }}_g_r <= {{ fz.rw }}'d0;
            {{ fz.pre }}_g_c <= {{ fz.cw }}'d0;
        end else if ({{ fz.pre }}_g_go) begin
            if ({{ fz.pre }}_g_c == {{ fz.cw }}'d{{ fz.r - 1 }}) begin
                {{ fz.pre }}_g_c <= {{ fz.cw }}'d0;
                {{ fz.pre }}_g_r <= {{ fz.pre }}_g_r + {{ fz.rw }}'d1;
            end else {{ fz.pre }}_g_c <= {{ fz.pre }}_g_c + {{ fz.cw }}'d1;
        end
    end
    // Stage B: the turn (one-hot), the pair's flags and shift, registered.
    reg                  {{ fz.pre }}_vb, {{ fz.pre }}_fb, {{ fz.pre }}_eb;
    reg  [{{ fz.rw - 1 }}:0] {{ fz.pre }}_rb;
    reg  [{{ fz.projs.len() - 1 }}:0] {{ fz.pre }}_jb;
    reg  [{{ fz.shw - 1 }}:0] {{ fz.pre }}_shb;
{%- for fp in fz.projs %}
    // {{ fp.pre }}: words {{ fp.b }}..{{ fp.b + fp.w }} of a row; its weight word r x {{ fp.w }} + i.
    wire                 {{ fp.pre }}_turn = {{ fp.turn }};
    wire [{{ fz.cw - 1 }}:0] {{ fp.pre }}_i = {{ fz.pre }}_g_c - {{ fz.cw }}'d{{ fp.b }};
    reg  [{{ fp.waw - 1 }}:0] {{ fp.pre }}_wn;
    reg                  {{ fp.pre }}_actr;
    reg  [{{ fp.paw - 1 }}:0] {{ fp.pre }}_pa_b;
    reg  [{{ fp.waw - 1 }}:0] {{ fp.pre }}_wa_b;
    always @(posedge clk) begin
        if (go_{{ fz.pre }}) {{ fp.pre }}_wn <= {{ fp.waw }}'d0;
        else if ({{ fp.pre }}_turn) {{ fp.pre }}_wn <= {{ fp.pre }}_wn + {{ fp.waw }}'d1;
        {{ fp.pre }}_actr <= !rst && {{ fp.pre }}_turn;
        {{ fp.pre }}_pa_b <= {{ fp.pa }};
        {{ fp.pre }}_wa_b <= {{ fp.pre }}_wn;
    end
    wire                 {{ fp.pre }}_act = {{ fp.pre }}_actr;   // the plane and tile reads' turn
{%- endfor %}
    always @(posedge clk) begin
        {{ fz.pre }}_vb  <= !rst && {{ fz.pair }};
        {{ fz.pre }}_fb  <= ({{ fz.pre }}_g_c == {{ fz.cw }}'d0);
        {{ fz.pre }}_eb  <= !rst && {{ fz.pre }}_g_go && ({{ fz.pre }}_g_c == {{ fz.cw }}'d{{ fz.r - 1 }});
        {{ fz.pre }}_rb  <= {{ fz.pre }}_g_r;
        {{ fz.pre }}_jb  <= { {%- for fp in fz.projs.iter().rev() %}{{ fp.pre }}_turn{% if !loop.last %}, {% endif %}{% endfor -%} };
    end
    always @(posedge clk) {{ fz.pre }}_shb <= {{ fz.sh_sel }};
{%- for p in l.projs %}
    // {{ p.pre }}'s weight word.
    wire [{{ l.lanes * fz.projs[loop.index0].pw - 1 }}:0] {{ p.pre }}_w;
{%- if let Some(x) = p.ext %}
{%- if x.pw_log > 0 %}
    reg  [{{ x.pw_log - 1 }}:0] {{ p.pre }}_xs;   // the read's slot, for the cycle its row arrives
{%- if let Some(sh) = x.shared %}
    // Zero outside its turn: the slot is read through the multiplexer {{ sh }}, which its width's ROMs share.
    always @(posedge clk) {{ p.pre }}_xs <= (pc_oh[{{ x.pc }}] && {{ p.pre }}_act) ? {{ x.xs_src }} : {{ x.pw_log }}'d0;
    assign {{ p.pre }}_w = {{ sh }}[{{ x.width - 1 }}:0];
{%- else %}
    always @(posedge clk) {{ p.pre }}_xs <= {{ x.xs_src }};
    assign {{ p.pre }}_w = tx_q[{{ x.slot_lo(p.pre) }} +: {{ x.width }}];
{%- endif %}
{%- else %}
    assign {{ p.pre }}_w = tx_q[{{ x.width - 1 }}:0];
{%- endif %}
{%- else if let Some(d) = p.dense %}
{%- if !d.wfile.is_empty() %}
    sf_ram #(.WIDTH({{ d.wwidth }}), .DEPTH({{ d.wdepth }}), .AW({{ d.waw }}), .INIT("{{ d.wfile }}"), .LOGIC({% if d.wlogic %}1{% else %}0{% endif %}), .BLOCK({% if v.hold_brams && !d.wlogic %}1{% else %}0{% endif %})) {{ p.pre }}_wrom (
        .clk(clk), .we(1'b0), .waddr({{ d.waw }}'d0), .wdata({{ d.wwidth }}'d0),
        .raddr({{ p.pre }}_wa_b), .rdata({{ p.pre }}_w));
{%- else %}
    assign {{ p.pre }}_w = { {{ l.lanes }}{ {{ d.wconst }} } };
{%- endif %}
{%- endif %}
{%- endfor %}
    // Stage C: the words arrive.
    reg                  {{ fz.pre }}_vc, {{ fz.pre }}_fc, {{ fz.pre }}_ec;
    reg  [{{ fz.rw - 1 }}:0] {{ fz.pre }}_rc;
    reg  [{{ fz.projs.len() - 1 }}:0] {{ fz.pre }}_jc;
    reg  [{{ fz.shw - 1 }}:0] {{ fz.pre }}_shc;
    always @(posedge clk) begin
        {{ fz.pre }}_vc  <= !rst && {{ fz.pre }}_vb;
        {{ fz.pre }}_fc  <= {{ fz.pre }}_fb;
        {{ fz.pre }}_ec  <= !rst && {{ fz.pre }}_eb;
        {{ fz.pre }}_rc  <= {{ fz.pre }}_rb;
        {{ fz.pre }}_jc  <= {{ fz.pre }}_jb;
        {{ fz.pre }}_shc <= {{ fz.pre }}_shb;
    end
    // The turn's T plane words and each lane's weight bits.
    wire [{{ fz.t * fz.pw - 1 }}:0] {{ fz.pre }}_s = {{ fz.s_sel }};
    wire [{{ fz.lanes * fz.pw - 1 }}:0] {{ fz.pre }}_w = {{ fz.w_sel }};
    // C2, C3, D: the flags with the popcounts.
    reg                  {{ fz.pre }}_f2, {{ fz.pre }}_e2, {{ fz.pre }}_f3, {{ fz.pre }}_e3, {{ fz.pre }}_fd, {{ fz.pre }}_ed, {{ fz.pre }}_ee;
    reg  [{{ fz.rw - 1 }}:0] {{ fz.pre }}_q2, {{ fz.pre }}_q3, {{ fz.pre }}_qd, {{ fz.pre }}_qe;   // the row
    reg  [{{ fz.shw - 1 }}:0] {{ fz.pre }}_sh2, {{ fz.pre }}_sh3, {{ fz.pre }}_shd;
    always @(posedge clk) begin
        {{ fz.pre }}_f2 <= {{ fz.pre }}_fc; {{ fz.pre }}_e2 <= !rst && {{ fz.pre }}_ec; {{ fz.pre }}_q2 <= {{ fz.pre }}_rc; {{ fz.pre }}_sh2 <= {{ fz.pre }}_shc;
        {{ fz.pre }}_f3 <= {{ fz.pre }}_f2; {{ fz.pre }}_e3 <= !rst && {{ fz.pre }}_e2; {{ fz.pre }}_q3 <= {{ fz.pre }}_q2; {{ fz.pre }}_sh3 <= {{ fz.pre }}_sh2;
        {{ fz.pre }}_fd <= {{ fz.pre }}_f3; {{ fz.pre }}_ed <= !rst && {{ fz.pre }}_e3; {{ fz.pre }}_qd <= {{ fz.pre }}_q3; {{ fz.pre }}_shd <= {{ fz.pre }}_sh3;
        {{ fz.pre }}_ee <= !rst && {{ fz.pre }}_ed; {{ fz.pre }}_qe <= {{ fz.pre }}_qd;
    end
{%- call popcount::functions(fz.pre, fz.pw, fz.nn, fz.np, fz.npad, fz.pairs, fz.pcw, fz.pop) %}{%- endcall %}
    // Each step's and lane's row sum (step t, lane g at (t x {{ fz.lanes }} + g) x {{ fz.vw }}).
    wire [{{ fz.t * fz.lanes * fz.vw - 1 }}:0] {{ fz.pre }}_acc;
    genvar {{ fz.pre }}_ti, {{ fz.pre }}_gi;
    generate
        for ({{ fz.pre }}_ti = 0; {{ fz.pre }}_ti < {{ fz.t }}; {{ fz.pre }}_ti = {{ fz.pre }}_ti + 1) begin : {{ fz.pre }}_st
            wire [{{ fz.pw - 1 }}:0] s = {{ fz.pre }}_s[{{ fz.pre }}_ti*{{ fz.pw }} +: {{ fz.pw }}];
            reg  [{{ fz.nn * 3 - 1 }}:0] nbs;
            reg  [{{ fz.np * 4 - 1 }}:0] bys;
            reg  [{{ fz.pcw - 1 }}:0] ps;
            always @(posedge clk) begin
                nbs <= {{ fz.pre }}_vc ? {{ fz.pre }}_nib(s) : {{ fz.nn * 3 }}'d0;
                bys <= {{ fz.pre }}_pair(nbs);
                ps  <= {{ fz.pre }}_pcsum(bys);
            end
            for ({{ fz.pre }}_gi = 0; {{ fz.pre }}_gi < {{ fz.lanes }}; {{ fz.pre }}_gi = {{ fz.pre }}_gi + 1) begin : {{ fz.pre }}_ln
                reg  [{{ fz.nn * 3 - 1 }}:0] nb;
                reg  [{{ fz.np * 4 - 1 }}:0] by;
                reg  [{{ fz.pcw - 1 }}:0] pc;
                reg  [{{ fz.vw - 1 }}:0] a;
                // 2 A - P in two's complement, sign-extended to the sum's width, then shifted.
                wire [{{ fz.pcw + 1 }}:0] df = {1'b0, pc, 1'b0} - {2'b00, ps};
                wire [{{ fz.vw + fz.pcw + 1 }}:0] dx = { { {{- fz.vw }}{df[{{ fz.pcw + 1 }}]} }, df};
                wire [{{ fz.vw - 1 }}:0] term = dx[{{ fz.vw - 1 }}:0] << {{ fz.pre }}_shd;
                always @(posedge clk) begin
                    nb <= {{ fz.pre }}_vc ? {{ fz.pre }}_nib(s & {{ fz.pre }}_w[{{ fz.pre }}_gi*{{ fz.pw }} +: {{ fz.pw }}]) : {{ fz.nn * 3 }}'d0;
                    by <= {{ fz.pre }}_pair(nb);
                    pc <= {{ fz.pre }}_pcsum(by);
                    a  <= ({{ fz.pre }}_fd ? {{ fz.vw }}'d0 : a) + term;
                end
                assign {{ fz.pre }}_acc[({{ fz.pre }}_ti*{{ fz.lanes }} + {{ fz.pre }}_gi)*{{ fz.vw }} +: {{ fz.vw }}] = a;
            end
        end
    endgenerate
    // E: a row's T sums held after its last pair, written one a cycle at step x 16 + row.
    reg                  {{ fz.pre }}_hw_on;
    reg  [{{ fz.ttw - 1 }}:0] {{ fz.pre }}_hw_t;
    reg  [{{ fz.rw - 1 }}:0] {{ fz.pre }}_hw_r;
    reg  [{{ fz.t * fz.lanes * fz.vw - 1 }}:0] {{ fz.pre }}_hold;
    always @(posedge clk) begin
        if (rst) {{ fz.pre }}_hw_on <= 1'b0;
        else if ({{ fz.pre }}_ee) begin
            {{ fz.pre }}_hw_on <= 1'b1;
            {{ fz.pre }}_hw_t  <= {{ fz.ttw }}'d0;
            {{ fz.pre }}_hw_r  <= {{ fz.pre }}_qe;
            {{ fz.pre }}_hold  <= {{ fz.pre }}_acc;
        end else if ({{ fz.pre }}_hw_on) begin
            if ({{ fz.pre }}_hw_t == {{ fz.ttw }}'d{{ fz.t - 1 }}) {{ fz.pre }}_hw_on <= 1'b0;
            {{ fz.pre }}_hw_t <= {{ fz.pre }}_hw_t + {{ fz.ttw }}'d1;
        end
    end
    assign {{ fz.pre }}_fs_we = {{ fz.pre }}_hw_on;
    assign {{ fz.pre }}_fs_wa = {{ fz.pre }}_hw_on ? {{ fz.fs_wa }} : {{ fz.fsaw }}'d0;
    assign {{ fz.pre }}_fs_wd = {{ fz.pre }}_hw_on ? { {%- if fz.fsw > fz.lanes * fz.vw %}{{ fz.fsw - fz.lanes * fz.vw }}'d0, {% endif %}{{ fz.pre }}_hold[{{ fz.pre }}_hw_t*{{ fz.lanes * fz.vw }} +: {{ fz.lanes * fz.vw }}]} : {{ fz.fsw }}'d0;
    // The updates, a block at a time: a block's end in stage A reaches `rdy` {{ fz.dly }} cycles
    // later (the cycle before its sums are all in the buffer); its passes start the cycle after
    // `rdy` if the block before's have ended, else when they end (`pr` holds the wait).
{%- if fz.dly > 1 %}
    reg  [{{ fz.dly - 1 }}:0] {{ fz.pre }}_rq;
    always @(posedge clk) {{ fz.pre }}_rq <= rst ? {{ fz.dly }}'d0 : { {{- fz.pre }}_rq[{{ fz.dly - 2 }}:0], {{ fz.pre }}_g_be};
    wire                 {{ fz.pre }}_rdy = {{ fz.pre }}_rq[{{ fz.dly - 1 }}];
{%- else %}
    reg                  {{ fz.pre }}_rdy;
    always @(posedge clk) {{ fz.pre }}_rdy <= !rst && {{ fz.pre }}_g_be;
{%- endif %}
    reg                  {{ fz.pre }}_up, {{ fz.pre }}_pr;
    reg  [{{ fz.ttw - 1 }}:0] {{ fz.pre }}_ut;
    reg  [{{ fz.pw_pass - 1 }}:0] {{ fz.pre }}_ui;
    reg  [{{ fz.bw - 1 }}:0] {{ fz.pre }}_ub, {{ fz.pre }}_ubn;   // the block updating, the next
{%- if fz.nb > 1 %}
    wire                 {{ fz.pre }}_lb = ({{ fz.pre }}_ub == {{ fz.bw }}'d{{ fz.nb - 1 }});
    // A pass's last cycle (the last block's last pass ends with its last row).
    wire                 {{ fz.pre }}_pz = {{ fz.pre }}_lb ? (({{ fz.pre }}_ui == {{ fz.pw_pass }}'d{{ fz.pl - 1 }}) || (({{ fz.pre }}_ut == {{ fz.ttw }}'d{{ fz.t - 1 }}) && ({{ fz.pre }}_ui == {{ fz.pw_pass }}'d{{ fz.nl - 1 }})))
                                         : ({{ fz.pre }}_ui == {{ fz.pw_pass }}'d{{ fz.pf - 1 }});
{%- else %}
    wire                 {{ fz.pre }}_lb = 1'b1;
    wire                 {{ fz.pre }}_pz = ({{ fz.pre }}_ui == {{ fz.pw_pass }}'d{{ fz.pl - 1 }}) || (({{ fz.pre }}_ut == {{ fz.ttw }}'d{{ fz.t - 1 }}) && ({{ fz.pre }}_ui == {{ fz.pw_pass }}'d{{ fz.nl - 1 }}));
{%- endif %}
    wire                 {{ fz.pre }}_bz = {{ fz.pre }}_up && {{ fz.pre }}_pz && ({{ fz.pre }}_ut == {{ fz.ttw }}'d{{ fz.t - 1 }});   // the block's last cycle
    wire                 {{ fz.pre }}_ugo = ({{ fz.pre }}_pr || {{ fz.pre }}_rdy) && (!{{ fz.pre }}_up || {{ fz.pre }}_bz);
    always @(posedge clk) begin
        if (rst || go_{{ fz.pre }}) begin
            {{ fz.pre }}_up  <= 1'b0;
            {{ fz.pre }}_pr  <= 1'b0;
            {{ fz.pre }}_ubn <= {{ fz.bw }}'d0;
        end else if ({{ fz.pre }}_ugo) begin
            {{ fz.pre }}_up  <= 1'b1;
            {{ fz.pre }}_pr  <= 1'b0;
            {{ fz.pre }}_ut  <= {{ fz.ttw }}'d0;
            {{ fz.pre }}_ui  <= {{ fz.pw_pass }}'d0;
            {{ fz.pre }}_ub  <= {{ fz.pre }}_ubn;
            {{ fz.pre }}_ubn <= {{ fz.pre }}_ubn + {{ fz.bw }}'d1;
        end else begin
            if ({{ fz.pre }}_rdy) {{ fz.pre }}_pr <= 1'b1;
            if ({{ fz.pre }}_up) begin
                if ({{ fz.pre }}_pz) begin
                    {{ fz.pre }}_ui <= {{ fz.pw_pass }}'d0;
                    {{ fz.pre }}_ut <= {{ fz.pre }}_ut + {{ fz.ttw }}'d1;
                    if ({{ fz.pre }}_ut == {{ fz.ttw }}'d{{ fz.t - 1 }}) {{ fz.pre }}_up <= 1'b0;
                end else {{ fz.pre }}_ui <= {{ fz.pre }}_ui + {{ fz.pw_pass }}'d1;
            end
        end
    end
{%- if fz.nb > 2 %}
    always @(posedge clk) begin
        {{ fz.pre }}_uq <= !rst && {{ fz.pre }}_bz && !{{ fz.pre }}_lb;
        if (go_{{ fz.pre }}) {{ fz.pre }}_g_ue <= {{ fz.gbw + 1 }}'d0;
        else if ({{ fz.pre }}_uq) {{ fz.pre }}_g_ue <= {{ fz.pre }}_g_ue + {{ fz.gbw + 1 }}'d1;
    end
{%- endif %}
    // Row i of the block is read in the pass's i-th cycle.
{%- if fz.nb > 1 %}
    wire                 {{ fz.pre }}_n1 = {{ fz.pre }}_lb ? ({{ fz.pre }}_ui == {{ fz.pw_pass }}'d{{ fz.nl - 1 }}) : ({{ fz.pre }}_ui == {{ fz.pw_pass }}'d{{ fz.nf - 1 }});
{%- else %}
    wire                 {{ fz.pre }}_n1 = ({{ fz.pre }}_ui == {{ fz.pw_pass }}'d{{ fz.nl - 1 }});
{%- endif %}
    assign {{ fz.pre }}_rd  = {{ fz.pre }}_up{{ fz.rd_cmp() }};
    assign {{ fz.pre }}_pe  = {{ fz.pre }}_rd && {{ fz.pre }}_n1;
    assign {{ fz.pre }}_lrd = {{ fz.pre }}_pe && {{ fz.pre }}_lb && ({{ fz.pre }}_ut == {{ fz.ttw }}'d{{ fz.t - 1 }});
    assign {{ fz.pre }}_row = {{ fz.pre }}_rd ? {{ fz.row_ext }} : {{ fz.grw }}'d0;
    assign {{ fz.pre }}_t   = {{ fz.pre }}_up ? {{ fz.pre }}_ut : {{ fz.ttw }}'d0;
{%- if fz.nb > 1 %}
    assign {{ fz.pre }}_h   = {{ fz.pre }}_up && {{ fz.pre }}_ub[0];
{%- else %}
    assign {{ fz.pre }}_h   = 1'b0;
{%- endif %}
{%- if !fz.fpa.is_empty() %}
    assign {{ l.pre }}_fpa = {{ fz.fpa }};
{%- endif %}
    // The membrane the update datapath reads: the memory's plus the step's sum.
    wire [{{ fz.lanes * fz.x_lw - 1 }}:0] {{ l.pre }}_fx;
    genvar {{ fz.pre }}_xi;
    generate
        for ({{ fz.pre }}_xi = 0; {{ fz.pre }}_xi < {{ fz.lanes }}; {{ fz.pre }}_xi = {{ fz.pre }}_xi + 1) begin : {{ fz.pre }}_xl
            assign {{ l.pre }}_fx[{{ fz.pre }}_xi*{{ fz.x_lw }} +: {{ fz.x_lw }}] = { {%- if fz.x_lw > fz.vw %}{{ fz.x_lw - fz.vw }}'d0, {% endif %}{{ fz.x_mem }}[{{ fz.pre }}_xi*{{ fz.x_lw }} +: {{ fz.vw }}] + fs_rdata[{{ fz.pre }}_xi*{{ fz.vw }} +: {{ fz.vw }}]};
        end
    endgenerate
    assign fin_{{ fz.pre }} = u_fin;
    /* verilator lint_on UNUSEDSIGNAL */
