package apply

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/cairnkv/cairn/proto/cairnpb"
)

// installSnapshot replaces the state machine with a received snapshot, then
// answers the raft actor. The snapshot's directory is deleted either way.
func (a *applyActor) installSnapshot(ctx actor.Context, m *cairnpb.InstallSnapshot) {
	err := a.install(m)
	if a.cfg.Engine != nil {
		_ = a.cfg.Engine.RemoveSnapshotDir(m.GetDir())
	}
	res := &cairnpb.SnapshotInstalled{Index: m.GetIndex()}
	if err != nil {
		a.cfg.Logger.Error("installing snapshot failed", "index", m.GetIndex(), "error", err)
		res.Error = &cairnpb.Error{Code: cairnpb.ErrorCode_ERROR_CODE_INTERNAL, Message: err.Error()}
	}
	if ctx.Sender() != nil {
		ctx.Respond(res)
	}
	if err != nil {
		return
	}
	// The snapshot may have skipped entries that dropped tokens (a user's
	// deletion, auth disabled): drop them all; their clients authenticate
	// again.
	a.cfg.Tokens.Clear()
	// The store jumped: the watch hub's watchers read what they missed.
	a.watch.Sync(ctx, a.cfg.Store.Rev())
	if a.cfg.Keys != nil {
		a.cfg.Keys.recount(a.cfg.Store)
	}
	for _, s := range a.subs.applied {
		ctx.Send(s, &cairnpb.Applied{Index: a.applied})
	}
	for _, s := range a.subs.members {
		ctx.Send(s, &cairnpb.MembershipChanged{})
	}
}

func (a *applyActor) install(m *cairnpb.InstallSnapshot) error {
	if a.cfg.Engine == nil {
		return fmt.Errorf("apply: no engine to install snapshots with")
	}
	if m.GetIndex() <= a.applied {
		// Raft never sends a snapshot this member already has; refuse
		// rather than go back in time.
		return fmt.Errorf("apply: snapshot at %d is not after the applied index %d", m.GetIndex(), a.applied)
	}
	paths, err := a.cfg.Engine.SnapshotFiles(m.GetDir())
	if err != nil {
		return err
	}
	if err := a.cfg.Store.Replace(func() error { return a.cfg.Engine.ReplaceStateMachine(paths) }); err != nil {
		return err
	}
	a.applied = a.cfg.Store.AppliedIndex()
	if a.applied != m.GetIndex() {
		return fmt.Errorf("apply: installed snapshot is at index %d, raft expected %d", a.applied, m.GetIndex())
	}
	a.cfg.Logger.Info("snapshot installed", "index", a.applied, "revision", a.cfg.Store.Rev())
	return nil
}
