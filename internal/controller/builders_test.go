package controller

import (
	"net/netip"

	"github.com/vipkeeper/vipkeeper/internal/svcrules/svcrulestest"
)

// Test object builders (svcrulestest). Services are in namespace "ns" unless the name
// says "other/x".
var (
	epoch     = svcrulestest.Epoch
	svc       = svcrulestest.Svc
	ips       = svcrulestest.IPs
	allocated = svcrulestest.Allocated
	lbIP      = svcrulestest.LBIP
	key       = svcrulestest.Key
	class     = svcrulestest.Class
	noClass   = svcrulestest.NoClass
	local     = svcrulestest.Local
	age       = svcrulestest.Age
	ports     = svcrulestest.Ports
	node      = svcrulestest.Node
	excluded  = svcrulestest.Excluded
	addr      = svcrulestest.Addr
	notReady  = svcrulestest.NotReady
	ep        = svcrulestest.EP
	slice     = svcrulestest.Slice
	nn        = svcrulestest.NN
	nns       = svcrulestest.NNs
	ip        = svcrulestest.IP
)

// want builds a Want; rank < 0 means not eligible.
func want(vip string, rank int, services ...string) Want {
	w := Want{IP: ip(vip), Services: nns(services...)}
	if rank >= 0 {
		w.Eligible, w.Rank = true, rank
	}
	return w
}

func wants(ws ...Want) map[netip.Addr]Want {
	out := map[netip.Addr]Want{}
	for _, w := range ws {
		out[w.IP] = w
	}
	return out
}
