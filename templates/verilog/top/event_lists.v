{#- Event lists: the sequential schedule's shared memories (view::banks), or each pipelined layer's list and every consumer's copy (view::pipe). #}
{%- for b in v.evbanks %}

    // ------------------------------------------------------------------ event lists {{ b.pre }}: {{ b.comment }}
    // One entry {base channel, y, x, lane mask} per row with a spike (a multi-spike layer's
    // entries hold each lane's count between x and the mask), at a position the list keeps.
    reg  [{{ b.aw - 1 }}:0] {{ b.pre }}_raddr, {{ b.pre }}_waddr;
    reg                  {{ b.pre }}_we;
    reg  [{{ b.width - 1 }}:0] {{ b.pre }}_wdata;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [{{ b.width - 1 }}:0] {{ b.pre }}_rdata;  // narrower lists use the low bits
    /* verilator lint_on UNUSEDSIGNAL */
    sf_ram #(.WIDTH({{ b.width }}), .DEPTH({{ b.rows }}), .AW({{ b.aw }}), .LOGIC({% if b.logic %}1{% else %}0{% endif %})) {{ b.pre }} (
        .clk(clk), .we({{ b.pre }}_we), .waddr({{ b.pre }}_waddr), .wdata({{ b.pre }}_wdata),
        .raddr({{ b.pre }}_raddr), .rdata({{ b.pre }}_rdata));
{%- for m in b.members %}
    reg  [{{ m.raw }}:0] {{ m.pre }}_ev_cnt;{{ m.reach_decl }}
    wire                 {{ m.pre }}_ev_we    = {{ m.pre }}_u_on && (u_spk[{{ m.lanes - 1 }}:0] != {{ m.lanes }}'d0){{ m.reach_and }};
    wire [{{ m.ew - 1 }}:0] {{ m.pre }}_ev_wdata = { u_c0[{{ m.ecw - 1 }}:0], uy[{{ m.eyw - 1 }}:0], ux[{{ m.exw - 1 }}:0], {{ m.counts }}u_spk[{{ m.lanes - 1 }}:0] };
    wire [{{ m.ew - 1 }}:0] {{ m.pre }}_ev_rdata = {{ b.pre }}_rdata[{{ m.ew - 1 }}:0];
{%- if v.streamed %}
    // The list's entries at each step, kept for the readers of later layers: taken as the
    // layer's update pass of step t ends (its last entry is counted by then).
    reg  [{{ m.raw }}:0] {{ m.pre }}_ev_len [0:{{ v.t_max - 1 }}];
    always @(posedge clk) if (fin && pc_oh[{{ v.upd_pc(m.pre) }}]) {{ m.pre }}_ev_len[t{{ v.t_index() }}] <= {{ m.pre }}_ev_cnt;
{%- endif %}
    always @(posedge clk) begin
        // Cleared in the done cycle (and by rst), so the next inference starts with empty
        // lists without `first` (which waits on the `start` input) reaching the counters.
{%- if m.tiles > 1 %}
        // In tiles: a tile after the first appends to its step's entries (rows stay in order).
        if (rst || done) {{ m.pre }}_ev_cnt <= {{ m.raw + 1 }}'d0;
        else if (go_{{ m.pre }}) {{ m.pre }}_ev_cnt <= (tj == {{ v.prog.tjw }}'d0) ? {{ m.raw + 1 }}'d0 : {{ m.pre }}_ev_len[t{{ v.t_index() }}];
{%- else %}
        if (rst || done || go_{{ m.pre }}) {{ m.pre }}_ev_cnt <= {{ m.raw + 1 }}'d0;
{%- endif %}
        else if ({{ m.pre }}_ev_we) {{ m.pre }}_ev_cnt <= {{ m.pre }}_ev_cnt + {{ m.raw + 1 }}'d1;
    end
{%- endfor %}
    // One reader at a time: addresses OR-ed, each gated by its phase (a balanced tree).
    always @* begin
        {{ b.pre }}_raddr = {{ b.aw }}'d0{% for r in b.readers %} | ({ {{ b.aw }}{ go_{{ r.0 }} | {{ r.0 }}_act } } & ({{ r.1 }})){% endfor %};
        // Writes: at most one member's `u_on` (registered, one-hot: the update pass writes one
        // layer) selects its address and entry, AND-OR as the reads.
        {{ b.pre }}_we    = 1'b0{% for m in b.members %} | {{ m.pre }}_ev_we{% endfor %};
        {{ b.pre }}_waddr = {{ b.aw }}'d0{% for m in b.members %} | ({ {{ b.aw }}{ {{ m.pre }}_u_on } } & ({{ m.waddr }})){% endfor %};
        {{ b.pre }}_wdata = {{ b.width }}'d0{% for m in b.members %} | ({ {{ b.width }}{ {{ m.pre }}_u_on } } & {{ m.wdata }}){% endfor %};
    end
{%- endfor %}
{%- for m in v.pproducers %}

    // ------------------------------------------------------------------ event list of {{ m.pre }} (pipelined)
    // One entry {base channel, y, x, lane mask} per row with a spike, in the half of the
    // layer's step parity, written into every reader's copy.
    reg  [{{ m.raw }}:0] {{ m.pre }}_ev_c0, {{ m.pre }}_ev_c1;{{ m.reach_decl }}
    wire                 {{ m.pre }}_ev_we    = {{ m.pre }}_u_on && ({{ m.gp }}u_spk[{{ m.lanes - 1 }}:0] != {{ m.lanes }}'d0){{ m.reach_and }};
    wire [{{ m.ew - 1 }}:0] {{ m.pre }}_ev_wdata = { {{ m.gp }}u_c0[{{ m.ecw - 1 }}:0], {{ m.gp }}uy[{{ m.eyw - 1 }}:0], {{ m.gp }}ux[{{ m.exw - 1 }}:0], {{ m.counts }}{{ m.gp }}u_spk[{{ m.lanes - 1 }}:0] };
    wire [{{ m.raw }}:0] {{ m.pre }}_ev_waddr = { {{- m.gp }}t[0], {{ m.gp }}t[0] ? {{ m.pre }}_ev_c1[{{ m.raw - 1 }}:0] : {{ m.pre }}_ev_c0[{{ m.raw - 1 }}:0]};
    always @(posedge clk) begin
        // Cleared in the done cycle (and by rst); a half is cleared as an update pass of its
        // parity starts.
        if (rst || done || (go_{{ m.pre }} && !{{ m.gp }}t[0])) {{ m.pre }}_ev_c0 <= {{ m.raw + 1 }}'d0;
        else if ({{ m.pre }}_ev_we && !{{ m.gp }}t[0]) {{ m.pre }}_ev_c0 <= {{ m.pre }}_ev_c0 + {{ m.raw + 1 }}'d1;
        if (rst || done || (go_{{ m.pre }} && {{ m.gp }}t[0])) {{ m.pre }}_ev_c1 <= {{ m.raw + 1 }}'d0;
        else if ({{ m.pre }}_ev_we && {{ m.gp }}t[0]) {{ m.pre }}_ev_c1 <= {{ m.pre }}_ev_c1 + {{ m.raw + 1 }}'d1;
    end
{%- endfor %}
{%- for c in v.plists %}
    // {{ c.comment }}: its copy (one reader unit, one phase at a time)
    wire [{{ c.width - 1 }}:0] {{ c.pre }}_rdata;
    sf_ram #(.WIDTH({{ c.width }}), .DEPTH({{ c.depth }}), .AW({{ c.aw }}), .LOGIC({% if c.logic %}1{% else %}0{% endif %})) {{ c.pre }} (
        .clk(clk), .we({{ c.we }}), .waddr({{ c.waddr }}), .wdata({{ c.wdata }}),
        .raddr({{ c.aw }}'d0{% for r in c.readers %} | ({ {{ c.aw }}{ go_{{ r.0 }} | {{ r.0 }}_act } } & ({{ r.1 }})){% endfor %}), .rdata({{ c.pre }}_rdata));
{%- endfor %}
