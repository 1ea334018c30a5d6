{#- The sequential and streamed schedules' sequencer: one program of phases, run one-hot (view::sequencer). #}
    // ------------------------------------------------------------------ sequencer
    // `pc_oh` holds, one-hot, the phase running; `go_oh` the phase in its first cycle (it is
    // decoded a cycle ahead, so a phase's `fin` reaches the state through one level of logic).
    localparam [1:0] S_IDLE = 2'd0, S_RUN = 2'd1, S_FIN = 2'd2;
    localparam integer NPH = {{ v.prog.phases.len() }};
    reg [1:0]  state;
    reg        run;   // state == S_RUN, as one flip-flop
    reg [NPH-1:0] pc_oh, go_oh;
    reg [{{ v.tw - 1 }}:0] t;
{%- if v.prog.tjw > 0 %}
    reg [{{ v.prog.tjw - 1 }}:0] tj;   // the running layer's tile of lane groups (0 but in a layer in tiles)
{%- endif %}
    reg [31:0] cyc;
{%- for b in v.step_bases %}
    reg [{{ b.w - 1 }}:0] {{ b.name }};   // t x {{ b.stride }}: step t's words in a memory holding every step
{%- endfor %}
{%- if !v.wl.spram.is_empty() %}
    reg  wl_done;
    wire run_ok = wl_done;   // `start` waits for the weight image
{%- else if let Some(x) = v.tiles %}
    wire ctl_quiet;
    wire run_ok = ctl_quiet;   // `start` waits for a quiet SDRAM controller, restarted with it
    wire [{{ x.tw - 1 }}:0] tiles_nx;   // tiles readable from the next cycle
{%- else %}
    wire run_ok = 1'b1;
{%- endif %}
    wire first = (state == S_IDLE) && start && run_ok;   // a new inference begins
{%- if let Some(d) = v.prog.dec %}
    // The cascade (docs/hardware.md, "The cascade"): `act_q` holds the inference's student
    // mask, `act_r` the students run so far (their projections into the shared layers and
    // their shares), `stg_r` the stage's student (its layers). With `casc` low one stage runs
    // every student of `act`; with it high, one active student per stage in plan order.
    reg  [{{ v.mask - 1 }}:0] act_q, act_r, stg_r;
    reg  casc_r;
    reg  [{{ v.margin_w - 1 }}:0] margin_r;
    // The first stage's student and the next stage's: the first of `act` and of the active
    // students not run yet, in the stages' order ({{ d.order_text() }}).
    wire [{{ v.mask - 1 }}:0] act_lo = {{ d.first_of("act", v.mask) }};
    wire [{{ v.mask - 1 }}:0] rest = act_q & ~act_r;
    wire [{{ v.mask - 1 }}:0] nxt = {{ d.first_of("rest", v.mask) }};
    wire cs_met;   // the output's margin reaches margin_r (the output part)
    wire dec_r = pc_oh[{{ d.pc }}];   // the running phase is the decision
    wire cs_go = casc_r && !cs_met && (rest != {{ v.mask }}'d0);
{%- else if v.mask > 0 %}
    // The inference's student mask, taken with `start`.
    reg  [{{ v.mask - 1 }}:0] act_r;
    always @(posedge clk) if (rst) act_r <= {{ v.mask }}'d0; else if (first) act_r <= act;
{%- endif %}
{%- if let Some(so) = v.prog.start_oh %}
    // The phase a step after step 0 starts at under the mask (every phase before it static or
    // an inactive student's).
    /* verilator lint_off UNUSEDSIGNAL */
    wire [NPH-1:0] oh_start;
    /* verilator lint_on UNUSEDSIGNAL */
{%- for e in so %}
    assign oh_start[{{ loop.index0 }}] = {{ e }};
{%- endfor %}
{%- endif %}
    wire late  = (t != {{ v.tw }}'d0);
    wire last  = (t == {{ v.tw }}'d{{ v.t_max - 1 }});
    assign busy   = (state != S_IDLE);
    assign done   = (state == S_FIN);
    assign cycles = cyc;

    /* verilator lint_off UNUSEDSIGNAL */
    // An update phase's go is used only where its layer keeps an event list (u_go covers all).
{%- for ph in v.prog.phases %}
    wire go_{{ ph.unit }} = go_oh[{{ ph.idx }}];  // {{ ph.kind }}
    wire fin_{{ ph.unit }};
{%- endfor %}
    /* verilator lint_on UNUSEDSIGNAL */
    // The running phase's end, registered: the next phase starts one cycle later
    // (schedule::GAP), and the end of a phase reaches the sequencer's state from a flip-flop.
    wire fin_now = |(pc_oh & { {% for ph in v.prog.phases.iter().rev() %}fin_{{ ph.unit }}{% if !loop.last %}, {% endif %}{% endfor %} });
    reg  fin;
    always @(posedge clk) fin <= !rst && run && fin_now;
    // Where the sequencer goes when the running phase finishes, one-hot, each bit an OR of the
    // phases before it (so one or two levels of logic), decoded into flip-flops a cycle ahead:
    // pc_oh and t change only when a phase ends, and a phase's end (`fin`, registered) never
    // comes in its go cycle (the testbench checks), so the decode is current whenever fin is set.
    wire [NPH-1:0] oh_nc;
{%- for ph in v.prog.phases %}
    assign oh_nc[{{ ph.idx }}] = {{ ph.enter }};
{%- endfor %}
    wire st_fin_c = {{ v.prog.st_fin }};
    wire t_inc_c  = {{ v.prog.t_inc }};
{%- if v.streamed %}
    wire t_rst_c  = {{ v.prog.t_rst }};
{%- endif %}
{%- if v.prog.tjw > 0 %}
    wire tj_inc_c = {{ v.prog.tj_inc }};
    wire tj_rst_c = {{ v.prog.tj_rst }};
{%- endif %}
    // The layer of the update pass: set with the go of its UPD phase, held until the next one
    // (the pass before has written its last row by then), so its geometry and memory bases
    // come from flip-flops. upd_of: {is an UPD phase, its layer}.
    function automatic [{{ v.prog.lw }}:0] upd_of(input [NPH-1:0] oh);
        upd_of = { |(oh & {{ v.prog.upd_mask }}){% for m in v.prog.layer_masks.iter().rev() %}, |(oh & {{ m }}){% endfor %} };
    endfunction
    reg [NPH-1:0] oh_nr;
    reg [{{ v.prog.lw }}:0] ul_nr;
    reg st_fin_r, t_inc_r{% if v.streamed %}, t_rst_r{% endif %}{% if v.prog.tjw > 0 %}, tj_inc_r, tj_rst_r{% endif %};
    always @(posedge clk) begin
        oh_nr    <= oh_nc;
        ul_nr    <= upd_of(oh_nc);
        st_fin_r <= st_fin_c;
        t_inc_r  <= t_inc_c;
{%- if v.streamed %}
        t_rst_r  <= t_rst_c;
{%- endif %}
{%- if v.prog.tjw > 0 %}
        tj_inc_r <= tj_inc_c;
        tj_rst_r <= tj_rst_c;
{%- endif %}
    end
    reg  [{{ v.prog.lw - 1 }}:0] ul;
    reg  [NPH-1:0] nx_oh;
    reg  [{{ v.prog.lw }}:0] ul_to;
    reg  st_fin, t_inc{% if v.streamed %}, t_rst{% endif %};
{%- if v.prog.tjw > 0 %}
    // tj as the running phase's end leaves it (the next phase's tile).
    wire tj_inc = tj_inc_r, tj_rst = tj_rst_r;
    wire [{{ v.prog.tjw - 1 }}:0] tj_nx = tj_rst ? {{ v.prog.tjw }}'d0 : tj_inc ? tj + {{ v.prog.tjw }}'d1 : tj;
{%- endif %}
{%- if v.early_exit %}
    wire decided;
    wire ex_r = pc_oh[{{ v.prog.exit_pc }}];   // the running phase is the early-exit check
    localparam [NPH-1:0] OH_CLEAR = {{ "{" }}{{ "{" }}(NPH-1){1'b0}}, 1'b1} << {{ v.prog.clear_pc }};
{%- if v.prog.start_oh.is_some() %}
    wire [NPH-1:0] OH_START = oh_start;
{%- else %}
    localparam [NPH-1:0] OH_START = {{ "{" }}{{ "{" }}(NPH-1){1'b0}}, 1'b1} << {{ v.prog.start_late }};
{%- endif %}
{%- endif %}
    always @* begin
        nx_oh  = oh_nr;
        ul_to  = ul_nr;
        st_fin = st_fin_r;
        t_inc  = t_inc_r;
{%- if v.streamed %}
        t_rst  = t_rst_r;
{%- endif %}
{%- if let Some(d) = v.prog.dec %}
        if (dec_r) begin
            st_fin = !cs_go;
            t_inc  = 1'b0;
            t_rst  = 1'b0;
            nx_oh  = {{ d.next_oh(v.prog.phases.len()) }};
            ul_to  = upd_of({{ d.next_oh(v.prog.phases.len()) }});
        end
{%- endif %}
{%- if v.early_exit %}
        if (ex_r) begin
            st_fin = 1'b0;
            t_inc  = !decided;
            nx_oh  = decided ? OH_CLEAR : OH_START;
            ul_to  = decided ? upd_of(OH_CLEAR) : upd_of(OH_START);
        end
{%- endif %}
    end
{%- if v.prog.dec.is_some() %}
    // The stage registers: taken with `start`, moved on as the decision goes on.
    always @(posedge clk) begin
        if (rst) begin
            act_q    <= {{ v.mask }}'d0;
            act_r    <= {{ v.mask }}'d0;
            stg_r    <= {{ v.mask }}'d0;
            casc_r   <= 1'b0;
            margin_r <= {{ v.margin_w }}'d0;
        end else if (first) begin
            act_q    <= act;
            act_r    <= casc ? act_lo : act;
            stg_r    <= casc ? act_lo : act;
            casc_r   <= casc;
            margin_r <= margin;
        end else if (run && fin && dec_r && cs_go) begin
            act_r    <= act_r | nxt;
            stg_r    <= nxt;
        end
    end
{%- endif %}
    wire [{{ v.prog.lw - 1 }}:0] ul_nx = ul_to[{{ v.prog.lw }}] ? ul_to[{{ v.prog.lw - 1 }}:0] : ul;
{%- if v.prog.tjw > 0 %}
    // The values `ul` and `tj` take at the next edge (the always block below): tables of the
    // running layer and tile registered from these hold the values of `ul` and `tj` themselves,
    // without a path from `tj` through the table in the cycle that uses them.
    wire seq_adv = run && fin && !st_fin;
    wire [{{ v.prog.lw - 1 }}:0] ul_d = rst ? {{ v.prog.lw }}'d0 : seq_adv ? ul_nx : ul;
    wire [{{ v.prog.tjw - 1 }}:0] tj_d = (rst || first) ? {{ v.prog.tjw }}'d0 : seq_adv ? tj_nx : tj;
{%- endif %}
{%- if let Some(x) = v.tiles %}
    // A layer's first phase waits for its tile: `hold` keeps the phase in pc_oh without its go
    // until the tile is readable. lay_q: the running phase's layer + 1 (0 for LOAD), which
    // frees the buffer half of the layer before the one before.
{%- if v.prog.tjw > 0 %}
    // With layers in tiles, lay_q counts (layer, tile) pairs in schedule order: a tile's first
    // phase waits for that tile, and a tile's end frees the half of the tile before the one before.
{%- endif %}
    /* verilator lint_off UNUSEDSIGNAL */
{%- if v.prog.tjw > 0 %}
    function automatic hold_of(input [NPH-1:0] oh, input [{{ v.prog.tjw - 1 }}:0] tjv);
        hold_of = 1'b0{% for w in x.waits %} | (oh[{{ w.pc }}] && (tiles_nx <= {{ x.tw }}'d{{ w.j }}{% if w.tiled %} + { {{- x.tw - v.prog.tjw }}'d0, tjv}{% endif %})){% endfor %};
    endfunction
{%- else %}
    function automatic hold_of(input [NPH-1:0] oh);
        hold_of = 1'b0{% for w in x.waits %} | (oh[{{ w.pc }}] && (tiles_nx <= {{ x.tw }}'d{{ w.j }})){% endfor %};
    endfunction
{%- endif %}
    function automatic [{{ x.layw - 1 }}:0] lay_of(input [NPH-1:0] oh);
        lay_of = { {% for m in x.lay_masks.iter().rev() %}|(oh & {{ m }}){% if !loop.last %}, {% endif %}{% endfor %} };
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */
    reg  hold;
    reg  [{{ x.layw - 1 }}:0] lay_q;
    always @(posedge clk) begin
        if (rst || first) begin
            hold  <= 1'b0;
            lay_q <= {{ x.layw }}'d0;
{%- if v.prog.tjw > 0 %}
        end else if (fin && !st_fin) begin
            hold  <= hold_of(nx_oh, tj_nx);
            lay_q <= lay_of(nx_oh) + { {{- x.layw - v.prog.tjw }}'d0, tj_nx};
        end else if (hold && !hold_of(pc_oh, tj)) hold <= 1'b0;
{%- else %}
        end else if (fin && !st_fin) begin
            hold  <= hold_of(nx_oh);
            lay_q <= lay_of(nx_oh);
        end else if (hold && !hold_of(pc_oh)) hold <= 1'b0;
{%- endif %}
    end
{%- endif %}
    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            run   <= 1'b0;
            pc_oh <= {NPH{1'b0}};
            go_oh <= {NPH{1'b0}};
            t     <= {{ v.tw }}'d0;
            cyc   <= 32'd0;
            ul    <= {{ v.prog.lw }}'d0;
{%- if v.prog.tjw > 0 %}
            tj    <= {{ v.prog.tjw }}'d0;
{%- endif %}
{%- for b in v.step_bases %}
            {{ b.name }} <= {{ b.w }}'d0;
{%- endfor %}
        end else begin
            case (state)
                S_IDLE: begin
                    go_oh <= {NPH{1'b0}};
                    if (start && run_ok) begin
                        state <= S_RUN;
                        run   <= 1'b1;
                        pc_oh <= {{ "{" }}{{ "{" }}(NPH-1){1'b0}}, 1'b1};
                        go_oh <= {{ "{" }}{{ "{" }}(NPH-1){1'b0}}, 1'b1};
                        t     <= {{ v.tw }}'d0;
                        cyc   <= 32'd0;
{%- if v.prog.tjw > 0 %}
                        tj    <= {{ v.prog.tjw }}'d0;
{%- endif %}
{%- for b in v.step_bases %}
                        {{ b.name }} <= {{ b.w }}'d0;
{%- endfor %}
                    end
                end
                S_RUN: begin
                    cyc   <= cyc + 32'd1;
{%- if v.tiles.is_some() && v.prog.tjw > 0 %}
                    go_oh <= (fin && !st_fin) ? (hold_of(nx_oh, tj_nx) ? {NPH{1'b0}} : nx_oh)
                           : ((hold && !hold_of(pc_oh, tj)) ? pc_oh : {NPH{1'b0}});
{%- else if v.tiles.is_some() %}
                    go_oh <= (fin && !st_fin) ? (hold_of(nx_oh) ? {NPH{1'b0}} : nx_oh)
                           : ((hold && !hold_of(pc_oh)) ? pc_oh : {NPH{1'b0}});
{%- else %}
                    go_oh <= (fin && !st_fin) ? nx_oh : {NPH{1'b0}};
{%- endif %}
                    if (fin && !st_fin) ul <= ul_nx;
                    if (fin) begin
                        if (st_fin) begin
                            state <= S_FIN;
                            run   <= 1'b0;
                        end
                        else pc_oh <= nx_oh;
{%- if v.prog.tjw > 0 %}
                        if (!st_fin) tj <= tj_nx;
{%- endif %}
{%- if v.streamed %}
                        if (t_rst) t <= {{ v.tw }}'d0;
                        else if (t_inc) t <= t + {{ v.tw }}'d1;
{%- else %}
                        if (t_inc) t <= t + {{ v.tw }}'d1;
{%- endif %}
{%- for b in v.step_bases %}
                        if (t_rst) {{ b.name }} <= {{ b.w }}'d0;
                        else if (t_inc) {{ b.name }} <= {{ b.name }} + {{ b.w }}'d{{ b.stride }};
{%- endfor %}
                    end
                end
                default: begin
                    cyc   <= cyc + 32'd1;
                    go_oh <= {NPH{1'b0}};
                    state <= S_IDLE;
                end
            endcase
        end
    end
