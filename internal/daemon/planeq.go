package daemon

import (
	"time"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

// planeSlice bounds how long the loop runs data-plane calls before it looks at its inputs
// again: acquiring or refreshing thousands of IPv6 addresses takes seconds (each change
// costs the kernel time linear in the namespace's addresses), and presence renewals must
// not wait for it.
const planeSlice = 50 * time.Millisecond

// queuePlane puts a data-plane action in its lane.
func (sh *shell) queuePlane(a election.Action) {
	if in, up := a.(election.Install); up {
		if in.Refresh {
			sh.planeRefresh = append(sh.planeRefresh, a)
		} else {
			sh.planeUp = append(sh.planeUp, a)
		}
		return
	}
	sh.planeDown = append(sh.planeDown, a)
}

func (sh *shell) planePending() bool {
	return len(sh.planeDown)+len(sh.planeRefresh)+len(sh.planeUp) > 0
}

// runPlane runs queued data-plane calls for about budget: withdrawals first, then refreshes
// and other Installs by turns (a refresh never waits behind a long line of new VIPs, nor
// do new VIPs starve behind refreshes when the plane is saturated), stepping
// each outcome and executing what follows from it. It reports whether the core stopped.
func (sh *shell) runPlane(budget time.Duration) bool {
	start := time.Now()
	for sh.planePending() && time.Since(start) < budget {
		var a election.Action
		switch {
		case len(sh.planeDown) > 0:
			a, sh.planeDown = sh.planeDown[0], sh.planeDown[1:]
		case len(sh.planeRefresh) > 0 && (len(sh.planeUp) == 0 || !sh.refreshed):
			a, sh.planeRefresh = sh.planeRefresh[0], sh.planeRefresh[1:]
			sh.refreshed = true
		default:
			sh.refreshed = false
			a, sh.planeUp = sh.planeUp[0], sh.planeUp[1:]
		}
		if sh.exec(sh.d.core.Step(time.Now(), sh.planeCall(a))) {
			return true
		}
	}
	return false
}

// planeCall runs one data-plane action and returns its outcome for the core. A queued
// Install is not run as it was queued: PlaneDue asks the core for the Install to run now
// (its lifetime from the fence that stands now), which do runs.
func (sh *shell) planeCall(a election.Action) election.Event {
	switch a := a.(type) {
	case election.Install:
		return election.PlaneDue{VIP: a.VIP}
	case election.Uninstall:
		return sh.uninstall(a)
	default:
		return election.Swept{OK: sh.resweep()}
	}
}
