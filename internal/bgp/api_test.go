package bgp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/yaml"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

var shared = testenv.NewShared(testenv.Options{})

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

var crdOnce sync.Once

// apiHarness is a test's view of the shared control plane with the CRDs installed.
type apiHarness struct {
	t   *testing.T
	cs  kubernetes.Interface
	dyn dynamic.Interface
	ns  string
}

func newAPIHarness(t *testing.T) *apiHarness {
	env := shared.Env(t)
	rc := env.AdminConfig()
	h := &apiHarness{t: t, cs: kubernetes.NewForConfigOrDie(rc), dyn: dynamic.NewForConfigOrDie(rc), ns: env.Namespace(t)}
	crdOnce.Do(func() {
		for _, f := range []string{"vipkeeper.io_vippools.yaml", "vipkeeper.io_bgppeers.yaml", "vipkeeper.io_bgpadvertisements.yaml"} {
			h.installCRD(f)
		}
	})
	for _, gvr := range []schema.GroupVersionResource{v1alpha1.Resource, v1alpha1.BGPPeerResource, v1alpha1.BGPAdvertisementResource} {
		h.eventuallyNil("the "+gvr.Resource+" API is served", func(ctx context.Context) error {
			_, err := h.dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
			return err
		})
	}
	return h
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func (h *apiHarness) installCRD(file string) {
	u := readYAML(h.t, filepath.Join("..", "..", "deploy", "crds", file))
	if _, err := h.dyn.Resource(crdGVR).Create(h.t.Context(), u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		h.t.Fatalf("create CRD %s: %v", file, err)
	}
}

func readYAML(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatal(err)
	}
	return u
}

func (h *apiHarness) eventuallyNil(what string, f func(context.Context) error) {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit * 3)
	for {
		ctx, cancel := context.WithTimeout(h.t.Context(), 5*time.Second)
		err := f(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// create creates a BGP object (kind, name, spec as YAML) and returns the API's error.
func (h *apiHarness) create(gvr schema.GroupVersionResource, kind, name, spec string) error {
	var s map[string]any
	if err := yaml.Unmarshal([]byte(spec), &s); err != nil {
		h.t.Fatalf("spec of %s: %v", name, err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": v1alpha1.GroupVersion.String(),
		"kind": kind, "metadata": map[string]any{"name": name}, "spec": s}}
	_, err := h.dyn.Resource(gvr).Create(h.t.Context(), u, metav1.CreateOptions{})
	if err == nil {
		h.t.Cleanup(func() { _ = h.dyn.Resource(gvr).Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	return err
}

func TestAdmission_MalformedBGPObjectsAreRejectedByTheRealAPIServer(t *testing.T) {
	h := newAPIHarness(t)
	peer := func(name, spec string) error { return h.create(v1alpha1.BGPPeerResource, "BGPPeer", name, spec) }
	adv := func(name, spec string) error {
		return h.create(v1alpha1.BGPAdvertisementResource, "BGPAdvertisement", name, spec)
	}
	bad := []struct {
		name string
		err  error
		want string
	}{
		{"address", peer("a-bad-address", "{address: 198.51.100.300, asn: 64512, myASN: 64600}"), "canonical"},
		{"non-canonical", peer("a-long-v6", "{address: '2001:db8:0::1', asn: 64512, myASN: 64600}"), "canonical"},
		{"asn zero", peer("a-zero-asn", "{address: 198.51.100.1, asn: 0, myASN: 64600}"), "asn"},
		{"hold under 3s", peer("a-short-hold", "{address: 198.51.100.1, asn: 1, myASN: 2, holdTime: 2s}"), "3s to 65535s"},
		{"hold not whole", peer("a-half-hold", "{address: 198.51.100.1, asn: 1, myASN: 2, holdTime: 3500ms}"), "whole seconds"},
		{"keepalive not shorter", peer("a-slow-keep", "{address: 198.51.100.1, asn: 1, myASN: 2, holdTime: 3s, keepaliveTime: 3s}"), "shorter than holdTime"},
		{"source family", peer("a-mixed", "{address: 198.51.100.1, asn: 1, myASN: 2, sourceAddress: '2001:db8::1'}"), "same IP family"},
		{"mode", adv("a-mode", "{pools: [p], mode: anycast}"), "ecmp"},
		{"community", adv("a-community", "{pools: [p], communities: ['70000:1']}"), "at most 65535"},
		{"no pools", adv("a-no-pools", "{pools: []}"), "pools"},
	}
	for _, tc := range bad {
		if tc.err == nil || !apierrors.IsInvalid(tc.err) || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: create = %v; want Invalid mentioning %q", tc.name, tc.err, tc.want)
		}
	}
	if err := peer("a-good", "{address: '2001:db8:1::1', asn: 64512, myASN: 64600}"); err != nil {
		t.Fatalf("valid peer: %v", err)
	}
	got, err := h.dyn.Resource(v1alpha1.BGPPeerResource).Get(t.Context(), "a-good", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec, _, _ := unstructured.NestedMap(got.Object, "spec")
	if fmt.Sprintf("%v %v %v", spec["port"], spec["holdTime"], spec["keepaliveTime"]) != "179 3s 1s" {
		t.Errorf("defaults: port %v hold %v keepalive %v; want 179 3s 1s", spec["port"], spec["holdTime"], spec["keepaliveTime"])
	}
	if err := adv("a-good", "{pools: [p], communities: ['65535:65535', no-export], localPref: 200}"); err != nil {
		t.Errorf("valid advertisement: %v", err)
	}
}

// eventRecorder keeps the Events it is given.
type eventRecorder struct {
	record.FakeRecorder
	mu  sync.Mutex
	got []string
}

func (r *eventRecorder) Event(obj runtime.Object, typ, reason, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, _ := obj.(*corev1.ObjectReference)
	r.got = append(r.got, fmt.Sprintf("%s/%s %s %s: %s", ref.Kind, ref.Name, typ, reason, msg))
}

func (r *eventRecorder) has(substr ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.got {
		all := true
		for _, s := range substr {
			all = all && strings.Contains(e, s)
		}
		if all {
			return true
		}
	}
	return false
}

var errNotYet = errors.New("not yet")

// badObjects creates a good peer (with a router), a peer whose router has another ASN,
// one with a missing Secret, a pool, and an advertisement of a pool that does not exist.
func (h *apiHarness) badObjects(t *testing.T) {
	good := startRouter(t, "127.0.0.21", 64512, 64600, "127.0.0.2", "")
	wrongASN := startRouter(t, "127.0.0.22", 64513, 64600, "127.0.0.2", "")
	peer := func(name, spec string) {
		if err := h.create(v1alpha1.BGPPeerResource, "BGPPeer", name, spec); err != nil {
			t.Fatal(err)
		}
	}
	peer("w-good", fmt.Sprintf("{address: 127.0.0.21, port: %d, asn: 64512, myASN: 64600, sourceAddress: 127.0.0.2}", good.port))
	peer("w-wrong-asn", fmt.Sprintf("{address: 127.0.0.22, port: %d, asn: 64999, myASN: 64600, sourceAddress: 127.0.0.2}", wrongASN.port))
	peer("w-no-secret", "{address: 127.0.0.23, asn: 64512, myASN: 64600, passwordSecretRef: {name: absent}}")
	if err := h.create(v1alpha1.Resource, "VIPPool", "w-pool", "{addresses: [198.51.100.64/28]}"); err != nil {
		t.Fatal(err)
	}
	for name, spec := range map[string]string{"w-ok": "{pools: [w-pool], peers: [w-good, w-wrong-asn]}",
		"w-no-pool": "{pools: [w-missing]}"} {
		if err := h.create(v1alpha1.BGPAdvertisementResource, "BGPAdvertisement", name, spec); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWatcher_BadPeersAndAdvertisementsGetConditionsAndEventsWhileTheGoodPeerStaysUp(t *testing.T) {
	h := newAPIHarness(t)
	h.badObjects(t)
	sp := startSpeaker(t, &Plan{})
	rec := &eventRecorder{}
	w, err := NewWatcher(WatchConfig{Client: h.cs, Dynamic: h.dyn, Namespace: h.ns, NodeName: "w-node",
		Timing: Timing{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second}, Speaker: sp, Recorder: rec, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	h.eventuallyNil("each peer's node entry says why", func(ctx context.Context) error {
		for peer, reason := range map[string]string{"w-good": "Established", "w-wrong-asn": ReasonPeerRefused, "w-no-secret": ReasonInvalidPeer} {
			if got := h.peerCondition(ctx, peer, "w-node"); got != reason {
				return fmt.Errorf("BGPPeer %s: condition reason %q, want %q", peer, got, reason)
			}
		}
		return nil
	})
	h.eventuallyNil("the advertisements' Accepted conditions", func(ctx context.Context) error {
		for adv, reason := range map[string]string{"w-ok": ReasonAccepted, "w-no-pool": ReasonUnknownPool} {
			if got := h.advCondition(ctx, adv); got != reason {
				return fmt.Errorf("BGPAdvertisement %s: reason %q, want %q", adv, got, reason)
			}
		}
		return nil
	})
	for _, want := range [][]string{{"BGPPeer/w-wrong-asn", ReasonPeerRefused}, {"BGPPeer/w-no-secret", ReasonPeerNotConfigured},
		{"BGPAdvertisement/w-no-pool", ReasonUnknownPool}, {"BGPPeer/w-good", ReasonSessionEstablished}} {
		if !rec.has(want...) {
			t.Errorf("no Event %v among %v", want, rec.got)
		}
	}
	for _, s := range sp.Sessions() {
		if s.Peer == "w-good" && (!s.Established || s.Flaps != 0) {
			t.Errorf("good session %+v: want established, never down", s)
		}
	}
	cancel()
	<-done
	h.eventuallyNil("a stopped node removes its entries", func(ctx context.Context) error {
		if got := h.peerCondition(ctx, "w-good", "w-node"); got != "" {
			u, _ := h.dyn.Resource(v1alpha1.BGPPeerResource).Get(ctx, "w-good", metav1.GetOptions{})
			return fmt.Errorf("entry still there: %q: %v", got, u.Object)
		}
		return nil
	})
}

func (h *apiHarness) peerCondition(ctx context.Context, peer, node string) string {
	u, err := h.dyn.Resource(v1alpha1.BGPPeerResource).Get(ctx, peer, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	var p v1alpha1.BGPPeer
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
		return err.Error()
	}
	for _, n := range p.Status.Nodes {
		if n.Node == node && len(n.Conditions) > 0 {
			return n.Conditions[0].Reason
		}
	}
	return ""
}

func (h *apiHarness) advCondition(ctx context.Context, name string) string {
	u, err := h.dyn.Resource(v1alpha1.BGPAdvertisementResource).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == v1alpha1.ConditionAccepted {
			return fmt.Sprint(m["reason"])
		}
	}
	return ""
}
