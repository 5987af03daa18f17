package cpvip

import (
	"testing"
	"time"
)

// probe is one probe result at an offset from the start.
type probe struct {
	at time.Duration
	ok bool
}

// every returns n probes of result ok, interval apart, from start.
func every(start, interval time.Duration, n int, ok bool) []probe {
	out := make([]probe, n)
	for i := range out {
		out[i] = probe{at: start + time.Duration(i)*interval, ok: ok}
	}
	return out
}

func seq(parts ...[]probe) []probe {
	var out []probe
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// verdicts runs probes through a Health and returns the offsets at which the verdict
// changed, with the new verdict.
func verdicts(th Thresholds, probes []probe) []probe {
	h := NewHealth(th)
	t0 := time.Unix(1000, 0)
	var out []probe
	for _, p := range probes {
		if v, changed := h.Observe(t0.Add(p.at), p.ok); changed {
			out = append(out, probe{at: p.at, ok: v})
		}
	}
	return out
}

func TestHealth_Hysteresis(t *testing.T) {
	const iv = 500 * time.Millisecond
	th := DefaultThresholds // fall 3, rise 10s, start 2
	up := func(at time.Duration) probe { return probe{at: at, ok: true} }
	down := func(at time.Duration) probe { return probe{at: at, ok: false} }
	tests := []struct {
		name   string
		probes []probe
		want   []probe
	}{
		{"starts unhealthy and needs StartCount successes", every(0, iv, 5, true), []probe{up(iv)}},
		{"never healthy stays unhealthy on failures", every(0, iv, 10, false), nil},
		{"falls on the third consecutive failure", seq(every(0, iv, 4, true), every(2*time.Second, iv, 4, false)),
			[]probe{up(iv), down(3 * time.Second)}},
		{"two failures in a row never fall", seq(every(0, iv, 2, true),
			every(time.Second, iv, 2, false), every(2*time.Second, iv, 1, true),
			every(2500*time.Millisecond, iv, 2, false), every(3500*time.Millisecond, iv, 40, true)),
			[]probe{up(iv)}},
		{"rises only after Rise of unbroken success", seq(every(0, iv, 2, true), every(time.Second, iv, 3, false),
			every(2500*time.Millisecond, iv, 30, true)),
			[]probe{up(iv), down(2 * time.Second), up(12500 * time.Millisecond)}},
		{"one failure during the rise restarts it", seq(every(0, iv, 2, true), every(time.Second, iv, 3, false),
			every(2500*time.Millisecond, iv, 10, true), every(7500*time.Millisecond, iv, 1, false),
			every(8*time.Second, iv, 30, true)),
			[]probe{up(iv), down(2 * time.Second), up(18 * time.Second)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := verdicts(th, tc.probes)
			if len(got) != len(tc.want) {
				t.Fatalf("changes %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("change %d: %v, want %v (all: %v)", i, got[i], tc.want[i], got)
				}
			}
		})
	}
}

// TestHealth_FlappingCannotFlapFasterThanRise feeds a server that fails 3 probes out of
// every 8 for ten minutes: each fall needs 3 failures in a row and each rise 10 s without
// one, so the verdict changes at most once per fall + rise, however the flaps fall.
func TestHealth_FlappingCannotFlapFasterThanRise(t *testing.T) {
	const iv = 500 * time.Millisecond
	var probes []probe
	for i := range 1200 {
		probes = append(probes, probe{at: time.Duration(i) * iv, ok: i%8 >= 3})
	}
	got := verdicts(DefaultThresholds, probes)
	if len(got) != 2 || !got[0].ok || got[1].ok {
		t.Fatalf("a server that never succeeds for 10 s in a row must stay down after its first fall; changes %v", got)
	}
	probes = probes[:0]
	for i := range 1200 {
		probes = append(probes, probe{at: time.Duration(i) * iv, ok: i%30 >= 3}) // 1.5 s down, 13.5 s up
	}
	got = verdicts(DefaultThresholds, probes)
	for i := 1; i < len(got); i++ {
		if gap := got[i].at - got[i-1].at; gap < DefaultThresholds.Rise && got[i].ok {
			t.Errorf("rose %v after the previous change, before Rise %v: %v", gap, DefaultThresholds.Rise, got)
		}
	}
	if len(got) > 2*40+1 {
		t.Errorf("%d changes in 10 minutes of 15 s flaps, want at most one fall and one rise per flap", len(got))
	}
}

func TestThresholds_Validate(t *testing.T) {
	if err := DefaultThresholds.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, th := range []Thresholds{{FallCount: 0, StartCount: 1}, {FallCount: 1, StartCount: 0}, {FallCount: 1, StartCount: 1, Rise: -1}} {
		if th.Validate() == nil {
			t.Errorf("%+v: no error", th)
		}
	}
}
