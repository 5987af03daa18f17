package election

import (
	"errors"
	"fmt"
	"time"
)

// Config is one node's identity and timing. All nodes must use the same LeaseDuration and
// RenewDeadline: the safety argument compares them.
type Config struct {
	Identity      string        // this node's name, written as holderIdentity
	LeaseDuration time.Duration // how long a node waits on a peer's unchanged presence before revoking it (15s)
	RenewDeadline time.Duration // a node withdraws this long after its last successful presence renew started (10s)
	RetryPeriod   time.Duration // presence renew interval (2s); also the transient backoff cap
	// SpreadDelay delays each candidate's acquisition of a free VIP by rank x SpreadDelay,
	// so the node ranked first for a VIP wins it while it is up. Default RetryPeriod/2.
	SpreadDelay time.Duration
	// AttemptTimeout and MaxAttemptTimeout bound the timeout of reads and ownership writes,
	// which is sized from the measured request latency (3 x its recent 90th percentile).
	// Defaults RetryPeriod and LeaseDuration. Presence renewals run until shortly before the
	// fence they would set.
	AttemptTimeout    time.Duration
	MaxAttemptTimeout time.Duration
	// KernelSlack is how far past the fence the kernel lifetime of an address reaches, and
	// KernelLateness how late the kernel may remove an expired address. Both must fit in
	// LeaseDuration - RenewDeadline. Defaults (LD - RD)/2 - 0.5s and 1s.
	KernelSlack    time.Duration
	KernelLateness time.Duration
	// RefreshAhead: an address that is up gets its kernel lifetime extended to the newest
	// fence only once less than this (plus the second the kernel's rounding may take) is
	// left of it, so a renewal does not cost one kernel
	// call per held VIP (an IPv6 address change costs the kernel time linear in the
	// namespace's addresses). It must exceed the time a pass over the held VIPs takes.
	// Default RenewDeadline / 4, at least a second: a held address is extended about every
	// RenewDeadline - RetryPeriod - RefreshAhead (6 s at the default timings).
	RefreshAhead time.Duration
	// MaxInflight bounds the reads and ownership writes in flight at once (default 64), so
	// a node holding thousands of VIPs never floods a slow API server.
	MaxInflight int
	// MinLifetime is the shortest Install the data plane takes: a second with kernel
	// address lifetimes (whole seconds, rounded down), a few milliseconds with the nftables
	// fence. Default one second.
	MinLifetime time.Duration
	// Rand returns jitter in [0,1). nil disables jitter: backoffs take their full value.
	Rand func() float64
	// Ride is the ride-through (issue 11, docs/safety.md "Ride-through"); off while
	// Ride.Cap is zero. All nodes must agree on it.
	Ride RideConfig
}

// RideConfig sets the ride-through: a holder whose renewals fail keeps announcing on its
// members' attestations that they are blind too, for at most Cap past its fence.
type RideConfig struct {
	// Cap (X) caps a ride: a holder's addresses never stay past its newest landed renewal's
	// emission + RenewDeadline + Cap. A node the holder has not acknowledged waits
	// (LeaseDuration + Cap)(1+ClockRate)/(1-ClockRate) before revoking it. Zero: off.
	Cap time.Duration
	// Window (DP) is how long after sending a query a holder may announce once every
	// member vouched. Default RenewDeadline; it must keep
	// (DP + KernelSlack)/(1-ρ) + KernelLateness < LeaseDuration/(1+ρ).
	Window time.Duration
	// Sight (δ) is how long after its own renewal last landed a node counts as sighted: it
	// then refuses to vouch and may revoke. Default RetryPeriod + (RenewDeadline -
	// 2 RetryPeriod)/4 (0.5 s at 1.2 s / 0.4 s). Safety does not depend on it; availability
	// does, both ways. Above RetryPeriod, a healthy node stays sighted between renewals
	// (regaining sight restarts its waits, so a node that flickers never completes one).
	// Below RenewDeadline - RetryPeriod, members that lose the API with the holder go blind
	// before its fence passes, in time to vouch.
	Sight time.Duration
	// ClockRate (ρ) bounds how far any node's clock rate may be off true time (default
	// 0.001, 1,000 ppm: crystal error plus NTP's 500 ppm slew).
	ClockRate float64
}

// On reports whether the ride-through is configured.
func (r RideConfig) On() bool { return r.Cap > 0 }

// DefaultConfig is client-go's timing (15s/10s/2s) for identity. The derived fields stay
// zero, so a caller may change the timings: New fills them (WithDefaults).
func DefaultConfig(identity string) Config {
	return Config{Identity: identity, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second,
		RetryPeriod: 2 * time.Second}
}

// WithDefaults fills the derived fields left zero.
func (c Config) WithDefaults() Config {
	if c.SpreadDelay == 0 {
		c.SpreadDelay = c.RetryPeriod / 2
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = c.RetryPeriod
	}
	if c.MaxAttemptTimeout == 0 {
		c.MaxAttemptTimeout = c.LeaseDuration
	}
	if c.KernelSlack == 0 {
		c.KernelSlack = DefaultKernelSlack(c.LeaseDuration, c.RenewDeadline)
	}
	if c.KernelLateness == 0 {
		c.KernelLateness = time.Second
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 64
	}
	if c.MinLifetime == 0 {
		c.MinLifetime = time.Second
	}
	if c.RefreshAhead == 0 {
		c.RefreshAhead = max(c.RenewDeadline/4, c.MinLifetime)
	}
	if c.Ride.On() {
		c.Ride = c.Ride.withDefaults(c.RenewDeadline, c.RetryPeriod)
	}
	return c
}

func (r RideConfig) withDefaults(rd, rp time.Duration) RideConfig {
	if r.Window == 0 {
		r.Window = rd
	}
	if r.Sight == 0 {
		r.Sight = rp + (rd-2*rp)/4
	}
	if r.ClockRate == 0 {
		r.ClockRate = 0.001
	}
	return r
}

// UnackedWait is how long a node that the holder has not acknowledged waits on the
// holder's unchanged presence: (LD + X)(1+ρ)/(1-ρ), so that even on the fastest clock it
// outlasts the cap on the slowest (docs/ride-through-model.md, "Time").
func (c Config) UnackedWait() time.Duration {
	r := c.Ride.ClockRate
	return time.Duration(float64(c.LeaseDuration+c.Ride.Cap) * (1 + r) / (1 - r))
}

// DefaultKernelSlack is half the gap between the fence and a successor's earliest takeover,
// less half a second: the kernel's lifetime timer removes an address up to about a second
// late and lifetimes are whole seconds rounded down, so removal falls in
// [fence + slack - 1s, fence + slack + 1s], before the successor.
func DefaultKernelSlack(leaseDuration, renewDeadline time.Duration) time.Duration {
	return max((leaseDuration-renewDeadline)/2-500*time.Millisecond, 0)
}

// MinFenceGap is the least LeaseDuration - RenewDeadline: it must hold the kernel slack and
// the kernel's lateness in removing an expired address.
const MinFenceGap = 2 * time.Second

// Validate checks, after WithDefaults, client-go's ratios (LeaseDuration > RenewDeadline > 1.2 x RetryPeriod), that
// RenewDeadline is at least 2s (kernel lifetimes have one-second granularity) and that the
// kernel's slack and lateness fit between the fence and the earliest takeover.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Identity == "" {
		add("election config: Identity must not be empty")
	}
	if c.RetryPeriod <= 0 {
		add("election config: RetryPeriod %v must be positive", c.RetryPeriod)
	}
	if c.RenewDeadline < 2*c.MinLifetime {
		add("election config: RenewDeadline %v must be at least %v (2 x MinLifetime)", c.RenewDeadline, 2*c.MinLifetime)
	}
	if c.RenewDeadline*10 <= c.RetryPeriod*12 {
		add("election config: RenewDeadline %v must exceed 1.2 x RetryPeriod %v", c.RenewDeadline, c.RetryPeriod)
	}
	if c.MinLifetime >= time.Second && c.LeaseDuration < c.RenewDeadline+MinFenceGap {
		add("election config: LeaseDuration %v must exceed RenewDeadline %v by at least %v (the kernel removes an expired address up to a second late)",
			c.LeaseDuration, c.RenewDeadline, MinFenceGap)
	}
	if c.KernelSlack < 0 || c.KernelLateness < 0 || c.KernelSlack+c.KernelLateness >= c.LeaseDuration-c.RenewDeadline {
		add("election config: KernelSlack %v + KernelLateness %v must be below LeaseDuration - RenewDeadline %v",
			c.KernelSlack, c.KernelLateness, c.LeaseDuration-c.RenewDeadline)
	}
	if c.SpreadDelay < 0 {
		add("election config: SpreadDelay %v must not be negative", c.SpreadDelay)
	}
	if c.AttemptTimeout <= 0 || c.MaxAttemptTimeout < c.AttemptTimeout {
		add("election config: AttemptTimeout %v must be positive and at most MaxAttemptTimeout %v", c.AttemptTimeout, c.MaxAttemptTimeout)
	}
	if c.MaxInflight <= 0 {
		add("election config: MaxInflight %d must be positive", c.MaxInflight)
	}
	if c.MinLifetime <= 0 || c.RefreshAhead < c.MinLifetime {
		add("election config: RefreshAhead %v must be at least MinLifetime %v (positive)", c.RefreshAhead, c.MinLifetime)
	}
	errs = append(errs, c.validateRide()...)
	return errors.Join(errs...)
}

// validateRide checks the ride-through's bounds with the clock-rate bound ρ
// (docs/ride-through-model.md, "Time"): a fence and a ride window, stretched by the slowest
// clock and the kernel's share, end before the shortest revocation wait on the fastest.
func (c Config) validateRide() []error {
	r := c.Ride
	if !r.On() {
		return nil
	}
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !(r.ClockRate > 0 && r.ClockRate < 0.05) {
		add("election config: Ride.ClockRate %v must be in (0, 0.05)", r.ClockRate)
		return errs
	}
	if r.Window <= 0 {
		add("election config: Ride.Window %v must be positive", r.Window)
	}
	if r.Sight <= c.RetryPeriod || r.Sight >= c.RenewDeadline-c.RetryPeriod {
		add("election config: Ride.Sight %v must be above RetryPeriod %v and below RenewDeadline - RetryPeriod %v",
			r.Sight, c.RetryPeriod, c.RenewDeadline-c.RetryPeriod)
	}
	if !c.fitsBeforeLD(c.RenewDeadline) {
		add("election config: (RenewDeadline %v + KernelSlack %v)/(1-ρ) + KernelLateness %v must be below LeaseDuration %v/(1+ρ), ρ = Ride.ClockRate %v",
			c.RenewDeadline, c.KernelSlack, c.KernelLateness, c.LeaseDuration, r.ClockRate)
	}
	if !c.fitsBeforeLD(r.Window) {
		add("election config: (Ride.Window %v + KernelSlack %v)/(1-ρ) + KernelLateness %v must be below LeaseDuration %v/(1+ρ), ρ = Ride.ClockRate %v",
			r.Window, c.KernelSlack, c.KernelLateness, c.LeaseDuration, r.ClockRate)
	}
	return errs
}

// fitsBeforeLD reports (d + KernelSlack)/(1-ρ) + KernelLateness < LeaseDuration/(1+ρ).
func (c Config) fitsBeforeLD(d time.Duration) bool {
	r := c.Ride.ClockRate
	return float64(d+c.KernelSlack)/(1-r)+float64(c.KernelLateness) < float64(c.LeaseDuration)/(1+r)
}
