package election

import (
	"errors"
	"fmt"
	"time"
)

// Config is one elector's identity and timing. All electors of a VIP must use the same
// LeaseDuration and RenewDeadline: the safety argument compares them.
type Config struct {
	Identity      string        // this node's name, written as holderIdentity
	LeaseDuration time.Duration // how long a candidate waits on an unchanged record (15s)
	RenewDeadline time.Duration // a leader withdraws this long after its last successful write started (10s)
	RetryPeriod   time.Duration // a leader renews this often (2s); also the transient backoff cap
	// SpreadDelay delays each candidate's acquisition by rank x SpreadDelay, so that the
	// node ranked first for a VIP wins it while it is up. Default RetryPeriod/2: enough for
	// rank 0's write to land and be seen, so rank 1 rarely wastes a conflicting write.
	SpreadDelay time.Duration
	// AttemptTimeout bounds one read or write (default RetryPeriod). A leader's attempts are
	// further capped so that each ends by its deadline.
	AttemptTimeout time.Duration
	// Rand returns jitter in [0,1) (e.g. math/rand/v2's Float64, or one seeded source per
	// elector). nil disables jitter: backoffs take their full value (tests).
	Rand func() float64
}

// DefaultConfig is client-go's timing (15s/10s/2s) for identity.
func DefaultConfig(identity string) Config {
	const retry = 2 * time.Second
	return Config{
		Identity:       identity,
		LeaseDuration:  15 * time.Second,
		RenewDeadline:  10 * time.Second,
		RetryPeriod:    retry,
		SpreadDelay:    retry / 2,
		AttemptTimeout: retry,
	}
}

// MinFenceGap is the least LeaseDuration - RenewDeadline: the margin between a leader's
// fence and a successor's earliest takeover must hold the kernel's lateness in removing an
// expired address (about a second) and the rounding of lifetimes to whole seconds.
const MinFenceGap = 2 * time.Second

// Validate checks client-go's ratios (LeaseDuration > RenewDeadline > 1.2 x RetryPeriod) and
// that RenewDeadline is at least 2s, the kernel lifetime having one-second granularity.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Identity == "" {
		add("election config: Identity must not be empty")
	}
	if c.RetryPeriod <= 0 {
		add("election config: RetryPeriod %v must be positive", c.RetryPeriod)
	}
	if c.RenewDeadline < 2*time.Second {
		add("election config: RenewDeadline %v must be at least 2s", c.RenewDeadline)
	}
	if c.RenewDeadline*10 <= c.RetryPeriod*12 {
		add("election config: RenewDeadline %v must exceed 1.2 x RetryPeriod %v", c.RenewDeadline, c.RetryPeriod)
	}
	if c.LeaseDuration < c.RenewDeadline+MinFenceGap {
		add("election config: LeaseDuration %v must exceed RenewDeadline %v by at least %v (the kernel removes an expired address up to a second late)",
			c.LeaseDuration, c.RenewDeadline, MinFenceGap)
	}
	if c.SpreadDelay < 0 {
		add("election config: SpreadDelay %v must not be negative", c.SpreadDelay)
	}
	if c.AttemptTimeout <= 0 || c.AttemptTimeout > c.RenewDeadline {
		add("election config: AttemptTimeout %v must be in (0, RenewDeadline %v]", c.AttemptTimeout, c.RenewDeadline)
	}
	return errors.Join(errs...)
}
