// sf_events: reads a list of event entries from a synchronous RAM and presents one event
// per cycle. Layer entries end in a lane mask (MASKW = lanes): each set lane, lowest first,
// is one event. Input entries (MASKW = 0) are one event each. A prefetch queue keeps one
// event per cycle flowing after a two-cycle start (go: read entry 0; next cycle: capture it;
// then events). ev_last marks the final event of the list.
// A read is issued only when a registered flag says its entry has a place even if nothing
// is popped this cycle, so the read side never waits on ev_ready. That keeps the queue full
// with two places when every event lasts two beats or more (pops at most every other cycle,
// ONEBEAT = 0) and needs a third place when events may last one beat (ONEBEAT = 1).
// rd_ptr is 0 from the cycle after the last entry is read until the next go (callers OR the
// addresses of readers that share a list memory).
`timescale 1ns/1ps
`default_nettype none
module sf_events #(
    parameter integer AW      = 4,   // entry address width
    parameter integer EW      = 8,   // entry width
    parameter integer MASKW   = 2,   // lane mask width (0: one event per entry)
    parameter integer LIW     = 1,   // lane index width
    parameter integer ONEBEAT = 1,   // 1: an event may last a single beat (three places)
    parameter integer PW      = EW - MASKW
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          go,         // first cycle of the accumulate phase
    input  wire [AW:0]   count,      // entries in the list
    output wire [AW-1:0] raddr,
    input  wire [EW-1:0] rdata,
    output wire          ev_valid,
    output wire [PW-1:0] ev_pos,     // the head entry without its lane mask
    output reg  [LIW-1:0] ev_lane,   // lane of this event (lowest remaining lane)
    output wire          ev_last,
    input  wire          ev_ready
);
    localparam integer MW = (MASKW > 0) ? MASKW : 1;
    localparam [2:0] PLACES = (ONEBEAT != 0) ? 3'd3 : 3'd2;
    reg [AW:0]   rd_ptr;     // next entry to read; 0 between phases
    reg [AW:0]   left;       // entries not yet read
    reg          rd_end;     // left == 0, registered
    reg          last1;      // left == 1, registered: the next read is the last
    reg          inflight;
    reg [EW-1:0] q0, q1, q2; // q2 is only used with ONEBEAT
    reg [1:0]    qn;
    reg          room;       // qn + inflight < PLACES: an entry read now has a place

    wire [MW-1:0] mask = (MASKW > 0) ? q0[MW-1:0] : {MW{1'b1}};
    // Lowest set lane and whether it is the only one left.
    integer i;
    reg found;
    always @* begin
        ev_lane = {LIW{1'b0}};
        found = 1'b0;
        for (i = 0; i < MW; i = i + 1) begin
            if (!found && mask[i]) begin
                ev_lane = i[LIW-1:0];
                found = 1'b1;
            end
        end
    end
    wire [MW-1:0] lowbit = mask & (~mask + {{(MW-1){1'b0}}, 1'b1});
    wire          only   = (MASKW == 0) || ((mask & ~lowbit) == {MW{1'b0}});

    assign ev_valid = (qn != 2'd0);
    assign ev_pos   = q0[EW-1:EW-PW];
    wire   take     = ev_valid && ev_ready;
    wire   pop      = take && only;
    wire   push     = inflight;
    wire [1:0] base = qn - {1'b0, pop};   // entries kept after the pop; the push lands there
    localparam [AW:0] TWO = 2;
    // A read is issued at go when the list has entries, after go when entries are left and
    // there is room (`run_issue`: flip-flops only, so count's compare stays out of it).
    wire   run_issue = room && !rd_end;
    wire   issue    = go ? (count != {(AW+1){1'b0}}) : run_issue;
    // Places taken next cycle (after go): qn - pop + push + issue = (qn + inflight) - pop +
    // issue. With room, only a read without a pop at PLACES - 1 fills the queue; without room
    // (PLACES taken) no read is issued and a pop frees a place.
    wire   edge1    = ({1'b0, qn} + {2'b0, inflight}) == PLACES - 3'd1;
    wire   room_nx  = room ? !(edge1 && !rd_end && !pop) : pop;
    assign raddr    = rd_ptr[AW-1:0];
    assign ev_last  = ev_valid && only && (qn == 2'd1) && !inflight && rd_end;

    always @(posedge clk) begin
        if (rst) begin
            qn       <= 2'd0;
            inflight <= 1'b0;
            rd_ptr   <= {(AW+1){1'b0}};
            left     <= {(AW+1){1'b0}};
            rd_end   <= 1'b1;
            last1    <= 1'b0;
            room     <= 1'b1;
        end else if (go) begin
            qn       <= 2'd0;
            inflight <= issue;
            rd_ptr   <= (count > {{AW{1'b0}}, 1'b1}) ? {{AW{1'b0}}, 1'b1} : {(AW+1){1'b0}};
            left     <= issue ? count - 1'b1 : count;
            rd_end   <= (count <= {{AW{1'b0}}, 1'b1});
            last1    <= (count == TWO);   // left is count - 1 when count > 0, else 0
            room     <= 1'b1;
        end else begin
            inflight <= run_issue;
            room     <= room_nx;
            if (run_issue) begin
                rd_ptr <= last1 ? {(AW+1){1'b0}} : rd_ptr + 1'b1;
                left   <= left - 1'b1;
                rd_end <= last1;
                last1  <= (left == TWO);
            end
            qn <= base + {1'b0, push};
            // Pop shifts the queue down; the read entry lands behind the kept ones. A place
            // that is empty after this cycle may take anything, so every place loads rdata
            // unless it keeps or shifts in a held entry: the data selects are flip-flops
            // (qn) only, and pop reaches the enables alone.
            if (qn == 2'd0 || pop) q0 <= (qn <= 2'd1) ? rdata : q1;
            if (qn <= 2'd1 || pop) q1 <= (ONEBEAT != 0 && qn == 2'd3) ? q2 : rdata;
            if (ONEBEAT != 0 && (qn != 2'd3 || pop)) q2 <= rdata;
            // A lane of the head was taken but lanes remain: clear it.
            if (take && !only && MASKW > 0) q0[MW-1:0] <= mask & ~lowbit;
        end
    end
endmodule
`default_nettype wire
