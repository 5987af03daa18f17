// Package pool hands addresses of VIPPools (api/v1alpha1) to type LoadBalancer Services
// of vipkeeper's class that ask for no particular IP, by writing the annotation
// vipkeeper.io/allocated-ips that internal/controller reads.
//
// Invariant: an IP is never allocated to two Services that may not share it, and an
// allocation, once made, changes only when its Service changes (deleted, left our class
// or type, asks for an IP itself, wants other families) or loses a double allocation to
// an older Service. Pools that shrink, turn invalid or start to overlap take nothing back.
//
// How:
//
//   - One writer. The allocator runs in the controller role, only on the replica that holds
//     the Lease vipkeeper-controller (internal/leader); Run serves one term. Its informers
//     start with the term, so a new leader starts from a fresh list, not from a cache that
//     lags its predecessor's last writes.
//   - No CRD, no pools. Until discovery serves vippools.vipkeeper.io the allocator watches
//     nothing and says so once (a log line, vipkeeper_pools_enabled 0); it starts when the
//     CRD appears and stops again if it goes.
//   - No decision applied to a state it was not made for. Each Service write is a JSON
//     merge patch carrying the resourceVersion the decision saw: the API server answers
//     409 if the Service changed since, and the next pass decides again. (A patch, unlike an
//     Update of the cached copy, never drops fields this client does not know.) Until the
//     informer shows a write, the term uses the object the write returned, so a pass never
//     reuses an IP it has just handed out.
//   - Healing. Two leaders can still overlap briefly (a paused process, an ambiguous write
//     that lands late). Every pass walks Services oldest first (svcrules.OlderFirst, the
//     agents' order): the oldest holder of an IP keeps it and a
//     younger one without valid sharing gets a new IP (Event IPConflict). Meanwhile the
//     controller announces the IP for the older Service only, so no two nodes announce.
//   - An IP is free only once no Service names it (requested, or in our annotation): no
//     fresh allocation takes an IP that is still being released.
//
// The decision is the pure function Decide (pools, Services, namespace labels in;
// annotations, pool status, problems out); Allocator is the I/O around it.
//
// Decisions:
//
//   - Served: spec.type LoadBalancer and spec.loadBalancerClass equal to Class (or no
//     class with DefaultClass); Services being deleted are ignored and free their IPs.
//     Requests (vipkeeper.io/loadbalancer-ips, spec.loadBalancerIP) of other classes are
//     not ours and reserve nothing.
//   - Order: for each wanted family, the lowest free address of the first pool by
//     spec.priority (higher first), then name, that is Ready, autoAssign, and admits the
//     Service (namespaces, namespaceSelector, serviceSelector). vipkeeper.io/pool: name
//     (or MetalLB's metallb.io/address-pool, metallb.universe.tf/address-pool:
//     svcrules.PoolOf) restricts a Service to one pool and is the only way to use a pool
//     with autoAssign false.
//   - Migration without renumbering: a Service that asks for nothing and has no
//     allocation keeps the IPs its status.loadBalancer.ingress lists (left there by MetalLB
//     or kube-vip), one per wanted family, when the IP is allocatable in a pool it may
//     use and no older Service requests, holds or keeps it (adopt). Until then those IPs
//     are reserved: no fresh allocation takes them. Of two Services listing one IP the
//     older keeps it, also over a younger one that requests it.
//   - Families (spec.ipFamilyPolicy / spec.ipFamilies): SingleStack wants ipFamilies[0];
//     PreferDualStack every listed family it can get (a family no pool offers is not
//     reported); RequireDualStack all or none (Event AllocationFailed). On a
//     single-stack cluster ipFamilies has one family, and only that one is allocated: a
//     VIP of a family without a cluster IP would reach nothing through kube-proxy.
//   - Requested IPs (vipkeeper's annotation, MetalLB's and kube-vip's, spec.loadBalancerIP:
//     svcrules.RequestOf) are honoured by the controller even outside every pool; inside
//     a pool they count as allocated there and are never handed out.
//   - Sharing: Services with the same sharing key (vipkeeper.io/sharing-key or MetalLB's
//     allow-shared-ip: svcrules.SharingKey) in the same namespace, the
//     same externalTrafficPolicy and disjoint (protocol, port) sets get one IP; a Service
//     whose group holds an IP it may not share gets none (Event SharingRefused), not a
//     surprise second IP.
//   - Address entries: IPv4 CIDRs of /30 and larger skip network and broadcast, IPv6
//     CIDRs shorter than /127 their subnet-router anycast address; ranges are literal.
//     Entries with non-unicast addresses (loopback, link-local, multicast, unspecified,
//     IPv4-mapped, 255.255.255.255), bad syntax, host bits set, reversed or mixed-family
//     ranges, or overlapping each other make the pool Invalid; it is not used.
//   - Overlapping pools: both get Overlapping=True; only the older (creationTimestamp,
//     then name) is used, the younger is Ready=False.
//   - Shrinking: the Service keeps its IP; the pool it came from (recorded in
//     vipkeeper.io/allocated-pools) says ShrunkInUse=True and lists it.
//   - Counts: status.allocated counts the pool's addresses in use; status.free what it
//     can still hand out (0 unless Ready), saturating at MaxInt64 for huge IPv6 pools.
//   - Events: Normal IPAllocated / IPReleased after a write; Warning AllocationFailed,
//     SharingRefused, IPConflict on Services and Invalid, Overlapping, Exhausted,
//     ShrunkInUse on pools, each once when it appears during a leader's term.
//
// The rules it shares with the agents (class, requested IPs, sharing, older first, how a
// VIPPool's entries and spec.l2 read) are svcrules'; the same-namespace rule for
// allocated IPs, overlaps and adoption are its own. An invalid spec.l2 makes the pool
// Invalid, as a bad entry does.
//
// RBAC: services get/list/watch/patch and namespaces list/watch (cluster-wide),
// vippools get/list/watch and vippools/status update (group vipkeeper.io), and events
// create/patch for the recorder (charts/vipkeeper, rbac-controller.yaml).
package pool
