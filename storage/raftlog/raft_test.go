package raftlog

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// These tests run real raft.RawNodes on the log, driven by hand: no ticker,
// no goroutines, a seeded random source. Only the leader is ticked, so
// elections happen only when a test calls Campaign.

var discardLogger = &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

type rnode struct {
	id      uint64
	env     *env
	rn      *raft.RawNode
	applied uint64
	cs      *raftpb.ConfState
	// What the log went through, to check that a test exercised it.
	appends, truncations, compactions, snapshots int
}

type cluster struct {
	t      *testing.T
	rng    *rand.Rand
	nodes  []*rnode // nodes[i].id == i+1
	leader uint64
	// msgs are in flight, in send order.
	msgs     []*raftpb.Message
	isolated map[uint64]bool
	// applied[i] is the data of entry i as the first node to apply it saw
	// it; every other node must apply the same.
	applied map[uint64]string
	// compact enables random compactions after each round.
	compact bool
}

func raftConfig(id uint64, l *Log, applied uint64) *raft.Config {
	return &raft.Config{
		ID:                       id,
		ElectionTick:             10,
		HeartbeatTick:            1,
		Storage:                  l,
		Applied:                  applied,
		MaxSizePerMsg:            4 << 10, // entries are up to 2 KiB: exercises maxSize
		MaxCommittedSizePerReady: 16 << 10,
		MaxInflightMsgs:          16,
		Logger:                   discardLogger,
	}
}

func newCluster(t *testing.T, n int, opts Options, seed uint64) *cluster {
	c := &cluster{
		t:        t,
		rng:      rand.New(rand.NewPCG(seed, 0xca1e)),
		isolated: map[uint64]bool{},
		applied:  map[uint64]string{},
		compact:  true,
	}
	cs := &raftpb.ConfState{}
	for id := uint64(1); id <= uint64(n); id++ {
		cs.Voters = append(cs.Voters, id)
	}
	for id := uint64(1); id <= uint64(n); id++ {
		nd := &rnode{id: id, env: newEnv(t, opts), cs: cs}
		c.nodes = append(c.nodes, nd)
		c.start(nd)
	}
	return c
}

// start creates the node's RawNode on its log, as the raft actor does: the
// conf state and applied index come from the state machine.
func (c *cluster) start(nd *rnode) {
	nd.env.log.SetConfState(nd.cs)
	rn, err := raft.NewRawNode(raftConfig(nd.id, nd.env.log, nd.applied))
	if err != nil {
		c.t.Fatal(err)
	}
	nd.rn = rn
}

// restart reopens the node's pebble and log and starts a new RawNode on it.
func (c *cluster) restart(id uint64) {
	nd := c.node(id)
	nd.env.reopen(c.t)
	c.start(nd)
}

func (c *cluster) node(id uint64) *rnode { return c.nodes[id-1] }

// handleReady persists, sends and applies one Ready, in the order raft's
// documentation gives for synchronous storage writes.
func (c *cluster) handleReady(nd *rnode) {
	t := c.t
	rd := nd.rn.Ready()
	if !raft.IsEmptySnap(rd.Snapshot) {
		must(t, nd.env.log.ApplySnapshot(rd.Snapshot))
		idx := rd.Snapshot.GetMetadata().GetIndex()
		if _, ok := c.applied[idx]; !ok || idx <= nd.applied {
			t.Fatalf("node %d: snapshot at %d, applied %d, cluster applied it: %v", nd.id, idx, nd.applied, ok)
		}
		// The state machine would ingest the snapshot's data here.
		nd.applied = idx
		nd.snapshots++
	}
	if len(rd.Entries) > 0 {
		nd.appends++
		if last, _ := nd.env.log.LastIndex(); rd.Entries[0].GetIndex() <= last {
			nd.truncations++
		}
	}
	must(t, nd.env.log.Append(rd.HardState, rd.Entries, rd.MustSync))
	for _, m := range rd.Messages {
		c.send(m)
	}
	for _, e := range rd.CommittedEntries {
		c.apply(nd, e)
	}
	nd.rn.Advance(rd)
}

func (c *cluster) apply(nd *rnode, e *raftpb.Entry) {
	t := c.t
	if e.GetIndex() != nd.applied+1 {
		t.Fatalf("node %d applies %d after %d", nd.id, e.GetIndex(), nd.applied)
	}
	data := fmt.Sprintf("%d:%x", e.GetType(), e.GetData())
	if prev, ok := c.applied[e.GetIndex()]; ok && prev != data {
		t.Fatalf("node %d applies %s at %d, another node applied %s", nd.id, data, e.GetIndex(), prev)
	}
	c.applied[e.GetIndex()] = data
	if e.GetType() == raftpb.EntryConfChange {
		var cc raftpb.ConfChange
		must(t, proto.Unmarshal(e.GetData(), &cc))
		nd.cs = nd.rn.ApplyConfChange(&cc)
	}
	nd.applied = e.GetIndex()
}

// send queues m, or drops it if either end is isolated.
func (c *cluster) send(m *raftpb.Message) {
	if c.isolated[m.GetFrom()] || c.isolated[m.GetTo()] {
		if m.GetType() == raftpb.MsgSnap {
			c.node(m.GetFrom()).rn.ReportSnapshot(m.GetTo(), raft.SnapshotFailure)
		}
		return
	}
	// A copy, as a network would deliver: no entry is shared between nodes.
	c.msgs = append(c.msgs, proto.Clone(m).(*raftpb.Message))
}

// stabilize handles Readys and delivers messages until nothing moves.
func (c *cluster) stabilize() {
	for round := 0; ; round++ {
		if round > 10000 {
			c.t.Fatal("cluster does not stabilize")
		}
		moved := false
		for _, nd := range c.nodes {
			for nd.rn.HasReady() {
				c.handleReady(nd)
				moved = true
			}
		}
		msgs := c.msgs
		c.msgs = nil
		for _, m := range msgs {
			moved = true
			if c.isolated[m.GetFrom()] || c.isolated[m.GetTo()] {
				continue
			}
			must(c.t, c.node(m.GetTo()).rn.Step(m))
			if m.GetType() == raftpb.MsgSnap {
				c.node(m.GetFrom()).rn.ReportSnapshot(m.GetTo(), raft.SnapshotFinish)
			}
		}
		if !moved {
			break
		}
		c.maybeCompact()
	}
}

// maybeCompact compacts some nodes' logs to a random index up to what they
// applied, as the log compactor would.
func (c *cluster) maybeCompact() {
	if !c.compact {
		return
	}
	for _, nd := range c.nodes {
		if c.rng.IntN(8) != 0 {
			continue
		}
		first, _ := nd.env.log.FirstIndex()
		if nd.applied < first {
			continue
		}
		idx := first + c.rng.Uint64N(nd.applied-first+1)
		must(c.t, nd.env.log.Compact(idx, nd.cs))
		nd.compactions++
	}
}

// tick ticks the leader (heartbeats make followers catch up) and stabilizes.
func (c *cluster) tick() {
	c.node(c.leader).rn.Tick()
	c.stabilize()
}

func (c *cluster) campaign(id uint64) {
	must(c.t, c.node(id).rn.Campaign())
	c.stabilize()
	if st := c.node(id).rn.BasicStatus(); st.RaftState != raft.StateLeader {
		c.t.Fatalf("node %d is %v after campaigning", id, st.RaftState)
	}
	c.leader = id
}

// propose proposes n entries of random size on node id, stabilizing after
// some of them so that Readys carry batches of various lengths.
func (c *cluster) propose(id uint64, prefix string, n int) []string {
	var proposed []string
	for i := 0; i < n; i++ {
		data := fmt.Sprintf("%s-%d-", prefix, i)
		data += string(bytes.Repeat([]byte{'x'}, c.rng.IntN(2048)))
		must(c.t, c.node(id).rn.Propose([]byte(data)))
		proposed = append(proposed, data)
		if c.rng.IntN(3) == 0 {
			c.stabilize()
		}
	}
	c.stabilize()
	return proposed
}

// catchUp ticks the leader until every connected node applied what the
// leader applied.
func (c *cluster) catchUp() {
	for i := 0; ; i++ {
		if i > 1000 {
			c.t.Fatal("followers do not catch up")
		}
		done := true
		for _, nd := range c.nodes {
			done = done && (c.isolated[nd.id] || nd.applied == c.node(c.leader).applied)
		}
		if done {
			return
		}
		c.tick()
	}
}

// check verifies that the nodes agree: same applied index, same entries
// wherever their logs overlap, every proposal committed exactly once and
// nothing in lost committed or left in any log; and each log against pebble.
func (c *cluster) check(proposed, lost []string) {
	t := c.t
	want := c.node(c.leader).applied
	for _, nd := range c.nodes {
		first, _ := nd.env.log.FirstIndex()
		last, _ := nd.env.log.LastIndex()
		t.Logf("node %d: applied %d, log [%d, %d] %d bytes; %d appends, %d truncations, %d compactions, %d snapshots",
			nd.id, nd.applied, first, last, nd.env.log.Bytes(), nd.appends, nd.truncations, nd.compactions, nd.snapshots)
		if nd.applied != want {
			t.Fatalf("node %d applied %d, leader %d", nd.id, nd.applied, want)
		}
		checkLog(t, nd.env.log)
		for _, e := range allEntries(t, nd.env.log) {
			for _, l := range lost {
				if string(e.GetData()) == l {
					t.Fatalf("node %d still has lost proposal %.10q at %d", nd.id, l, e.GetIndex())
				}
			}
		}
	}
	for i, a := range c.nodes {
		for _, b := range c.nodes[i+1:] {
			af, _ := a.env.log.FirstIndex()
			bf, _ := b.env.log.FirstIndex()
			al, _ := a.env.log.LastIndex()
			bl, _ := b.env.log.LastIndex()
			lo, hi := max(af, bf), min(al, bl)+1
			if lo >= hi {
				continue
			}
			ae, err := a.env.log.Entries(lo, hi, math.MaxUint64)
			must(t, err)
			be, err := b.env.log.Entries(lo, hi, math.MaxUint64)
			must(t, err)
			if !sameEntries(ae, be) {
				t.Fatalf("nodes %d and %d disagree on [%d, %d)", a.id, b.id, lo, hi)
			}
		}
	}
	count := map[string]int{}
	for i := uint64(1); i <= want; i++ {
		count[c.applied[i]]++
	}
	for _, p := range proposed {
		if n := count[fmt.Sprintf("%d:%x", raftpb.EntryNormal, p)]; n != 1 {
			t.Fatalf("proposal %.10q committed %d times", p, n)
		}
	}
	for _, p := range lost {
		if n := count[fmt.Sprintf("%d:%x", raftpb.EntryNormal, p)]; n != 0 {
			t.Fatalf("lost proposal %.10q committed %d times", p, n)
		}
	}
}

func TestRawNodeSingle(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		c := newCluster(t, 1, opts, 1)
		c.campaign(1)
		proposed := c.propose(1, "a", 150)
		c.restart(1)
		c.campaign(1)
		proposed = append(proposed, c.propose(1, "b", 150)...)
		c.check(proposed, nil)
		if c.node(1).applied < 300 {
			t.Fatalf("applied %d", c.node(1).applied)
		}
	})
}

// TestRawNodeCluster drives three nodes through replication with random
// compactions, a follower cut off long enough to need a snapshot, a leader
// cut off with uncommitted entries that the next leader truncates, and a
// restart.
func TestRawNodeCluster(t *testing.T) {
	forEachCache(t, func(t *testing.T, opts Options) {
		for seed := uint64(1); seed <= 2; seed++ {
			t.Run(fmt.Sprint(seed), func(t *testing.T) { runCluster(t, opts, seed) })
		}
	})
}

func runCluster(t *testing.T, opts Options, seed uint64) {
	c := newCluster(t, 3, opts, seed)
	c.campaign(1)
	proposed := c.propose(1, "a", 100)

	// Node 3 falls behind while the leader compacts everything it applied:
	// it must catch up from a snapshot.
	c.isolated[3] = true
	proposed = append(proposed, c.propose(1, "b", 100)...)
	must(t, c.node(1).env.log.Compact(c.node(1).applied, c.node(1).cs))
	behind, _ := c.node(3).env.log.LastIndex()
	delete(c.isolated, 3)
	c.catchUp()
	if snap, _ := c.node(3).env.log.Snapshot(); snap.GetMetadata().GetIndex() <= behind || c.node(3).snapshots == 0 {
		t.Fatalf("node 3 caught up without a snapshot (snapshot at %d, was at %d)", snap.GetMetadata().GetIndex(), behind)
	}

	// The leader appends entries nobody else sees; node 2 takes over and
	// node 1 must truncate them. No compaction, so it is a truncation and
	// not a snapshot that removes them.
	c.compact = false
	c.isolated[1] = true
	var lost []string
	for i := 0; i < 20; i++ {
		data := fmt.Sprintf("lost-%d", i)
		must(t, c.node(1).rn.Propose([]byte(data)))
		lost = append(lost, data)
	}
	c.stabilize()
	truncations := c.node(1).truncations
	c.campaign(2)
	proposed = append(proposed, c.propose(2, "c", 60)...)
	delete(c.isolated, 1)
	c.catchUp()
	if c.node(1).truncations == truncations {
		t.Fatal("node 1 did not truncate its log")
	}
	c.compact = true

	// A follower restarts from its pebble.
	c.restart(3)
	proposed = append(proposed, c.propose(2, "d", 100)...)
	c.catchUp()
	c.check(proposed, lost)
}
