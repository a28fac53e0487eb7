package readindex

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// Forwarding rounds to the leader.
//
// Through raft, a round of a member that does not lead costs a MsgReadIndex
// to the leader, a heartbeat to every follower and their answers (raft
// confirms its leadership once per read index request), and a
// MsgReadIndexResp back, each through both members' raft actors and
// transports; in the profile of linearizable reads spread over three
// members, remote messages were a sixth of the leader's CPU. The leader's
// read-index actor already confirms its leadership once per round for all
// of its readers. So a member that does not lead, and knows the leader's
// read-index actor (Config.Peer), sends its round there instead: the same
// ReadIndexRound, with its own context, which the leader's actor takes as
// one read of its next round (started after the request arrived, so its
// index covers every write committed before), and answers with a ReadState
// of that context and the round's index as soon as raft answers, without
// waiting for its own apply; the forwarding member then waits for its own
// apply, as it does for raft's answer. Nothing changes on the wire but
// where a ReadIndexRound goes: every member links the three messages.
//
// A forwarded round that is not answered within the round timeout (a
// leader of an older version ignores ReadIndexRound; or a message was
// lost), or that the leader's actor fails, is sent again through raft, and
// rounds keep going through raft until the leader changes. Errors that the
// reads see therefore come from this member's raft, as before.

// setLeader records the leader the raft actor reports.
func (a *readIndexActor) setLeader(leader uint64) {
	if leader == a.leader {
		return
	}
	a.leader, a.leaderReads, a.noForward = leader, nil, false
	if leader != 0 && leader != a.cfg.MemberID && a.cfg.MemberID != 0 && a.cfg.Peer != nil {
		a.leaderReads = a.cfg.Peer(leader)
	}
}

// forwarded takes the round another member's read-index actor forwarded as
// one read of the next round.
func (a *readIndexActor) forwarded(ctx actor.Context, m *cairnpb.ReadIndexRound) {
	to := ctx.Sender()
	if to == nil || len(m.GetContext()) == 0 {
		return
	}
	if a.pending >= a.cfg.MaxPending {
		ctx.Send(to, &cairnpb.ReadIndexFailed{Context: m.GetContext(), Error: &cairnpb.Error{
			Code: cairnpb.ErrorCode_ERROR_CODE_TOO_MANY_REQUESTS, Message: "too many pending reads"}})
		return
	}
	a.pending++
	// The forwarding member sends its round again after its own round
	// timeout: waiting longer for it is useless.
	a.next = append(a.next, read{to: to, deadline: time.Now().Add(a.cfg.RoundTimeout), ctx: m.GetContext()})
	a.startRound(ctx)
}

// answerForwarded answers the forwarded reads among reads, whose round raft
// answered with index, and returns the others.
func (a *readIndexActor) answerForwarded(ctx actor.Context, reads []read, index uint64) []read {
	kept := reads[:0]
	for _, rd := range reads {
		if rd.ctx == nil {
			kept = append(kept, rd)
			continue
		}
		ctx.Send(rd.to, &cairnpb.ReadState{Context: rd.ctx, Index: index})
		a.pending--
	}
	clear(reads[len(kept):])
	return kept
}
