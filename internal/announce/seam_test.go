package announce

import (
	"net/netip"
	"sync"
	"time"
)

// seamKernel wraps the real kernel port: it can hold replace calls back before the kernel
// sees them (as a busy RTNL does) and make del or list fail.
type seamKernel struct {
	kernelPort
	mu       sync.Mutex
	delay    time.Duration
	slow     int // replace calls still to delay; negative: all
	replaces int
	sets     []setCall // every replace: when it was called and the lifetime it carried
	failDel  map[netip.Addr]error
	failList error
}

// seam installs a seamKernel in a; call before a is used.
func seam(a *Announcer) *seamKernel {
	k := &seamKernel{kernelPort: a.k, failDel: map[netip.Addr]error{}}
	a.k = k
	return k
}

func (k *seamKernel) replace(s addrSpec) error {
	k.mu.Lock()
	k.replaces++
	k.sets = append(k.sets, setCall{at: time.Now(), ip: s.ip, lft: s.lft})
	d := time.Duration(0)
	if k.slow != 0 {
		d = k.delay
		k.slow--
	}
	k.mu.Unlock()
	time.Sleep(d)
	return k.kernelPort.replace(s)
}

func (k *seamKernel) del(index int, ip netip.Addr) error {
	k.mu.Lock()
	err := k.failDel[ip]
	k.mu.Unlock()
	if err != nil {
		return err
	}
	return k.kernelPort.del(index, ip)
}

func (k *seamKernel) list() ([]kaddr, error) {
	k.mu.Lock()
	err := k.failList
	k.mu.Unlock()
	if err != nil {
		return nil, kernelErr("list addresses", err) // as the real kernel port reports it
	}
	return k.kernelPort.list()
}

func (k *seamKernel) set(f func(k *seamKernel)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	f(k)
}

// setCall is one replace the seam saw.
type setCall struct {
	at  time.Time
	ip  netip.Addr
	lft uint32
}

// calls returns the replaces seen so far for ip.
func (k *seamKernel) calls(ip netip.Addr) []setCall {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []setCall
	for _, c := range k.sets {
		if c.ip == ip {
			out = append(out, c)
		}
	}
	return out
}
