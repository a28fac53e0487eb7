package frontdoor

import (
	"bufio"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// snapshotChunkBytes is the blob of one SnapshotResponse, as etcd sends.
const snapshotChunkBytes = 32 << 10

// Snapshot streams a backup of the keyspace as of one moment (Config.Backup):
// what etcdctl snapshot save writes to its file. The first message carries
// the header and the server version, as etcd's does. The file is Cairn's
// backup format, not etcd's bbolt file: `node restore` seeds a new cluster
// from it, etcdutl cannot. The member holds one chunk at a time; the pebble
// snapshot it reads from keeps the versions it sees on disk until the
// stream ends.
func (m *maintenanceServer) Snapshot(_ *pb.SnapshotRequest, stream pb.Maintenance_SnapshotServer) error {
	if m.s.cfg.Backup == nil {
		return status.Error(codes.Unimplemented, "etcdserver: this member cannot write backups")
	}
	if err := stream.Send(&pb.SnapshotResponse{Header: m.s.header(0), Version: m.s.cfg.Version}); err != nil {
		return err
	}
	w := bufio.NewWriterSize(snapshotSender{stream}, snapshotChunkBytes)
	if _, err := m.s.cfg.Backup(w); err != nil {
		return grpcError(err) // a failed Send's status as it is
	}
	return w.Flush()
}

// snapshotSender sends each write as one SnapshotResponse.
type snapshotSender struct {
	stream pb.Maintenance_SnapshotServer
}

func (s snapshotSender) Write(p []byte) (int, error) {
	// gRPC serializes the message before Send returns: p may be reused.
	if err := s.stream.Send(&pb.SnapshotResponse{Blob: p}); err != nil {
		return 0, err
	}
	return len(p), nil
}
