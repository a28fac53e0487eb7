// Package ticker sends an actor a message at a fixed interval, as
// protoactor's scheduler.SendRepeatedly does, without its data race:
// SendRepeatedly's timer reads its state without synchronization
// (scheduler/timer.go) while its cancel function writes it atomically, so
// that stopping an actor whose timer is firing is reported by -race. Here
// one goroutine owns a time.Ticker and stops when told to.
package ticker
