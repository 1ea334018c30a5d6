{#- Layer `l`'s accumulate units, one per projection (view::proj): event reader, address stages, weight ROM, lanes. #}
{%- for p in l.projs %}
{%- if let Some(d) = p.dense %}
{%- include "verilog/top/dense.v" %}
{%- else %}

    // ---------------- accumulate: {{ p.comment }}
{%- if v.pipe && !p.follow %}
    // This reader's entry count (its half of the source's list), registered.
    reg  [{{ p.src_aw }}:0] {{ p.pre }}_evn;
    always @(posedge clk) {{ p.pre }}_evn <= {{ p.ev_count_nx }};
{%- endif %}
{%- if p.follow %}
    wire                 {{ p.pre }}_ev_end, {{ p.pre }}_empty;
{%- endif %}
    wire [{{ p.src_aw - 1 }}:0] {{ p.pre }}_ev_raddr;
    wire                 {{ p.pre }}_ev_valid, {{ p.pre }}_ev_last, {{ p.pre }}_ev_ready;
    wire [{{ p.src_ew - p.src_maskw - 1 }}:0] {{ p.pre }}_ev_pos;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [{{ p.src_liw - 1 }}:0] {{ p.pre }}_ev_lane;  // input entries have no lanes
    /* verilator lint_on UNUSEDSIGNAL */
{%- if p.follow %}
    assign {{ p.pre }}_ev_lane = {{ p.src_liw }}'d0;
    sf_events_follow #(.AW({{ p.src_aw }}), .EW({{ p.src_ew }}), .ONEBEAT({{ p.one_beat() }})) {{ p.pre }}_evr (
        .clk(clk), .rst(rst), .go(go_{{ p.pre }}), .count({{ p.ev_count }}), .wdone(ld_wdone), .empty({{ p.pre }}_empty),
        .raddr({{ p.pre }}_ev_raddr), .rdata({{ p.ev_rdata }}),
        .ev_valid({{ p.pre }}_ev_valid), .ev_pos({{ p.pre }}_ev_pos),
        .ev_last({{ p.pre }}_ev_last), .ev_end({{ p.pre }}_ev_end), .ev_ready({{ p.pre }}_ev_ready));
{%- else %}
    sf_events #(.AW({{ p.src_aw }}), .EW({{ p.src_ew }}), .MASKW({{ p.src_maskw }}), .LIW({{ p.src_liw }}), .ONEBEAT({{ p.one_beat() }})) {{ p.pre }}_evr (
        .clk(clk), .rst(rst), .go(go_{{ p.pre }}), .count({{ p.ev_count }}),
        .raddr({{ p.pre }}_ev_raddr), .rdata({{ p.ev_rdata }}),
        .ev_valid({{ p.pre }}_ev_valid), .ev_pos({{ p.pre }}_ev_pos), .ev_lane({{ p.pre }}_ev_lane),
        .ev_last({{ p.pre }}_ev_last), .ev_ready({{ p.pre }}_ev_ready));
{%- endif %}
    // Stage 1: the event and its beat, registered, so the address arithmetic starts from
    // flip-flops (schedule::ACC_TAIL counts this stage).
    wire {{ p.pre }}_fire = {{ p.pre }}_ev_valid;
{%- for t in p.arith.tables %}
    // Clipped window: per source coordinate of the event, {{ t.name }} (hw::taps). A chain of
    // compares, not a case: Yosys would make a case a ROM and pull the event register into
    // its address, behind the reader's pop.
    wire [{{ t.w - 1 }}:0] {{ t.name }} = {{ t.expr() }};
{%- endfor %}
{%- if p.beats_max < 2 %}
    wire {{ p.pre }}_lastbeat = 1'b1;
{%- else if p.beats_min < 2 %}
    // Events of one beat and of more: the last beat is registered on the beat before it, or
    // is the first beat of an event of one (`first`: the beat presented starts an event).
    reg  {{ p.pre }}_lastbeat_r, {{ p.pre }}_first;
    wire {{ p.pre }}_lastbeat = {{ p.pre }}_lastbeat_r || ({{ p.pre }}_first && {{ p.one_now }});
{%- else %}
    reg  {{ p.pre }}_lastbeat;  // this beat ends the event: set on the beat before the last
{%- endif %}
    reg                  {{ p.pre }}_fd, {{ p.pre }}_lastd;
    /* verilator lint_off UNUSEDSIGNAL */
    reg  [{{ p.src_ew - p.src_maskw - 1 }}:0] {{ p.pre }}_posd;  // some fields unused by some projections
    /* verilator lint_on UNUSEDSIGNAL */
    always @(posedge clk) begin
        {{ p.pre }}_fd    <= !rst && {{ p.pre }}_fire;
{%- if p.follow %}
        // The list's end: its last event's last beat, or a cycle of ev_end without an event.
        {{ p.pre }}_lastd <= !rst && (({{ p.pre }}_lastbeat && {{ p.pre }}_ev_last) || {{ p.pre }}_ev_end);
{%- else %}
        {{ p.pre }}_lastd <= {{ p.pre }}_lastbeat && {{ p.pre }}_ev_last;
{%- endif %}
        {{ p.pre }}_posd  <= {{ p.pre }}_ev_pos;
    end
    // The event's channel is summed before the register.
    /* verilator lint_off UNUSEDSIGNAL */
    reg  [{{ p.aw - 1 }}:0] {{ p.pre }}_c;
    /* verilator lint_on UNUSEDSIGNAL */
{%- if p.src_input %}
    always @(posedge clk) {{ p.pre }}_c <= { {{ p.c_pad }}'d0, {{ p.pre }}_ev_pos[{{ p.c_hi }}:{{ p.c_lo }}] };
    wire [{{ p.valw - 1 }}:0] {{ p.pre }}_val = {{ p.pre }}_posd[{{ p.val_hi }}:0];
{%- else if p.src_counts %}
    always @(posedge clk) {{ p.pre }}_c <= { {{ p.c_pad }}'d0, {{ p.pre }}_ev_pos[{{ p.c_hi }}:{{ p.c_lo }}] } + { {{ p.aw - p.src_liw }}'d0, {{ p.pre }}_ev_lane };
    // The event's value: its lane's count (a multi-spike source), registered with its channel.
    reg  [{{ p.valw - 1 }}:0] {{ p.pre }}_cnt;
    always @(posedge clk) {{ p.pre }}_cnt <= {{ p.pre }}_ev_pos[{{ p.pre }}_ev_lane * {{ p.valw }} +: {{ p.valw }}];
    wire [{{ p.valw - 1 }}:0] {{ p.pre }}_val = {{ p.pre }}_cnt;
{%- else %}
    always @(posedge clk) {{ p.pre }}_c <= { {{ p.c_pad }}'d0, {{ p.pre }}_ev_pos[{{ p.c_hi }}:{{ p.c_lo }}] } + { {{ p.aw - p.src_liw }}'d0, {{ p.pre }}_ev_lane };
    wire [{{ p.valw - 1 }}:0] {{ p.pre }}_val = 1'b1;
{%- endif %}
    // Address arithmetic is p.aw bits wide (no intermediate wraps); only the memories' address bits are used.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [{{ p.aw - 1 }}:0] {{ p.pre }}_y = { {{ p.y_pad }}'d0, {{ p.pre }}_posd[{{ p.y_hi }}:{{ p.y_lo }}] };
    wire [{{ p.aw - 1 }}:0] {{ p.pre }}_x = { {{ p.x_pad }}'d0, {{ p.pre }}_posd[{{ p.x_hi }}:{{ p.x_lo }}] };
{%- for c in p.arith.counters %}
    reg  [{{ c.w - 1 }}:0] {{ c.name }}, {{ c.name }}_d;
    always @(posedge clk) {{ c.name }}_d <= {{ c.name }};
    wire [{{ p.aw - 1 }}:0] {{ c.name }}w = { {{ p.aw - c.w }}'d0, {{ c.name }}_d };
{%- endfor %}
{%- for r in p.arith.evregs %}
    reg  [{{ r.w - 1 }}:0] {{ r.name }};
    always @(posedge clk) {{ r.name }} <= {{ r.expr }};
{%- endfor %}
{%- for r in p.arith.lines %}
    wire [{{ r.w - 1 }}:0] {{ r.name }} = {{ r.expr }};
{%- endfor %}
    // Stage 1b: the beat's coordinates registered; the addresses and the lane mask are short
    // sums of these registers (schedule::ACC_TAIL counts this stage too).
{%- for r in p.arith.regs.iter().chain(p.arith.lines.iter()) %}
    reg  [{{ r.w - 1 }}:0] {{ r.name }}_b;
    always @(posedge clk) {{ r.name }}_b <= {{ r.name }};
{%- endfor %}
    reg                  {{ p.pre }}_fdb, {{ p.pre }}_lastdb;
    always @(posedge clk) begin
        {{ p.pre }}_fdb    <= !rst && {{ p.pre }}_fd;
        {{ p.pre }}_lastdb <= {{ p.pre }}_lastd;
    end
    wire [{{ p.aw - 1 }}:0] {{ p.pre }}_row   = {{ p.arith.row }};
    wire [{{ p.aw - 1 }}:0] {{ p.pre }}_waddr = {{ p.arith.waddr }};
    wire [{{ p.aw - 1 }}:0] {{ p.pre }}_wa    = {{ p.arith.wrom_addr }};
    wire [{{ l.lanes - 1 }}:0] {{ p.pre }}_mask = {{ p.arith.mask }};
    /* verilator lint_on UNUSEDSIGNAL */
    assign {{ p.pre }}_ev_ready = {{ p.pre }}_fire && {{ p.pre }}_lastbeat;
    assign {{ p.pre }}_rrow = {{ p.pre }}_row[{{ l.raw - 1 }}:0];
    always @(posedge clk) begin
        if (rst || go_{{ p.pre }}) begin
{%- for c in p.arith.counters %}
            {{ c.name }} <= {{ c.w }}'d0;
{%- endfor %}
        end else if ({{ p.pre }}_fire) begin
            {{ p.advance() }}
        end
    end
{%- if p.beats_max >= 2 && p.beats_min < 2 %}
    always @(posedge clk) begin
        if (rst || go_{{ p.pre }}) begin
            {{ p.pre }}_lastbeat_r <= 1'b0;
            {{ p.pre }}_first <= 1'b1;
        end else if ({{ p.pre }}_fire) begin
            {{ p.pre }}_lastbeat_r <= !{{ p.pre }}_lastbeat && {{ p.penultimate() }};
            {{ p.pre }}_first <= {{ p.pre }}_lastbeat;
        end
    end
{%- else if p.beats_max >= 2 %}
    always @(posedge clk) begin
        if (rst || go_{{ p.pre }}) {{ p.pre }}_lastbeat <= 1'b0;
        else if ({{ p.pre }}_fire) {{ p.pre }}_lastbeat <= !{{ p.pre }}_lastbeat && {{ p.penultimate() }};
    end
{%- endif %}
    // Stage 2: weight word and state row arrive; the bank registers the row's current value.
    reg                  {{ p.pre }}_s2;
    reg  [{{ l.raw - 1 }}:0] {{ p.pre }}_s2_row;
    reg  [{{ l.lanes - 1 }}:0] {{ p.pre }}_s2_mask;
    reg  [{{ p.valw - 1 }}:0] {{ p.pre }}_s2_val;
    reg                  {{ p.pre }}_s2_last;
    always @(posedge clk) begin
        {{ p.pre }}_s2      <= !rst && {{ p.pre }}_fdb;
        {{ p.pre }}_s2_row  <= {{ p.pre }}_row[{{ l.raw - 1 }}:0];
        {{ p.pre }}_s2_mask <= {{ p.pre }}_mask;
        {{ p.pre }}_s2_val  <= {{ p.pre }}_val_b;
{%- if p.follow %}
        {{ p.pre }}_s2_last <= !rst && {{ p.pre }}_lastdb;
{%- else %}
        {{ p.pre }}_s2_last <= !rst && {{ p.pre }}_fdb && {{ p.pre }}_lastdb;
{%- endif %}
    end
    wire [{{ l.lanes * p.wb - 1 }}:0] {{ p.pre }}_w;
{%- if let Some(sp) = p.spram %}
    sf_spram_rom #(.WIDTH({{ sp.width }}), .AW({{ p.waw }}), .SLOT({{ sp.slot }}), .PW_LOG({{ sp.pw_log }}), .COLS({{ sp.cols }}), .ROWS({{ sp.rows }}), .RW({{ sp.rw }}), .CW({{ sp.cw }}), .WW({{ sp.ww }})) {{ p.pre }}_wrom (
        .clk(clk), .loading(!wl_done), .ld_we(wl_fire && (wl_m == {{ v.wl.mw }}'d{{ sp.idx }})),
        .ld_word(wl_w[{{ sp.ww - 1 }}:0]), .ld_col(wl_c[{{ sp.cw - 1 }}:0]), .ld_nib(wl_n), .ld_data(wl_data),
        .raddr({{ p.pre }}_wa[{{ p.waw - 1 }}:0]), .rdata({{ p.pre }}_w));
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
{%- else if p.has_wrom %}
    sf_ram #(.WIDTH({{ l.lanes * p.wb }}), .DEPTH({{ p.wdepth }}), .AW({{ p.waw }}), .INIT("{{ p.wfile }}"), .LOGIC({% if p.wlogic %}1{% else %}0{% endif %}), .BLOCK({% if v.hold_brams && !p.wlogic %}1{% else %}0{% endif %})) {{ p.pre }}_wrom (
        .clk(clk), .we(1'b0), .waddr({{ p.waw }}'d0), .wdata({{ l.lanes * p.wb }}'d0),
        .raddr({{ p.pre }}_wa[{{ p.waw - 1 }}:0]), .rdata({{ p.pre }}_w));
{%- else %}
    assign {{ p.pre }}_w = { {{ l.lanes }}{ {{ p.wconst }} } };
{%- endif %}
    // Stage 3: add and write back.
    reg                  {{ p.pre }}_s3;
    reg  [{{ l.raw - 1 }}:0] {{ p.pre }}_s3_row;
    reg  [{{ l.lanes - 1 }}:0] {{ p.pre }}_s3_mask;
    reg  [{{ p.valw - 1 }}:0] {{ p.pre }}_s3_val;
    reg  [{{ l.lanes * p.wb - 1 }}:0] {{ p.pre }}_s3_w;
{%- if !p.sadd %}
    wire [{{ l.lanes * p.tw - 1 }}:0] {{ p.pre }}_old = {{ p.old }};
{%- endif %}
    always @(posedge clk) begin
        {{ p.pre }}_s3      <= !rst && {{ p.pre }}_s2;
        {{ p.pre }}_s3_row  <= {{ p.pre }}_s2_row;
        {{ p.pre }}_s3_mask <= {{ p.pre }}_s2_mask;
        {{ p.pre }}_s3_val  <= {{ p.pre }}_s2_val;
        {{ p.pre }}_s3_w    <= {{ p.pre }}_w;
    end
    genvar {{ p.pre }}_gi;
    generate
        for ({{ p.pre }}_gi = 0; {{ p.pre }}_gi < {{ l.lanes }}; {{ p.pre }}_gi = {{ p.pre }}_gi + 1) begin : {{ p.pre }}_accl
{%- if p.sadd %}
            // The lane's addend; its state memory's shared adder adds it to the row.
            sf_acc_term #(.TW({{ p.tw }}), .WB({{ p.wb }}), .VW({{ p.valw }}), .VAL_SIGNED({% if p.val_signed %}1{% else %}0{% endif %}), .SHIFT({{ p.shift }})) a (
                .en({{ p.pre }}_s3_mask[{{ p.pre }}_gi]),
                .w({{ p.pre }}_s3_w[{{ p.pre }}_gi*{{ p.wb }} +: {{ p.wb }}]),
                .val({{ p.pre }}_s3_val),
                .term({{ p.pre }}_add[{{ p.pre }}_gi*{{ p.tw }} +: {{ p.tw }}]));
{%- else %}
            sf_acc_lane #(.TW({{ p.tw }}), .WB({{ p.wb }}), .VW({{ p.valw }}), .VAL_SIGNED({% if p.val_signed %}1{% else %}0{% endif %}), .SHIFT({{ p.shift }}), .SAT({% if l.sat %}1{% else %}0{% endif %})) a (
                .en({{ p.pre }}_s3_mask[{{ p.pre }}_gi]),
                .old({{ p.pre }}_old[{{ p.pre }}_gi*{{ p.tw }} +: {{ p.tw }}]),
                .w({{ p.pre }}_s3_w[{{ p.pre }}_gi*{{ p.wb }} +: {{ p.wb }}]),
                .val({{ p.pre }}_s3_val),
                .result({{ p.pre }}_new[{{ p.pre }}_gi*{{ p.tw }} +: {{ p.tw }}]));
{%- endif %}
        end
    endgenerate
    assign {{ p.pre }}_s3w  = {{ p.pre }}_s3;
    assign {{ p.pre }}_we   = {{ p.pre }}_s3 && ({{ p.pre }}_s3_mask != {{ l.lanes }}'d0);
    assign {{ p.pre }}_wrow = {{ p.pre }}_s3_row;
    reg {{ p.pre }}_finr, {{ p.pre }}_actr;
{%- if p.follow %}
    // Empty at go only when the load has ended with no entry.
    assign fin_{{ p.pre }} = (go_{{ p.pre }} && {{ p.pre }}_empty) || {{ p.pre }}_finr;
    assign {{ p.pre }}_act = {{ p.pre }}_actr;
    always @(posedge clk) begin
        {{ p.pre }}_finr <= !rst && {{ p.pre }}_s2_last;
        if (rst) {{ p.pre }}_actr <= 1'b0;
        else if (go_{{ p.pre }}) {{ p.pre }}_actr <= !{{ p.pre }}_empty;
{%- else %}
    assign fin_{{ p.pre }} = (go_{{ p.pre }} && ({{ p.ev_count }} == {{ p.src_aw + 1 }}'d0)) || {{ p.pre }}_finr;
    assign {{ p.pre }}_act = {{ p.pre }}_actr;
    always @(posedge clk) begin
        {{ p.pre }}_finr <= !rst && {{ p.pre }}_s2_last;
        if (rst) {{ p.pre }}_actr <= 1'b0;
        else if (go_{{ p.pre }}) {{ p.pre }}_actr <= ({{ p.ev_count }} != {{ p.src_aw + 1 }}'d0);
{%- endif %}
        else if ({{ p.pre }}_finr) {{ p.pre }}_actr <= 1'b0;
    end
{%- endif %}
{%- endfor %}
