package robustness

import (
	"net"
	"os"
	"testing"
)

// TestSocketOwner finds this process as the owner of a connection it
// dialled, and no owner among other processes.
func TestSocketOwner(t *testing.T) {
	if !canSplitByDialler {
		t.Skip("socketOwner reads Linux's /proc")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	accepted, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer accepted.Close()
	// What a proxy sees: the dialler's address as the remote one.
	if got := socketOwner(accepted.RemoteAddr(), accepted.LocalAddr(), []int{1, os.Getpid()}); got != os.Getpid() {
		t.Fatalf("owner %d, want this process %d", got, os.Getpid())
	}
	if got := socketOwner(accepted.RemoteAddr(), accepted.LocalAddr(), []int{1}); got != 0 {
		t.Fatalf("owner %d among others, want none", got)
	}
}
