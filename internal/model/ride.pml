/*
 * ride.pml: vipkeeper's presence model (docs/safety.md) extended by the ride-through rules
 * of issue 11, for spin. docs/ride-through-model.md explains every abstraction and how the
 * rules map onto internal/election; model_test.go runs the model, its mutants (-DM_<NAME>,
 * each breaks one rule) and its covers (-DC_<NAME>, situations the model must reach).
 * Three nodes, two VIPs, discrete time, full state search.
 *
 * Safety: at no instant do two nodes have one VIP's address on their interfaces. An address
 * is added only by install() (asserted there) and stays until its holder withdraws it or
 * its kernel lifetime ends, also when the process has crashed.
 *
 * Roles. Node 0 is the rider: the only node that asks for attestations, asks for relays
 * and crashes. Every node renews, vouches, relays for others, revokes, takes VIPs over and
 * announces. That covers a rider anywhere: a collision involves a rider x and a taker y,
 * and the runs with x = node 0 are those; another node's ride, relays and crash move only
 * its own presence record, its own addresses and its silence (lost messages).
 */

#define N 3
#define V 2
#define NONE 3 /* a VIP record without holder (released) */
#define R 0    /* the rider */

/*
 * Time. A global tick at a time; every event happens at an integer instant, any number of
 * them per instant, in any order. Clock rates enter as bounds on durations: a wait of local
 * length D ends at least lo(D) ticks after it began, a deadline of local length D falls at
 * most hi(D) ticks after its start (lo and hi fold in the rate bound rho). The constants are
 * those bounds, in ticks:
 *   FK     hi(RD + KernelSlack) + KernelLateness: how long after a presence renewal's issue
 *          the holder's addresses may stay (its fence, then the kernel lifetime's end)
 *   PK     hi(DP + KernelSlack) + KernelLateness: the same after an attestation query
 *   XK     hi(RD + X + KernelSlack) + KernelLateness: the ride-through cap (rule 5)
 *   LDLO   lo(LD): the shortest revocation wait
 *   LDXLO  lo(LD + X): the wait of a node that the holder has not acknowledged (rule 5)
 * The rules need FK < LDLO, PK < LDLO and XK < LDXLO; each margin here is one tick.
 */
#ifndef FK
#define FK 2
#endif
#ifndef LDLO
#define LDLO 3
#endif
#ifndef PK
#ifdef M_DPBOUND
#define PK LDLO /* DP at the bound: its window reaches the earliest revocation */
#else
#define PK 2
#endif
#endif
#ifndef XK
#define XK 5
#endif
#ifndef LDXLO
#define LDXLO 6
#endif

/* The fault budget: ENV changes of some node's API link, MAXCRASH crashes of the rider,
 * MAXREL releases. Messages are lost and delayed at will, without budget; a node whose link
 * is down may lose sight at any time. */
#ifndef ENV
#define ENV 3
#endif
#ifndef MAXCRASH
#define MAXCRASH 0
#endif
#ifndef MAXREL
#define MAXREL 0
#endif
#ifndef RESTARTS
#define RESTARTS 0 /* may the crashed rider restart (1) or not (0) */
#endif

#define B(x, i) (((x) >> (i)) & 1)
#define SET(x, i) x = (x) | (1 << (i))
#define CLR(x, i) x = (x) & ~(1 << (i))

/* ---- the API server: presence and ownership records, one write at a time */
byte preg;       /* bit h: node h has a presence record */
byte pinc[N];    /* the incarnation it names */
bit  prev[N];    /* that incarnation was revoked */
byte ab[N];      /* ticks since its version last changed (saturating) */
byte vh[V];      /* VIP record holder, NONE when released */
byte vinc[V];    /* the holder's incarnation */

/* ---- each node: its process (lost on a crash) and its kernel (addresses, lifetime) */
bit  alive[N];   /* the process runs */
bit  reg[N];     /* its incarnation's registration landed */
byte inc[N];     /* its incarnation */
bit  link[N];    /* it can reach the API server */
bit  sighted[N]; /* rule 2: its own renewal succeeded lately */
byte ar[N];      /* rule 2: sighted ticks since it last regained sight (0 while not sighted) */
bit  akw[N];     /* rule 5: its current wait on the rider's presence began after the rider
                  * acknowledged it (only such a wait may end after LD instead of LD + X) */
byte own[N];     /* bit v: it believes it holds VIP v (may be stale) */
byte addr[N];    /* bit v: VIP v is on its interface (kernel state: survives a crash) */
byte life[N];    /* ticks its addresses may still stay: the kernel lifetime, worst case */

/*
 * A node's wait on h's presence counts sighted time since it saw h's current version and
 * starts again on regaining sight (rule 2): min(ab[h], ar[j]). Every node sees a new version
 * the instant it lands (a later view would only start the wait later), and revokes only
 * while sighted, so no wait is needed while not sighted.
 */
/* -DVOUCHRESTART is rule 2 as internal/election implements it: a wait restarts when the
 * node attests ("I am blind"), not when it regains sight, which comes later; blind time
 * counts. Regaining sight restarts nothing, and revocation still needs sight. */
#ifdef VOUCHRESTART
byte av[N];      /* ticks since it last vouched (saturating) */
#define WAIT(j, h) (ab[h] < av[j] -> ab[h] : av[j])
#elif defined(M_NOSIGHT)
#define WAIT(j, h) ab[h]
#else
#define WAIT(j, h) (ab[h] < ar[j] -> ab[h] : ar[j])
#endif

/* ---- the rider's ride-through state */
byte kn;         /* members it knows (saw the presence of): it asks and acknowledges them */
byte cap;        /* rule 5: ticks left until XK after its newest landed renewal's issue */
bit  ra;         /* rule 4: a relay ask outstanding */
byte rac;        /* FK - the ask's age */
bit  rnd;        /* rule 3: an attestation round outstanding */
byte qc;         /* PK - the round's age */
byte got;        /* members that vouched "I am blind" in this round */

/* ---- the peer channel: authentic messages, lost, delayed and reordered at will. A set of
 * pending messages per kind; a message never taken is a lost one. */
byte Q;          /* bit j: the rider's query pending at j */
byte RA;         /* bit p: the rider's relay ask pending at p */
byte RO;         /* bit p: p's "renewed you" pending at the rider (M_RELAYLATE only) */

byte env;        /* link changes so far */
byte crashes;
byte rels;
byte tmp;

/* ---- the two VIPs are symmetric: keep the state with VIP 0's key not above VIP 1's */
#define KEY(v) ((vh[v] << 12) | (vinc[v] << 10) | (B(own[0], v) << 5) | (B(own[1], v) << 4) | \
	(B(own[2], v) << 3) | (B(addr[0], v) << 2) | (B(addr[1], v) << 1) | B(addr[2], v))
#define SWAPB(x) x = (((x) & 1) << 1) | (((x) >> 1) & 1)
inline canon() {
	if
	:: KEY(0) > KEY(1) ->
		tmp = vh[0]; vh[0] = vh[1]; vh[1] = tmp;
		tmp = vinc[0]; vinc[0] = vinc[1]; vinc[1] = tmp; tmp = 0;
		SWAPB(own[0]); SWAPB(own[1]); SWAPB(own[2]);
		SWAPB(addr[0]); SWAPB(addr[1]); SWAPB(addr[2])
	:: else -> skip
	fi
}

/* Covers (-DC_<NAME>): an assertion that fails when the run reaches a situation the real
 * model must reach, so that its "no error" is not for want of rides, relays, crashes. */
#define COVER(c) if :: c -> assert(false) :: else -> skip fi
#ifdef C_RIDEOVER
bit rode;        /* the rider's addresses stood past its fence on attestations */
#endif
#ifdef C_CRASHOVER
bit crode;       /* the rider crashed while its addresses stood on attestations */
#endif
#define MIDRIDE (addr[R] != 0 && life[R] > 0 && life[R] + XK - FK > cap)

/* one atomic step: a guard, then the body; printf shows in spin -t replays only */
#define STEP(g, ...) :: d_step { g -> __VA_ARGS__; canon() }

#define ONE(v) (B(addr[0], v) + B(addr[1], v) + B(addr[2], v) <= 1)
inline install(j) { /* installs are eager: installing later only shortens an announcement */
	if
	:: alive[j] && life[j] > 0 && (own[j] & ~addr[j]) != 0 ->
		addr[j] = addr[j] | own[j];
		assert(ONE(0) && ONE(1))
	:: else -> skip
	fi
}

inline credit(j, c) { /* a renewal of j issued FK - c ticks ago is known to have landed */
	if :: life[j] < c -> life[j] = c :: else -> skip fi;
	if :: j == R && c > 0 && cap < c + XK - FK -> cap = c + XK - FK :: else -> skip fi;
	install(j)
}

#ifdef VOUCHRESTART
inline regain(j) { /* variant: regaining sight restarts nothing */
	if :: !sighted[j] -> sighted[j] = 1 :: else -> skip fi
}
#ifdef M_NORESTART
#define VOUCHED_BY(j) skip /* mutant of the variant: an attestation restarts nothing */
#else
#define VOUCHED_BY(j) av[j] = 0; akw[j] = B(kn, j)
#endif
#else
inline regain(j) { /* rule 2: on regaining sight every wait starts again */
	if :: !sighted[j] -> sighted[j] = 1; ar[j] = 0; akw[j] = B(kn, j) :: else -> skip fi
}
#define VOUCHED_BY(j) skip
#endif

inline bump(h) { /* a write of h's presence landed: every wait on it starts again */
	ab[h] = 0;
	if :: h == R -> akw[1] = B(kn, 1); akw[2] = B(kn, 2) :: else -> skip fi
}

#define LIVE(h) (B(preg, h) && pinc[h] == inc[h] && !prev[h])

#ifdef M_ANYONE
#define VOUCHED (got != 0 || kn == 0)
#else
#define VOUCHED ((kn & ~got) == 0)
#endif
#ifdef M_LATE
#define STANDS true
#else
#define STANDS (life[R] > 0)
#endif
#ifdef M_NOCAP
#define RIDE qc
#else
#define RIDE (qc < cap -> qc : cap)
#endif

inline complete() { /* rule 3: every member vouched while the rider's addresses stood */
	if
	:: rnd && VOUCHED && STANDS ->
#ifdef C_RIDEOVER
		if :: life[R] < RIDE && RIDE + XK - FK > cap -> rode = 1 :: else -> skip fi;
#endif
		if :: life[R] < RIDE -> life[R] = RIDE :: else -> skip fi;
		rnd = 0; qc = 0; got = 0; Q = 0;
		install(R)
	:: else -> skip
	fi
}

/* ---- time */

/* counters saturate at the longest wait they are compared with: only waits on the rider
 * may need LD + X */
#define ABMAX(j) (j == R -> LDXLO : LDLO)
#define ARMAX(j) (j == R -> LDLO : LDXLO)
inline tick1(j) {
	if
	:: life[j] == 0 -> addr[j] = 0 /* the kernel's backstop */
	:: else -> life[j]--
	fi;
	if :: ab[j] < ABMAX(j) && B(preg, j) -> ab[j]++ :: else -> skip fi;
#ifdef VOUCHRESTART
	if :: av[j] < ARMAX(j) -> av[j]++ :: else -> skip fi
#else
	if :: sighted[j] && ar[j] < ARMAX(j) -> ar[j]++ :: else -> skip fi
#endif
}

/* a live node that reaches the API renews at every instant: one that should not is one whose
 * link is down at the tick (RENEW renews within an instant) */
inline renew(j) {
	if :: alive[j] && reg[j] && link[j] && LIVE(j) -> bump(j); credit(j, FK); regain(j)
	   :: else -> skip fi
}

inline tick() {
	tick1(0); tick1(1); tick1(2);
	if
#ifndef M_LATE
	:: life[R] == 0 -> cap = 0 /* canonical: a ride needs life, so a later credit is from a newer issue */
#endif
	:: cap > 0 -> cap--
	:: else -> skip fi;
	if :: ra -> rac--; if :: rac == 0 -> ra = 0; RA = 0; RO = 0 :: else -> skip fi
	   :: else -> skip fi;
	if :: rnd -> qc--; if :: qc == 0 -> rnd = 0; got = 0; Q = 0 :: else -> skip fi
	   :: else -> skip fi;
	renew(0); renew(1); renew(2);
	printf("tick: life %d%d%d ab %d%d%d ar %d%d%d link %d%d%d sighted %d%d%d own %d%d%d addr %d%d%d\n",
		life[0], life[1], life[2], ab[0], ab[1], ab[2], ar[0], ar[1], ar[2],
		link[0], link[1], link[2], sighted[0], sighted[1], sighted[2],
		own[0], own[1], own[2], addr[0], addr[1], addr[2])
}

/* ---- the steps; j a node, h a peer, p a node the rider asks, v a VIP */

#define LINK(j) STEP(alive[j] && env < ENV, printf("%d: link %d\n", j, 1 - link[j]); \
	env++; link[j] = 1 - link[j])
#define LAPSE(j) STEP(sighted[j] && !link[j], printf("%d: not sighted\n", j); sighted[j] = 0; ar[j] = 0)

/* presence renewals (docs/safety.md rules 1, 2), credited from their issue. A renewal lands
 * at its issue instant: one landing later is dominated by one issued where it lands (the
 * same new version, a later fence). What must never be is a credit from after the landing:
 * see the relay (rule 4) and its mutant. */
#define RENEW(j) STEP(alive[j] && reg[j] && link[j] && LIVE(j) && (ab[j] != 0 || !sighted[j]), \
	printf("%d: renews\n", j); bump(j); credit(j, FK); regain(j))

/* a new incarnation registers (the rider after a restart) */
#define REGISTER(j) STEP(alive[j] && !reg[j] && link[j], printf("%d: registers\n", j); \
	reg[j] = 1; SET(preg, j); pinc[j] = inc[j]; prev[j] = 0; bump(j); credit(j, FK); regain(j))

/* the rider's informer shows it h's presence record: h is a member, asked and acknowledged */
#define LEARN(h) STEP(alive[R] && reg[R] && link[R] && B(preg, h) && !B(kn, h), \
	printf("0: learns %d\n", h); SET(kn, h))

/* rule 3: the rider asks every member it knows; a member that is not sighted vouches. A
 * sighted member's refusal is the query lost. The answer's delivery is folded into the
 * answer: delivering it later only ends the ride sooner. At most one round starts per
 * instant. */
#define ROUND STEP(alive[R] && reg[R] && own[R] != 0 && qc < PK, printf("0: asks for attestations\n"); \
	Q = kn; rnd = 1; qc = PK; got = 0; complete())
#define ANSWER(j) STEP(alive[j] && B(Q, j) && !sighted[j], printf("%d: vouches\n", j); \
	VOUCHED_BY(j); CLR(Q, j); SET(got, j); complete())

/* rule 4: relay renewal of the rider by p, credited from the ask */
#define ASK(p) STEP(alive[R] && reg[R] && own[R] != 0 && !ra, printf("0: asks %d to relay\n", p); \
	RA = (1 << p); RO = 0; ra = 1; rac = FK)
#ifdef M_RELAYLATE
/* counted from the reply instead of the ask */
#define RELAY(p) STEP(alive[p] && link[p] && B(RA, p), printf("%d: renews 0 for it\n", p); \
	CLR(RA, p); if :: LIVE(R) -> bump(R); SET(RO, p) :: else -> skip fi)
#define RELAYED(p) STEP(alive[R] && B(RO, p), printf("0: hears %d renewed it\n", p); \
	CLR(RO, p); if :: ra -> credit(R, FK); ra = 0; rac = 0 :: else -> skip fi)
#else
/* the reply's delivery is folded into the relay: a later delivery credits the same fence */
#define RELAY(p) STEP(alive[p] && link[p] && B(RA, p), printf("%d: renews 0 for it\n", p); \
	CLR(RA, p); \
	if :: LIVE(R) -> bump(R); if :: alive[R] && ra -> C_RELAYED; credit(R, rac); ra = 0; rac = 0 :: else -> skip fi \
	   :: else -> skip fi)
#define RELAYED(p)
#endif
#ifdef C_RELAY
#define C_RELAYED COVER(rac > life[R]) /* a relayed renewal keeps the rider up */
#else
#define C_RELAYED skip
#endif

/* revocation: a CAS on a version seen unchanged for LD of sighted time (rule 2), LD + X when
 * the rider had not acknowledged this node when the wait began (rule 5); only of a holder */
#ifdef M_NOWAIT
#define WAITED(j, h) true
#elif defined(M_JOINLD)
#define WAITED(j, h) (WAIT(j, h) >= LDLO)
#elif defined(M_ACKNOW)
/* acknowledged now counts, whenever the wait began */
#define WAITED(j, h) (WAIT(j, h) >= ((h != R || B(kn, j)) -> LDLO : LDXLO))
#else
#define WAITED(j, h) (WAIT(j, h) >= ((h != R || akw[j]) -> LDLO : LDXLO))
#endif
#ifdef M_NOSIGHT
#define CANREVOKE(j) (alive[j] && reg[j] && link[j])
#else
#define CANREVOKE(j) (alive[j] && reg[j] && link[j] && sighted[j])
#endif
#define HOLDS(h) ((vh[0] == h && vinc[0] == pinc[h]) || (vh[1] == h && vinc[1] == pinc[h]))
#ifdef C_UNACKED
#define C_REVOKED(j, h) COVER(h == R && !akw[j]) /* an unacknowledged node revokes after LD + X */
#else
#define C_REVOKED(j, h) skip
#endif
#define REVOKE(j, h) STEP(CANREVOKE(j) && !prev[h] && HOLDS(h) && WAITED(j, h), \
	printf("%d: revokes %d\n", j, h); C_REVOKED(j, h); prev[h] = 1; bump(h))

/* takeover needs evidence that the holder's incarnation is over (docs/safety.md rule 4) */
#if defined(C_RIDEOVER)
#define C_TAKEN(j, v) COVER(vh[v] == R && j != R && rode) /* a VIP taken from a rider that rode */
#elif defined(C_CRASHOVER)
#define C_TAKEN(j, v) COVER(vh[v] == R && crode) /* taken from a rider that crashed mid-ride */
#elif defined(C_REACQUIRE)
#define C_TAKEN(j, v) COVER(j == R && vh[v] == R) /* a restarted rider re-acquires its record */
#else
#define C_TAKEN(j, v) skip
#endif
#define OVER(v) (prev[vh[v]] || pinc[vh[v]] != vinc[v])
#define TAKE(j, v) STEP(alive[j] && reg[j] && link[j] && !B(own[j], v) && \
	(vh[v] == NONE || (vh[v] != j && OVER(v)) || (vh[v] == j && vinc[v] != inc[j])), \
	printf("%d: takes a VIP from %d\n", j, vh[v]); C_TAKEN(j, v); vh[v] = j; vinc[v] = inc[j]; SET(own[j], v); install(j))
/* withdraw before release */
#define RELEASE(j, v) STEP(alive[j] && link[j] && B(own[j], v) && rels < MAXREL, \
	printf("%d: withdraws and releases a VIP\n", j); rels++; CLR(addr[j], v); \
	if :: vh[v] == j && vinc[v] == inc[j] -> vh[v] = NONE :: else -> skip fi; CLR(own[j], v))

/* the rider crashes: its kernel keeps the addresses and their lifetime; a restart sweeps
 * them and is a new incarnation that knows no member yet */
#ifdef C_CRASHOVER
#define C_CRASHED if :: MIDRIDE -> crode = 1 :: else -> skip fi
#else
#define C_CRASHED skip
#endif
#define CRASH STEP(alive[R] && crashes < MAXCRASH, printf("0: crashes\n"); C_CRASHED; crashes++; \
	alive[R] = 0; reg[R] = 0; sighted[R] = 0; ar[R] = 0; own[R] = 0; \
	cap = 0; ra = 0; rac = 0; rnd = 0; qc = 0; got = 0; Q = 0; RA = 0; RO = 0)
#define RESTART STEP(!alive[R] && RESTARTS, printf("0: restarts\n"); alive[R] = 1; inc[R]++; \
	addr[R] = 0; life[R] = 0; kn = 0)

#define NODE(j) LINK(j) LAPSE(j) RENEW(j) TAKE(j, 0) TAKE(j, 1) RELEASE(j, 0) RELEASE(j, 1)
#define PEER(p) LEARN(p) ANSWER(p) ASK(p) RELAY(p) RELAYED(p)

init {
	d_step {
		/* instant 0: every node has just renewed; node 0 announces both VIPs and knows
		 * node 1, not yet node 2 (which joined lately) */
		preg = 7; vh[0] = 0; vh[1] = 0; own[0] = 3; addr[0] = 3; cap = XK; kn = 2;
		alive[0] = 1; reg[0] = 1; link[0] = 1; sighted[0] = 1; life[0] = FK;
		alive[1] = 1; reg[1] = 1; link[1] = 1; sighted[1] = 1; life[1] = FK; akw[1] = 1;
		alive[2] = 1; reg[2] = 1; link[2] = 1; sighted[2] = 1; life[2] = FK
	}
	do
	STEP(true, tick())
	NODE(0) NODE(1) NODE(2)
	REGISTER(R) CRASH RESTART ROUND PEER(1) PEER(2)
	REVOKE(0, 1) REVOKE(0, 2) REVOKE(1, 0) REVOKE(1, 2) REVOKE(2, 0) REVOKE(2, 1)
	od
}
