package pool

import (
	"math"
	"math/big"
	"net/netip"

	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// block is one entry of spec.addresses (svcrules.Block, the parse every reader shares),
// with the allocator's arithmetic on what it hands out.
type block struct{ svcrules.Block }

// parseBlock parses one entry (svcrules.ParseBlock).
func parseBlock(entry string) (block, error) {
	b, err := svcrules.ParseBlock(entry)
	return block{b}, err
}

func (b block) contains(a netip.Addr) bool { return b.Contains(a) }

// allocatable reports whether the block may hand out a.
func (b block) allocatable(a netip.Addr, avoidBuggy bool) bool {
	if b.First.Compare(a) > 0 || a.Compare(b.Last) > 0 {
		return false
	}
	return !(avoidBuggy && buggy(a))
}

// buggy reports IPv4 addresses ending in .0 or .255.
func buggy(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	last := a.As4()[3]
	return last == 0 || last == 255
}

// size counts the addresses the block hands out.
func (b block) size(avoidBuggy bool) *big.Int {
	if b.First.Compare(b.Last) > 0 {
		return new(big.Int)
	}
	n := new(big.Int).Sub(toInt(b.Last), toInt(b.First))
	n.Add(n, big.NewInt(1))
	if avoidBuggy && b.First.Is4() {
		n.Sub(n, big.NewInt(buggyUpTo(u32(b.Last))-buggyUpTo(int64(u32(b.First))-1)))
	}
	return n
}

// buggyUpTo counts x in [0, n] with x%256 of 0 or 255; n < 0 counts nothing.
func buggyUpTo(n int64) int64 {
	if n < 0 {
		return 0
	}
	c := n/256*2 + 1
	if n%256 == 255 {
		c++
	}
	return c
}

func u32(a netip.Addr) int64 {
	b := a.As4()
	return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
}

func toInt(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }

// saturate converts n to int64, capping at math.MaxInt64 and flooring at 0.
func saturate(n *big.Int) int64 {
	switch {
	case n.Sign() < 0:
		return 0
	case !n.IsInt64():
		return math.MaxInt64
	}
	return n.Int64()
}

// lowestFree returns the lowest address of the block that it may hand out and that used
// does not hold. It visits at most len(used) + the skipped buggy addresses + 1 addresses.
func (b block) lowestFree(used map[netip.Addr]bool, avoidBuggy bool) (netip.Addr, bool) {
	if b.First.Compare(b.Last) > 0 {
		return netip.Addr{}, false
	}
	for a := b.First; a.IsValid() && a.Compare(b.Last) <= 0; a = a.Next() {
		if !used[a] && !(avoidBuggy && buggy(a)) {
			return a, true
		}
	}
	return netip.Addr{}, false
}
