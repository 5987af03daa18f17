package lab

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The actions of the ride-through scenarios (scenario_ride.go).
var (
	cutLeaderAPIAndPeers = Action{Label: "leader cut off from the API and its peers", Do: func(r *ScenarioRun) error {
		return errors.Join(r.Leader.SetAPILink(r.ctx, false), r.Leader.CutPeers(r.ctx))
	}}
	restoreLeaderAPIAndPeers = Action{Label: "leader's API link and peers back", Do: func(r *ScenarioRun) error {
		return errors.Join(r.Leader.RestorePeers(r.ctx), r.Leader.SetAPILink(r.ctx, true))
	}}

	cutLeaderPeerToSpare = Action{Label: "leader's peer link to the new node cut", Do: func(r *ScenarioRun) error {
		n, err := r.spare()
		if err != nil {
			return err
		}
		return r.Leader.CutPeerTo(r.ctx, n)
	}}
	restoreLeaderPeerToSpare = Action{Label: "leader's peer link to the new node back", Do: func(r *ScenarioRun) error {
		n, err := r.spare()
		if err != nil {
			return err
		}
		return r.Leader.RestorePeerTo(r.ctx, n)
	}}
	// startSpare starts the spare node's daemon without waiting: during a freeze it cannot
	// get ready.
	startSpare = Action{Label: "new node's daemon started", Do: func(r *ScenarioRun) error {
		n, err := r.spare()
		if err != nil {
			return err
		}
		return n.Start()
	}}

	restartNextWithWrongKey = Action{Label: "next node restarted with a wrong peer key", Do: func(r *ScenarioRun) error {
		return r.restartWithWrongKey(r.Lab.Node(NodeName(r.Leader.Index()%r.active() + 1)))
	}}
)

// spare is the lab's first spare node (Config.Spare).
func (r *ScenarioRun) spare() (*Node, error) {
	for _, n := range r.Lab.Nodes() {
		if n.Spare() {
			return n, nil
		}
	}
	return nil, fmt.Errorf("scenario %s: the lab has no spare node (Config.Spare)", r.Scenario.Name)
}

// active is the number of nodes that are not spare (they come first).
func (r *ScenarioRun) active() int { return r.Lab.Config().Nodes - r.Lab.Config().Spare }

// restartWithWrongKey stops n's daemon and starts it with the lab's wrong peer key dir,
// then waits until it is ready (it reaches the API; only its peers reject it).
func (r *ScenarioRun) restartWithWrongKey(n *Node) error {
	if r.Lab.WrongPeerKeyDir() == "" {
		return fmt.Errorf("timing %s has no peer channel: no wrong key to give %s", r.Timing.Name, n.Name())
	}
	ctx, cancel := context.WithTimeout(r.ctx, actionTimeout)
	defer cancel()
	if err := stopDaemon(ctx, n); err != nil {
		return err
	}
	a := n.DaemonArgs()
	a.PeerKeyDir = r.Lab.WrongPeerKeyDir()
	if err := n.StartWith(a); err != nil {
		return err
	}
	r.wrongKey = n
	return r.waitNodeReady(n)
}

// verifyHandover checks leader-api-and-peers-cut: the leader's last answer after the cut
// (its fence) and the successor's first (within LD + 0.5 s of the cut).
func verifyHandover(r *ScenarioRun, _ Result) []Check {
	if len(r.windows) == 0 || r.Leader == nil {
		return []Check{{Name: "handover", Detail: "no fault window or no leader"}}
	}
	h := handover(r.Lab.Timeline().Segments(r.VIP), r.Leader.Name(), r.windows[0].Start)
	return h.checks(r.Timing)
}

// handoverTimes is when, after a cut, the leader last answered and another node first did.
type handoverTimes struct {
	gone      time.Duration // cut -> the leader's first unanswered round (0: not answering at the cut)
	successor time.Duration // cut -> another node's first answer
	who       string        // that node; "" if none answered
}

// handover reads segs from cut: the leader's answers until another node's first answer.
func handover(segs []Segment, leader string, cut time.Time) handoverTimes {
	var h handoverTimes
	for i, s := range segs {
		start, end, in := clipped(segs, i, cut, time.Time{})
		if !in {
			continue
		}
		hasLeader := slices.Contains(s.Nodes, leader)
		if hasLeader {
			h.gone = end.Sub(cut)
		}
		for _, n := range s.Nodes {
			if n != leader && h.who == "" {
				h.who, h.successor = n, start.Sub(cut)
			}
		}
		if h.who != "" && !hasLeader {
			return h
		}
	}
	return h
}

// checks turns the times into the scenario's verdicts: successor within LD + 0.5 s, leader
// gone within RD + 0.5 s (its fence, the renewal being at most RP old at the cut) and
// before the successor answered.
func (h handoverTimes) checks(t Timing) []Check {
	succ := t.LeaseDuration + 500*time.Millisecond
	fence := t.RenewDeadline + 500*time.Millisecond
	out := []Check{{Name: "leader withdrawn at its fence",
		Pass:   h.gone <= fence && (h.who == "" || h.gone <= h.successor),
		Detail: fmt.Sprintf("last answered %d ms after the cut (want <= %v, before the successor)", ms(h.gone), fence)}}
	if h.who == "" {
		return append(out, Check{Name: "successor", Detail: "no other node answered after the cut"})
	}
	return append(out, Check{Name: "successor", Pass: h.successor <= succ,
		Detail: fmt.Sprintf("%s answered %d ms after the cut (want <= %v)", h.who, ms(h.successor), succ)})
}
