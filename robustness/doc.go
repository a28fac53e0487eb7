// Package robustness owns Cairn's robustness suite: concurrent etcd clients
// against three member processes (cmd/node) while a fault injector kills,
// pauses, partitions and moves the leader of the cluster, and the checks of
// what the clients saw.
//
// It owns:
//
//   - the model of etcd's KV semantics that porcupine checks linearizable
//     histories against (model.go): one revision for the whole keyspace,
//     puts, deletes, compare-and-swap txns by mod revision or by value, and
//     leases granted with IDs the clients choose, attached to puts and
//     revoked with their keys;
//   - the history a run records (history.go) and how operations whose
//     outcome the client did not learn are resolved against the keyspace's
//     final event history (every put writes a value no other put writes);
//   - the checks that are not porcupine's (events.go): the final event
//     history has one event per revision and holds every acknowledged write,
//     serializable reads (which may be stale) match the keyspace at the
//     revision they report and never go back, and every watch stream
//     delivers every revision in order, once, with no gap after a resume;
//   - the workload, the fault injector and the per-direction partitions
//     (a rule on the proxies in front of each member's peer listener that
//     refuses connections by the process that dialled them).
//
// Every check has a unit test that feeds it a bad history (check_test.go).
// TestRobustness runs a short mixed schedule in make test; make robustness
// runs each fault type for longer (see README.md). A failing run writes
// porcupine's visualisation and the seed into the directory its failure
// message names.
package robustness
