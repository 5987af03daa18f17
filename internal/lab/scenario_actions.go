package lab

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// actionTimeout bounds one action (a daemon's graceful stop, kube-apiserver's start).
const actionTimeout = 2 * time.Minute

// The actions of the scenarios. Each acts on the lab of the ScenarioRun; "leader" is the
// node that held the scenario's VIP when the faults began.
var (
	freezeEtcd = Action{Label: "freeze etcd", Do: func(r *ScenarioRun) error { r.Lab.FreezeEtcd(); return nil }}
	thawEtcd   = Action{Label: "thaw etcd", Do: func(r *ScenarioRun) error { r.Lab.ThawEtcd(); return nil }}

	killAPIServer = Action{Label: "kill kube-apiserver", Do: func(r *ScenarioRun) error {
		r.apiDown = true
		r.Lab.KillAPIServer()
		return nil
	}}
	restartAPIServer = Action{Label: "kube-apiserver ready again", Do: func(r *ScenarioRun) error {
		ctx, cancel := context.WithTimeout(r.ctx, actionTimeout)
		defer cancel()
		if err := r.Lab.RestartAPIServer(ctx); err != nil {
			return err
		}
		r.apiDown, r.apiRestarted = false, time.Now()
		return nil
	}}

	powerOffLeader = Action{Label: "leader off (SIGSTOP, data link down)", Do: func(r *ScenarioRun) error {
		if err := r.Leader.Pause(); err != nil {
			return err
		}
		return r.Leader.SetDataLink(r.ctx, false)
	}}
	reviveLeader = Action{Label: "leader revived (SIGCONT, data link up)", Do: func(r *ScenarioRun) error {
		if err := r.Leader.Continue(); err != nil {
			return err
		}
		return r.Leader.SetDataLink(r.ctx, true)
	}}

	killLeader = Action{Label: "leader SIGKILL", Do: func(r *ScenarioRun) error {
		_, err := r.Leader.Kill()
		return err
	}}
	terminateLeader = Action{Label: "leader SIGTERM", Do: func(r *ScenarioRun) error {
		ctx, cancel := context.WithTimeout(r.ctx, actionTimeout)
		defer cancel()
		_, err := r.Leader.Terminate(ctx)
		return err
	}}
	startLeader = Action{Label: "leader daemon started", Do: func(r *ScenarioRun) error { return r.Leader.Start() }}

	cutLeaderAPI = Action{Label: "leader cut off from the API", Do: func(r *ScenarioRun) error {
		return r.Leader.SetAPILink(r.ctx, false)
	}}
	restoreLeaderAPI = Action{Label: "leader's API link back", Do: func(r *ScenarioRun) error {
		return r.Leader.SetAPILink(r.ctx, true)
	}}

	moveEndpoint = Action{Label: "endpoint moved", Do: func(r *ScenarioRun) error {
		next := NodeName(r.Leader.Index()%len(r.Lab.Nodes()) + 1)
		_, err := r.Lab.MoveEndpoint(r.ctx, r.Service, r.Leader.Name(), next)
		return err
	}}

	createService = Action{Label: "Service created", Do: func(r *ScenarioRun) error {
		r.created = time.Now()
		return r.Lab.CreateService(r.ctx, r.spec(ClusterAll))
	}}
)

var undelayEtcd = Action{Label: "etcd latency removed", Do: func(r *ScenarioRun) error { r.Lab.DelayEtcd(0); return nil }}

// delayEtcd adds d of latency each way between kube-apiserver and etcd.
func delayEtcd(d time.Duration) Action {
	return Action{Label: fmt.Sprintf("etcd latency +%v per round trip", 2*d), Do: func(r *ScenarioRun) error {
		r.Lab.DelayEtcd(d)
		return nil
	}}
}

// restartNodeBlind stops node i's daemon (SIGTERM) and starts it again without waiting for
// it to be ready: with the API down it cannot be.
func restartNodeBlind(i int) Action {
	return Action{Label: fmt.Sprintf("%s restarted", NodeName(i)), Do: func(r *ScenarioRun) error {
		ctx, cancel := context.WithTimeout(r.ctx, actionTimeout)
		defer cancel()
		n := r.Lab.Node(NodeName(i))
		if _, err := n.Terminate(ctx); err != nil {
			return err
		}
		return n.Start()
	}}
}

// terminateNode sends SIGTERM to node i's daemon and waits until it has exited.
func terminateNode(i int) Action {
	return Action{Label: fmt.Sprintf("SIGTERM %s", NodeName(i)), Do: func(r *ScenarioRun) error {
		ctx, cancel := context.WithTimeout(r.ctx, actionTimeout)
		defer cancel()
		_, err := r.Lab.Node(NodeName(i)).Terminate(ctx)
		return err
	}}
}

// startNode starts node i's daemon and waits until it is ready.
func startNode(i int) Action {
	return Action{Label: fmt.Sprintf("%s started and ready", NodeName(i)), Do: func(r *ScenarioRun) error {
		n := r.Lab.Node(NodeName(i))
		if err := n.Start(); err != nil {
			return err
		}
		return r.waitNodeReady(n)
	}}
}

// waitNodeReady polls the node's /readyz until it answers 200 (only with the default
// daemon command; another implementation gets a fixed second instead).
func (r *ScenarioRun) waitNodeReady(n *Node) error {
	if !r.ownDaemon {
		return sleepCtx(r.ctx, time.Second)
	}
	deadline := time.Now().Add(actionTimeout)
	for {
		err := n.Ready(r.ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || r.ctx.Err() != nil {
			return fmt.Errorf("%s not ready: %w", n.Name(), err)
		}
		if err := sleepCtx(r.ctx, readyPoll); err != nil {
			return err
		}
	}
}

// spec is the scenario's Service: its name and VIP, with the endpoints setup asks for.
func (r *ScenarioRun) spec(setup ServiceSetup) ServiceSpec {
	s := ServiceSpec{Name: r.Service, VIPs: []netip.Addr{r.VIP}}
	nodes := r.Lab.Nodes()
	switch setup {
	case LocalOne:
		s.Local = true
		s.Endpoints = []Endpoint{{Node: nodes[min(1, len(nodes)-1)].Name()}}
	default:
		for _, n := range nodes {
			s.Endpoints = append(s.Endpoints, Endpoint{Node: n.Name()})
		}
	}
	return s
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
