package statuspage

// Report is what /status.json answers. Sizes are bytes, durations seconds,
// times Unix seconds. A nil *float64 (null) is a value not known: a rate
// before the second sample, a budget item the member could not read at
// that moment (its note says why).
type Report struct {
	Time     float64  `json:"time"`
	Member   Member   `json:"member"`
	Memory   Memory   `json:"memory"`
	Actors   []Actor  `json:"actors"`
	Raft     Raft     `json:"raft"`
	Requests Requests `json:"requests"`
	Samples  Samples  `json:"samples"`
}

// Member names the member that reports.
type Member struct {
	Name string `json:"name"`
	ID   string `json:"id"` // hexadecimal, as etcd prints member IDs
}

// Memory is the budget beside what the process holds.
type Memory struct {
	RSS  float64 `json:"rss"`
	Heap float64 `json:"heap"` // Go heap in use (go_memstats_heap_inuse_bytes)
	// Total is the budget's total (clients' items excepted), OffHeap its
	// part outside the Go heap, Limit --memory-limit and GoLimit the Go
	// runtime's soft limit (0: none).
	Total   int64        `json:"total"`
	OffHeap int64        `json:"off_heap"`
	Limit   int64        `json:"limit"`
	GoLimit int64        `json:"go_limit"`
	Items   []BudgetItem `json:"items"`
}

// BudgetItem is one item of the memory budget and its use now.
type BudgetItem struct {
	Key       string   `json:"key"`
	What      string   `json:"what"`
	Flags     string   `json:"flags"`
	Bytes     int64    `json:"bytes"`
	OffHeap   bool     `json:"off_heap,omitempty"`
	PerClient string   `json:"per_client,omitempty"`
	Used      *float64 `json:"used"`
	// Note says how Used is measured, or why it is not.
	Note string `json:"note,omitempty"`
}

// Actor is one actor role (several actors for watch streams and snapshot
// senders).
type Actor struct {
	Role     string   `json:"actor"`
	Running  float64  `json:"running"`
	Depth    float64  `json:"depth"`
	Rate     *float64 `json:"messages_per_second"`
	Busy     *float64 `json:"busy"` // fraction of the time spent handling messages
	Mean     *float64 `json:"mean_seconds"`
	Handled  float64  `json:"handled"` // messages since the member started
	Restarts float64  `json:"restarts"`
}

// Raft is the raft actor's view.
type Raft struct {
	Term          uint64  `json:"term"`
	Leader        string  `json:"leader"` // hexadecimal, "" when none is known
	State         string  `json:"state"`
	Commit        uint64  `json:"commit"`
	Applied       uint64  `json:"applied"`
	LeaderChanges uint64  `json:"leader_changes"`
	LogBytes      float64 `json:"log_bytes"`
	// Followers are the members as the leader tracks them: set only on the
	// leader.
	Followers []Follower `json:"followers"`
	// SnapshotsSending counts the snapshot senders running on this member.
	SnapshotsSending float64 `json:"snapshots_sending"`
}

// Follower is one member as the leader sees it.
type Follower struct {
	ID              string `json:"id"`
	Match           uint64 `json:"match"`
	State           string `json:"state"`
	Active          bool   `json:"active"`
	Learner         bool   `json:"learner,omitempty"`
	PendingSnapshot uint64 `json:"pending_snapshot,omitempty"`
}

// Requests are what waits on the member's clients' behalf.
type Requests struct {
	ProposalsPending  float64  `json:"proposals_pending"`
	ProposalsFailed   float64  `json:"proposals_failed"`
	ReadsPending      float64  `json:"reads_pending"`
	WatchStreams      float64  `json:"watch_streams"`
	Watchers          float64  `json:"watchers"`
	StreamsCatchingUp float64  `json:"streams_catching_up"`
	WatchersLagged    float64  `json:"watchers_lagged"`
	WatchQueuedBytes  float64  `json:"watch_queued_bytes"`
	LeasesHeld        float64  `json:"leases_held"`
	Unary             float64  `json:"unary"` // unary requests answered since the member started
	PerSecond         *float64 `json:"per_second"`
	P99               *float64 `json:"p99_seconds"`
}

// Samples are the ring's samples, oldest first, one array per series
// (uPlot's data layout).
type Samples struct {
	Time      []float64  `json:"time"`
	RSS       []float64  `json:"rss"`
	Heap      []float64  `json:"heap"`
	PerSecond []*float64 `json:"per_second"`
	P99       []*float64 `json:"p99_seconds"`
}
