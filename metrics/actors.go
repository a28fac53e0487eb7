package metrics

import (
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/cairnkv/cairn/tracing"
)

// ActorOptions returns the props options that measure one actor of the
// given role (see tracing.ActorRole): the time it spends on each message,
// by message type, and the messages waiting in its mailbox. Call it once
// per spawned actor: the options hold the actor's state. A nil *Member
// returns nil.
func (m *Member) ActorOptions(role string) []actor.PropsOption {
	if m == nil {
		return nil
	}
	st := &actorTimer{m: m, role: role, depth: &mailboxDepth{}, observers: map[messageKind]prometheus.Observer{}}
	return []actor.PropsOption{
		actor.WithReceiverMiddleware(st.receive),
		actor.WithMailbox(actor.Unbounded(st.depth)),
	}
}

// messageKind tells message types apart for the duration histogram: raft
// messages by their raft type.
type messageKind struct {
	t    reflect.Type
	raft raftpb.MessageType
}

// actorTimer is the receiver middleware's state for one actor.
type actorTimer struct {
	m         *Member
	role      string
	resolved  bool
	depth     *mailboxDepth
	counted   bool // depth is in the depth collector
	observers map[messageKind]prometheus.Observer
}

func (st *actorTimer) receive(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		switch env.Message.(type) {
		case *actor.Started:
			if !st.counted {
				st.resolve(c)
				st.m.depths.add(st.role, st.depth)
				st.counted = true
			}
		case *actor.Restarting:
			st.resolve(c)
			st.m.restarts.WithLabelValues(st.role).Inc()
		case *actor.Stopped:
			if st.counted {
				st.m.depths.remove(st.role, st.depth)
				st.counted = false
			}
		}
		start := time.Now()
		next(c, env)
		st.observer(c, env.Message).Observe(time.Since(start).Seconds())
	}
}

func (st *actorTimer) resolve(c actor.ReceiverContext) {
	if !st.resolved {
		st.role, st.resolved = tracing.ActorRole(st.role, c.Actor()), true
	}
}

func (st *actorTimer) observer(c actor.ReceiverContext, msg any) prometheus.Observer {
	k := messageKind{t: reflect.TypeOf(msg)}
	if rm, ok := msg.(*raftpb.Message); ok {
		k.raft = rm.GetType()
	}
	if o, ok := st.observers[k]; ok {
		return o
	}
	st.resolve(c)
	o := st.m.actorTime.WithLabelValues(st.role, tracing.MessageName(msg))
	st.observers[k] = o
	return o
}

// mailboxDepth counts the messages in one actor's mailbox, waiting or being
// handled (the mailbox reports a message received once it is handled). The
// actor's receiver middleware adds it to the depth collector under its
// resolved role when the actor starts, and removes it when it stops.
type mailboxDepth struct {
	n atomic.Int64
}

func (d *mailboxDepth) MailboxStarted()     {}
func (d *mailboxDepth) MessagePosted(any)   { d.n.Add(1) }
func (d *mailboxDepth) MessageReceived(any) { d.n.Add(-1) }
func (d *mailboxDepth) MailboxEmpty()       {}

// depthCollector exports cairn_actor_mailbox_depth: by role, the sum of
// the depths of the running actors of that role; and cairn_actor_running,
// how many of them run.
type depthCollector struct {
	desc    *prometheus.Desc
	running *prometheus.Desc
	mu      sync.Mutex
	live    map[string]map[*mailboxDepth]struct{}
}

func newDepthCollector() *depthCollector {
	return &depthCollector{
		desc: prometheus.NewDesc("cairn_actor_mailbox_depth",
			"Messages in the mailboxes of the running actors of a role, waiting or being handled (system messages included).", []string{"actor"}, nil),
		running: prometheus.NewDesc("cairn_actor_running",
			"Running actors of a role (one for most; watch streams and snapshot senders come and go).", []string{"actor"}, nil),
		live: map[string]map[*mailboxDepth]struct{}{},
	}
}

func (c *depthCollector) add(role string, d *mailboxDepth) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := c.live[role]
	if set == nil {
		set = map[*mailboxDepth]struct{}{}
		c.live[role] = set
	}
	set[d] = struct{}{}
}

func (c *depthCollector) remove(role string, d *mailboxDepth) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.live[role], d)
	if len(c.live[role]) == 0 {
		delete(c.live, role)
	}
}

func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc; ch <- c.running }

func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for role, set := range c.live {
		var n int64
		for d := range set {
			n += d.n.Load()
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), role)
		ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(len(set)), role)
	}
}
