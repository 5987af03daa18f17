package election

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
//	config [id=a lease=15s renew=10s retry=2s]
//	want vip=IP [wanted=false] [eligible=false] [ahead=b,c]
//	observe vip=IP|node=N (absent | rv=N holder=X inc=~K [token=~K-ID] [terminating])
//	wrote id=N [class=C] [stale] [rv=.. holder=.. inc=.. token=.. terminating]
//	read id=N [class=C] [stale] [record as for observe]
//	plane install=ok|transient|refused|expired uninstall=ok|transient queue=on|off
//	      (outcomes from now on; queue=on holds Installs until "due vip=IP")
//	due vip=IP   (the shell is about to run the queued Install: PlaneDue)
//	swept ok|failed | tick | stop
//	auto renew=on|off   (answer our presence renewals at once, with success)
//
// The harness answers Install and Uninstall at once with the plane outcomes set (ok by
// default), as the daemon does, and shows them. The output lists the actions, then a
// state line: registration, fence, VIPs up, and NextWake, relative to now. Incarnations
// are shown as ~1, ~2 ... in order of appearance; tokens as ~K-ID. Run with -rewrite to
// regenerate expectations (then read the diff: the files are the specification).
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

func runScenario(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	h := &harness{incs: map[string]string{}, rev: map[string]string{}, install: PlaneOK, uninstall: PlaneOK}
	var out []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			out = append(out, l)
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command without ---- line", path, i+1)
		}
		j := i + 2
		var want []string
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != ""; j++ {
			want = append(want, lines[j])
		}
		got := h.run(t, fmt.Sprintf("%s:%d", path, i+1), l)
		if !*rewrite {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s:%d: %s\noutput mismatch (-want +got):\n%s", path, i+1, l, diff)
			}
		}
		out = append(append(out, l, "----"), got...)
		i = j - 1
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// harness holds the node under test, the shell's clock and the plane's outcomes.
type harness struct {
	n                  *Node
	now                time.Time
	incs, rev          map[string]string // incarnation -> ~K and back
	install, uninstall PlaneClass
	autoRenew          bool // answer our presence renewals at once, with success
	queueInstalls      bool // hold Installs (as a shell's queue does) until "due"
	rv                 int  // resourceVersions of the auto answers
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
	args := parseArgs(f[1:])
	switch f[0] {
	case "config":
		return h.configure(t, where, args)
	case "plane":
		h.install, h.uninstall = planeOutcome(args["install"], h.install), planeOutcome(args["uninstall"], h.uninstall)
		if q, ok := args["queue"]; ok {
			h.queueInstalls = q == "on"
		}
		return []string{"ok"}
	case "auto":
		h.autoRenew = args["renew"] == "on"
		return []string{"ok"}
	}
	if h.n == nil {
		t.Fatalf("%s: config must come first", where)
	}
	return h.step(h.event(t, where, f[0], args))
}

func (h *harness) configure(t *testing.T, where string, a map[string]string) []string {
	cfg := DefaultConfig(get(a, "id", "a"))
	for key, dst := range map[string]*time.Duration{"lease": &cfg.LeaseDuration, "renew": &cfg.RenewDeadline, "retry": &cfg.RetryPeriod, "refresh": &cfg.RefreshAhead} {
		if v, ok := a[key]; ok {
			*dst = mustDur(t, where, v)
		}
	}
	if v, ok := a["ride"]; ok { // the ride-through with the nftables fence's kernel share
		cfg.Ride.Cap = mustDur(t, where, v)
		cfg.MinLifetime, cfg.KernelSlack, cfg.KernelLateness = 10*time.Millisecond, 100*time.Millisecond, 50*time.Millisecond
	}
	n, err := New(cfg)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	h.n, h.now = n, scenarioT0
	return []string{"ok"}
}

func planeOutcome(s string, cur PlaneClass) PlaneClass {
	switch s {
	case "ok":
		return PlaneOK
	case "transient":
		return PlaneTransient
	case "refused":
		return PlaneRefused
	case "expired":
		return PlaneExpired
	}
	return cur
}

// step feeds ev, answers the data-plane actions at once, and formats everything.
func (h *harness) step(ev Event) []string {
	var out []string
	queue := h.n.Step(h.now, ev)
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		out = append(out, h.fmtAction(a))
		switch a := a.(type) {
		case Write:
			if h.autoRenew && a.Op == OpRenew && a.Ref == NodeRef(h.n.cfg.Identity) {
				h.rv++
				rec := Record{Exists: true, RV: "r" + strconv.Itoa(h.rv), Holder: h.n.cfg.Identity, Incarnation: a.Incarnation, Token: a.Token}
				out[len(out)-1] += " (renewed)"
				queue = append(h.n.Step(h.now, WriteDone{ID: a.ID, Record: rec}), queue...)
			}
		case Install:
			if h.queueInstalls && !a.Ready {
				out[len(out)-1] += " (queued)"
				continue
			}
			queue = append(h.n.Step(h.now, PlaneDone{VIP: a.VIP, Install: true, Class: h.install}), queue...)
		case Uninstall:
			queue = append(h.n.Step(h.now, PlaneDone{VIP: a.VIP, Class: h.uninstall}), queue...)
		}
	}
	return append(out, h.state())
}

func (h *harness) event(t *testing.T, where, cmd string, a map[string]string) Event {
	switch cmd {
	case "want":
		w := WantChanged{VIP: netip.MustParseAddr(a["vip"]), Want: Want{Wanted: a["wanted"] != "false", Eligible: a["eligible"] != "false"}}
		if a["ahead"] != "" {
			w.Ahead = strings.Split(a["ahead"], ",")
		}
		w.Rank = len(w.Ahead)
		return w
	case "observe":
		return Observed{Ref: h.ref(t, where, a), Record: h.record(a)}
	case "wrote":
		return WriteDone{ID: mustUint(t, where, a["id"]), Record: h.record(a), Class: class(t, where, a["class"]), Stale: has(a, "stale")}
	case "read":
		return ReadDone{ID: mustUint(t, where, a["id"]), Record: h.record(a), Class: class(t, where, a["class"]), Stale: has(a, "stale")}
	case "swept":
		return Swept{OK: has(a, "ok")}
	case "due":
		return PlaneDue{VIP: netip.MustParseAddr(a["vip"])}
	case "tick":
		return Ticked{}
	case "stop":
		return StopRequested{}
	case "recv":
		return Received{From: a["from"], Msg: PeerMsg{Kind: msgKind(t, where, a["kind"]), Inc: h.realInc(a["inc"]),
			ToInc: h.realInc(a["toinc"]), Seq: parseSeq(a["seq"]), Token: h.realToken(a["token"])}}
	}
	t.Fatalf("%s: unknown command %q", where, cmd)
	return nil
}

func (h *harness) ref(t *testing.T, where string, a map[string]string) Ref {
	if v, ok := a["vip"]; ok {
		return VIPRef(netip.MustParseAddr(v))
	}
	if v, ok := a["node"]; ok {
		return NodeRef(v)
	}
	t.Fatalf("%s: observe needs vip= or node=", where)
	return Ref{}
}

func (h *harness) record(a map[string]string) Record {
	if _, ok := a["rv"]; !ok {
		return Record{}
	}
	return Record{Exists: true, RV: a["rv"], Holder: a["holder"], Incarnation: h.realInc(a["inc"]),
		Token: h.realToken(a["token"]), Terminating: has(a, "terminating")}
}

// realInc maps ~K back to the incarnation it names.
func (h *harness) realInc(s string) string {
	if r, ok := h.rev[s]; ok {
		return r
	}
	return s
}

func (h *harness) realToken(s string) string {
	inc, id, ok := strings.Cut(s, "-")
	if !ok {
		return s
	}
	return h.realInc(inc) + "-" + id
}

// short names an incarnation ~K, in order of appearance.
func (h *harness) short(inc string) string {
	if inc == "" {
		return ""
	}
	if s, ok := h.incs[inc]; ok {
		return s
	}
	s := "~" + strconv.Itoa(len(h.incs)+1)
	h.incs[inc], h.rev[s] = s, inc
	return s
}

var tokenRE = regexp.MustCompile(`^(.*)-(\d+)$`)

func (h *harness) shortToken(tok string) string {
	if m := tokenRE.FindStringSubmatch(tok); m != nil {
		return h.short(m[1]) + "-" + m[2]
	}
	return tok
}

func (h *harness) fmtRecord(r Record) string {
	if !r.Exists {
		return "absent"
	}
	s := fmt.Sprintf("%s:%s/%s", r.RV, r.Holder, h.short(r.Incarnation))
	if r.Terminating {
		s += " terminating"
	}
	return s
}

func (h *harness) fmtAction(a Action) string {
	switch a := a.(type) {
	case Write:
		s := fmt.Sprintf("write id=%d %s %s base=%s inc=%s", a.ID, a.Op, a.Ref, h.fmtRecord(a.Base), h.short(a.Incarnation))
		if a.Token != "" {
			s += " token=" + h.shortToken(a.Token)
		}
		return s + fmt.Sprintf(" timeout=%v", a.Timeout)
	case Read:
		return fmt.Sprintf("read id=%d %s timeout=%v", a.ID, a.Ref, a.Timeout)
	case Install:
		if h.queueInstalls && !a.Ready {
			return fmt.Sprintf("install %s until=%s", a.VIP, rel(h.now, a.Until))
		}
		return fmt.Sprintf("install %s until=%s -> %v", a.VIP, rel(h.now, a.Until), planeName(h.install))
	case Uninstall:
		return fmt.Sprintf("uninstall %s (%s) -> %v", a.VIP, a.Reason, planeName(h.uninstall))
	case Send:
		s := fmt.Sprintf("send %s %s toinc=%s", a.Msg.Kind, a.To, h.short(a.Msg.ToInc))
		if a.Msg.Seq != 0 {
			s += fmt.Sprintf(" seq=%d", a.Msg.Seq)
		}
		if a.Msg.Token != "" {
			s += " token=" + h.shortToken(a.Msg.Token)
		}
		return s
	case Sweep:
		return "sweep"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("%T", a)
}

func planeName(c PlaneClass) string { return [...]string{"ok", "transient", "refused", "expired"}[c] }

func (h *harness) state() string {
	n := h.n
	var up []string
	for _, ip := range n.VIPs() {
		if n.Leading(ip) {
			up = append(up, ip.String())
		}
	}
	slices.Sort(up)
	fence := "none"
	if n.self.registered && !n.self.fence.IsZero() {
		fence = rel(h.now, n.clk.raw(n.self.fence))
	}
	if n.self.ride.After(n.self.fence) {
		fence += " ride=" + rel(h.now, n.clk.raw(n.self.ride))
	}
	return fmt.Sprintf("inc=%s registered=%v fence=%s up=[%s] wake=%s", h.short(n.self.inc), n.self.registered,
		fence, strings.Join(up, " "), relOrNone(h.now, n.NextWake()))
}

func rel(now, t time.Time) string {
	if d := t.Sub(now); d >= 0 {
		return "+" + d.String()
	}
	return t.Sub(now).String()
}

func relOrNone(now, t time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return rel(now, t)
}

func parseArgs(f []string) map[string]string {
	a := map[string]string{}
	for _, kv := range f {
		k, v, _ := strings.Cut(kv, "=")
		a[k] = v
	}
	return a
}

func has(a map[string]string, k string) bool { _, ok := a[k]; return ok }

func get(a map[string]string, k, def string) string {
	if v, ok := a[k]; ok {
		return v
	}
	return def
}

func mustDur(t *testing.T, where, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s: bad duration %q", where, s)
	}
	return d
}

func mustUint(t *testing.T, where, s string) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s: bad id %q", where, s)
	}
	return v
}

func class(t *testing.T, where, s string) ErrClass {
	if s == "" {
		return ClassNone
	}
	for c := ClassNone; c <= ClassNotFound; c++ {
		if c.String() == s {
			return c
		}
	}
	t.Fatalf("%s: bad class %q", where, s)
	return 0
}

func msgKind(t *testing.T, where, s string) MsgKind {
	for k := MsgQuery; k <= MsgRelayDone; k++ {
		if k.String() == s {
			return k
		}
	}
	t.Fatalf("%s: bad message kind %q", where, s)
	return 0
}

func parseSeq(s string) uint64 {
	v, _ := strconv.ParseUint(s, 10, 64)
	return v
}
