{#- A fused layer's unit (view::fused::FusedView, docs/streaming.md section 3): `l` the layer, `fz` its FusedView. #}

    // ---------------- fused: {{ fz.rows }} rows x {{ fz.words }} words, its {{ fz.t }} steps side by side
    // One FUSE phase: the gather (stage A walks row r's R = {{ fz.r }} cycles, its projections'
    // (plane word, weight word) pairs one after the other, then padding to T; B the memories
    // read; C to C3 each step's popcounts, P of s_t and per lane A of s_t & w; D each step's
    // row sum accumulated, each pair's term (2 A - P) << shift) writes each row's T sums into
    // the sum buffer one a cycle; from cycle {{ fz.us }} after go (the last row's sums written)
    // the update datapath reads row i at step t at {{ fz.us }} + t x {{ fz.pass }} + i, its
    // membrane plus the step's sum (schedule::fused_cycles). The phase ends when its last row
    // is written, as an UPD phase.
    /* verilator lint_off UNUSEDSIGNAL */
    // (the plane address's high bits a short plane does not use)
    reg                  {{ fz.pre }}_g_on;
    reg  [{{ fz.rw - 1 }}:0] {{ fz.pre }}_g_r;
    reg  [{{ fz.cw - 1 }}:0] {{ fz.pre }}_g_c;
    always @(posedge clk) begin
        if (rst) {{ fz.pre }}_g_on <= 1'b0;
        else if (go_{{ fz.pre }}) {{ fz.pre }}_g_on <= 1'b1;
        else if ({{ fz.pre }}_g_on && ({{ fz.pre }}_g_c == {{ fz.cw }}'d{{ fz.r - 1 }}) && ({{ fz.pre }}_g_r == {{ fz.rw }}'d{{ fz.rows - 1 }})) {{ fz.pre }}_g_on <= 1'b0;
        if (go_{{ fz.pre }}) begin
            {{ fz.pre }}_g_r <= {{ fz.rw }}'d0;
            {{ fz.pre }}_g_c <= {{ fz.cw }}'d0;
        end else if ({{ fz.pre }}_g_on) begin
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
        {{ fz.pre }}_eb  <= !rst && {{ fz.pre }}_g_on && ({{ fz.pre }}_g_c == {{ fz.cw }}'d{{ fz.r - 1 }});
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
    // The updates: from {{ fz.us }} cycles after go, T passes of {{ fz.pass }} cycles, row i read at
    // the pass's i-th (the last pass ends with its last row).
    reg                  {{ fz.pre }}_wg, {{ fz.pre }}_up;
    reg  [{{ fz.usw - 1 }}:0] {{ fz.pre }}_wt;
    reg  [{{ fz.ttw - 1 }}:0] {{ fz.pre }}_ut;
    reg  [{{ fz.pw_pass - 1 }}:0] {{ fz.pre }}_ui;
    always @(posedge clk) begin
        if (rst) begin
            {{ fz.pre }}_wg <= 1'b0;
            {{ fz.pre }}_up <= 1'b0;
        end else if (go_{{ fz.pre }}) begin
            {{ fz.pre }}_wg <= 1'b1;
            {{ fz.pre }}_wt <= {{ fz.usw }}'d{{ fz.us - 1 }};
        end else if ({{ fz.pre }}_wg) begin
            if ({{ fz.pre }}_wt == {{ fz.usw }}'d1) begin
                {{ fz.pre }}_wg <= 1'b0;
                {{ fz.pre }}_up <= 1'b1;
                {{ fz.pre }}_ut <= {{ fz.ttw }}'d0;
                {{ fz.pre }}_ui <= {{ fz.pw_pass }}'d0;
            end
            {{ fz.pre }}_wt <= {{ fz.pre }}_wt - {{ fz.usw }}'d1;
        end else if ({{ fz.pre }}_up) begin
            if (({{ fz.pre }}_ui == {{ fz.pw_pass }}'d{{ fz.pass - 1 }}) || (({{ fz.pre }}_ut == {{ fz.ttw }}'d{{ fz.t - 1 }}) && ({{ fz.pre }}_ui == {{ fz.pw_pass }}'d{{ fz.rows - 1 }}))) begin
                {{ fz.pre }}_ui <= {{ fz.pw_pass }}'d0;
                {{ fz.pre }}_ut <= {{ fz.pre }}_ut + {{ fz.ttw }}'d1;
                if ({{ fz.pre }}_ut == {{ fz.ttw }}'d{{ fz.t - 1 }}) {{ fz.pre }}_up <= 1'b0;
            end else {{ fz.pre }}_ui <= {{ fz.pre }}_ui + {{ fz.pw_pass }}'d1;
        end
    end
{%- if fz.pass as usize > fz.rows %}
    assign {{ fz.pre }}_rd  = {{ fz.pre }}_up && ({{ fz.pre }}_ui < {{ fz.pw_pass }}'d{{ fz.rows }});
{%- else %}
    assign {{ fz.pre }}_rd  = {{ fz.pre }}_up;
{%- endif %}
    assign {{ fz.pre }}_pe  = {{ fz.pre }}_rd && ({{ fz.pre }}_ui == {{ fz.pw_pass }}'d{{ fz.rows - 1 }});
    assign {{ fz.pre }}_lrd = {{ fz.pre }}_pe && ({{ fz.pre }}_ut == {{ fz.ttw }}'d{{ fz.t - 1 }});
    assign {{ fz.pre }}_row = {{ fz.pre }}_rd ? {{ fz.row_ext }} : {{ fz.grw }}'d0;
    assign {{ fz.pre }}_t   = {{ fz.pre }}_up ? {{ fz.pre }}_ut : {{ fz.ttw }}'d0;
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
