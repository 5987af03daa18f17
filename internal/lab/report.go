package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Result is one scenario's row, from the client's point of view. Durations are in
// milliseconds with the probe interval's resolution (100 ms).
type Result struct {
	Scenario string `json:"scenario"`
	Summary  string `json:"summary"`
	Timing   string `json:"timing"`
	Nodes    int    `json:"nodes"`
	VIP      string `json:"vip"`
	Leader   string `json:"leader,omitempty"` // the holder when the faults began
	Target   string `json:"target"`

	WindowMs        int64    `json:"window_ms"`          // from the first fault step to the end of the watch
	FaultMs         int64    `json:"fault_ms"`           // total length of the fault windows (open ones until the end)
	LongestOutageMs int64    `json:"longest_outage_ms"`  // longest time nobody answered
	DarkMs          int64    `json:"dark_ms"`            // total time nobody answered
	SplitBrainMs    int64    `json:"split_brain_ms"`     // total time two or more MACs answered
	SplitRounds     int      `json:"split_rounds"`       // probe rounds answered by two or more
	HolderChanges   int      `json:"holder_changes"`     // changes of the single answering node
	TimeToHealthyMs *int64   `json:"time_to_healthy_ms"` // fault end -> the final single holder's run (SettledAfter); null: not settled
	FirstAnswerMs   *int64   `json:"first_answer_ms,omitempty"`
	Answered        []string `json:"answered"`

	// Lease requests per second seen by kube-apiserver (apiserver_request_total,
	// resource=leases) over the window, by verb. LIST includes the lab's own poller.
	LeaseRequests   map[string]float64 `json:"lease_requests_per_s"`
	LeaseWritesPerS float64            `json:"lease_writes_per_s"` // POST, PUT, PATCH, APPLY, DELETE
	LeaseGetsPerS   float64            `json:"lease_gets_per_s"`

	Checks []Check `json:"checks,omitempty"` // Scenario.Verify's verdicts

	SVG   string `json:"svg,omitempty"` // plot file, relative to the report
	Error string `json:"error,omitempty"`
	Plot  *Plot  `json:"-"`
}

// Plot is what a scenario's timeline plot shows.
type Plot struct {
	Title      string
	Start, End time.Time
	Nodes      []string
	Segments   []Segment // who answered the VIP
	Holders    []Holder  // the Lease holder read from the API
	Windows    []Window
	Marks      []Mark
}

func (r *ScenarioRun) newResult() Result {
	sc := r.Scenario
	res := Result{Scenario: sc.Name, Summary: sc.Summary, Timing: r.Timing.Name,
		Nodes: len(r.Lab.Nodes()), VIP: r.VIP.String()}
	if sc.Target != nil {
		res.Target = sc.Target(r.Timing)
	}
	return res
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// measure fills the client-side figures for [start, end].
func (r *ScenarioRun) measure(res *Result, start, end time.Time) {
	segs := r.Lab.Timeline().Segments(r.VIP)
	if r.Leader != nil {
		res.Leader = r.Leader.Name()
	}
	from := start
	if !r.created.IsZero() {
		from = r.created
		if first, ok := FirstAnswer(segs, r.created); ok {
			v := ms(first.Sub(r.created))
			res.FirstAnswerMs, res.TimeToHealthyMs = &v, &v
			from = first // dark before the first answer is not an outage
		}
	}
	fillStats(res, segs, from, end)
	res.WindowMs = ms(end.Sub(start))
	for _, w := range r.windows {
		if w.End.IsZero() {
			w.End = end
		}
		res.FaultMs += ms(w.End.Sub(w.Start))
	}
	if r.created.IsZero() {
		if after, ok := SettledAfter(segs, r.faultEnd(), end, healthyStable); ok {
			v := ms(after)
			res.TimeToHealthyMs = &v
		}
	}
	res.Plot = &Plot{Title: fmt.Sprintf("%s (%s timing)", r.Scenario.Name, r.Timing.Name),
		Start: start.Add(-preFault), End: end, Nodes: r.Lab.nodeNames(), Segments: segs,
		Holders: r.Lab.Timeline().Holders(r.VIP), Windows: r.windows, Marks: r.marks}
}

// SettledAfter is how long after since the VIP reached the state it ends in at end: one
// node answering alone, for at least stable. It is the start of the last run (0 if that
// run began before since); ok is false when the last run is dark, split, or too short.
// Unlike TimeToHealthy it does not stop at a dying holder's last seconds (a SIGKILLed
// leader's address outlives it until its kernel lifetime ends).
func SettledAfter(segs []Segment, since, end time.Time, stable time.Duration) (time.Duration, bool) {
	for i := len(segs) - 1; i >= 0; i-- {
		start, stop, in := clipped(segs, i, time.Time{}, end)
		if !in {
			continue
		}
		if len(segs[i].Nodes) != 1 || stop.Sub(start) < stable {
			return 0, false
		}
		return max(0, start.Sub(since)), true
	}
	return 0, false
}

// fillStats sets the outage, split-brain and holder-change figures of segs in [from, to].
func fillStats(res *Result, segs []Segment, from, to time.Time) {
	st := Analyze(segs, from, to)
	res.LongestOutageMs, res.DarkMs, res.SplitBrainMs = ms(st.LongestOutage), ms(st.Dark), ms(st.SplitBrain)
	res.HolderChanges, res.Answered = st.HolderChanges, st.Answered
	res.SplitRounds = splitRounds(segs, from, to)
}

// splitRounds counts the probe rounds within [from, to] that two or more nodes answered.
func splitRounds(segs []Segment, from, to time.Time) int {
	n := 0
	for i, s := range segs {
		if _, _, in := clipped(segs, i, from, to); in && len(s.Nodes) > 1 {
			n += s.Count
		}
	}
	return n
}

// setRates fills the lease request rates from two scrapes over d. If kube-apiserver
// restarted (a counter went down), its counters are taken from zero over sinceReset.
func (res *Result) setRates(before, after map[string]float64, d, sinceReset time.Duration) {
	res.LeaseRequests = Rates(before, after, d, sinceReset)
	res.LeaseWritesPerS, res.LeaseGetsPerS = WritesAndGets(res.LeaseRequests)
}

// Rates turns two counter snapshots (by verb) into per-second rates over d. If any
// counter went down (kube-apiserver restarted), every rate is after/sinceReset instead.
func Rates(before, after map[string]float64, d, sinceReset time.Duration) map[string]float64 {
	reset := false
	for verb, v := range before {
		if after[verb] < v {
			reset = true
		}
	}
	out := map[string]float64{}
	for verb, v := range after {
		switch {
		case reset && sinceReset > 0:
			out[verb] = v / sinceReset.Seconds()
		case !reset && d > 0:
			out[verb] = (v - before[verb]) / d.Seconds()
		}
	}
	return out
}

// WritesAndGets sums a by-verb rate map into writes (kube-apiserver's verbs POST, PUT,
// PATCH, APPLY, DELETE; CREATE and UPDATE too) and GETs.
func WritesAndGets(byVerb map[string]float64) (writes, gets float64) {
	for verb, v := range byVerb {
		switch verb {
		case "POST", "PUT", "PATCH", "APPLY", "DELETE", "CREATE", "UPDATE":
			writes += v
		case "GET":
			gets += v
		}
	}
	return writes, gets
}

// Report is everything one benchmark run wrote: the machine, the command, the rows.
type Report struct {
	Started   time.Time     `json:"started"`
	Finished  time.Time     `json:"finished"`
	Command   string        `json:"command"`
	Machine   string        `json:"machine"`
	DaemonCmd string        `json:"daemon_cmd"`
	Results   []Result      `json:"results"`
	Scale     []ScaleResult `json:"scale,omitempty"`
	Notes     []string      `json:"notes,omitempty"`
}

// WriteReport writes dir/results.json, dir/report.md and one SVG per result with a Plot
// under dir/svg/, setting each Result's SVG.
func WriteReport(dir string, rep *Report) error {
	if err := os.MkdirAll(filepath.Join(dir, "svg"), 0o755); err != nil {
		return fmt.Errorf("report dir: %w", err)
	}
	for i := range rep.Results {
		if err := writePlot(dir, &rep.Results[i]); err != nil {
			return err
		}
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("results.json: %w", err)
	}
	md := markdown(rep)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("report.md: %w", err)
	}
	return nil
}

func writePlot(dir string, res *Result) error {
	if res.Plot == nil {
		return nil
	}
	name := filepath.Join("svg", fmt.Sprintf("%s-%s-%dn.svg", res.Scenario, res.Timing, res.Nodes))
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	werr := WriteSVG(f, *res.Plot)
	if err := f.Close(); werr == nil && err != nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("plot %s: %w", name, werr)
	}
	res.SVG = name
	return nil
}

// sortedKeys returns m's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
