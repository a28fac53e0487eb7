package mvcc

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Compaction has two halves. Batch.Compact records the compaction revision
// (logical: reads below it fail from the batch on). Store.RunCompaction
// later removes what no read at or above it can see (physical), walking the
// revision log from where the last pass stopped:
//
//  1. For each change (main, sub) of key k with main <= target, every older
//     version of k is deleted: a read at any revision >= target sees this
//     change or a newer one.
//  2. A tombstone below target is deleted too (with the older versions, in
//     the same pebble batch, so that no reader ever sees an older version
//     reappear). A tombstone at exactly target is kept, as etcd keeps it,
//     and goes in the next pass.
//  3. Log entries below target are deleted. Entries at target stay (a watch
//     may start there), unless step 1 deleted their version.
//
// So a pass costs one seek per key changed since the last pass (per chunk
// of changes: rule 1 walks a key's older versions once, from its newest
// change in the chunk, and stops at the version the last pass left), not
// per key in the store, and deletes each old version once. Progress is committed with each chunk, so a pass resumes
// after a restart; a pass finishes its target even if a newer compaction is
// committed meanwhile, and the next pass starts at that target.

// DefaultCompactionChunk is the chunk RunCompaction uses when given 0.
const DefaultCompactionChunk = 1000

// Compact records rev as the compaction revision: reads below it fail from
// this batch on. ErrCompacted if rev is at or below the current compaction
// revision, ErrFutureRev if it is above Rev(). The history is removed later
// by Store.RunCompaction. The response header carries Rev().
func (b *Batch) Compact(rev int64) (*pb.CompactionResponse, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	switch {
	case rev <= b.compactRev:
		return nil, ErrCompacted
	case rev > b.rev:
		return nil, ErrFutureRev
	}
	b.compactRev = rev
	return &pb.CompactionResponse{Header: &pb.ResponseHeader{Revision: b.rev}}, nil
}

// RunCompaction physically removes history below the committed compaction
// revision, at most chunk revisions (changes, each a (main, sub) pair) per
// pebble batch, until done or ctx ends; chunk 0 means
// DefaultCompactionChunk. It records its progress, so a call after a restart
// resumes where the last one stopped. Safe concurrently with the Batch and
// views; concurrent calls run one after the other. Returns ctx.Err() if ctx
// ends first.
func (s *Store) RunCompaction(ctx context.Context, chunk int) error {
	if chunk <= 0 {
		chunk = DefaultCompactionChunk
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := s.compactionProgress()
		if err != nil {
			return err
		}
		if p.target == 0 {
			c := s.compactRev.Load()
			if c <= p.done {
				return nil
			}
			p = compactionProgress{done: p.done, target: c, cursorMain: p.done}
		}
		if _, err := s.compactChunk(&p, chunk); err != nil {
			return fmt.Errorf("mvcc: compaction to %d: %w", p.target, err)
		}
	}
}

// PhysicalCompactRev returns the revision physical compaction last completed
// (0 if none): below it, history is gone from pebble, not only unreadable.
func (s *Store) PhysicalCompactRev() (int64, error) {
	p, err := s.compactionProgress()
	return p.done, err
}

func (s *Store) compactionProgress() (compactionProgress, error) {
	var p compactionProgress
	err := getWith(s.db, metaKey(nil, metaSystem, metaCompaction), func(v []byte) error {
		var err error
		p, err = decodeCompactionProgress(v)
		return err
	})
	return p, err
}

// compactChunk processes up to chunk log entries from p's cursor and commits
// the deletions with the new progress. It returns how many versions rule 1
// deleted.
func (s *Store) compactChunk(p *compactionProgress, chunk int) (deletes int, err error) {
	logIt, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: logKey(nil, p.cursorMain, p.cursorSub),
		UpperBound: logKey(nil, p.target+1, 0),
	})
	if err != nil {
		return 0, err
	}
	defer func() { _ = logIt.Close() }()
	verIt, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixVersion},
		UpperBound: []byte{prefixVersion + 1},
	})
	if err != nil {
		return 0, err
	}
	defer func() { _ = verIt.Close() }()

	wb := s.db.NewBatch()
	defer func() { _ = wb.Close() }()
	c := compactor{wb: wb, verIt: verIt, target: p.target, done: p.done}
	// The chunk's changes, in revision order. Rule 1 walks the older
	// versions of a key once, from its newest change in the chunk: that
	// walk deletes the versions of its older changes too. (Walking from
	// each change re-read every older version of a key rewritten often,
	// values included: quadratic in the rewrites of a key per chunk.)
	type change struct {
		main, sub int64
		typ       byte
		key       []byte
	}
	var changes []change
	newest := map[string]int{}
	ok := logIt.First()
	for n := 0; ok && n < chunk; n++ {
		main, sub, err := splitLogKey(logIt.Key())
		if err != nil {
			return 0, err
		}
		raw, err := logIt.ValueAndErr()
		if err != nil {
			return 0, err
		}
		typ, key, err := decodeLogRecord(raw)
		if err != nil {
			return 0, err
		}
		newest[string(key)] = len(changes)
		changes = append(changes, change{main, sub, typ, bytes.Clone(key)})
		ok = logIt.Next()
	}
	if err := logIt.Error(); err != nil {
		return 0, err
	}
	for i, ch := range changes {
		if err := c.change(ch.main, ch.sub, ch.typ, ch.key, newest[string(ch.key)] == i); err != nil {
			return 0, err
		}
	}
	if ok {
		p.cursorMain, p.cursorSub, err = splitLogKey(logIt.Key())
		if err != nil {
			return 0, err
		}
	} else {
		*p = compactionProgress{done: p.target}
	}
	if err := wb.Set(metaKey(nil, metaSystem, metaCompaction), p.append(nil), nil); err != nil {
		return 0, err
	}
	return c.deletes, wb.Commit(pebble.NoSync)
}

// compactor applies the rules above to one change at a time.
type compactor struct {
	wb     *pebble.Batch
	verIt  *pebble.Iterator
	target int64
	// done is the target of the last pass completed: of the versions of a
	// key at or below it, that pass left only the newest.
	done int64
	kbuf []byte
	// deletes counts the versions deleted under rule 1 (for tests).
	deletes int
}

// change applies the rules to one change. walk is false for a change of a
// key that a newer change in the same chunk walks for (rule 1).
func (c *compactor) change(main, sub int64, typ byte, key []byte, walk bool) error {
	vk := versionKey(c.kbuf[:0], key, main, sub)
	c.kbuf = vk
	prefix := vk[:len(vk)-versionSuffixLen]
	ok := walk && c.verIt.SeekGE(vk)
	if ok && bytes.Equal(c.verIt.Key(), vk) {
		ok = c.verIt.Next()
	}
	// Rule 1: every older version of key. Below the last pass's target
	// only its newest version is left: the walk ends there, rather than
	// stepping over the tombstones of all the others.
	for ; ok && bytes.HasPrefix(c.verIt.Key(), prefix); ok = c.verIt.Next() {
		older := c.verIt.Key()
		if err := c.wb.Delete(older, nil); err != nil {
			return err
		}
		c.deletes++
		_, omain, osub, err := splitVersionKey(older)
		if err != nil {
			return err
		}
		if omain == c.target {
			// Rule 3: its log entry was kept above, as it was at target.
			if err := c.wb.Delete(logKey(nil, omain, osub), nil); err != nil {
				return err
			}
		}
		if omain <= c.done {
			break
		}
	}
	if err := c.verIt.Error(); err != nil {
		return err
	}
	if main < c.target {
		// Rule 2, then rule 3.
		if typ == logDelete {
			if err := c.wb.Delete(vk, nil); err != nil {
				return err
			}
		}
		if err := c.wb.Delete(logKey(nil, main, sub), nil); err != nil {
			return err
		}
	}
	return nil
}
