package frontdoor

import (
	"context"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

type maintenanceServer struct {
	pb.UnimplementedMaintenanceServer
	s *Server
}

// StorageVersion is reported as etcd 3.7 reports its storage schema version.
const StorageVersion = "3.7.0"

func (m *maintenanceServer) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	st := m.s.cfg.Board.Load()
	size := m.s.cfg.DBSize()
	return &pb.StatusResponse{
		Header:           m.s.header(0),
		Version:          m.s.cfg.Version,
		DbSize:           size,
		DbSizeInUse:      size,
		Leader:           st.Lead,
		RaftIndex:        st.Commit,
		RaftTerm:         st.Term,
		RaftAppliedIndex: m.s.cfg.Store.AppliedIndex(),
		StorageVersion:   StorageVersion,
		// etcd always sends a DowngradeInfo (clients print "not enabled").
		DowngradeInfo: &pb.DowngradeInfo{},
	}, nil
}

// Alarm reports no alarms: Cairn raises none yet, and disarming none is a
// success, as it is on etcd.
func (m *maintenanceServer) Alarm(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	return &pb.AlarmResponse{Header: m.s.header(0)}, nil
}

// Defragment succeeds at once: pebble reclaims space by its own compactions,
// so there is nothing to defragment.
func (m *maintenanceServer) Defragment(ctx context.Context, _ *pb.DefragmentRequest) (*pb.DefragmentResponse, error) {
	return &pb.DefragmentResponse{Header: m.s.header(0)}, nil
}

// Hash returns the hash of the whole state machine (mvcc.ReadView.HashAll),
// as etcd's hashes its whole backend. The value differs from etcd's.
func (m *maintenanceServer) Hash(ctx context.Context, _ *pb.HashRequest) (*pb.HashResponse, error) {
	v := m.s.cfg.Store.Read()
	defer v.Close()
	h, err := v.HashAll()
	if err != nil {
		return nil, grpcError(err)
	}
	return &pb.HashResponse{Header: m.s.header(v.Rev()), Hash: h}, nil
}

// HashKV returns the hash of the keyspace at a revision (0: the current
// one). Members that applied the same entries return the same hash. The
// value differs from etcd's, which hashes a different encoding.
func (m *maintenanceServer) HashKV(ctx context.Context, r *pb.HashKVRequest) (*pb.HashKVResponse, error) {
	v := m.s.cfg.Store.Read()
	defer v.Close()
	rev := r.GetRevision()
	if rev == 0 {
		rev = v.Rev()
	}
	h, compactRev, err := v.Hash(rev)
	if err != nil {
		return nil, grpcError(err)
	}
	return &pb.HashKVResponse{
		Header:          m.s.header(v.Rev()),
		Hash:            h,
		CompactRevision: compactRev,
		HashRevision:    rev,
	}, nil
}
