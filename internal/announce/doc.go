// Package announce is vipkeeper's data plane: it makes the node hold and
// announce exactly the VIPs the elector decided, and nothing else.
//
// # Invariant
//
// The kernel stops announcing a VIP (answering ARP and NDP for it) no later
// than the Until its holder was granted, without the process: so a process
// that freezes or is killed (SIGKILL, OOM) loses its VIPs on its own.
// kube-vip left its VIP on the NIC after SIGKILL and two nodes answered ARP
// for it forever (kube-vip#996); this package cannot. Every address it
// installs it recognises afterwards as its own, on every kernel it runs on,
// and it never touches an address it does not own.
//
//   - Default: a VIP is on an interface only with a finite kernel lifetime that
//     the kernel ends no later than Until (checked after each netlink call
//     returns, see Addresses), and it is announced only while its address is in
//     place; the kernel removes it when the lifetime runs out. Whole seconds:
//     the kernel may remove it up to about a second late (docs/dataplane.md).
//   - Fence mode (Config.Fence): the kernel answers for a VIP only while its
//     nftables gate is open, and the gate's timeout, in milliseconds, ends no
//     later than Until (checked after each batch returns, see Fence mode). The
//     kernel checks it on every ARP or NDP message it sends; FenceLateness
//     bounds how late that lets one through. The address outlives the gate.
//
// # Addresses
//
// Each VIP is a /32 or /128, scope global, with IFA_F_NOPREFIXROUTE (and
// IFA_F_NODAD for IPv6), and (outside fence mode) valid_lft = preferred_lft =
// floor(Until - now) in whole seconds, computed right before the netlink call. The kernel
// counts from when it handles the call, so if the call returns too late for
// the lifetime it carried, the address is sent again with the shorter
// lifetime left, and removed (ErrExpired) after three slow calls or with less
// than a second left. Every refresh (Add for a held VIP, Set) replaces the
// lifetimes (RTM_NEWADDR with NLM_F_REPLACE). How late the kernel itself may
// remove an expired address is in docs/dataplane.md. Announcing stops at
// install time + lifetime, which is never after Until. When Until stops moving,
// Run tops the lifetime up once, 1.2 s before Until, so whole seconds do not
// end it up to a second early (topup.go).
//
// # Fence mode
//
// With Config.Fence, New replaces the tables "arp <FenceTable>" and
// "ip6 <FenceTable>" in one batch. Each has a set of VIPs (vips4, vips6) and a
// set of open gates with per-element timeouts (live4, live6), and an output
// chain that drops what would advertise a VIP's mapping while it is in vips and
// not in live: ARP replies and requests with the VIP as sender, Neighbor
// Advertisements for it and Neighbor Solicitations from it. Owned addresses
// already on the node go into vips, so an earlier process's VIPs stay silent
// until the sweep removes them. Installing a VIP is: one batch putting it in
// vips and opening its gate, then the address, then the first announcement
// (the unsolicited NA crosses the gate). The gate's timeout is Until - now less
// a millisecond, rounded down to milliseconds; the kernel counts from when it
// handles the batch, so a batch that returns too late for its timeout is sent
// again with a shorter one, and with less than FenceMinLeft left, or after
// three slow batches, the VIP is removed (ErrExpired). Refreshing is one batch
// that deletes the live element and adds it again (the kernel would keep the
// old expiry of an element merely added again with an unchanged timeout). The
// address lifetime reaches Config.AddrSlack past Until, rounded up to seconds,
// and is re-sent only when it would end less than AddrSlack/2 after the new
// Until. A refresh that finds the tables deleted (nft flush ruleset) recreates
// them with every held VIP's gate.
// Withdrawal closes the gate first, then deletes the address, then takes the
// VIP out of vips (not while an owned copy may be left). Set(ctx, nil) empties
// the sets. Close leaves the tables; their gates close at their timeouts. One
// fence-mode Announcer per network namespace.
//
// # Ownership
//
// Owned addresses carry IFA_PROTO = Config.Protocol (default 0x56, 'V') and
// the address metric IFA_RT_PRIORITY = 0x564b0000 | Protocol. On Linux >= 6.1
// the protocol value alone decides; before 6.1 the kernel drops IFA_PROTO and
// the metric decides (Linux >= 4.18 keeps it, for both families), together
// with the host prefix, noprefixroute and a finite lifetime. New refuses
// kernels older than 4.18. The IPv4 label "<ifname>:vk" is cosmetic (it does
// not fit names of 13+ characters); an earlier vipkeeper's labelled addresses
// with a finite lifetime are still recognised. docs/dataplane.md says why.
// Set, the start-up sweep (Set(ctx, nil)) and Remove delete owned addresses
// only. A foreign copy of a VIP on the interface that would carry it makes
// Add fail (ErrForeign); a foreign copy on another interface (kube-proxy's
// kube-ipvs0) does not block: the kernel keeps it and its local route.
//
// # Errors
//
// Every error names the VIP and, where one was chosen, the interface. The
// core tells them apart with errors.Is:
//
//   - ErrForeign: a copy vipkeeper does not own is on the VIP's interface;
//     permanent until that address goes away. CanCarry reports it too.
//   - ErrCannotCarry (ErrNoInterface is one): no interface is chosen, or it
//     is missing, down, without carrier or without IPv6: the node cannot
//     carry the VIP until that changes.
//   - ErrAnnounce: the first announcement failed; the address was removed
//     again.
//   - ErrKernel: a netlink request failed; it may succeed when retried.
//   - ErrExpired: less than a second (fence mode: FenceMinLeft) is left until
//     Until (the VIP is removed); ErrInvalidVIP, ErrClosed: caller errors.
//
// Remove and Set return a *RemoveError (errors.As) listing the addresses
// that may still be on the node: a delete failed (ErrKernel), or a copy
// vipkeeper does not recognise as its own sits where it had put the VIP
// (ErrForeign). Until they are gone the node may still answer for them; each
// owned one goes at the latest when its kernel lifetime ends (in fence mode its
// gate is closed already).
//
// # Order of changes
//
// Adding is: (fence mode: the gate open,) address in place, then the first
// announcement, synchronously in Add; if that fails the address is removed
// again. Withdrawal (fence mode: closes the gate, then) removes the address;
// the VIP's announcements stop in the same critical section.
// Every send happens under the lock that Remove takes, and Run verifies
// against a fresh address dump that each address is still in place before
// announcing it (PureLB's check).
//
// # Announcements
//
// IPv4: a gratuitous ARP request and a gratuitous ARP reply, broadcast, as
// MetalLB sends them (receivers differ in which form they honour). IPv6: an
// unsolicited Neighbor Advertisement to ff02::1 with Override=1 and the
// target link-layer address, sourced from the VIP. After the first one, Run
// sends BurstCount more BurstInterval apart (default 5 at 1 s), then one
// every RefreshInterval (default 30 s) while the VIP is held, and a fresh
// burst when the interface comes back up (netlink link updates). The kernel
// answers ARP and NDP requests itself; docs/dataplane.md lists the sysctls
// that assumes, and ARPWarnings checks them beside kube-proxy's IPVS mode.
//
// # Interface choice
//
// Address.Interfaces (names or path.Match patterns) if set, else
// Config.Interface: one plain name is used as it is; otherwise, among the
// allowed interfaces (all, without either), the one holding an address whose
// prefix covers the VIP (its connected network), the most specific prefix
// winning, then the lowest ifindex. CanCarryOn answers the same question
// without changing anything.
//
// # Concurrency
//
// An Announcer is safe for concurrent use; one mutex serialises kernel
// changes and sends, so nothing is ever announced for a VIP being removed.
// Run's goroutines end with its ctx or Close. Config.NetNS lets tests run
// an Announcer in a network namespace; sockets are then opened from a
// goroutine whose locked OS thread is retired afterwards.
package announce
