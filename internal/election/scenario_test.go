package election

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Scenario files (testdata/*.txt) are blocks of one command, a "----" line and the
// expected output, separated by blank lines; '#' lines are comments. A command may start
// with +DUR or -DUR: move the shell's clock first (backwards = a wall-clock jump).
//
//	config [id=a lease=15s renew=10s retry=2s spread=1s attempt=2s]
//	elig [eligible=false] [wanted=false] [rank=N]
//	observe rv=N holder=X [token=~N] | observe absent
//	wrote id=N [class=C] [rv=N holder=X token=~N]     (WriteDone; class defaults to none)
//	read id=N [class=C] [rv=N holder=X token=~N]      (ReadDone)
//	tick | stop
//
// The output lists the actions, then the state and NextWake relative to now. "~N" is
// token N of the elector under test. Run with -rewrite to regenerate expectations (then
// read the diff: the files are the specification).
var rewrite = flag.Bool("rewrite", false, "rewrite testdata expectations")

var scenarioT0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenario files: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScenario(t, f) })
	}
}

type block struct {
	line     int
	cmd      string
	expected []string
}

func runScenario(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var h harness
	var rewritten []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			rewritten = append(rewritten, l)
			continue
		}
		b, next := parseBlock(t, path, lines, i)
		got := h.run(t, fmt.Sprintf("%s:%d", path, b.line), b.cmd)
		if !*rewrite {
			if diff := cmp.Diff(b.expected, got); diff != "" {
				t.Errorf("%s:%d: %s\noutput mismatch (-want +got):\n%s", path, b.line, b.cmd, diff)
			}
		}
		rewritten = append(rewritten, b.cmd, "----")
		rewritten = append(rewritten, got...)
		i = next - 1
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(strings.Join(rewritten, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// parseBlock reads the block starting at lines[i]; it returns the index after it.
func parseBlock(t *testing.T, path string, lines []string, i int) (block, int) {
	b := block{line: i + 1, cmd: lines[i]}
	if i+1 >= len(lines) || lines[i+1] != "----" {
		t.Fatalf("%s:%d: command without ---- line", path, i+1)
	}
	j := i + 2
	for ; j < len(lines) && strings.TrimSpace(lines[j]) != ""; j++ {
		b.expected = append(b.expected, lines[j])
	}
	return b, j
}

// harness holds the elector under test and the shell's clock.
type harness struct {
	e   *Elector
	now time.Time
}

func (h *harness) run(t *testing.T, where, cmd string) []string {
	f := strings.Fields(cmd)
	if len(f) > 0 && (f[0][0] == '+' || f[0][0] == '-') {
		d, err := time.ParseDuration(strings.TrimPrefix(f[0], "+"))
		if err != nil {
			t.Fatalf("%s: bad time step %q", where, f[0])
		}
		h.now, f = h.now.Add(d), f[1:]
	}
	if len(f) == 0 {
		t.Fatalf("%s: empty command", where)
	}
	args := parseArgs(t, where, f[1:])
	if f[0] == "config" {
		return h.configure(t, where, args)
	}
	if h.e == nil {
		t.Fatalf("%s: config must come first", where)
	}
	ev := h.event(t, where, f[0], args)
	return h.format(h.e.Step(h.now, ev))
}

func (h *harness) configure(t *testing.T, where string, a map[string]string) []string {
	cfg := DefaultConfig(get(a, "id", "a"))
	for key, dst := range map[string]*time.Duration{"lease": &cfg.LeaseDuration, "renew": &cfg.RenewDeadline,
		"retry": &cfg.RetryPeriod, "spread": &cfg.SpreadDelay, "attempt": &cfg.AttemptTimeout} {
		if v, ok := a[key]; ok {
			*dst = mustDur(t, where, v)
		}
	}
	e, err := New(cfg)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	h.e, h.now = e, scenarioT0
	h.e.epoch = "E" // tokens are "E-<id>", shown as "~<id>"
	return []string{"ok"}
}

func (h *harness) event(t *testing.T, where, name string, a map[string]string) Event {
	switch name {
	case "elig":
		var ahead []string
		if v := get(a, "ahead", ""); v != "" {
			ahead = strings.Split(v, ",")
		}
		return EligibilityChanged{Eligible: get(a, "eligible", "true") == "true",
			Wanted: get(a, "wanted", "true") == "true", Rank: mustInt(t, where, get(a, "rank", "0")), Ahead: ahead}
	case "observe":
		return Observed{Record: h.record(a)}
	case "wrote":
		return WriteDone{ID: uint64(mustInt(t, where, a["id"])), Record: h.record(a), Class: mustClass(t, where, a)}
	case "read":
		return ReadDone{ID: uint64(mustInt(t, where, a["id"])), Record: h.record(a), Class: mustClass(t, where, a)}
	case "tick":
		return Ticked{}
	case "stop":
		return StopRequested{}
	}
	t.Fatalf("%s: unknown command %q", where, name)
	return nil
}

func (h *harness) record(a map[string]string) Record {
	if _, ok := a["rv"]; !ok {
		return Record{}
	}
	tr, _ := strconv.Atoi(a["transitions"])
	return Record{Exists: true, RV: a["rv"], Holder: a["holder"], Token: h.untoken(a["token"]), Transitions: int32(tr)}
}

func (h *harness) untoken(s string) string {
	if rest, ok := strings.CutPrefix(s, "~"); ok {
		return h.e.epoch + "-" + rest
	}
	return s
}

func (h *harness) tok(s string) string {
	if rest, ok := strings.CutPrefix(s, h.e.epoch+"-"); ok {
		return "~" + rest
	}
	return s
}

func (h *harness) format(acts []Action) []string {
	var out []string
	for _, a := range acts {
		out = append(out, h.formatAction(a))
	}
	wake := "none"
	if w := h.e.NextWake(); !w.IsZero() {
		wake = "+" + w.Sub(h.now).String()
	}
	return append(out, fmt.Sprintf("state=%s holder=%q wake=%s", h.e.State(), h.e.Holder(), wake))
}

func (h *harness) formatAction(a Action) string {
	switch a := a.(type) {
	case Write:
		s := fmt.Sprintf("write id=%d %s base=%s", a.ID, a.Op, fmtBase(a.Base))
		if a.Token != "" {
			s += " token=" + h.tok(a.Token)
		}
		return s + " timeout=" + a.Timeout.String()
	case Read:
		return fmt.Sprintf("read id=%d timeout=%s", a.ID, a.Timeout)
	case Announce:
		return "announce until=+" + a.Until.Sub(h.now).String()
	case Withdraw:
		return fmt.Sprintf("withdraw %q", a.Reason)
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("unknown action %T", a)
}

func fmtBase(r Record) string {
	if !r.Exists {
		return "absent"
	}
	return r.RV + ":" + r.Holder
}

func parseArgs(t *testing.T, where string, f []string) map[string]string {
	a := map[string]string{}
	for _, kv := range f {
		if kv == "absent" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("%s: bad argument %q", where, kv)
		}
		a[k] = v
	}
	return a
}

func get(a map[string]string, k, def string) string {
	if v, ok := a[k]; ok {
		return v
	}
	return def
}

func mustDur(t *testing.T, where, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return d
}

func mustInt(t *testing.T, where, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s: bad number %q", where, s)
	}
	return n
}

func mustClass(t *testing.T, where string, a map[string]string) ErrClass {
	name := get(a, "class", "none")
	for c := ClassNone; c <= ClassNotFound; c++ {
		if c.String() == name {
			return c
		}
	}
	t.Fatalf("%s: unknown class %q", where, name)
	return 0
}
