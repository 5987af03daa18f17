package election

import (
	"fmt"
	"time"
)

// simFmt defers formatting an event or actions to when a trace is printed.
type simFmt struct{ v any }

func (f simFmt) String() string {
	if acts, ok := f.v.([]Action); ok {
		return fmtActions(acts)
	}
	return fmtEvent(f.v.(Event))
}

func fmtEvent(ev Event) string {
	switch ev := ev.(type) {
	case Observed:
		return fmt.Sprintf("observed %s %s", ev.Ref, ev.Record)
	case WriteDone:
		return fmt.Sprintf("wrote#%d %s %s", ev.ID, ev.Class, ev.Record)
	case ReadDone:
		return fmt.Sprintf("read#%d %s %s", ev.ID, ev.Class, ev.Record)
	case Received:
		return "recv " + fmtMsg(ev.Msg) + " from " + ev.From
	}
	return fmt.Sprintf("%T%+v", ev, ev)
}

func fmtMsg(m PeerMsg) string {
	s := fmt.Sprintf("%s inc=%s toinc=%s", m.Kind, m.Inc, m.ToInc)
	if m.Seq != 0 {
		s += fmt.Sprintf(" seq=%d", m.Seq)
	}
	if m.Token != "" {
		s += " token=" + m.Token
	}
	return s
}

func fmtActions(acts []Action) string {
	s := ""
	for i, a := range acts {
		if i > 0 {
			s += "; "
		}
		switch a := a.(type) {
		case Write:
			s += fmt.Sprintf("write#%d %s %s base=%s", a.ID, a.Op, a.Ref, a.Base.RV)
			if a.Ref.Kind == KindNode && a.Token != "" {
				s += " token=" + a.Token
			}
		case Send:
			s += "send " + fmtMsg(a.Msg) + " to " + a.To
		case Read:
			s += fmt.Sprintf("read#%d %s", a.ID, a.Ref)
		case Install:
			s += fmt.Sprintf("install %s until %s", a.VIP, a.Until.Format("15:04:05.000"))
		case Uninstall:
			s += fmt.Sprintf("uninstall %s (%s)", a.VIP, a.Reason)
		default:
			s += fmt.Sprintf("%T", a)
		}
	}
	return s
}

// simMaxRequestsPerSecond is far above what any node needs (a renewal per RetryPeriod and
// an attempt per VIP): more in one virtual second is a retry storm.
const simMaxRequestsPerSecond = 200

func (n *simNode) countRequest() {
	if sec := n.w.now.Truncate(time.Second); sec != n.reqSec {
		n.reqSec, n.reqN = sec, 0
	}
	n.reqN++
	if n.reqN == simMaxRequestsPerSecond {
		n.w.violate("%s: %d requests within one second: a retry storm", n.id, n.reqN)
	}
}
