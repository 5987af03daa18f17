package peer

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWindow_AcceptsEachCounterOnceWithin64OfTheHighest(t *testing.T) {
	steps := []struct {
		counter uint64
		want    bool
	}{
		{100, true}, {100, false}, {99, true}, {99, false},
		{36, false}, // 100-64: behind the window
		{37, true}, {37, false},
		{110, true}, {100, false}, {47, true}, {46, false},
		{1000, true}, {999, true}, {110, false},
		{1 << 63, true}, {1<<63 - 63, true}, {1<<63 - 64, false},
	}
	w := window{}
	for i, s := range steps {
		if got := w.accept(s.counter); got != s.want {
			t.Fatalf("step %d: accept(%d) = %v, want %v", i, s.counter, got, s.want)
		}
	}
}

func TestReplay_AcceptsANewSenderOnlyWithinTheWindowOfNow(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) uint64 { return uint64(now.Add(d).UnixNano()) }
	tests := []struct {
		name    string
		counter uint64
		want    error
	}{
		{"now", at(0), nil},
		{"window ago", at(-30 * time.Second), nil},
		{"window ahead", at(30 * time.Second), nil},
		{"older", at(-30*time.Second - 1), errStale},
		{"ahead", at(30*time.Second + 1), errStale},
		{"zero", 0, errStale},
		{"beyond int64", 1<<64 - 1, errStale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newReplay(30 * time.Second)
			if err := r.check("a", tc.counter, now); !errors.Is(err, tc.want) {
				t.Errorf("check = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReplay_KeepsAWindowPerSender(t *testing.T) {
	now := time.Now()
	c := uint64(now.UnixNano())
	r := newReplay(30 * time.Second)
	var got []error
	for _, s := range []string{"a", "b", "a", "b"} {
		got = append(got, r.check(s, c, now))
	}
	want := []error{nil, nil, errReplay, errReplay}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y error) bool { return x == y })); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
}

func TestReplay_ForgetsTheSenderHeardLongestAgoBeyond4096(t *testing.T) {
	now := time.Now()
	r := newReplay(30 * time.Second)
	for i := range maxSenders + 1 {
		if err := r.check(fmt.Sprint("node-", i), uint64(now.UnixNano())+uint64(i), now); err != nil {
			t.Fatalf("sender %d: %v", i, err)
		}
	}
	if len(r.senders) != maxSenders {
		t.Errorf("%d senders kept, want %d", len(r.senders), maxSenders)
	}
	if _, ok := r.senders["node-0"]; ok {
		t.Error("node-0, the oldest, is still kept")
	}
	if _, ok := r.senders[fmt.Sprint("node-", maxSenders)]; !ok {
		t.Error("the newest sender is not kept")
	}
}
