package lab

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"
)

// Row is one VIP in the live view.
type Row struct {
	VIP       netip.Addr
	Service   string
	Answering []string      // nodes that answered ARP/NDP in the latest round
	Lease     string        // Lease holder; "" for none
	LeaseSeen bool          // false until the Lease was read once
	DarkFor   time.Duration // current outage, counted once the VIP had answered
	Longest   time.Duration // longest outage since the VIP first answered
	Split     time.Duration // total time with two or more nodes answering
	Changes   int           // holder changes since the first answer
}

// Rows returns the live view's rows, one per probed VIP, at now.
func (l *Lab) Rows(now time.Time) []Row {
	vips := l.prober.Watched()
	rows := make([]Row, 0, len(vips))
	for _, vip := range vips {
		holder, seen := l.timeline.Holder(vip)
		r := rowFor(vip, l.timeline.Segments(vip), now)
		r.Service, r.Lease, r.LeaseSeen = l.ServiceOf(vip), holder, seen
		rows = append(rows, r)
	}
	return rows
}

// rowFor computes the probe columns of a row from the VIP's runs.
func rowFor(vip netip.Addr, segs []Segment, now time.Time) Row {
	r := Row{VIP: vip}
	if len(segs) == 0 {
		return r
	}
	cur := segs[len(segs)-1]
	r.Answering = cur.Nodes
	first, ok := FirstAnswer(segs, time.Time{})
	if !ok {
		return r
	}
	st := Analyze(segs, first, time.Time{})
	r.Longest, r.Split, r.Changes = st.LongestOutage, st.SplitBrain, st.HolderChanges
	if len(cur.Nodes) == 0 {
		r.DarkFor = now.Sub(cur.Start)
		r.Longest = max(r.Longest, r.DarkFor)
	}
	return r
}

// Status is the header of the live view.
type Status struct {
	ID      string
	Timing  Timing
	Up      time.Duration
	APIErr  error
	APIDown time.Duration
	Nodes   []string // "node-1 running", ..., "controller running"
}

// Status returns the view's header at now.
func (l *Lab) Status(now time.Time) Status {
	apiErr, since := l.timeline.APIError()
	s := Status{ID: l.ID(), Timing: l.cfg.Timing, Up: now.Sub(l.started), APIErr: apiErr}
	if apiErr != nil {
		s.APIDown = now.Sub(since)
	}
	for _, n := range l.nodes {
		s.Nodes = append(s.Nodes, n.name+" "+n.State())
	}
	if l.ctrl != nil {
		s.Nodes = append(s.Nodes, l.ctrl.name+" "+l.ctrl.State())
	}
	return s
}

// Render writes the header and the table.
func Render(w io.Writer, s Status, rows []Row) {
	t := s.Timing
	fmt.Fprintf(w, "vipkeeper-lab %s  timing %s (%v/%v/%v)  up %v\n", s.ID, t.Name,
		t.LeaseDuration, t.RenewDeadline, t.RetryPeriod, s.Up.Round(time.Second))
	api := "ok"
	if s.APIErr != nil {
		api = fmt.Sprintf("Lease reads failing for %v: %v", s.APIDown.Round(100*time.Millisecond), s.APIErr)
	}
	fmt.Fprintf(w, "API: %s\nnodes: %s\n\n", api, strings.Join(s.Nodes, ", "))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "VIP\tSERVICE\tANSWERING (ARP/NDP)\tLEASE HOLDER\tDARK NOW\tLONGEST DARK\tSPLIT-BRAIN\tCHANGES")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.VIP, orDash(r.Service), answering(r.Answering),
			leaseCell(r), dur(r.DarkFor), dur(r.Longest), dur(r.Split), r.Changes)
	}
	tw.Flush()
}

// Line is the plain-output form of a row: what changes when the VIP moves.
func Line(r Row) string {
	return fmt.Sprintf("%s %s answering=%s lease=%s", r.VIP, orDash(r.Service), answering(r.Answering), leaseCell(r))
}

func answering(nodes []string) string {
	switch len(nodes) {
	case 0:
		return "-"
	case 1:
		return nodes[0]
	}
	return strings.Join(nodes, "+") + " (SPLIT)"
}

func leaseCell(r Row) string {
	switch {
	case !r.LeaseSeen:
		return "?"
	case r.Lease == "":
		return "-"
	}
	return r.Lease
}

func dur(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(100 * time.Millisecond).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
