package lab

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// samplePlot: node-1 holds, a fault, the VIP dark, both answer for one round, node-2 holds.
func samplePlot() Plot {
	return Plot{Title: `leader <power-off> & "revive"`, Start: t0, End: at(10000), Nodes: []string{"node-1", "node-2", "node-3"},
		Segments: []Segment{
			{Start: at(0), Last: at(2900), Nodes: []string{"node-1"}, Count: 30},
			{Start: at(3000), Last: at(5900), Count: 30},
			{Start: at(6000), Last: at(6000), Nodes: []string{"node-1", "node-2"}, Count: 1},
			{Start: at(6100), Last: at(9900), Nodes: []string{"node-2"}, Count: 39},
		},
		Holders: []Holder{{Start: at(-500), Holder: "node-1"}, {Start: at(5000), Holder: ""}, {Start: at(6000), Holder: "node-2"}},
		Windows: []Window{{Label: "freeze <etcd>", Start: at(2000), End: at(4000)}, {Label: "still open", Start: at(8000)}},
		Marks:   []Mark{{At: at(2000), Label: "freeze <etcd>"}, {At: at(4000), Label: "thaw"}},
	}
}

func TestWriteReport_WritesJSONMarkdownAndWellFormedSVGs(t *testing.T) {
	dir := t.TempDir()
	healthy := int64(3100)
	p := samplePlot()
	rep := &Report{Started: t0, Finished: t0.Add(time.Minute), Command: "vipkeeper lab bench", Machine: "test",
		Results: []Result{
			{Scenario: "leader-power-off", Timing: "fast", Nodes: 3, LongestOutageMs: 3000, SplitBrainMs: 100, SplitRounds: 1,
				HolderChanges: 1, TimeToHealthyMs: &healthy, LeaseRequests: map[string]float64{"PUT": 1.5, "LIST": 2},
				Target: "a | b", Plot: &p},
			{Scenario: "leader-sigkill", Timing: "default", Nodes: 3, Error: "step failed\nbadly"},
		},
		Scale: []ScaleResult{{Nodes: 3, VIPs: 100, Answered: 100, RSSMiB: 50.5}},
	}
	if err := WriteReport(dir, rep); err != nil {
		t.Fatal(err)
	}
	got := readReportFiles(t, dir)
	if diff := cmp.Diff([]string{"leader-power-off", "leader-sigkill"}, scenarioNames(got.Results)); diff != "" {
		t.Errorf("results.json scenarios (-want +got):\n%s", diff)
	}
	r := got.Results[0]
	if r.SVG != "svg/leader-power-off-fast-3n.svg" || r.SplitBrainMs != 100 || *r.TimeToHealthyMs != 3100 || r.LeaseRequests["PUT"] != 1.5 {
		t.Errorf("results.json row 0 = %+v", r)
	}
	if got.Results[1].SVG != "" || got.Results[1].TimeToHealthyMs != nil || len(got.Scale) != 1 {
		t.Errorf("results.json: row without plot or scale lost: %+v, scale %+v", got.Results[1], got.Scale)
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Scenarios, fast timing", "| leader-power-off | 3000 | 100 (1) | 1 | 3100 |",
		"a \\| b", "step failed badly", "| never |", "![leader-power-off](svg/leader-power-off-fast-3n.svg)", "## Scale"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

func TestWriteSVG_DrawsEveryLaneFaultWindowAndMark(t *testing.T) {
	var b strings.Builder
	if err := WriteSVG(&b, samplePlot()); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	if err := wellFormed(strings.NewReader(svg)); err != nil {
		t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
	}
	for _, want := range []string{">node-1<", ">dark<", ">split<", ">lease<", "#d62728", "#ff7f0e",
		`fill-opacity="0.25"`, "stroke-dasharray", "freeze &lt;etcd&gt;", "&lt;power-off&gt; &amp;", "6s..6.1s: [node-1 node-2] (1 rounds)"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Contains(svg, "<script") || strings.Contains(svg, "href") {
		t.Error("SVG must be plain shapes and text")
	}
}

func TestWriteSVG_EmptyPlotIsStillWellFormed(t *testing.T) {
	var b strings.Builder
	if err := WriteSVG(&b, Plot{Start: t0, End: t0}); err != nil {
		t.Fatal(err)
	}
	if err := wellFormed(strings.NewReader(b.String())); err != nil {
		t.Errorf("empty plot: %v", err)
	}
}

// readReportFiles parses dir/results.json and checks that every SVG it names is
// well-formed XML.
func readReportFiles(t *testing.T, dir string) Report {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(js, &rep); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	for _, r := range rep.Results {
		if r.SVG == "" {
			continue
		}
		f, err := os.Open(filepath.Join(dir, r.SVG))
		if err != nil {
			t.Fatal(err)
		}
		if err := wellFormed(f); err != nil {
			t.Errorf("%s: %v", r.SVG, err)
		}
		f.Close()
	}
	return rep
}

// wellFormed decodes every XML token and requires an <svg> root.
func wellFormed(r io.Reader) error {
	dec := xml.NewDecoder(r)
	root := ""
	for range 1_000_000 {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			if root != "svg" {
				return errors.New("no <svg> root element")
			}
			return nil
		}
		if err != nil {
			return err
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	return errors.New("too many tokens")
}

func scenarioNames(rs []Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Scenario)
	}
	return out
}

func TestSettledAfter_IsTheStartOfTheFinalSingleHolderRun(t *testing.T) {
	segs := rounds("a", "a", "", "", "b", "b", "b") // 100 ms rounds from t0
	tests := []struct {
		name   string
		since  time.Time
		end    time.Time
		stable time.Duration
		want   time.Duration
		ok     bool
	}{
		{name: "handed over after the fault", since: at(100), end: at(600), stable: 200 * time.Millisecond, want: 300 * time.Millisecond, ok: true},
		{name: "fault ended after the last run began", since: at(500), end: at(600), stable: 100 * time.Millisecond, want: 0, ok: true},
		{name: "last run too short", since: at(100), end: at(600), stable: time.Second},
		{name: "dark at the end", since: at(0), end: at(300), stable: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := SettledAfter(segs, tt.since, tt.end, tt.stable)
			if got != tt.want || ok != tt.ok {
				t.Errorf("SettledAfter = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
