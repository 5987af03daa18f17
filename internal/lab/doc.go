// Package lab runs the real vipkeeper binary on simulated nodes: network namespaces on
// a shared data LAN, a real etcd and kube-apiserver (internal/testenv), and a client that
// asks who answers ARP and NDP for each VIP every 100 ms. It is the base of the daemon's
// end-to-end tests and of `vipkeeper-lab` (make lab), and the fault API the chaos
// scenarios build on.
//
// The chaos scenarios (scenario*.go) are data: a setup, fault steps and an observation
// window, run on a reset lab; the report (report*.go) writes results.json, report.md and one
// SVG timeline per scenario, and bench*.go adds the scale runs and kube-apiserver's own
// request rates. `vipkeeper-lab scenarios` and `vipkeeper-lab bench` (make bench) run them;
// docs/benchmarks.md holds the figures.
//
// # Invariant
//
// Close removes everything the lab created: namespaces, host interfaces, processes, temp
// dir and pid file, also after a failed Start; StartTest closes in t.Cleanup. A lab whose
// owner was SIGKILLed is removed by the next Start (Sweep): its children die with it
// (Pdeathsig), its network objects carry the lab's tag and its pid file names a dead
// process. Every background loop ends with Close.
//
// # Topology (root only; documentation ranges only)
//
//	host namespace:  bridge vkl-<id> 203.0.113.(32s+1)/27        <- kube-apiserver binds here
//	                  |  vkl-<id>-<i> (veth)
//	node i netns:    mgmt 203.0.113.(32s+1+i)/27                  /readyz :9473, /metrics :9472
//	                 eth0 198.51.100.(10+i)/24 2001:db8:1::(10+i)/64 nodad, MAC 02:76:6b:00:00:<i>
//	                  |  n<i> (veth)
//	lan netns:       bridge br0 (no STP delay, no multicast snooping)
//	                  |  client (veth)
//	client netns:    eth0 198.51.100.2-9/24 2001:db8:1::2-9/64    <- the prober
//
// s is a free /27 slot of 203.0.113.0/24 (so labs can run side by side; chosen under a
// lock in StateDir). Every name carries the random tag vkl-<id>. The data LAN lives in its
// own namespaces, so it collides with nothing; only the management bridge is in the host
// namespace. Cutting a node's management link (SetAPILink) partitions it from the API
// only; pulling its data cable (SetDataLink) cuts it from the client and the other nodes.
//
// With the ride timing (Timing.Ride, issue 11) the daemons' peer channel runs on the data
// LAN: each agent listens on and advertises its eth0 IPv4 address, UDP 9474, with one
// random key per lab under the lab's dir (ride.go), so cutting a node's management link
// leaves its peers reachable. Peer faults are nftables tables "inet vkl_*" in a node's
// namespace that drop UDP 9474 only (all of it on eth0, or to and from one other node's
// data addresses; nft.go); the repair between scenarios deletes them. Config.Spare nodes
// are built and registered but their daemons run only when a scenario's steps start them
// (a node joining).
//
// A BGP lab (Config.BGP "frr" or "bird", bgp_*.go, docs/bgp.md) adds a router netns on
// br0 (198.51.100.1, 2001:db8:1::1) running FRR's zebra and bgpd or BIRD 2 in its own temp
// dir, and a second client netns behind it (198.51.100.242/28, 2001:db8:2::2/64) that
// reaches the BGP VIPs only through the router; every node has those VIPs on lo with ARP
// off for them and a TCP server on :80 (the kube-proxy stand-in), and routes the client
// LAN via the router.
//
// # Daemons
//
// Each node runs Config.DaemonCmd (a text/template over DaemonArgs; default: `vipkeeper
// agent` with --node-name, --kubeconfig, --interface eth0, the timing preset and, at the
// ride timing, --peer-key-dir, --peer-listen and --peer-advertise) as
// `ip netns exec <node> ...`, and the controller role runs Config.ControllerCmd (default
// `vipkeeper controller`) in the host namespace. The kubeconfigs carry tokens of the
// ServiceAccounts that deploy/vipkeeper.yaml gives the DaemonSet and the Deployment, after
// every object of that manifest but those two was applied, so the lab proves the shipped
// RBAC of each role is enough. Node objects are registered for the lab nodes (no kubelet
// runs). Services get EndpointSlices managed by "vipkeeper-lab"
// (no controller-manager runs).
//
// # Measuring
//
// The Prober sends one ARP request or Neighbor Solicitation per VIP per round from a
// rotating source address, so each reply names its round and a late reply never fakes an
// outage or a split brain. The holder's kernel answers, so "answered" means "the VIP is on
// that node's eth0". The Timeline keeps the answers as runs, the Lease holders read from
// the API every 500 ms, the gratuitous announcements seen, and marks (fault start and end);
// Analyze, TimeToHealthy and FirstAnswer turn runs into outage, split-brain and recovery
// figures.
//
// # Control-plane lab
//
// CPLab (cp*.go, `vipkeeper-lab control-plane [bench]`) uses the same topology for the
// control-plane VIP: every node namespace runs an etcd member of one cluster and its own
// kube-apiserver (testenv.Cluster), plus vipkeeper control-plane or keepalived; the client
// reads through https://VIP:6443 every 100 ms (Reader) beside the ARP prober. Close removes
// it the same way (removeLab).
//
// # Threads
//
// Children get Pdeathsig, which fires when the OS thread that forked them exits. Every child
// is forked by testenv.StartChild from one thread locked for the life of the process, so a
// retired thread cannot kill them. inNS still moves its locked thread back to the host
// namespace and unlocks it, so threads are reused rather than retired.
package lab
