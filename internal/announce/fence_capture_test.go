package announce

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// capture records, in the client namespace, when answers for vip reached the client's
// eth0, by the kernel's receive timestamp (SO_TIMESTAMPNS): on a veth that is when the
// node's kernel sent them, past its output hook, whatever the scheduling of this test.
// Call the returned function after stop to get the times.
func (l *lab) capture(vip netip.Addr, stop time.Time) func() []time.Time {
	l.t.Helper()
	var fd int
	l.inClient(func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		proto := int(htons(unix.ETH_P_ALL))
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto); err != nil {
			return err
		}
		tv := unix.NsecToTimeval((20 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	})
	done := make(chan []time.Time, 1)
	go func() {
		defer unix.Close(fd)
		done <- readAnswers(fd, vip, stop.Add(50*time.Millisecond))
	}()
	return func() []time.Time { return <-done }
}

func readAnswers(fd int, vip netip.Addr, until time.Time) []time.Time {
	buf, oob := make([]byte, 2048), make([]byte, 128)
	var got []time.Time
	for time.Now().Before(until) {
		n, oobn, _, from, err := unix.Recvmsg(fd, buf, oob, 0)
		if err != nil {
			continue // the 20 ms receive timeout
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		if at, ok := stamp(oob[:oobn]); ok && answers(buf[:n], vip) {
			got = append(got, at)
		}
	}
	return got
}

// answers reports whether frame is an ARP reply from vip to the client, or a solicited
// Neighbor Advertisement for vip.
func answers(f []byte, vip netip.Addr) bool {
	const eth = 14
	if len(f) < eth+2 {
		return false
	}
	switch binary.BigEndian.Uint16(f[12:14]) {
	case unix.ETH_P_ARP:
		return len(f) >= eth+28 && binary.BigEndian.Uint16(f[eth+6:]) == 2 &&
			netip.AddrFrom4([4]byte(f[eth+14:eth+18])) == vip && netip.AddrFrom4([4]byte(f[eth+24:eth+28])) == clientIP4
	case unix.ETH_P_IPV6:
		const icmp = eth + 40
		return len(f) >= icmp+24 && f[eth+6] == unix.IPPROTO_ICMPV6 && f[icmp] == icmpv6NA &&
			f[icmp+4]&0x40 != 0 && netip.AddrFrom16([16]byte(f[icmp+8:icmp+24])) == vip
	}
	return false
}

// stamp returns the SCM_TIMESTAMPNS time in oob.
func stamp(oob []byte) (time.Time, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS &&
			len(m.Data) >= int(unsafe.Sizeof(unix.Timespec{})) {
			ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
			return time.Unix(ts.Unix()), true
		}
	}
	return time.Time{}, false
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
