package raftactor

import (
	"fmt"
	"log/slog"
)

// logger adapts slog to raft.Logger. Raft's Info messages (elections, term
// changes) are worth keeping; its Debug ones are per-message noise.
type logger struct{ l *slog.Logger }

func (g logger) Debug(v ...any)                 { g.l.Debug(fmt.Sprint(v...)) }
func (g logger) Debugf(format string, v ...any) { g.l.Debug(fmt.Sprintf(format, v...)) }
func (g logger) Info(v ...any)                  { g.l.Info(fmt.Sprint(v...)) }
func (g logger) Infof(format string, v ...any)  { g.l.Info(fmt.Sprintf(format, v...)) }
func (g logger) Warning(v ...any)               { g.l.Warn(fmt.Sprint(v...)) }
func (g logger) Warningf(format string, v ...any) {
	g.l.Warn(fmt.Sprintf(format, v...))
}
func (g logger) Error(v ...any)                 { g.l.Error(fmt.Sprint(v...)) }
func (g logger) Errorf(format string, v ...any) { g.l.Error(fmt.Sprintf(format, v...)) }

// Fatal and Panic panic rather than exit: the actor's supervisor decides what
// a failed raft means for the member.
func (g logger) Fatal(v ...any) { g.Panic(v...) }
func (g logger) Fatalf(format string, v ...any) {
	g.Panicf(format, v...)
}
func (g logger) Panic(v ...any) {
	s := fmt.Sprint(v...)
	g.l.Error(s)
	panic(s)
}
func (g logger) Panicf(format string, v ...any) {
	s := fmt.Sprintf(format, v...)
	g.l.Error(s)
	panic(s)
}
