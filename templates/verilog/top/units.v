{#- The pipelined schedule's sequencers, one per unit (view::pipe::UnitView). #}
    // ------------------------------------------------------------------ sequencers (pipelined)
    // Each unit (the input load, every layer, the output) runs its own program of phases, step
    // by step (src/hw/schedule.rs, `Pipe`): a phase starts once the one before it on the unit
    // has ended and the units it waits for have ended the steps it needs (their step counters,
    // registered). A unit checks the next phase's condition as the phase before ends (the next
    // then goes in the GAP cycle) and, while it does not hold, in every cycle after (`pend`).
    localparam [1:0] S_IDLE = 2'd0, S_RUN = 2'd1, S_FIN = 2'd2;
    reg [1:0]  state;
    reg [31:0] cyc;
{%- if !v.wl.spram.is_empty() %}
    reg  wl_done;
    wire run_ok = wl_done;   // `start` waits for the weight image
{%- else %}
    wire run_ok = 1'b1;
{%- endif %}
    reg  idle;   // state == S_IDLE, as one flip-flop (`first` fans out to every unit)
    wire first = idle && start && run_ok;   // a new inference begins
    assign busy   = (state != S_IDLE);
    assign done   = (state == S_FIN);
    assign cycles = cyc;
{%- for u in v.units %}

    // ---- unit {{ u.p }}: {{ u.comment }}
    reg  {{ u.p }}run, {{ u.p }}pend, {{ u.p }}fin;
    reg  [{{ u.phases.len() - 1 }}:0] {{ u.p }}pc_oh, {{ u.p }}go_oh;
    reg  [{{ v.tw - 1 }}:0] {{ u.p }}t, {{ u.p }}t1;   // steps ended, and one more
    /* verilator lint_off UNUSEDSIGNAL */
    wire {{ u.p }}late = ({{ u.p }}t != {{ v.tw }}'d0);
    wire {{ u.p }}last = ({{ u.p }}t == {{ v.tw }}'d{{ v.t_max - 1 }});
    // An update phase's go is used only where its layer keeps an event list (u_go covers all).
{%- for ph in u.phases %}
    wire go_{{ ph.unit }} = {{ u.p }}go_oh[{{ ph.idx }}];  // {{ ph.kind }}
    wire fin_{{ ph.unit }};
{%- endfor %}
    /* verilator lint_on UNUSEDSIGNAL */
    wire {{ u.p }}fin_now = |({{ u.p }}pc_oh & { {% for ph in u.phases.iter().rev() %}fin_{{ ph.unit }}{% if !loop.last %}, {% endif %}{% endfor %} });
    always @(posedge clk) {{ u.p }}fin <= !rst && {{ u.p }}run && {{ u.p }}fin_now;
    wire [{{ u.phases.len() - 1 }}:0] {{ u.p }}nx;   // the phase after the running one
{%- for ph in u.phases %}
    assign {{ u.p }}nx[{{ ph.idx }}] = {{ ph.enter }};
{%- endfor %}
    wire {{ u.p }}wrap = |({{ u.p }}pc_oh & {{ u.step_mask }});   // the running phase ends a step
    /* verilator lint_off UNUSEDSIGNAL */
    wire {{ u.p }}t0n = ({{ u.p }}fin && {{ u.p }}wrap) ? !{{ u.p }}t[0] : {{ u.p }}t[0];   // t[0] next cycle (readers' halves)
    /* verilator lint_on UNUSEDSIGNAL */
    wire {{ u.p }}stop = {% if u.once %}1'b1{% else %}{{ u.p }}wrap && {{ u.p }}last{% endif %};   // ... and the unit's last
    // Each phase's condition at this unit's step and at the next one, registered (so the
    // other units' counters are seen a cycle late): `_r` holds the condition at the step of
    // the cycle it is read in (loaded with the next step's as a step ends), 0 after `first`.
    wire [{{ u.phases.len() - 1 }}:0] {{ u.p }}ok_t  = {{ u.ok_t }};
    wire [{{ u.phases.len() - 1 }}:0] {{ u.p }}ok_t1 = {{ u.ok_t1 }};
    reg  [{{ u.phases.len() - 1 }}:0] {{ u.p }}ok_t_r, {{ u.p }}ok_t1_r;
    always @(posedge clk) begin
        {{ u.p }}ok_t_r  <= (rst || first) ? {{ u.phases.len() }}'d0 : ({{ u.p }}fin && {{ u.p }}wrap) ? {{ u.p }}ok_t1 : {{ u.p }}ok_t;
        {{ u.p }}ok_t1_r <= {{ u.p }}ok_t1;
    end
    wire {{ u.p }}ok_fin  = {{ u.p }}wrap ? |({{ u.p }}nx & {{ u.p }}ok_t1_r) : |({{ u.p }}nx & {{ u.p }}ok_t_r);
    wire {{ u.p }}ok_pend = |({{ u.p }}pc_oh & {{ u.p }}ok_t_r);
    // What go_oh holds next cycle (an update pass's go reads it too).
    wire [{{ u.phases.len() - 1 }}:0] {{ u.p }}go_nx =
        (first || !{{ u.p }}run) ? {{ u.phases.len() }}'d0
        : {{ u.p }}fin ? (({{ u.p }}stop || !{{ u.p }}ok_fin) ? {{ u.phases.len() }}'d0 : {{ u.p }}nx)
        : ({{ u.p }}pend && {{ u.p }}ok_pend) ? {{ u.p }}pc_oh : {{ u.phases.len() }}'d0;
    always @(posedge clk) begin
        if (rst) begin
            {{ u.p }}run   <= 1'b0;
            {{ u.p }}pend  <= 1'b0;
            {{ u.p }}pc_oh <= {{ u.phases.len() }}'d0;
            {{ u.p }}go_oh <= {{ u.phases.len() }}'d0;
            {{ u.p }}t     <= {{ v.tw }}'d0;
            {{ u.p }}t1    <= {{ v.tw }}'d1;
        end else begin
            {{ u.p }}go_oh <= {{ u.p }}go_nx;
            if (first) begin
                {{ u.p }}run   <= 1'b1;
                {{ u.p }}pend  <= 1'b1;
                {{ u.p }}pc_oh <= {{ u.phases.len() }}'d1;
                {{ u.p }}t     <= {{ v.tw }}'d0;
                {{ u.p }}t1    <= {{ v.tw }}'d1;
            end else if ({{ u.p }}run) begin
                if ({{ u.p }}fin) begin
                    if ({{ u.p }}stop) begin
                        {{ u.p }}run   <= 1'b0;
                        {{ u.p }}pend  <= 1'b0;
                        {{ u.p }}pc_oh <= {{ u.phases.len() }}'d0;
                        {{ u.p }}t     <= {{ v.tw }}'d{{ v.t_max }};
                    end else begin
                        {{ u.p }}pc_oh <= {{ u.p }}nx;
                        {{ u.p }}pend  <= !{{ u.p }}ok_fin;
                        if ({{ u.p }}wrap) begin
                            {{ u.p }}t  <= {{ u.p }}t + {{ v.tw }}'d1;
                            {{ u.p }}t1 <= {{ u.p }}t1 + {{ v.tw }}'d1;
                        end
                    end
                end else if ({{ u.p }}pend && {{ u.p }}ok_pend) {{ u.p }}pend <= 1'b0;
            end
        end
    end
{%- endfor %}
    // Done the cycle after every unit has ended its last step.
    wire any_run = {% for u in v.units %}{{ u.p }}run{% if !loop.last %} | {% endif %}{% endfor %};
    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            idle  <= 1'b1;
            cyc   <= 32'd0;
        end else begin
            case (state)
                S_IDLE: begin
                    if (start && run_ok) begin
                        state <= S_RUN;
                        idle  <= 1'b0;
                        cyc   <= 32'd0;
                    end
                end
                S_RUN: begin
                    cyc <= cyc + 32'd1;
                    if (!any_run) state <= S_FIN;
                end
                default: begin
                    cyc   <= cyc + 32'd1;
                    state <= S_IDLE;
                    idle  <= 1'b1;
                end
            endcase
        end
    end
