// Package announce is vipkeeper's data plane: it makes the node hold and
// announce exactly the VIPs the elector decided, and nothing else.
//
// # Invariant
//
// A VIP is on an interface only with a finite kernel lifetime that ends no
// later than the Until its holder was granted, and it is announced only
// while its address is in place. So a process that freezes or is killed
// (SIGKILL, OOM) loses its VIPs on its own: the kernel removes them when the
// lifetime runs out, and the kernel, which answers ARP and NDP for them,
// stops answering. kube-vip left its VIP on the NIC after SIGKILL and two
// nodes answered ARP for it forever (kube-vip#996); this package cannot.
//
// # Addresses
//
// Each VIP is a /32 (IPv4) or a /128 with IFA_F_NODAD and
// IFA_F_NOPREFIXROUTE (IPv6), scope global, with valid_lft = preferred_lft =
// floor(Until - now) in whole seconds, computed right before the netlink
// call. With less than one second left the address is removed instead.
// Every refresh (Add for a held VIP, Set) replaces the lifetimes
// (RTM_NEWADDR with NLM_F_REPLACE). The kernel checks lifetimes from a
// timer that may fire up to about one second late
// (ADDRCONF_TIMER_FUZZ_MAX in net/ipv4/devinet.c and net/ipv6/addrconf.c),
// so the address disappears between Until-1s and Until+1s; the election's
// margin LeaseDuration - RenewDeadline must cover that second. Announcing
// stops at install time + lifetime, which is never after Until.
//
// # Ownership
//
// Owned addresses carry IFA_PROTO = Config.Protocol (default 0x56, 'V';
// the kernel uses 1-3 for its own). IPv4 VIPs are also labelled
// "<ifname>:vk" when that fits in 15 characters, which makes them visible
// in `ip addr` and identifies them on kernels older than 6.1, which drop
// IFA_PROTO. There an IPv6 VIP is recognised by /128 + nodad +
// noprefixroute + a finite lifetime. Only host addresses are ever owned.
// Set, the start-up sweep (Set(ctx, nil)) and Remove delete owned addresses
// only: the node's own addresses, and addresses other software added, are
// never touched, and Add refuses a VIP that a foreign address already uses
// (ErrNotOwned).
//
// # Order of changes
//
// Adding is: address in place, then the first announcement, synchronously
// in Add; if that fails the address is removed again and the error names
// interface and address. Withdrawal removes the address first; the VIP's
// announcements stop in the same critical section. Every send happens under
// the lock that Remove takes, and Run verifies against a fresh address dump
// that each address is still in place before announcing it (PureLB's check).
//
// # Announcements
//
// IPv4: a gratuitous ARP request and a gratuitous ARP reply, broadcast, as
// MetalLB sends them (receivers differ in which form they honour). IPv6: an
// unsolicited Neighbor Advertisement to ff02::1 with Override=1 and the
// target link-layer address, sourced from the VIP. After the first one, Run
// sends BurstCount more BurstInterval apart (default 5 at 1 s), then one
// every RefreshInterval (default 30 s) while the VIP is held, and a fresh
// burst when the interface comes back up (netlink link updates).
//
// # Interface choice
//
// Config.Interface if set; otherwise the interface holding an address whose
// prefix covers the VIP (its connected network), the most specific prefix
// winning, then the lowest ifindex. If none covers it the error says
// "no interface has a connected route covering <vip>; set --interface".
//
// # Who answers ARP and NDP
//
// The kernel does: with the VIP on the interface it replies to ARP requests
// and Neighbor Solicitations itself, as for kube-vip and PureLB; vipkeeper
// runs no responder. That assumes the defaults, or these settings:
//
//   - net.ipv4.conf.{all,<if>}.arp_ignore = 0 (default) or 1. 1 (reply only
//     on the interface holding the VIP) is recommended on multi-homed nodes
//     and is what kube-proxy's strictARP sets. 2 breaks VIPs: the sender
//     must be in the target's subnet, and a /32 has none. 8 disables replies.
//   - net.ipv4.conf.{all,<if>}.arp_announce = 0 (default) or 2; 2 keeps the
//     node from using a VIP as the source of its own ARP requests.
//   - net.ipv4.conf.<if>.arp_filter = 0 (default) or routes that send
//     replies out of the interface holding the VIP.
//   - net.ipv6.conf.<if>.disable_ipv6 = 0 for IPv6 VIPs;
//     keep_addr_on_down = 0 (default) is fine: a VIP dropped when the link
//     goes down is reinstalled by the holder's next Add.
//   - On clients, gratuitous ARP only updates existing entries unless
//     arp_accept = 1, and neighbour locktime (1 s) may delay an update;
//     neither matters to the holder, which answers requests.
//
// # Concurrency
//
// An Announcer is safe for concurrent use; one mutex serialises kernel
// changes and sends, so nothing is ever announced for a VIP being removed.
// Run's goroutines end with its ctx or Close. Config.NetNS lets tests run
// an Announcer in a network namespace; sockets are then opened from a
// goroutine whose locked OS thread is retired afterwards.
package announce
