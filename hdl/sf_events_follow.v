// sf_events_follow: sf_events for a list that is still being written (a direct input's list
// under the pipelined schedule, read while the input loads; src/hw/schedule.rs follow_late).
// `count` counts the entries written so far and `wdone` says no more will come (the writer's
// registers); the reader registers both in step (`avail`, `wd`), so an entry counted in
// `avail` has been written. Whether entries are left to read (`more`, rd_ptr != avail) is
// registered from the next cycle's values, so no compare sits between a read and the next. Entries are
// one event each (no lane mask). A read is issued whenever an entry is available and the
// queue has a place for it (queued plus in flight below PLACES); its event is presented two
// cycles later. The list ends with its last event (ev_last: every entry read, `wdone` seen)
// or, when `wdone` is seen after the last event was taken (or for a list with no entry), with
// one cycle of `ev_end` and no event. Callers end an empty list at go when `wdone` is
// already seen with nothing written (`empty`, ACC_EMPTY); the reader then stays idle.
// rd_ptr is 0 outside a phase.
`timescale 1ns/1ps
`default_nettype none
module sf_events_follow #(
    parameter integer AW      = 4,   // entry address width
    parameter integer EW      = 8,   // entry width
    parameter integer ONEBEAT = 1    // 1: an event may last a single beat (three places)
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          go,         // first cycle of the accumulate phase
    input  wire [AW:0]   count,      // entries written so far (the writer's register)
    input  wire          wdone,      // the list is complete (the writer's register, with count)
    output wire          empty,      // the list is complete with no entry
    output wire [AW-1:0] raddr,
    input  wire [EW-1:0] rdata,
    output wire          ev_valid,
    output wire [EW-1:0] ev_pos,
    output wire          ev_last,
    output wire          ev_end,     // the list ended with no event this cycle
    input  wire          ev_ready
);
    localparam [2:0] PLACES = (ONEBEAT != 0) ? 3'd3 : 3'd2;
    reg [AW:0]   avail;      // count, registered: entries readable
    reg          wd;         // wdone, registered with it
    reg [AW:0]   rd_ptr;     // next entry to read
    reg [AW:0]   rd_ptr1;    // rd_ptr + 1
    reg          more;       // rd_ptr != avail (rd_ptr never passes avail)
    reg          act;        // from the cycle after go until the list's end
    reg          inflight;
    reg [EW-1:0] q0, q1, q2; // q2 is only used with ONEBEAT
    reg [1:0]    qn;

    wire room     = ({1'b0, qn} + {2'b0, inflight}) < PLACES;
    wire issue    = (go || act) && room && more;
    wire all_read = !more && wd;
    assign empty  = wd && (avail == {(AW+1){1'b0}});
    assign ev_valid = (qn != 2'd0);
    assign ev_pos   = q0;
    wire   pop      = ev_valid && ev_ready;
    assign ev_last  = ev_valid && (qn == 2'd1) && !inflight && all_read;
    assign ev_end   = act && !ev_valid && !inflight && all_read;
    wire   fin      = (pop && ev_last) || ev_end;
    assign raddr    = rd_ptr[AW-1:0];

    localparam [AW:0] ONE = 1;
    always @(posedge clk) begin
        avail <= count;
        wd    <= wdone;
        // more next cycle: rd_ptr's next value against avail's, from three compares of
        // registers selected by this cycle's read and end.
        if (rst || fin) more <= (count != {(AW+1){1'b0}});
        else if (issue) more <= (rd_ptr1 != count);
        else more <= (rd_ptr != count);
        if (rst) begin
            qn       <= 2'd0;
            inflight <= 1'b0;
            rd_ptr   <= {(AW+1){1'b0}};
            rd_ptr1  <= ONE;
            act      <= 1'b0;
        end else begin
            inflight <= issue;
            qn       <= qn - {1'b0, pop} + {1'b0, inflight};
            if (go) act <= !empty;
            else if (fin) act <= 1'b0;
            if (fin) begin
                rd_ptr  <= {(AW+1){1'b0}};
                rd_ptr1 <= ONE;
            end else if (issue) begin
                rd_ptr  <= rd_ptr1;
                rd_ptr1 <= rd_ptr1 + 1'b1;
            end
            // As in sf_events: pop shifts the queue down and the read entry lands behind the
            // kept ones; a place empty after this cycle may take anything.
            if (qn == 2'd0 || pop) q0 <= (qn <= 2'd1) ? rdata : q1;
            if (qn <= 2'd1 || pop) q1 <= (ONEBEAT != 0 && qn == 2'd3) ? q2 : rdata;
            if (ONEBEAT != 0 && (qn != 2'd3 || pop)) q2 <= rdata;
        end
    end
endmodule
`default_nettype wire
