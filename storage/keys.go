package storage

// First bytes of the keys of each part of the keyspace. See the package
// documentation for who owns which part.
const (
	// RaftLogPrefix starts every key of storage/raftlog.
	RaftLogPrefix byte = 0x01
	// LocalPrefix starts the keys of state that belongs to this member
	// only (its identity), never replicated nor part of a snapshot.
	LocalPrefix byte = 0x02
	// StateMachineStart and StateMachineEnd bound every key of storage/mvcc.
	StateMachineStart byte = 0x10
	StateMachineEnd   byte = 0x20
)

// StateMachineSpan returns the bounds [start, end) of the state machine's keys.
func StateMachineSpan() (start, end []byte) {
	return []byte{StateMachineStart}, []byte{StateMachineEnd}
}
