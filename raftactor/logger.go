package raftactor

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// logger adapts slog to raft.Logger. Raft's Info messages (elections, term
// changes) are worth keeping; its Debug ones are per-message noise. Some of
// its warnings come once per message too ("dropping proposal" for every
// proposal over the uncommitted budget): under overload they were a line
// per refused request, so each warning's format is logged at most once a
// second, with the count of those held back since (warnings).
type logger struct {
	l     *slog.Logger
	warns *warnings
}

func newLogger(l *slog.Logger) logger { return logger{l: l, warns: &warnings{}} }

// warnInterval is how often one warning's format is logged at most.
const warnInterval = time.Second

// warnings remembers, per format, when it was last logged and how many
// were held back since. raft's formats are literals: the map stays small.
type warnings struct {
	mu     sync.Mutex
	byFmt  map[string]*warning
	nowFor func() time.Time // tests
}

type warning struct {
	last time.Time
	held int
}

// admit reports whether a warning of format may be logged now, and how
// many of it were held back before.
func (w *warnings) admit(format string) (ok bool, held int) {
	now := time.Now()
	if w.nowFor != nil {
		now = w.nowFor()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byFmt == nil {
		w.byFmt = map[string]*warning{}
	}
	s, seen := w.byFmt[format]
	if !seen {
		s = &warning{}
		w.byFmt[format] = s
	}
	if seen && now.Sub(s.last) < warnInterval {
		s.held++
		return false, 0
	}
	held, s.held, s.last = s.held, 0, now
	return true, held
}

func (g logger) Debug(v ...any)                 { g.l.Debug(fmt.Sprint(v...)) }
func (g logger) Debugf(format string, v ...any) { g.l.Debug(fmt.Sprintf(format, v...)) }
func (g logger) Info(v ...any)                  { g.l.Info(fmt.Sprint(v...)) }
func (g logger) Infof(format string, v ...any)  { g.l.Info(fmt.Sprintf(format, v...)) }

// Warning is not held back: its text is its only key, and raft puts
// numbers in it.
func (g logger) Warning(v ...any) { g.l.Warn(fmt.Sprint(v...)) }
func (g logger) Warningf(format string, v ...any) {
	if g.warns == nil {
		g.l.Warn(fmt.Sprintf(format, v...))
		return
	}
	ok, held := g.warns.admit(format)
	switch {
	case !ok:
	case held > 0:
		g.l.Warn(fmt.Sprintf(format, v...), "held-back", held)
	default:
		g.l.Warn(fmt.Sprintf(format, v...))
	}
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
