package robustness

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
)

// canSplitByDialler is true where socketOwner works.
const canSplitByDialler = true

// socketOwner returns the one of pids whose process holds the TCP socket
// at local (the dialling end of a connection to remote, both on
// 127.0.0.1), or 0 if none does. It reads /proc: the socket's inode from
// /proc/net/tcp, then each process's descriptors. Members dial each other
// over loopback, so the dialling end of a connection a proxy accepts is in
// a member process of the same machine, and this is how the proxy tells
// which member dialled: what a one-way partition needs.
func socketOwner(local, remote net.Addr, pids []int) int {
	inode := socketInode(local, remote)
	if inode == "" {
		return 0
	}
	want := "socket:[" + inode + "]"
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if link, err := os.Readlink(dir + "/" + fd.Name()); err == nil && link == want {
				return pid
			}
		}
	}
	return 0
}

// socketInode finds the inode of the IPv4 socket from local to remote in
// /proc/net/tcp, or "".
func socketInode(local, remote net.Addr) string {
	l, r := procAddr(local), procAddr(remote)
	if l == "" || r == "" {
		return ""
	}
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(s.Text())
		if len(fields) >= 10 && fields[1] == l && fields[2] == r {
			return fields[9]
		}
	}
	return ""
}

// procAddr writes a TCP address as /proc/net/tcp does: the IPv4 address's
// bytes in host (little-endian) order, then the port, in hex.
func procAddr(a net.Addr) string {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return ""
	}
	ip := t.IP.To4()
	if ip == nil {
		return ""
	}
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], t.Port)
}
