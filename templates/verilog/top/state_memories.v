{#- Each layer's update and clear enables, and the shared state memories X, S, Y with the accumulate units' forwarding (view::banks). #}

    // ------------------------------------------------------------------ per-layer update signals
{%- for l in v.layers %}
    // The update pass writes {{ l.name }}: u_w && ul == {{ l.k }}, registered from the stage before
    // (ul only changes when a phase starts, U_LAT >= 2 cycles before a pass's first write).
    reg                  {{ l.pre }}_u_on;
    always @(posedge clk) {{ l.pre }}_u_on <= !rst && {{ l.gp }}u_wp[U_LAT-2] && ({{ l.gp }}ul == {{ l.glw }}'d{{ l.gk }});
    /* verilator lint_off UNUSEDSIGNAL */
    reg                  clr_on_{{ l.k }};   // unused when only epoch memories hold the layer
    reg  [{{ l.raw - 1 }}:0] clr_row_{{ l.k }};
    /* verilator lint_on UNUSEDSIGNAL */
{%- endfor %}
{%- if v.any_epoch %}
    // Epoch of the shared state memories: the early-exit clear flips it, and a row written in
    // an older epoch reads as zero (every row is written again in the update pass of step 0).
    reg ep;
    always @(posedge clk) begin
        if (rst) ep <= 1'b0;
        else if (go_clr) ep <= !ep;
    end
{%- endif %}
{%- for b in v.banks %}
{%- if let Some(st) = b.ep_student %}
    // The epoch of memory {{ b.pre }} (student {{ st }}'s layers): flipped by the clear only when
    // the student ran, so its rows, not rewritten while it is inactive, keep reading as left.
    reg {{ b.ep }};
    always @(posedge clk) begin
        if (rst) {{ b.ep }} <= 1'b0;
        else if (go_clr && act_r[{{ st }}]) {{ b.ep }} <= !{{ b.ep }};
    end
{%- endif %}
{%- endfor %}
{%- for b in v.banks %}

    // ------------------------------------------------------------------ {{ b.kind }} memory {{ b.pre }}: {{ b.comment }}
    // Written by the update pass, the accumulate units{% if b.kind == "s" %} (static input){% endif %} and the clear; {{ b.rows }} rows.
    reg  [{{ b.aw - 1 }}:0] {{ b.pre }}_raddr, {{ b.pre }}_waddr;
    reg                  {{ b.pre }}_we;
    /* verilator lint_off UNUSEDSIGNAL */
    wire                 {{ b.pre }}_accwe;  // unused when no accumulate unit writes this memory
    /* verilator lint_on UNUSEDSIGNAL */
    reg  [{{ b.width - 1 }}:0] {{ b.pre }}_wdata;
    wire [{{ b.width - 1 }}:0] {{ b.pre }}_rdata;
{%- if !b.clients.is_empty() %}
    // With accumulate units the write port is registered (s4: the sum's adder ends in a
    // flip-flop, not in the memory's write port); every write lands one cycle after it is
    // formed, and the accumulate pipeline forwards the two writes a read can miss.
    reg  [{{ b.aw - 1 }}:0] {{ b.pre }}_s4a;
    reg                  {{ b.pre }}_s4v;
    reg  [{{ b.width - 1 }}:0] {{ b.pre }}_fw;     // a write other than an accumulate's (zero then)
    reg                  {{ b.pre }}_s4acc;   // the write in s4 is an accumulate's
    wire                 {{ b.pre }}_clr = {% if b.epoch %}1'b0{% else %}{% for m in b.members %}clr_on_{{ m.k }}{% if !loop.last %} | {% endif %}{% endfor %}{% endif %};
    wire [{{ b.width - 1 }}:0] {{ b.pre }}_acc_r;   // the units' registered sums (s4), OR-ed
    wire [{{ b.width - 1 }}:0] {{ b.pre }}_fwe = {{ b.pre }}_fw | ({ {{ b.width }}{ {{ b.pre }}_s4acc } } & {{ b.pre }}_acc_r);
{%- if b.epoch %}
    reg                  {{ b.pre }}_s4e;
{%- endif %}
{%- endif %}
{%- if b.epoch %}
    wire [{{ b.width }}:0] {{ b.pre }}_q;
    sf_ram #(.WIDTH({{ b.width + 1 }}), .DEPTH({{ b.rows }}), .AW({{ b.aw }}), .LOGIC({% if b.logic %}1{% else %}0{% endif %})) {{ b.pre }} (
{%- if b.clients.is_empty() %}
        .clk(clk), .we({{ b.pre }}_we), .waddr({{ b.pre }}_waddr), .wdata({ {{- b.ep }}, {{ b.pre }}_wdata}),
{%- else %}
        .clk(clk), .we({{ b.pre }}_s4v), .waddr({{ b.pre }}_s4a), .wdata({ {{- b.pre }}_s4e, {{ b.pre }}_fwe}),
{%- endif %}
        .raddr({{ b.pre }}_raddr), .rdata({{ b.pre }}_q));
    assign {{ b.pre }}_rdata = ({{ b.pre }}_q[{{ b.width }}] == {{ b.ep }}) ? {{ b.pre }}_q[{{ b.width - 1 }}:0] : {{ b.width }}'d0;
{%- else %}
    sf_ram #(.WIDTH({{ b.width }}), .DEPTH({{ b.rows }}), .AW({{ b.aw }}), .LOGIC({% if b.logic %}1{% else %}0{% endif %})) {{ b.pre }} (
{%- if b.clients.is_empty() %}
        .clk(clk), .we({{ b.pre }}_we), .waddr({{ b.pre }}_waddr), .wdata({{ b.pre }}_wdata),
{%- else %}
        .clk(clk), .we({{ b.pre }}_s4v), .waddr({{ b.pre }}_s4a), .wdata({{ b.pre }}_fwe),
{%- endif %}
        .raddr({{ b.pre }}_raddr), .rdata({{ b.pre }}_rdata));
{%- endif %}
{%- if b.kind == "s" && b.epoch %}
    // The update pass's read words, delayed to its write stage.
    reg  [{{ b.width - 1 }}:0] {{ b.pre }}_rdd [0:U_LAT-1];
    integer {{ b.pre }}_di;
    always @(posedge clk) begin
        {{ b.pre }}_rdd[0] <= {{ b.pre }}_rdata;
        for ({{ b.pre }}_di = 1; {{ b.pre }}_di < U_LAT; {{ b.pre }}_di = {{ b.pre }}_di + 1)
            {{ b.pre }}_rdd[{{ b.pre }}_di] <= {{ b.pre }}_rdd[{{ b.pre }}_di - 1];
    end
{%- endif %}
{%- for c in b.clients %}
    wire [{{ c.raw - 1 }}:0] {{ c.pre }}_rrow;
    wire                 {{ c.pre }}_we;
    wire [{{ c.raw - 1 }}:0] {{ c.pre }}_wrow;
{%- if !c.shared %}
    wire [{{ c.neww - 1 }}:0] {{ c.pre }}_new;
{%- else if c.add %}
    wire [{{ c.neww - 1 }}:0] {{ c.pre }}_add;  // its addends, for the shared adder (valid in its stage-3 beats)
{%- endif %}
    wire                 {{ c.pre }}_act;
    wire                 {{ c.pre }}_s3w;  // a beat in stage 3 (writing or not)
{%- if !c.shared %}
    reg  [{{ c.neww - 1 }}:0] {{ c.pre }}_sum;  // its sums, registered (s4); zero after a cycle without a beat in stage 3
{%- endif %}
{%- endfor %}
{%- if b.dshared %}
    // Shared state adder: the memory's units add here (view::banks::share_state_adders), in one adder at the lane
    // width; their sums, registered (s4); zero after a cycle without a beat of theirs in stage 3.
    reg  [{{ b.width - 1 }}:0] {{ b.pre }}_dsum;
{%- endif %}
{%- if b.multi %}
    // Rows of the layer being updated: read base (the one starting, in its go cycle), write base.
    reg  [{{ b.aw - 1 }}:0] {{ b.pre }}_rbase, {{ b.pre }}_wbase;
    reg                  {{ b.pre }}_uon;
{%- if b.kind != "s" %}
    reg  [{{ b.width - 1 }}:0] {{ b.pre }}_uw;
{%- endif %}
    always @* begin
        {{ b.pre }}_rbase = {{ b.aw }}'d0;
        {{ b.pre }}_wbase = {{ b.aw }}'d0;
        {{ b.pre }}_uon   = 1'b0;
{%- if b.kind != "s" %}
        {{ b.pre }}_uw    = {{ b.width }}'d0;
{%- endif %}
        case ({{ b.gp }}ul)
{%- for m in b.members %}
            {{ b.glw }}'d{{ m.k }}: {{ b.pre }}_rbase = {{ m.base }};
{%- endfor %}
            default: ;
        endcase
        case ({{ b.gp }}ul)
{%- for m in b.members %}
            {{ b.glw }}'d{{ m.k }}: begin
                {{ b.pre }}_wbase = {{ m.base }};
                {{ b.pre }}_uon   = {{ b.gp }}u_w;
{%- if b.kind != "s" %}
                {{ b.pre }}_uw    = {{ m.uw }};
{%- endif %}
            end
{%- endfor %}
            default: ;
        endcase
    end
{%- endif %}
    // The accumulate units run one at a time: their addresses and sums are OR-ed (each is
    // zero unless active), a balanced tree rather than a chain of muxes.
{%- if b.clients.is_empty() %}
    assign {{ b.pre }}_accwe = 1'b0;
{%- else %}
    wire {{ b.pre }}_accon = {% for c in b.clients %}{{ c.pre }}_act{% if !loop.last %} | {% endif %}{% endfor %};
    wire [{{ b.aw - 1 }}:0] {{ b.pre }}_accra = {% for c in b.clients %}({ {{ b.aw }}{ {{ c.pre }}_act } } & {{ c.raddr }}){% if !loop.last %} | {% endif %}{% endfor %};
    wire [{{ b.aw - 1 }}:0] {{ b.pre }}_accwa = {% for c in b.clients %}({ {{ b.aw }}{ {{ c.pre }}_s3w } } & {{ c.waddr }}){% if !loop.last %} | {% endif %}{% endfor %};
    assign {{ b.pre }}_accwe = {% for c in b.clients %}{{ c.pre }}_we{% if !loop.last %} | {% endif %}{% endfor %};
    assign {{ b.pre }}_acc_r = {{ b.acc_r }};
{%- endif %}
    always @* begin
        {{ b.pre }}_raddr = {{ b.uraddr }};
        {{ b.pre }}_waddr = {{ b.uwaddr }};
{%- if b.kind == "s" %}
{%- if b.epoch %}
        // Rewritten (with the word read U_LAT cycles before) at every update so that every row carries the current epoch.
        {{ b.pre }}_we    = {{ b.uon }};
        {{ b.pre }}_wdata = {{ b.gp }}last ? {{ b.width }}'d0 : {{ b.pre }}_rdd[U_LAT-1];
{%- else %}
        {{ b.pre }}_we    = {{ b.uon }} && {{ b.gp }}last;
        {{ b.pre }}_wdata = {{ b.width }}'d0;
{%- endif %}
{%- else %}
        {{ b.pre }}_we    = {{ b.uon }};
{%- if b.multi %}
        {{ b.pre }}_wdata = {{ b.pre }}_uw;
{%- else %}
        {{ b.pre }}_wdata = {{ b.members[0].uw }};
{%- endif %}
{%- endif %}
{%- if !b.clients.is_empty() %}
        if ({{ b.pre }}_accon) {{ b.pre }}_raddr = {{ b.pre }}_accra;
        if ({{ b.pre }}_accwe) begin
            {{ b.pre }}_we    = 1'b1;
            {{ b.pre }}_waddr = {{ b.pre }}_accwa;
            {{ b.pre }}_wdata = {{ b.width }}'d0;   // the sum joins in s4 (_fwe)
        end
{%- endif %}
{%- if !b.epoch %}
{%- for m in b.members %}
        if (clr_on_{{ m.k }}) begin
            {{ b.pre }}_we    = 1'b1;
            {{ b.pre }}_waddr = {{ m.clr }};
            {{ b.pre }}_wdata = {{ b.width }}'d0;
        end
{%- endfor %}
{%- endif %}
    end
{%- if !b.clients.is_empty() %}
    // Accumulate beats read a row (stage 1), register it with the row's current value (stage
    // 2) and form the sum (stage 3), which the registered write port (s4) writes a cycle later.
    // The current value is, newest first: the sum of the beat ahead when it wrote the row read
    // the cycle before (each unit's _old selects its own _sum by _fwd, after the _old_m
    // register: a sum returns to its adder through one mux, not through the units' OR), the
    // write in the port (s4, formed a cycle ago), the write the port made while the row was
    // read (s5; the memory reads first), else the word read. Every compare is between
    // flip-flops. Units run one at a time, so the beat ahead is always the same unit's.
    reg  [{{ b.aw - 1 }}:0] {{ b.pre }}_s2a, {{ b.pre }}_s3a, {{ b.pre }}_s5a;
    reg                  {{ b.pre }}_s5v;
    reg  [{{ b.width - 1 }}:0] {{ b.pre }}_fw2;
    reg                  {{ b.pre }}_fwd;
    /* verilator lint_off UNUSEDSIGNAL */
    // narrower layers use the low bits of each lane
    reg  [{{ b.width - 1 }}:0] {{ b.pre }}_old_m;
    /* verilator lint_on UNUSEDSIGNAL */
{%- if b.dshared %}
    // The shared units' current value (their own sum when the beat ahead wrote the row) plus
    // the active unit's addend (the shared row sum, or a unit's own, each zero outside its
    // beats); lanes above a unit's add nothing.
    wire                 {{ b.pre }}_dsw = {{ b.dsw }};
{%- if !b.dsd.is_empty() %}
    // A beat of the shared popcounts' units: their row sum (dsh_rs) is stale in other units' beats.
    wire                 {{ b.pre }}_dsd = {{ b.dsd }};
{%- endif %}
    wire [{{ b.width - 1 }}:0] {{ b.pre }}_dold = {{ b.pre }}_fwd ? {{ b.pre }}_dsum : {{ b.pre }}_old_m;
    wire [{{ b.width - 1 }}:0] {{ b.pre }}_dnew = {{ b.dnew }};
{%- endif %}
    always @(posedge clk) begin
        {{ b.pre }}_s2a <= {{ b.pre }}_raddr;
        {{ b.pre }}_s3a <= {{ b.pre }}_s2a;
        {{ b.pre }}_s4v <= !rst && {{ b.pre }}_we;
        {{ b.pre }}_s4a <= {{ b.pre }}_waddr;
        {{ b.pre }}_fw  <= {{ b.pre }}_wdata;
        {{ b.pre }}_s4acc <= {{ b.pre }}_accwe && !{{ b.pre }}_clr;
{%- for c in b.clients %}
{%- if !c.shared %}
        {{ c.pre }}_sum <= {{ c.pre }}_s3w ? {{ c.pre }}_new : {{ c.neww }}'d0;
{%- endif %}
{%- endfor %}
{%- if b.dshared %}
        {{ b.pre }}_dsum <= {{ b.pre }}_dsw ? {{ b.pre }}_dnew : {{ b.width }}'d0;
{%- endif %}
        {{ b.pre }}_fwd   <= {{ b.pre }}_accwe && ({{ b.pre }}_s3a == {{ b.pre }}_s2a);
{%- if b.epoch %}
        {{ b.pre }}_s4e <= {{ b.ep }};
{%- endif %}
        {{ b.pre }}_s5v <= !rst && {{ b.pre }}_s4v;
        {{ b.pre }}_s5a <= {{ b.pre }}_s4a;
        {{ b.pre }}_fw2 <= {{ b.pre }}_fwe;
        {{ b.pre }}_old_m <= ({{ b.pre }}_s4v && ({{ b.pre }}_s4a == {{ b.pre }}_s2a)) ? {{ b.pre }}_fwe
                      : ({{ b.pre }}_s5v && ({{ b.pre }}_s5a == {{ b.pre }}_s2a)) ? {{ b.pre }}_fw2 : {{ b.pre }}_rdata;
    end
{%- endif %}
{%- endfor %}
