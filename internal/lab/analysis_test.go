package lab

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// at is t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// rounds records one round every 100ms starting at t0, the i-th answered by who[i]
// ("" nobody, "a+b" two nodes), and returns the runs.
func rounds(who ...string) []Segment {
	tl := NewTimeline()
	vip := netip.MustParseAddr("198.51.100.100")
	for i, w := range who {
		var nodes []string
		switch w {
		case "":
		case "a+b":
			nodes = []string{"b", "a"}
		default:
			nodes = []string{w}
		}
		tl.Record(vip, at(100*i), nodes)
	}
	return tl.Segments(vip)
}

func TestTimeline_RecordMergesEqualRoundsIntoOneRun(t *testing.T) {
	got := rounds("a", "a", "", "a+b", "a+b")
	want := []Segment{
		{Start: at(0), Last: at(100), Nodes: []string{"a"}, Count: 2},
		{Start: at(200), Last: at(200), Nodes: nil, Count: 1},
		{Start: at(300), Last: at(400), Nodes: []string{"a", "b"}, Count: 2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
}

func TestAnalyze_CountsOutagesSplitsAndHolderChanges(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name     string
		who      []string
		from, to time.Time
		want     Stats
	}{
		{name: "steady holder", who: []string{"a", "a", "a"}, want: Stats{Answered: []string{"a"}}},
		{name: "one missed round is one interval dark", who: []string{"a", "", "a"},
			want: Stats{LongestOutage: ms(100), Dark: ms(100), Answered: []string{"a"}}},
		{name: "failover through an outage counts one change", who: []string{"a", "", "", "b", "b"},
			want: Stats{LongestOutage: ms(200), Dark: ms(200), HolderChanges: 1, Answered: []string{"a", "b"}}},
		{name: "split brain is timed and is no change by itself", who: []string{"a", "a+b", "a+b", "a"},
			want: Stats{SplitBrain: ms(200), Answered: []string{"a", "b"}}},
		{name: "the longest of two outages", who: []string{"a", "", "a", "", "", "", "a"},
			want: Stats{LongestOutage: ms(300), Dark: ms(400), Answered: []string{"a"}}},
		{name: "window clips an outage", who: []string{"a", "", "", "", "a"}, from: at(250), to: at(350),
			want: Stats{LongestOutage: ms(100), Dark: ms(100)}},
		{name: "window after everything", who: []string{"a", ""}, from: at(500), want: Stats{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Analyze(rounds(tc.who...), tc.from, tc.to)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Analyze (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTimeToHealthy_FindsTheFirstStableSingleHolder(t *testing.T) {
	tests := []struct {
		name      string
		who       []string
		since     time.Time
		stable    time.Duration
		wantNode  string
		wantAfter time.Duration
		wantOK    bool
	}{
		{name: "healthy already", who: []string{"a", "a", "a"}, since: at(50), stable: 100 * time.Millisecond,
			wantNode: "a", wantOK: true},
		{name: "after an outage", who: []string{"a", "", "", "b", "b", "b"}, since: at(100), stable: 200 * time.Millisecond,
			wantNode: "b", wantAfter: 200 * time.Millisecond, wantOK: true},
		{name: "a flap is not stable", who: []string{"", "b", "", "b", "b", "b"}, stable: 200 * time.Millisecond,
			wantNode: "b", wantAfter: 300 * time.Millisecond, wantOK: true},
		{name: "a split is not healthy", who: []string{"a+b", "a+b", "a+b"}, stable: 100 * time.Millisecond},
		{name: "not stable long enough yet", who: []string{"", "a", "a"}, stable: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			node, after, ok := TimeToHealthy(rounds(tc.who...), tc.since, tc.stable)
			if node != tc.wantNode || after != tc.wantAfter || ok != tc.wantOK {
				t.Errorf("TimeToHealthy = %q, %v, %v; want %q, %v, %v", node, after, ok, tc.wantNode, tc.wantAfter, tc.wantOK)
			}
		})
	}
}

func TestFirstAnswer_SkipsDarkRoundsAndTimeBeforeSince(t *testing.T) {
	segs := rounds("", "", "a", "a")
	if got, ok := FirstAnswer(segs, time.Time{}); !ok || !got.Equal(at(200)) {
		t.Errorf("FirstAnswer(zero) = %v, %v; want %v", got, ok, at(200))
	}
	if got, ok := FirstAnswer(segs, at(250)); !ok || !got.Equal(at(250)) {
		t.Errorf("FirstAnswer(250ms) = %v, %v; want %v", got, ok, at(250))
	}
	if _, ok := FirstAnswer(rounds("", ""), time.Time{}); ok {
		t.Error("FirstAnswer of dark rounds reported an answer")
	}
}

func TestTimeline_HoldersKeepChangesAndTheAPIErrorRun(t *testing.T) {
	tl := NewTimeline()
	vip := netip.MustParseAddr("2001:db8:1::100")
	tl.RecordHolders(at(0), map[netip.Addr]string{vip: "a"}, nil)
	tl.RecordHolders(at(100), map[netip.Addr]string{vip: "a"}, nil)
	tl.RecordHolders(at(200), nil, errTest)
	tl.RecordHolders(at(300), nil, errTest)
	if err, since := tl.APIError(); err == nil || !since.Equal(at(200)) {
		t.Errorf("APIError = %v since %v; want an error since %v", err, since, at(200))
	}
	tl.RecordHolders(at(400), map[netip.Addr]string{vip: "b"}, nil)
	want := []Holder{{Start: at(0), Holder: "a"}, {Start: at(400), Holder: "b"}}
	if diff := cmp.Diff(want, tl.Holders(vip)); diff != "" {
		t.Errorf("holders (-want +got):\n%s", diff)
	}
	if err, _ := tl.APIError(); err != nil {
		t.Errorf("APIError after a good read = %v, want nil", err)
	}
}

type testError string

func (e testError) Error() string { return string(e) }

const errTest = testError("etcd frozen")
