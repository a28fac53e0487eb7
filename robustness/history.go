package robustness

import (
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// history is what the clients of one run did and saw: porcupine's
// operations (linearizable gets and every write) and, apart, serializable
// gets, which may be stale and are checked by a weaker rule
// (checkSerializable). It is safe for concurrent use.
type history struct {
	start time.Time

	mu     sync.Mutex
	ops    []porcupine.Operation
	serial []serialRead
}

// serialRead is a serializable get that answered.
type serialRead struct {
	Client int
	Epoch  int64 // the client's member, see client.retarget
	Key    int
	KV     kv
	Rev    int64 // the response header's revision
}

func newHistory() *history { return &history{start: time.Now()} }

// now is a timestamp for an operation's call or return: monotonic
// nanoseconds since the run started.
func (h *history) now() int64 { return int64(time.Since(h.start)) }

// add records an operation that client called at call and that returned
// out at ret.
func (h *history) add(client int, in input, call int64, out output, ret int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

func (h *history) addSerial(r serialRead) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.serial = append(h.serial, r)
}

// snapshot returns copies of what was recorded.
func (h *history) snapshot() ([]porcupine.Operation, []serialRead) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Operation(nil), h.ops...), append([]serialRead(nil), h.serial...)
}

// resolve prepares a history for porcupine, given the keyspace's final
// event history. An operation whose outcome the client did not learn
// (output.Unknown) may have taken effect at any moment after its call,
// even after the client gave up, so its return moves to end (after every
// other operation). Then, because porcupine's search grows with every such
// operation:
//
//   - a get, which changes nothing, is dropped;
//   - a put or cas writes a value no other operation writes: if the final
//     history has it, the operation took effect at that revision
//     (output.RevKnown, which the model holds it to); if not, it took no
//     effect and is dropped;
//   - a delete, grant or revoke stays unknown.
//
// An operation dropped wrongly (one that did take effect, but the final
// history lost it) leaves a revision no operation explains, which the
// model does not accept.
func resolve(ops []porcupine.Operation, events []event, end int64) []porcupine.Operation {
	written := map[string]int64{}
	for _, e := range events {
		if e.Put {
			written[e.Value] = e.Rev
		}
	}
	out := make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		o := op.Output.(output)
		if !o.Unknown {
			out = append(out, op)
			continue
		}
		in := op.Input.(input)
		switch in.Kind {
		case opGet:
			continue
		case opPut, opCAS:
			rev, ok := written[in.Value]
			if !ok {
				continue
			}
			o.RevKnown, o.Rev = true, rev
		}
		op.Output, op.Return = o, end
		out = append(out, op)
	}
	return out
}
