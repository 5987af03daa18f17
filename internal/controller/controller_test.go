package controller

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

const testNS = "vipkeeper-system"

// fakeElections records every Want call.
type fakeElections struct {
	mu    sync.Mutex
	calls []map[netip.Addr]Want
}

func (f *fakeElections) Want(w map[netip.Addr]Want) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, w)
}

func (f *fakeElections) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeElections) last() map[netip.Addr]Want {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return nil
	}
	return f.calls[len(f.calls)-1]
}

type harness struct {
	cs   *fake.Clientset
	c    *Controller
	el   *fakeElections
	rec  *record.FakeRecorder
	stop func()
}

// start runs a Controller for node "a" on a fake clientset holding objs. Call it inside a
// synctest bubble; it returns once the informers have synced and the loop is idle. The
// caller must call h.stop (before the bubble ends).
func start(t *testing.T, mod func(*Config), objs ...runtime.Object) *harness {
	t.Helper()
	return startWith(t, mod, nil, objs...)
}

// startWith is start with prep run on the harness before the Controller is built.
func startWith(t *testing.T, mod func(*Config), prep func(*harness), objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{cs: fake.NewClientset(objs...), el: &fakeElections{}, rec: record.NewFakeRecorder(1000)}
	if prep != nil {
		prep(h)
	}
	cfg := Config{Client: h.cs, Elections: h.el, Recorder: h.rec, NodeName: "a",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.c = c
	if c.HasSynced() {
		t.Errorf("HasSynced before Run")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	h.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	for i := 0; i < 100 && !c.HasSynced(); i++ { // WaitForCacheSync polls every 100 ms (virtual)
		time.Sleep(10 * time.Millisecond)
	}
	synctest.Wait()
	if !c.HasSynced() {
		h.stop()
		t.Fatalf("not synced after 1 s")
	}
	return h
}

func (h *harness) create(t *testing.T, obj runtime.Object) {
	t.Helper()
	var err error
	switch o := obj.(type) {
	case *corev1.Service:
		_, err = h.cs.CoreV1().Services(o.Namespace).Create(t.Context(), o, metav1.CreateOptions{})
	case *corev1.Node:
		_, err = h.cs.CoreV1().Nodes().Create(t.Context(), o, metav1.CreateOptions{})
	default:
		t.Fatalf("cannot create %T", obj)
	}
	if err != nil {
		t.Fatalf("create: %v", err)
	}
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

var cmpWants = []cmp.Option{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()}

func TestController_CreatingAServiceYieldsAWantAndDeletingItRemovesIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, nil, node("a"))
		defer h.stop()
		if diff := cmp.Diff(wants(), h.el.last(), cmpWants...); diff != "" || h.el.count() != 1 {
			t.Fatalf("want one empty initial Want, got %d calls (-want +got):\n%s", h.el.count(), diff)
		}
		time.Sleep(time.Second) // quiet period: the next change is computed at once

		h.create(t, svc("web", ips("198.51.100.7")))
		synctest.Wait() // no virtual time passes: a single change is not delayed
		if diff := cmp.Diff(wants(want("198.51.100.7", 0, "web")), h.el.last(), cmpWants...); diff != "" {
			t.Errorf("after create (-want +got):\n%s", diff)
		}

		time.Sleep(time.Second)
		if err := h.cs.CoreV1().Services("ns").Delete(t.Context(), "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if diff := cmp.Diff(wants(), h.el.last(), cmpWants...); diff != "" {
			t.Errorf("after delete (-want +got):\n%s", diff)
		}
	})
}

func TestController_BurstsAreCoalescedWithinTheDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, nil, node("a"))
		defer h.stop()
		time.Sleep(time.Second)
		before := h.el.count()
		for i := range 10 {
			h.create(t, svc("web"+string(rune('0'+i)), ips(netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}).String())))
		}
		time.Sleep(20 * time.Millisecond) // the default Debounce: nothing may wait longer
		synctest.Wait()
		if got := len(h.el.last()); got != 10 {
			t.Errorf("want all 10 VIPs within the debounce, got %d", got)
		}
		if calls := h.el.count() - before; calls > 2 {
			t.Errorf("a burst of 10 creates gave %d Want calls, want at most 2 (leading edge + one coalesced)", calls)
		}
	})
}

func TestController_NodeLocalProblemIsReportedByTheNodeItself(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		noV6 := func(a netip.Addr, _ []string) error {
			if a.Is6() {
				return io.EOF
			}
			return nil
		}
		h := start(t, func(c *Config) { c.CanCarry = noV6 }, node("a"), svc("web", ips("2001:db8::7")))
		defer h.stop()
		time.Sleep(time.Second)
		synctest.Wait()
		ev := h.events()
		if len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning CannotCarry node a cannot carry 2001:db8::7") {
			t.Errorf("want one CannotCarry event, got %q", ev)
		}
		if diff := cmp.Diff(wants(want("2001:db8::7", -1, "web")), h.el.last(), cmpWants...); diff != "" {
			t.Errorf("wants (-want +got):\n%s", diff)
		}
	})
}

func TestController_NodeEventsNameTheNodeOnEveryService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, nil, node("a"), svc("web", ips("198.51.100.7")))
		defer h.stop()
		time.Sleep(time.Second)
		synctest.Wait()
		h.events()
		ne := h.c.NodeEvents()
		ne.Announced(ip("198.51.100.7"), nns("web", "gone"))
		ne.Withdrawn(ip("198.51.100.7"), nns("web"), "lease lost to b")
		ne.Problem(ip("198.51.100.7"), nns("web"), "LeaseForbidden", "403 on lease update")
		want := []string{
			"Normal VIPAnnounced VIP 198.51.100.7 announced on node a",
			"Normal VIPAnnounced VIP 198.51.100.7 announced on node a",
			"Normal VIPWithdrawn VIP 198.51.100.7 withdrawn from node a: lease lost to b",
			"Warning LeaseForbidden VIP 198.51.100.7 on node a: 403 on lease update",
		}
		if diff := cmp.Diff(want, h.events()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestConfig_ValidateNamesWhatIsMissing(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{name: "empty config", cfg: Config{}, want: []string{"Client", "Elections", "Recorder", "NodeName"}},
		{name: "negative debounce", cfg: Config{Client: fake.NewClientset(), Elections: &fakeElections{}, Recorder: record.NewFakeRecorder(1),
			NodeName: "a", Debounce: -time.Second}, want: []string{"Debounce"}},
		{name: "defaults are valid", cfg: Config{Client: fake.NewClientset(), Elections: &fakeElections{}, Recorder: record.NewFakeRecorder(1),
			NodeName: "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err != nil) != (len(tc.want) > 0) {
				t.Fatalf("Validate() = %v, want error mentioning %v", err, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, does not mention %s", err, w)
				}
			}
		})
	}
}
