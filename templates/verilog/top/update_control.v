{#- Each update datapath's control: the pass's read and write rows and the write stage's position (view::update). #}
{%- for g in v.ugroups %}
{%- if v.pipe %}
    // ------------------------------------------------------------------ update pass {{ g.p }}: control
    // One layer's datapath of {{ g.sh.ls }} lanes (signals as the sequential schedule's shared
    // one, prefixed): `{{ g.p }}ul` is 0; `{{ g.p }}u_go` is its UPD phase's go, registered.
    wire [{{ g.lw - 1 }}:0] {{ g.p }}ul = {{ g.lw }}'d0;
    reg {{ g.p }}u_go;
    always @(posedge clk) {{ g.p }}u_go <= !rst && {{ g.p }}go_nx[{{ g.upd }}];
{%- else %}
    // ------------------------------------------------------------------ shared update pass: control
    // Layers update one at a time, so one datapath of {{ g.sh.ls }} lanes serves them all; `ul`
    // selects the layer whose memories connect to it.
    // u_go: an update phase is in its go cycle (go_oh holds an UPD bit), from a flip-flop set
    // by the same conditions that load go_oh.
    localparam [NPH-1:0] UPD_MASK = {{ v.prog.upd_mask }};
    reg {{ g.p }}u_go;
{%- if let Some(fs) = v.fsums %}
    // A FUSE phase sets `ul` too, but its unit drives the reads (fz_*), not u_go.
    localparam [NPH-1:0] FUSE_MASK = {{ v.fuse_mask() }};
    always @(posedge clk)
        {{ g.p }}u_go <= !rst && (run ? (fin && !st_fin && ul_to[{{ g.lw }}] && !(|(nx_oh & FUSE_MASK)))
                                          : (first && UPD_MASK[0]));
    // ---------------- fused layers ({{ fs.units.join(", ") }}): the running FUSE phase's reads
    // Each unit's outputs are zero while it is idle; one FUSE phase runs at a time.
    wire fz_on = |(pc_oh & FUSE_MASK);
{%- for u in fs.units %}
    wire {{ u }}_rd, {{ u }}_pe, {{ u }}_lrd, {{ u }}_h, {{ u }}_fs_we;
    wire [{{ fs.grw - 1 }}:0] {{ u }}_row;
    wire [{{ fs.ttw - 1 }}:0] {{ u }}_t;
    wire [{{ fs.aw - 1 }}:0] {{ u }}_fs_wa;
    wire [{{ fs.width - 1 }}:0] {{ u }}_fs_wd;
{%- endfor %}
    wire fz_go  = 1'b0{% for u in fs.units %} | go_{{ u }}{% endfor %};
    wire fz_rd  = 1'b0{% for u in fs.units %} | {{ u }}_rd{% endfor %};
    wire fz_pe  = 1'b0{% for u in fs.units %} | {{ u }}_pe{% endfor %};
    wire fz_lrd = 1'b0{% for u in fs.units %} | {{ u }}_lrd{% endfor %};
    wire [{{ fs.grw - 1 }}:0] fz_row = {{ fs.grw }}'d0{% for u in fs.units %} | {{ u }}_row{% endfor %};
    wire [{{ fs.ttw - 1 }}:0] fz_t = {{ fs.ttw }}'d0{% for u in fs.units %} | {{ u }}_t{% endfor %};
    wire fz_h   = 1'b0{% for u in fs.units %} | {{ u }}_h{% endfor %};
    // The sum buffer: step t's sums of a block's row r at h x 16 T + t x 16 + r, h the block's
    // half (its index mod 2); written by the running unit's gather, read with the row's
    // membrane.
    wire [{{ fs.width - 1 }}:0] fs_rdata;
    sf_ram #(.WIDTH({{ fs.width }}), .DEPTH({{ fs.depth }}), .AW({{ fs.aw }}), .LOGIC({% if fs.logic %}1{% else %}0{% endif %})) fsum (
        .clk(clk), .we(1'b0{% for u in fs.units %} | {{ u }}_fs_we{% endfor %}),
        .waddr({{ fs.aw }}'d0{% for u in fs.units %} | {{ u }}_fs_wa{% endfor %}),
        .wdata({{ fs.width }}'d0{% for u in fs.units %} | {{ u }}_fs_wd{% endfor %}),
        .raddr({{ fs.raddr }}), .rdata(fs_rdata));
    // A row's step and whether it ends its pass travel with it through the neuron lanes (entry
    // j holds the row read j + 1 cycles before): the lanes take `late` at their stage 2 (entry
    // 1) and `last` at their last (entry U_LAT - 1); the row is written at entry U_LAT (u_w).
    reg  [{{ (v.u_lat as usize + 1) * (fs.ttw + 1) - 1 }}:0] fz_q;
    always @(posedge clk) fz_q <= {fz_q[{{ v.u_lat as usize * (fs.ttw + 1) - 1 }}:0], fz_pe, fz_t};
    wire fz_late = fz_on ? (fz_q[{{ fs.ttw * 2 }}:{{ fs.ttw + 1 }}] != {{ fs.ttw }}'d0) : late;
    wire fz_last = fz_on ? (fz_q[{{ (v.u_lat as usize - 1) * (fs.ttw + 1) + fs.ttw - 1 }}:{{ (v.u_lat as usize - 1) * (fs.ttw + 1) }}] == {{ fs.ttw }}'d{{ v.t_max - 1 }}) : last;
    wire fz_pew = fz_q[{{ v.u_lat as usize * (fs.ttw + 1) + fs.ttw }}];
    wire [{{ fs.ttw - 1 }}:0] fz_tw = fz_q[{{ v.u_lat as usize * (fs.ttw + 1) + fs.ttw - 1 }}:{{ v.u_lat as usize * (fs.ttw + 1) }}];
{%- else %}
    always @(posedge clk)
        {{ g.p }}u_go <= !rst && (run ? (fin && !st_fin && ul_to[{{ g.lw }}])
                                          : (first && UPD_MASK[0]));
{%- endif %}
{%- endif %}
    /* verilator lint_off UNUSEDSIGNAL */
    reg  [{{ g.upw - 1 }}:0] {{ g.p }}u_pos1;   // used by per-channel parameter ROMs only
    /* verilator lint_on UNUSEDSIGNAL */
    always @* begin
        case ({{ g.p }}ul)
{%- for l in v.layers %}{%- if l.gp == g.p %}
            {{ g.lw }}'d{{ l.gk }}: {{ g.p }}u_pos1 = {{ g.upw }}'d{{ l.pos - 1 }};
{%- endif %}{%- endfor %}
            default: {{ g.p }}u_pos1 = {{ g.upw }}'d0;
        endcase
    end
    reg  {{ g.p }}u_go1;   // the layer starting has one row
    always @* begin
        case ({{ g.p }}ul)
{%- for l in v.layers %}{%- if l.gp == g.p %}
            {{ g.lw }}'d{{ l.gk }}: {{ g.p }}u_go1 = 1'b{% if l.rows == 1 %}1{% else %}0{% endif %};
{%- endif %}{%- endfor %}
            default: {{ g.p }}u_go1 = 1'b0;
        endcase
    end
    // The updating layer's geometry, registered the cycle after `ul` changes (the go cycle):
    // the pass compares rows from its second cycle and positions at its write stage.
    reg  [{{ g.sh.rw }}:0] {{ g.p }}u_rows1;   // rows - 1
    reg  [{{ g.uxw - 1 }}:0] {{ g.p }}u_w1, {{ g.p }}u_w2;   // extent - 1 and - 2
    reg  [{{ g.uyw - 1 }}:0] {{ g.p }}u_h1, {{ g.p }}u_h2;
    reg  [{{ g.ucw - 1 }}:0] {{ g.p }}u_ncg1, {{ g.p }}u_ncg2;
    reg  [31:0] {{ g.p }}u_gc, {{ g.p }}u_lanes;
    reg  [{{ g.sh.ls - 1 }}:0] {{ g.p }}u_lmask, {{ g.p }}u_lastmask;
    always @(posedge clk) begin
        case ({{ g.p }}ul)
{%- for l in v.layers %}{%- if l.gp == g.p %}
            {{ g.lw }}'d{{ l.gk }}: begin
                {{ g.p }}u_rows1 <= {{ g.sh.rw + 1 }}'d{{ l.rows - 1 }}; {{ g.p }}u_w1 <= {{ g.uxw }}'d{{ l.w - 1 }}; {{ g.p }}u_h1 <= {{ g.uyw }}'d{{ l.h - 1 }};
                {{ g.p }}u_ncg1 <= {{ g.ucw }}'d{{ l.ncg - 1 }}; {{ g.p }}u_gc <= 32'd{{ l.gc }}; {{ g.p }}u_lanes <= 32'd{{ l.lanes }};
                {{ g.p }}u_w2 <= {{ g.uxw }}'d{{ l.w.max(2) - 2 }}; {{ g.p }}u_h2 <= {{ g.uyw }}'d{{ l.h.max(2) - 2 }}; {{ g.p }}u_ncg2 <= {{ g.ucw }}'d{{ l.ncg.max(2) - 2 }};
                {{ g.p }}u_lmask <= {{ l.u_lanes(g.sh) }}; {{ g.p }}u_lastmask <= {{ l.u_lastmask(g.sh) }};
            end
{%- endif %}{%- endfor %}
            default: begin
                {{ g.p }}u_rows1 <= {{ g.sh.rw + 1 }}'d0; {{ g.p }}u_w1 <= {{ g.uxw }}'d0; {{ g.p }}u_h1 <= {{ g.uyw }}'d0;
                {{ g.p }}u_ncg1 <= {{ g.ucw }}'d0; {{ g.p }}u_gc <= 32'd1; {{ g.p }}u_lanes <= 32'd1;
                {{ g.p }}u_w2 <= {{ g.uxw }}'d0; {{ g.p }}u_h2 <= {{ g.uyw }}'d0; {{ g.p }}u_ncg2 <= {{ g.ucw }}'d0;
                {{ g.p }}u_lmask <= {{ g.sh.ls }}'d0; {{ g.p }}u_lastmask <= {{ g.sh.ls }}'d0;
            end
        endcase
    end
{%- if v.prog.tjw > 0 %}
    // Where the updating layer's running tile of lane groups starts: the first row's lane
    // group within its channel group, its base channel and channel group's first channel, and
    // its lane group (per-channel parameters); a layer in one tile starts at 0. Registered
    // from the sequencer's next `ul` and `tj`, so they always hold the values of `ul` and `tj`
    // and the go cycle reads a flip-flop, not the tables.
    reg  [{{ g.ucw - 1 }}:0] {{ g.p }}u_cb0;
    /* verilator lint_off UNUSEDSIGNAL */
    reg  [31:0] {{ g.p }}u_c00, {{ g.p }}u_cg00, {{ g.p }}u_g00;   // u_g00: per-channel parameters only
    /* verilator lint_on UNUSEDSIGNAL */
    always @(posedge clk) begin
        case (ul_d)
{%- for l in v.layers %}{%- if l.gp == g.p && l.tiles > 1 %}
            {{ g.lw }}'d{{ l.gk }}: begin
                {{ g.p }}u_cb0 <= {{ l.at_next_tile("cb0", g.ucw) }}; {{ g.p }}u_c00 <= {{ l.at_next_tile("c0", 32) }};
                {{ g.p }}u_cg00 <= {{ l.at_next_tile("cg0", 32) }}; {{ g.p }}u_g00 <= {{ l.at_next_tile("g0", 32) }};
            end
{%- endif %}{%- endfor %}
            default: begin
                {{ g.p }}u_cb0 <= {{ g.ucw }}'d0; {{ g.p }}u_c00 <= 32'd0; {{ g.p }}u_cg00 <= 32'd0; {{ g.p }}u_g00 <= 32'd0;
            end
        endcase
    end
{%- endif %}
    reg                  {{ g.p }}u_act;
    reg  [{{ g.sh.rw }}:0] {{ g.p }}u_next;
    reg                  {{ g.p }}u_more;   // rows remain to be read (u_act && u_next != rows before)
    reg                  {{ g.p }}u_s2;
{%- if v.fsums.is_some() %}
    // A FUSE phase's unit reads its rows (fz_rd, fz_row; zero otherwise).
    wire                 {{ g.p }}u_rd    = {{ g.p }}u_go || {{ g.p }}u_more || fz_rd;
    wire [{{ g.sh.rw - 1 }}:0] {{ g.p }}u_raddr = {{ g.p }}u_next[{{ g.sh.rw - 1 }}:0] | fz_row;
{%- else %}
    wire                 {{ g.p }}u_rd    = {{ g.p }}u_go || {{ g.p }}u_more;
    // u_next is 0 between passes, so the first row's address comes from a flip-flop too.
    wire [{{ g.sh.rw - 1 }}:0] {{ g.p }}u_raddr = {{ g.p }}u_next[{{ g.sh.rw - 1 }}:0];
{%- endif %}
    // The neuron lanes take a row at stage 2 and return it {{ v.u_lat }} cycles later, at the
    // write stage (u_w, u_wrow): the update pass ends when its last row is written.
{%- if loop.first %}
    localparam integer U_LAT = {{ v.u_lat }};
{%- endif %}
    reg  [U_LAT-1:0] {{ g.p }}u_wp, {{ g.p }}u_lp;   // a row in flight; the pass's last row
    reg                  {{ g.p }}u_s2last;
    wire                 {{ g.p }}u_penult = {{ g.p }}u_more && ({{ g.p }}u_next == {{ g.p }}u_rows1);
    wire                 {{ g.p }}u_w     = {{ g.p }}u_wp[U_LAT-1];
    // Rows are read one per cycle from 0 and leave the lanes in order, one per cycle, so the
    // write-stage row is a counter (not the read row delayed U_LAT cycles).
    reg  [{{ g.sh.rw - 1 }}:0] {{ g.p }}u_wrow;
    always @(posedge clk) begin
        if (rst) begin
            {{ g.p }}u_wp <= {U_LAT{1'b0}};
            {{ g.p }}u_lp <= {U_LAT{1'b0}};
        end else begin
            {{ g.p }}u_wp <= {{ "{" }}{{ g.p }}u_wp[U_LAT-2:0], {{ g.p }}u_s2};
            {{ g.p }}u_lp <= {{ "{" }}{{ g.p }}u_lp[U_LAT-2:0], {{ g.p }}u_s2 && {{ g.p }}u_s2last};
        end
        // The row read now is the pass's last (compared one cycle ahead of the stage-2 row).
{%- if v.fsums.is_some() %}
        // A FUSE phase's last read ends it; its write row starts again with each pass.
        {{ g.p }}u_s2last <= {{ g.p }}u_go ? {{ g.p }}u_go1 : ({{ g.p }}u_penult || fz_lrd);
        if ({{ g.p }}u_go || fz_go) {{ g.p }}u_wrow <= {{ g.sh.rw }}'d0;
        else if ({{ g.p }}u_w) {{ g.p }}u_wrow <= (fz_on && fz_pew) ? {{ g.sh.rw }}'d0 : {{ g.p }}u_wrow + {{ g.sh.rw }}'d1;
{%- else %}
        {{ g.p }}u_s2last <= {{ g.p }}u_go ? {{ g.p }}u_go1 : {{ g.p }}u_penult;
        if ({{ g.p }}u_go) {{ g.p }}u_wrow <= {{ g.sh.rw }}'d0;
        else if ({{ g.p }}u_w) {{ g.p }}u_wrow <= {{ g.p }}u_wrow + {{ g.sh.rw }}'d1;
{%- endif %}
    end
    wire                 {{ g.p }}u_fin   = {{ g.p }}u_lp[U_LAT-1];
    // Position of the row at the write stage: lane group cb (within its channel group), y, x.
    reg  [{{ g.ucw - 1 }}:0] {{ g.p }}ucb;
    reg  [{{ g.uyw - 1 }}:0] {{ g.p }}uy;
    reg  [{{ g.uxw - 1 }}:0] {{ g.p }}ux;
    reg         {{ g.p }}ufcb, {{ g.p }}ufy, {{ g.p }}ufx, {{ g.p }}u_go_d;   // ucb, uy, ux are their last values
{%- if let Some(fs) = v.fsums %}
    // A fused layer's rows run in blocks, each block's T passes over the same rows: the
    // write-stage position of a block's first row is kept from its first write (`fz_nb`: the
    // next write is a block's first), and a pass that is not the block's last (step T - 1)
    // has the next start there again (`fz_rs`); `fz_bs_*` is that position, or the write's
    // own when it is the block's first (a block of one row).
    reg                  fz_nb;
    reg  [{{ g.ucw - 1 }}:0] fz_sv_cb;
    reg  [{{ g.uyw - 1 }}:0] fz_sv_y;
    reg  [{{ g.uxw - 1 }}:0] fz_sv_x;
    reg                  fz_sv_fcb, fz_sv_fy, fz_sv_fx;
    wire                 fz_rs = {{ g.p }}u_w && fz_on && fz_pew && (fz_tw != {{ fs.ttw }}'d{{ v.t_max - 1 }});
    wire [{{ g.ucw - 1 }}:0] fz_bs_cb = fz_nb ? {{ g.p }}ucb : fz_sv_cb;
    wire [{{ g.uyw - 1 }}:0] fz_bs_y = fz_nb ? {{ g.p }}uy : fz_sv_y;
    wire [{{ g.uxw - 1 }}:0] fz_bs_x = fz_nb ? {{ g.p }}ux : fz_sv_x;
    wire                 fz_bs_fcb = fz_nb ? {{ g.p }}ufcb : fz_sv_fcb;
    wire                 fz_bs_fy = fz_nb ? {{ g.p }}ufy : fz_sv_fy;
    wire                 fz_bs_fx = fz_nb ? {{ g.p }}ufx : fz_sv_fx;
    always @(posedge clk) begin
        if (fz_go) fz_nb <= 1'b1;
        else if ({{ g.p }}u_w) fz_nb <= fz_on && fz_pew && (fz_tw == {{ fs.ttw }}'d{{ v.t_max - 1 }});
        if ({{ g.p }}u_w && fz_nb) begin
            fz_sv_cb <= {{ g.p }}ucb; fz_sv_y <= {{ g.p }}uy; fz_sv_x <= {{ g.p }}ux;
            fz_sv_fcb <= {{ g.p }}ufcb; fz_sv_fy <= {{ g.p }}ufy; fz_sv_fx <= {{ g.p }}ufx;
        end
    end
{%- endif %}
    always @(posedge clk) begin
        if (rst) begin
            {{ g.p }}u_act  <= 1'b0;
            {{ g.p }}u_more <= 1'b0;
            {{ g.p }}u_s2   <= 1'b0;
            {{ g.p }}u_next <= {{ g.sh.rw + 1 }}'d0;
        end else begin
            {{ g.p }}u_s2 <= {{ g.p }}u_rd;
            // u_next returns to 0 as the pass's last row is read.
            if ({{ g.p }}u_go) begin
                {{ g.p }}u_act  <= 1'b1;
                {{ g.p }}u_more <= !{{ g.p }}u_go1;
                {{ g.p }}u_next <= {{ g.p }}u_go1 ? {{ g.sh.rw + 1 }}'d0 : {{ g.sh.rw + 1 }}'d1;
            end else if ({{ g.p }}u_act) begin
                if ({{ g.p }}u_more) begin
                    {{ g.p }}u_next <= {{ g.p }}u_penult ? {{ g.sh.rw + 1 }}'d0 : {{ g.p }}u_next + {{ g.sh.rw + 1 }}'d1;
                    {{ g.p }}u_more <= !{{ g.p }}u_penult;
                end
                if ({{ g.p }}u_fin) {{ g.p }}u_act <= 1'b0;
            end
        end
        // The last-position flags are registered with the counters (compared one step
        // ahead), first from the geometry registered the cycle after go.
        {{ g.p }}u_go_d <= {{ g.p }}u_go{% if v.fsums.is_some() %} || fz_go{% endif %};
{%- if v.prog.tjw > 0 %}
        if ({{ g.p }}u_go{% if v.fsums.is_some() %} || fz_go{% endif %}) begin
            {{ g.p }}ucb <= {{ g.p }}u_cb0; {{ g.p }}uy <= {{ g.uyw }}'d0; {{ g.p }}ux <= {{ g.uxw }}'d0;
        end else if ({{ g.p }}u_go_d) begin
            {{ g.p }}ufx <= ({{ g.p }}u_w1 == {{ g.uxw }}'d0); {{ g.p }}ufy <= ({{ g.p }}u_h1 == {{ g.uyw }}'d0); {{ g.p }}ufcb <= ({{ g.p }}ucb == {{ g.p }}u_ncg1);
{%- else %}
        if ({{ g.p }}u_go{% if v.fsums.is_some() %} || fz_go{% endif %}) begin
            {{ g.p }}ucb <= {{ g.ucw }}'d0; {{ g.p }}uy <= {{ g.uyw }}'d0; {{ g.p }}ux <= {{ g.uxw }}'d0;
        end else if ({{ g.p }}u_go_d) begin
            {{ g.p }}ufx <= ({{ g.p }}u_w1 == {{ g.uxw }}'d0); {{ g.p }}ufy <= ({{ g.p }}u_h1 == {{ g.uyw }}'d0); {{ g.p }}ufcb <= ({{ g.p }}u_ncg1 == {{ g.ucw }}'d0);
{%- endif %}
        end else if ({{ g.p }}u_w) begin
            if ({{ g.p }}ufx) begin
                {{ g.p }}ux <= {{ g.uxw }}'d0;
                {{ g.p }}ufx <= ({{ g.p }}u_w1 == {{ g.uxw }}'d0);
                if ({{ g.p }}ufy) begin
                    {{ g.p }}uy <= {{ g.uyw }}'d0;
                    {{ g.p }}ufy <= ({{ g.p }}u_h1 == {{ g.uyw }}'d0);
                    if ({{ g.p }}ufcb) begin
                        {{ g.p }}ucb <= {{ g.ucw }}'d0;
                        {{ g.p }}ufcb <= ({{ g.p }}u_ncg1 == {{ g.ucw }}'d0);
                    end else begin
                        {{ g.p }}ucb <= {{ g.p }}ucb + {{ g.ucw }}'d1;
                        {{ g.p }}ufcb <= ({{ g.p }}ucb == {{ g.p }}u_ncg2);
                    end
                end else begin
                    {{ g.p }}uy <= {{ g.p }}uy + {{ g.uyw }}'d1;
                    {{ g.p }}ufy <= ({{ g.p }}uy == {{ g.p }}u_h2);
                end
            end else begin
                {{ g.p }}ux <= {{ g.p }}ux + {{ g.uxw }}'d1;
                {{ g.p }}ufx <= ({{ g.p }}ux == {{ g.p }}u_w2);
            end
        end
{%- if v.fsums.is_some() %}
        // A fused layer's pass that is not its block's last: the next starts again at the
        // block's first row (overriding the step above).
        if (fz_rs) begin
            {{ g.p }}ucb <= fz_bs_cb; {{ g.p }}uy <= fz_bs_y; {{ g.p }}ux <= fz_bs_x;
            {{ g.p }}ufcb <= fz_bs_fcb; {{ g.p }}ufy <= fz_bs_fy; {{ g.p }}ufx <= fz_bs_fx;
        end
{%- endif %}
    end
{%- if g.any_prom_by_cgi %}
    // Lane group of the row presented next (address of per-channel parameter ROMs).
    reg  [{{ g.pa_w - 1 }}:0] {{ g.p }}u_ng;
    reg  [{{ g.upw - 1 }}:0] {{ g.p }}u_np;
    // Both are 0 between passes, so the first row's address comes from a flip-flop.
{%- if v.prog.tjw > 0 %}
    // A tile's first row reads at its first lane group (in the go cycle, from the table).
    wire [{{ g.pa_w - 1 }}:0] {{ g.p }}u_pa = {{ g.p }}u_go ? {{ g.p }}u_g00[{{ g.pa_w - 1 }}:0] : {{ g.p }}u_ng;
{%- else %}
    wire [{{ g.pa_w - 1 }}:0] {{ g.p }}u_pa = {{ g.p }}u_ng;
{%- endif %}
    always @(posedge clk) begin
        if (rst || {{ g.p }}u_fin) begin
            {{ g.p }}u_np <= {{ g.upw }}'d0;
            {{ g.p }}u_ng <= {{ g.pa_w }}'d0;
        end else if ({{ g.p }}u_go) begin
            {{ g.p }}u_np <= ({{ g.p }}u_pos1 == {{ g.upw }}'d0) ? {{ g.upw }}'d0 : {{ g.upw }}'d1;
{%- if v.prog.tjw > 0 %}
            {{ g.p }}u_ng <= {{ g.p }}u_g00[{{ g.pa_w - 1 }}:0] + (({{ g.p }}u_pos1 == {{ g.upw }}'d0) ? {{ g.pa_w }}'d1 : {{ g.pa_w }}'d0);
{%- else %}
            {{ g.p }}u_ng <= ({{ g.p }}u_pos1 == {{ g.upw }}'d0) ? {{ g.pa_w }}'d1 : {{ g.pa_w }}'d0;
{%- endif %}
        end else if ({{ g.p }}u_rd) begin
            if ({{ g.p }}u_np == {{ g.p }}u_pos1) begin
                {{ g.p }}u_np <= {{ g.upw }}'d0;
                {{ g.p }}u_ng <= {{ g.p }}u_ng + {{ g.pa_w }}'d1;
            end else {{ g.p }}u_np <= {{ g.p }}u_np + {{ g.upw }}'d1;
        end
    end
{%- endif %}
    /* verilator lint_off UNUSEDSIGNAL */
    // Base channel of the write-stage row, ug * gc + ucb * lanes, kept by addition (32-bit;
    // entries keep their low bits); u_cg is the channel group's first channel.
    reg  [31:0] {{ g.p }}u_c0, {{ g.p }}u_cg;
{%- if v.fsums.is_some() %}
    reg  [31:0] fz_sv_c0, fz_sv_cg;   // as fz_sv_* above
    wire [31:0] fz_bs_c0 = fz_nb ? {{ g.p }}u_c0 : fz_sv_c0;
    wire [31:0] fz_bs_cg = fz_nb ? {{ g.p }}u_cg : fz_sv_cg;
    always @(posedge clk) if ({{ g.p }}u_w && fz_nb) begin
        fz_sv_c0 <= {{ g.p }}u_c0; fz_sv_cg <= {{ g.p }}u_cg;
    end
{%- endif %}
    always @(posedge clk) begin
        if ({{ g.p }}u_go{% if v.fsums.is_some() %} || fz_go{% endif %}) begin
{%- if v.prog.tjw > 0 %}
            {{ g.p }}u_c0 <= {{ g.p }}u_c00; {{ g.p }}u_cg <= {{ g.p }}u_cg00;
{%- else %}
            {{ g.p }}u_c0 <= 32'd0; {{ g.p }}u_cg <= 32'd0;
{%- endif %}
        end else if ({{ g.p }}u_w && {{ g.p }}ufx && {{ g.p }}ufy) begin
            if ({{ g.p }}ufcb) begin
                {{ g.p }}u_c0 <= {{ g.p }}u_cg + {{ g.p }}u_gc;
                {{ g.p }}u_cg <= {{ g.p }}u_cg + {{ g.p }}u_gc;
            end else {{ g.p }}u_c0 <= {{ g.p }}u_c0 + {{ g.p }}u_lanes;
        end
{%- if v.fsums.is_some() %}
        if (fz_rs) begin
            {{ g.p }}u_c0 <= fz_bs_c0; {{ g.p }}u_cg <= fz_bs_cg;
        end
{%- endif %}
    end
    /* verilator lint_on UNUSEDSIGNAL */
{%- for l in v.layers %}{%- if l.gp == g.p && l.tiles > 1 && l.has_prom && !l.prom_by_cgi %}
    // {{ l.name }} in tiles: its per-row parameters at the running tile's rows (the tile's
    // first row registered from the sequencer's next `tj`, as the start tables above).
    reg  [31:0] {{ l.pre }}_pra0;
    always @(posedge clk) {{ l.pre }}_pra0 <= {{ l.at_next_tile("row0", 32) }};
    /* verilator lint_off UNUSEDSIGNAL */
    wire [31:0] {{ l.pre }}_pra = {{ l.pre }}_pra0 + { {{- 32 - g.sh.rw }}'d0, {{ g.p }}u_raddr};   // low bits used
    /* verilator lint_on UNUSEDSIGNAL */
{%- endif %}{%- endfor %}
    wire [{{ g.sh.ls * g.sh.vw - 1 }}:0] {{ g.p }}u_xnm;
    /* verilator lint_off UNUSEDSIGNAL */
    // Spikes (spiking layers), membrane values (value-output layers) and synaptic state
    // (current-based layers) are used only by designs that have such layers.
    wire [{{ g.sh.ls - 1 }}:0] {{ g.p }}u_spk;
    wire [{{ g.sh.ls * g.sh.vw - 1 }}:0] {{ g.p }}u_vm;
    wire [{{ g.sh.ls * g.sh.yw - 1 }}:0] {{ g.p }}u_ynm;
    /* verilator lint_on UNUSEDSIGNAL */
{%- endfor %}
