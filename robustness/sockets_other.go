//go:build !linux

package robustness

import "net"

// canSplitByDialler is false: socketOwner reads Linux's /proc.
const canSplitByDialler = false

func socketOwner(local, remote net.Addr, pids []int) int { return 0 }
