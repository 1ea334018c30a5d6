{#- A dense projection's accumulate unit (view::proj::DenseView, docs/hardware.md 4c): `p` the projection, `d` its DenseView. #}

    // ---------------- accumulate (dense): {{ p.comment }}
    // {{ l.rows }} rows x {{ d.w }} (plane word, weight word) pairs, one pair per cycle. Stages:
    // A the pair's counters (registered), its plane and weight addresses summed into B's
    // registers; B the memories read; C AND + popcount of each nibble per lane into
    // registers; C2 pairs of nibble counts summed, C3 those summed; D the row's popcounts
    // accumulated; E the row sum (2 * A - P) << shift; F the sum added to the row read in D
    // (the bank's stage 3), written through the bank's registered port
    // (schedule::DENSE_HEAD, DENSE_TAIL).
    /* verilator lint_off UNUSEDSIGNAL */
    // (counters, flags and address bits some gathers do not use)
    reg                  {{ p.pre }}_on;   // stage A holds a pair
    reg  [{{ d.iw - 1 }}:0] {{ p.pre }}_i;
    reg  [{{ l.raw - 1 }}:0] {{ p.pre }}_r;
    reg  [{{ d.hww - 1 }}:0] {{ p.pre }}_pos;
    reg  [{{ d.ncgw - 1 }}:0] {{ p.pre }}_cg;
    wire {{ p.pre }}_il = ({{ p.pre }}_i == {{ d.iw }}'d{{ d.w - 1 }});
    wire {{ p.pre }}_rl = ({{ p.pre }}_r == {{ l.raw }}'d{{ l.rows - 1 }});
    wire {{ p.pre }}_pl = ({{ p.pre }}_pos == {{ d.hww }}'d{{ d.hw - 1 }});
{%- if d.kind == "matrix" %}
    reg  [{{ d.waw - 1 }}:0] {{ p.pre }}_wn;   // weight word r * words + i
{%- else if d.kind == "conv" %}
    // Target position (oy, ox); iy0 = oy * sy - py, ix0 = ox * sx - px and the plane word of
    // (iy0, ix0), pb, kept by addition ({{ d.sw }}-bit two's complement); wg = g * words.
    reg  [{{ d.oyw - 1 }}:0] {{ p.pre }}_oy;
    reg  [{{ d.oxw - 1 }}:0] {{ p.pre }}_ox;
    reg  [{{ d.sw - 1 }}:0] {{ p.pre }}_iy0, {{ p.pre }}_ix0, {{ p.pre }}_pb, {{ p.pre }}_wg;
    // The pair's tap and chunk, stepped with i (i = (ky * {{ d.taps.kw }} + kx) * {{ d.taps.chunks }} + ch):
    // tcb = ch * HW_in, tyb = ky * dy * W_in, tdy = ky * dy, tdx = kx * dx.
    reg  [{{ d.taps.chw - 1 }}:0] {{ p.pre }}_tch;
    reg  [{{ d.taps.kxw - 1 }}:0] {{ p.pre }}_tkx;
    reg  [{{ d.sw - 1 }}:0] {{ p.pre }}_tcb, {{ p.pre }}_tyb, {{ p.pre }}_tdy, {{ p.pre }}_tdx;
    wire [{{ d.sw - 1 }}:0] {{ p.pre }}_toff = {{ p.pre }}_tcb + {{ p.pre }}_tyb + {{ p.pre }}_tdx;
    always @(posedge clk) begin
        if (go_{{ p.pre }} || ({{ p.pre }}_on && {{ p.pre }}_il)) begin
            {{ p.pre }}_tch <= {{ d.taps.chw }}'d0;
            {{ p.pre }}_tkx <= {{ d.taps.kxw }}'d0;
            {{ p.pre }}_tcb <= {{ d.sw }}'d0;
            {{ p.pre }}_tyb <= {{ d.sw }}'d0;
            {{ p.pre }}_tdy <= {{ d.sw }}'d0;
            {{ p.pre }}_tdx <= {{ d.sw }}'d0;
        end else if ({{ p.pre }}_on) begin
            if ({{ p.pre }}_tch == {{ d.taps.chw }}'d{{ d.taps.chunks - 1 }}) begin
                {{ p.pre }}_tch <= {{ d.taps.chw }}'d0;
                {{ p.pre }}_tcb <= {{ d.sw }}'d0;
                if ({{ p.pre }}_tkx == {{ d.taps.kxw }}'d{{ d.taps.kw - 1 }}) begin
                    {{ p.pre }}_tkx <= {{ d.taps.kxw }}'d0;
                    {{ p.pre }}_tdx <= {{ d.sw }}'d0;
                    {{ p.pre }}_tdy <= {{ p.pre }}_tdy + {{ d.taps.y_step }};
                    {{ p.pre }}_tyb <= {{ p.pre }}_tyb + {{ d.taps.row_step }};
                end else begin
                    {{ p.pre }}_tkx <= {{ p.pre }}_tkx + {{ d.taps.kxw }}'d1;
                    {{ p.pre }}_tdx <= {{ p.pre }}_tdx + {{ d.taps.x_step }};
                end
            end else begin
                {{ p.pre }}_tch <= {{ p.pre }}_tch + {{ d.taps.chw }}'d1;
                {{ p.pre }}_tcb <= {{ p.pre }}_tcb + {{ d.taps.ch_step }};
            end
        end
    end
    wire [{{ d.sw - 1 }}:0] {{ p.pre }}_iy = {{ p.pre }}_iy0 + {{ p.pre }}_tdy;
    wire [{{ d.sw - 1 }}:0] {{ p.pre }}_ix = {{ p.pre }}_ix0 + {{ p.pre }}_tdx;
    wire [{{ d.sw - 1 }}:0] {{ p.pre }}_pa = {{ p.pre }}_pb + {{ p.pre }}_toff;
    wire [{{ d.sw - 1 }}:0] {{ p.pre }}_wa = {{ p.pre }}_wg + { {{- d.sw - d.iw }}'d0, {{ p.pre }}_i};
{%- else %}
    reg  [{{ d.paw - 1 }}:0] {{ p.pre }}_word;   // Plane::slot(r).0
    reg  [{{ d.m - 1 }}:0] {{ p.pre }}_oh;       // the row's lane group within the word, one-hot
{%- if d.widx == "group" %}
    reg  [{{ d.waw - 1 }}:0] {{ p.pre }}_g;
{%- endif %}
{%- endif %}
    always @(posedge clk) begin
        if (rst) {{ p.pre }}_on <= 1'b0;
        else if (go_{{ p.pre }}) {{ p.pre }}_on <= 1'b1;
        else if ({{ p.pre }}_on && {{ p.pre }}_il && {{ p.pre }}_rl) {{ p.pre }}_on <= 1'b0;
        if (go_{{ p.pre }}) begin
            {{ p.pre }}_i <= {{ d.iw }}'d0;
            {{ p.pre }}_r <= {{ l.raw }}'d0;
            {{ p.pre }}_pos <= {{ d.hww }}'d0;
            {{ p.pre }}_cg <= {{ d.cg0 }};
{%- if d.kind == "matrix" %}
            {{ p.pre }}_wn <= {{ d.waw }}'d0;
{%- else if d.kind == "conv" %}
            {{ p.pre }}_oy <= {{ d.oyw }}'d0;
            {{ p.pre }}_ox <= {{ d.oxw }}'d0;
            {{ p.pre }}_iy0 <= {{ d.iy0 }};
            {{ p.pre }}_ix0 <= {{ d.ix0 }};
            {{ p.pre }}_pb <= {{ d.pb0 }};
            {{ p.pre }}_wg <= {{ d.sw }}'d0;
{%- else %}
            {{ p.pre }}_word <= {{ d.word0 }};
            {{ p.pre }}_oh <= {{ d.oh0 }};
{%- if d.widx == "group" %}
            {{ p.pre }}_g <= {{ d.waw }}'d0;
{%- endif %}
{%- endif %}
        end else if ({{ p.pre }}_on) begin
{%- if d.kind == "matrix" %}
            {{ p.pre }}_wn <= {{ p.pre }}_wn + {{ d.waw }}'d1;
{%- endif %}
            if ({{ p.pre }}_il) begin
                {{ p.pre }}_i <= {{ d.iw }}'d0;
                {{ p.pre }}_r <= {{ p.pre }}_r + {{ l.raw }}'d1;
                if ({{ p.pre }}_pl) begin
                    {{ p.pre }}_pos <= {{ d.hww }}'d0;
                    {{ p.pre }}_cg <= ({{ p.pre }}_cg == {{ d.ncgw }}'d{{ d.ncg - 1 }}) ? {{ d.ncgw }}'d0 : {{ p.pre }}_cg + {{ d.ncgw }}'d1;
{%- if d.kind == "conv" %}
                    {{ p.pre }}_wg <= {{ p.pre }}_wg + {{ d.wstep }};
{%- else if d.kind == "o2o" %}
{%- if d.widx == "group" %}
                    {{ p.pre }}_g <= {{ p.pre }}_g + {{ d.waw }}'d1;
{%- endif %}
{%- if d.m == 1 %}
                    {{ p.pre }}_word <= {{ p.pre }}_word + {{ d.paw }}'d1;
{%- else %}
                    if ({{ p.pre }}_oh[{{ d.m - 1 }}]) begin
                        {{ p.pre }}_oh <= {{ d.m }}'d1;
                        {{ p.pre }}_word <= {{ p.pre }}_word + {{ d.paw }}'d1;
                    end else begin
                        {{ p.pre }}_oh <= { {{- p.pre }}_oh[{{ d.m - 2 }}:0], 1'b0};
                        {{ p.pre }}_word <= {{ p.pre }}_word - {{ d.paw }}'d{{ d.hw - 1 }};
                    end
{%- endif %}
{%- endif %}
                end else begin
                    {{ p.pre }}_pos <= {{ p.pre }}_pos + {{ d.hww }}'d1;
{%- if d.kind == "o2o" %}
                    {{ p.pre }}_word <= {{ p.pre }}_word + {{ d.paw }}'d1;
{%- endif %}
                end
{%- if d.kind == "conv" %}
                if ({{ p.pre }}_ox == {{ d.oxw }}'d{{ d.ox_last }}) begin
                    {{ p.pre }}_ox <= {{ d.oxw }}'d0;
                    {{ p.pre }}_ix0 <= {{ d.ix0 }};
                    if ({{ p.pre }}_oy == {{ d.oyw }}'d{{ d.oy_last }}) begin
                        {{ p.pre }}_oy <= {{ d.oyw }}'d0;
                        {{ p.pre }}_iy0 <= {{ d.iy0 }};
                        {{ p.pre }}_pb <= {{ d.pb0 }};
                    end else begin
                        {{ p.pre }}_oy <= {{ p.pre }}_oy + {{ d.oyw }}'d1;
                        {{ p.pre }}_iy0 <= {{ p.pre }}_iy0 + {{ d.sy }};
                        {{ p.pre }}_pb <= {{ p.pre }}_pb + {{ d.pbrow }};
                    end
                end else begin
                    {{ p.pre }}_ox <= {{ p.pre }}_ox + {{ d.oxw }}'d1;
                    {{ p.pre }}_ix0 <= {{ p.pre }}_ix0 + {{ d.sx }};
                    {{ p.pre }}_pb <= {{ p.pre }}_pb + {{ d.sx }};
                end
{%- endif %}
            end else {{ p.pre }}_i <= {{ p.pre }}_i + {{ d.iw }}'d1;
        end
    end
    // Stage B: the pair's addresses, registered, go to the memories.
    reg                  {{ p.pre }}_vb, {{ p.pre }}_fb, {{ p.pre }}_eb, {{ p.pre }}_lb, {{ p.pre }}_cb, {{ p.pre }}_pvb;
    reg  [{{ l.raw - 1 }}:0] {{ p.pre }}_rb;
    reg  [{{ d.paw - 1 }}:0] {{ p.pre }}_pa_b;
    reg  [{{ d.waw - 1 }}:0] {{ p.pre }}_wa_b;
{%- if d.kind == "o2o" %}
    reg  [{{ d.m - 1 }}:0] {{ p.pre }}_ohb;
{%- endif %}
    always @(posedge clk) begin
        {{ p.pre }}_vb  <= !rst && {{ p.pre }}_on;
        {{ p.pre }}_fb  <= ({{ p.pre }}_i == {{ d.iw }}'d0);            // the row's first pair
        {{ p.pre }}_eb  <= {{ p.pre }}_on && {{ p.pre }}_il;            // the row's last pair
        {{ p.pre }}_lb  <= {{ p.pre }}_rl;                               // the last row
        {{ p.pre }}_cb  <= ({{ p.pre }}_cg == {{ d.ncgw }}'d{{ d.ncg - 1 }}); // the channel group's last lane group
        {{ p.pre }}_rb  <= {{ p.pre }}_r;
{%- if d.kind == "matrix" %}
        {{ p.pre }}_pvb <= 1'b1;
        {{ p.pre }}_pa_b <= {{ p.pre }}_i[{{ d.paw - 1 }}:0];
        {{ p.pre }}_wa_b <= {{ p.pre }}_wn;
{%- else if d.kind == "conv" %}
        // A tap outside the input reads nothing (its word counts as zero): unsigned compares
        // of the two's complement coordinates (a negative one is above any bound).
        {{ p.pre }}_pvb <= ({{ p.pre }}_iy < {{ d.hin }}) && ({{ p.pre }}_ix < {{ d.win }});
        {{ p.pre }}_pa_b <= {{ p.pre }}_pa[{{ d.paw - 1 }}:0];
        {{ p.pre }}_wa_b <= {{ p.pre }}_wa[{{ d.waw - 1 }}:0];
{%- else %}
        {{ p.pre }}_pvb <= 1'b1;
        {{ p.pre }}_pa_b <= {{ p.pre }}_word;
        {{ p.pre }}_ohb <= {{ p.pre }}_oh;
{%- if d.widx == "row" %}
        {{ p.pre }}_wa_b <= {{ p.pre }}_r[{{ d.waw - 1 }}:0];
{%- else if d.widx == "group" %}
        {{ p.pre }}_wa_b <= {{ p.pre }}_g;
{%- else %}
        {{ p.pre }}_wa_b <= {{ d.waw }}'d0;
{%- endif %}
{%- endif %}
    end
    wire [{{ d.wwidth - 1 }}:0] {{ p.pre }}_w;
{%- if let Some(sp) = p.spram %}
    sf_spram_rom #(.WIDTH({{ sp.width }}), .AW({{ d.waw }}), .SLOT({{ sp.slot }}), .PW_LOG({{ sp.pw_log }}), .COLS({{ sp.cols }}), .ROWS({{ sp.rows }}), .RW({{ sp.rw }}), .CW({{ sp.cw }}), .WW({{ sp.ww }})) {{ p.pre }}_wrom (
        .clk(clk), .loading(!wl_done), .ld_we(wl_fire && (wl_m == {{ v.wl.mw }}'d{{ sp.idx }})),
        .ld_word(wl_w[{{ sp.ww - 1 }}:0]), .ld_col(wl_c[{{ sp.cw - 1 }}:0]), .ld_nib(wl_n), .ld_data(wl_data),
        .raddr({{ p.pre }}_wa_b), .rdata({{ p.pre }}_w));
{%- else if let Some(x) = p.ext %}
    // Weights streamed from external memory, read from the tile buffer (rows {{ x.base }} on).
{%- if x.pw_log > 0 %}
    reg  [{{ x.pw_log - 1 }}:0] {{ p.pre }}_xs;   // the read's slot, for the cycle its row arrives
{%- if let Some(sh) = x.shared %}
    // Zero outside its ACC phase: the slot is read through the multiplexer {{ sh }}, which its width's ROMs share.
    always @(posedge clk) {{ p.pre }}_xs <= pc_oh[{{ x.pc }}] ? {{ x.xs_src }} : {{ x.pw_log }}'d0;
    assign {{ p.pre }}_w = {{ sh }}[{{ x.width - 1 }}:0];
{%- else %}
    always @(posedge clk) {{ p.pre }}_xs <= {{ x.xs_src }};
    assign {{ p.pre }}_w = tx_q[{{ x.slot_lo(p.pre) }} +: {{ x.width }}];
{%- endif %}
{%- else %}
    assign {{ p.pre }}_w = tx_q[{{ x.width - 1 }}:0];
{%- endif %}
{%- else if !d.wfile.is_empty() %}
    sf_ram #(.WIDTH({{ d.wwidth }}), .DEPTH({{ d.wdepth }}), .AW({{ d.waw }}), .INIT("{{ d.wfile }}"), .LOGIC({% if d.wlogic %}1{% else %}0{% endif %}), .BLOCK({% if v.hold_brams && !d.wlogic %}1{% else %}0{% endif %})) {{ p.pre }}_wrom (
        .clk(clk), .we(1'b0), .waddr({{ d.waw }}'d0), .wdata({{ d.wwidth }}'d0),
        .raddr({{ p.pre }}_wa_b), .rdata({{ p.pre }}_w));
{%- else %}
    assign {{ p.pre }}_w = { {{ l.lanes }}{ {{ d.wconst }} } };
{%- endif %}
    // Stage C: the words arrive; AND + nibble popcounts per lane, registered (C2, C3 sum them).
    reg                  {{ p.pre }}_vc, {{ p.pre }}_fc, {{ p.pre }}_ec, {{ p.pre }}_lc, {{ p.pre }}_cc, {{ p.pre }}_pvc;
    reg  [{{ l.raw - 1 }}:0] {{ p.pre }}_rc;
{%- if d.kind == "o2o" %}
    reg  [{{ d.m - 1 }}:0] {{ p.pre }}_ohc;
{%- endif %}
    always @(posedge clk) begin
        {{ p.pre }}_vc  <= !rst && {{ p.pre }}_vb;
        {{ p.pre }}_fc  <= {{ p.pre }}_fb;
        {{ p.pre }}_ec  <= {{ p.pre }}_vb && {{ p.pre }}_eb;
        {{ p.pre }}_lc  <= {{ p.pre }}_lb;
        {{ p.pre }}_cc  <= {{ p.pre }}_cb;
        {{ p.pre }}_pvc <= {{ p.pre }}_pvb;
        {{ p.pre }}_rc  <= {{ p.pre }}_rb;
{%- if d.kind == "o2o" %}
        {{ p.pre }}_ohc <= {{ p.pre }}_ohb;
{%- endif %}
    end
    wire [{{ d.pw - 1 }}:0] {{ p.pre }}_s = {{ d.prdata }};
    reg                  {{ p.pre }}_f2, {{ p.pre }}_e2, {{ p.pre }}_l2, {{ p.pre }}_c2;
    reg  [{{ l.raw - 1 }}:0] {{ p.pre }}_r2;
    reg                  {{ p.pre }}_f3, {{ p.pre }}_e3, {{ p.pre }}_l3, {{ p.pre }}_c3;
    reg  [{{ l.raw - 1 }}:0] {{ p.pre }}_r3;
    reg                  {{ p.pre }}_fd, {{ p.pre }}_ed, {{ p.pre }}_ld, {{ p.pre }}_cd;
    reg  [{{ l.raw - 1 }}:0] {{ p.pre }}_rd;
    always @(posedge clk) begin
        {{ p.pre }}_f2 <= {{ p.pre }}_fc;
        {{ p.pre }}_e2 <= !rst && {{ p.pre }}_ec;
        {{ p.pre }}_l2 <= {{ p.pre }}_lc;
        {{ p.pre }}_c2 <= {{ p.pre }}_cc;
        {{ p.pre }}_r2 <= {{ p.pre }}_rc;
        {{ p.pre }}_f3 <= {{ p.pre }}_f2;
        {{ p.pre }}_e3 <= !rst && {{ p.pre }}_e2;
        {{ p.pre }}_l3 <= {{ p.pre }}_l2;
        {{ p.pre }}_c3 <= {{ p.pre }}_c2;
        {{ p.pre }}_r3 <= {{ p.pre }}_r2;
        {{ p.pre }}_fd <= {{ p.pre }}_f3;
        {{ p.pre }}_ed <= !rst && {{ p.pre }}_e3;
        {{ p.pre }}_ld <= {{ p.pre }}_l3;
        {{ p.pre }}_cd <= {{ p.pre }}_c3;
        {{ p.pre }}_rd <= {{ p.pre }}_r3;
    end
{%- if d.kind == "o2o" %}
    // The row's lanes within the word (its lane group's bits).
    reg  [{{ l.lanes - 1 }}:0] {{ p.pre }}_bits;
    integer {{ p.pre }}_k;
    always @* begin
        {{ p.pre }}_bits = {{ l.lanes }}'d0;
        for ({{ p.pre }}_k = 0; {{ p.pre }}_k < {{ d.m }}; {{ p.pre }}_k = {{ p.pre }}_k + 1)
            if ({{ p.pre }}_ohc[{{ p.pre }}_k]) {{ p.pre }}_bits = {{ p.pre }}_bits | {{ p.pre }}_s[{{ p.pre }}_k*{{ l.lanes }} +: {{ l.lanes }}];
    end
{%- else if d.shared_tw.is_none() %}
    // The set bits of each nibble (a 4-input table), and the nibbles' counts summed.
{%- call popcount::functions(p.pre, d.pw, d.nn, d.np, d.npad, d.pair, d.pcw, d.pop) %}{%- endcall %}
    // C: nibble counts of s (zero for a word that is none); C2: byte counts; C3: popcount(s).
    reg  [{{ d.nn * 3 - 1 }}:0] {{ p.pre }}_nbs;
    reg  [{{ d.np * 4 - 1 }}:0] {{ p.pre }}_bys;
    reg  [{{ d.pcw - 1 }}:0] {{ p.pre }}_ps;
    always @(posedge clk) begin
        {{ p.pre }}_nbs <= {{ p.pre }}_pvc ? {{ p.pre }}_nib({{ p.pre }}_s) : {{ d.nn * 3 }}'d0;
        {{ p.pre }}_bys <= {{ p.pre }}_pair({{ p.pre }}_nbs);
        {{ p.pre }}_ps  <= {{ p.pre }}_pcsum({{ p.pre }}_bys);
    end
    // Stage D: the row's popcounts, summed (P: of s, A: of s & w per lane).
    reg  [{{ d.accw - 1 }}:0] {{ p.pre }}_pacc;
    always @(posedge clk) {{ p.pre }}_pacc <= ({{ p.pre }}_fd ? {{ d.accw }}'d0 : {{ p.pre }}_pacc) + { {{- d.accw - d.pcw }}'d0, {{ p.pre }}_ps};
{%- endif %}
    // Stage E registers each lane's row sum, stage F adds it to the row.
    reg                  {{ p.pre }}_ee, {{ p.pre }}_le, {{ p.pre }}_ce, {{ p.pre }}_ef, {{ p.pre }}_lf;
    reg  [{{ l.raw - 1 }}:0] {{ p.pre }}_re, {{ p.pre }}_rf;
    always @(posedge clk) begin
        {{ p.pre }}_ee <= !rst && {{ p.pre }}_ed;
        {{ p.pre }}_le <= {{ p.pre }}_ld;
        {{ p.pre }}_ce <= {{ p.pre }}_cd;
        {{ p.pre }}_re <= {{ p.pre }}_rd;
        {{ p.pre }}_ef <= !rst && {{ p.pre }}_ee;
        {{ p.pre }}_lf <= {{ p.pre }}_le;
        {{ p.pre }}_rf <= {{ p.pre }}_re;
    end
    wire [{{ l.lanes - 1 }}:0] {{ p.pre }}_lm = {{ p.pre }}_ce ? {{ d.padmask }} : { {{- l.lanes }}{1'b1} };   // padding lanes add 0
{%- if d.shared_add %}
    // C to F: the plan's shared datapath (dsh_*) and its state memory's shared adder.
{%- else %}
{%- if !p.sadd %}
    wire [{{ l.lanes * p.tw - 1 }}:0] {{ p.pre }}_old = {{ p.old }};
{%- endif %}
    genvar {{ p.pre }}_gi;
    generate
        for ({{ p.pre }}_gi = 0; {{ p.pre }}_gi < {{ l.lanes }}; {{ p.pre }}_gi = {{ p.pre }}_gi + 1) begin : {{ p.pre }}_dl
{%- if d.kind == "o2o" %}
            // C: a set lane bit takes its weight (sign-extended); C2, C3, D: registered again (one pair per row).
            wire [{{ d.wb - 1 }}:0] wl = {{ p.pre }}_w[{{ p.pre }}_gi*{{ d.wb }} +: {{ d.wb }}];
            reg  [{{ p.tw - 1 }}:0] tm, t2, t3, a, rs;
            always @(posedge clk) begin
{%- if d.wb == 1 %}
                // binary: +1 when the bit is set, else -1
                tm <= !{{ p.pre }}_bits[{{ p.pre }}_gi] ? {{ p.tw }}'d0 : wl[0] ? {{ p.tw }}'d1 : { {{- p.tw }}{1'b1} };
{%- else %}
                tm <= {{ p.pre }}_bits[{{ p.pre }}_gi] ? { { {{- p.tw - d.wb }}{wl[{{ d.wb - 1 }}]} }, wl} : {{ p.tw }}'d0;
{%- endif %}
                t2 <= tm;
                t3 <= t2;
                a  <= t3;
                rs <= {{ p.pre }}_lm[{{ p.pre }}_gi] ? (a << {{ p.shift }}) : {{ p.tw }}'d0;
            end
{%- else if let Some(stw) = d.shared_tw %}
            // C to E: the plan's shared datapath (dsh_*), this unit's row sum its low bits.
            wire [{{ p.tw - 1 }}:0] rs = dsh_rs[{{ p.pre }}_gi*{{ stw }} +: {{ p.tw }}];
{%- else %}
            // C: nibble counts of s & w; C2: byte counts; C3: popcount(s & w); D: summed over the
            // row; E: (2 * A - P) << shift.
            reg  [{{ d.nn * 3 - 1 }}:0] nb;
            reg  [{{ d.np * 4 - 1 }}:0] by;
            reg  [{{ d.pcw - 1 }}:0] pc;
            reg  [{{ d.accw - 1 }}:0] a;
            reg  [{{ p.tw - 1 }}:0] rs;
            wire [{{ d.dw - 1 }}:0] df = {1'b0, a, 1'b0} - { {{- d.dw - d.accw }}'d0, {{ p.pre }}_pacc};
            wire [{{ p.tw + d.dw - 1 }}:0] dx = { { {{- p.tw }}{df[{{ d.dw - 1 }}]} }, df};
            always @(posedge clk) begin
                nb <= {{ p.pre }}_pvc ? {{ p.pre }}_nib({{ p.pre }}_s & {{ p.pre }}_w[{{ p.pre }}_gi*{{ d.pw }} +: {{ d.pw }}]) : {{ d.nn * 3 }}'d0;
                by <= {{ p.pre }}_pair(nb);
                pc <= {{ p.pre }}_pcsum(by);
                a  <= ({{ p.pre }}_fd ? {{ d.accw }}'d0 : a) + { {{- d.accw - d.pcw }}'d0, pc};
                rs <= {{ p.pre }}_lm[{{ p.pre }}_gi] ? (dx[{{ p.tw - 1 }}:0] << {{ p.shift }}) : {{ p.tw }}'d0;
            end
{%- endif %}
{%- if p.sadd %}
            // F: its state memory's shared adder adds the row sum to the row's current value.
            assign {{ p.pre }}_add[{{ p.pre }}_gi*{{ p.tw }} +: {{ p.tw }}] = rs;
{%- else %}
            // F: the row's current value plus its sum (wrapping: the state after the phase fits).
            assign {{ p.pre }}_new[{{ p.pre }}_gi*{{ p.tw }} +: {{ p.tw }}] = {{ p.pre }}_old[{{ p.pre }}_gi*{{ p.tw }} +: {{ p.tw }}] + rs;
{%- endif %}
        end
    endgenerate
{%- endif %}
    assign {{ p.pre }}_rrow = {{ p.pre }}_rd;   // read in D, added in F (the bank's stage 3)
    assign {{ p.pre }}_s3w  = {{ p.pre }}_ef;
    assign {{ p.pre }}_we   = {{ p.pre }}_ef;
    assign {{ p.pre }}_wrow = {{ p.pre }}_rf;
    reg {{ p.pre }}_finr, {{ p.pre }}_actr;
    assign fin_{{ p.pre }} = {{ p.pre }}_finr;
    assign {{ p.pre }}_act = {{ p.pre }}_actr;
    always @(posedge clk) begin
        {{ p.pre }}_finr <= !rst && {{ p.pre }}_ef && {{ p.pre }}_lf;
        if (rst) {{ p.pre }}_actr <= 1'b0;
        else if (go_{{ p.pre }}) {{ p.pre }}_actr <= 1'b1;
        else if ({{ p.pre }}_finr) {{ p.pre }}_actr <= 1'b0;
    end
    /* verilator lint_on UNUSEDSIGNAL */
