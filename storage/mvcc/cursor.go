package mvcc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// span is a range of user keys [start, end). A nil end means no upper bound.
type span struct {
	start, end []byte
}

// requestSpan turns etcd's (key, range_end) into a span, as etcd's
// mkGteRange and index do: an empty range_end names the single key, "\x00"
// names every key at or above key. ok is false when the span is empty
// (range_end at or below key).
func requestSpan(key, rangeEnd []byte) (sp span, ok bool) {
	switch {
	case len(rangeEnd) == 0:
		end := make([]byte, len(key)+1)
		copy(end, key)
		return span{start: key, end: end}, true
	case len(rangeEnd) == 1 && rangeEnd[0] == 0:
		return span{start: key}, true
	case bytes.Compare(rangeEnd, key) <= 0:
		return span{}, false
	default:
		return span{start: key, end: rangeEnd}, true
	}
}

func (sp span) contains(k []byte) bool {
	return bytes.Compare(k, sp.start) >= 0 && (sp.end == nil || bytes.Compare(k, sp.end) < 0)
}

// cursor walks the live keys of a span at one revision, in key order or in
// reverse. The key and value it exposes are valid until the next call.
type cursor interface {
	// next moves to the next live key; false at the end or on error.
	next() (bool, error)
	// key returns the current user key.
	key() []byte
	// meta returns the current key's metadata.
	meta() *meta
	// value returns the current key's value.
	value() ([]byte, error)
	close() error
}

// newCursor returns a cursor over sp at rev. latest says that rev is the
// reader's newest state, so the latest records can serve it.
func newCursor(r pebble.Reader, sp span, rev int64, latest, reverse bool) (cursor, error) {
	if latest {
		return newLatestCursor(r, sp, reverse)
	}
	return newHistoryCursor(r, sp, rev, reverse)
}

// latestCursor walks the latest records: one step per key, no value read
// unless asked for. Values come from a second iterator over the versions,
// which moves forward in lockstep when the cursor does.
type latestCursor struct {
	r       pebble.Reader
	it      *pebble.Iterator
	reverse bool
	started bool
	m       meta
	vals    *valueReader
}

func newLatestCursor(r pebble.Reader, sp span, reverse bool) (*latestCursor, error) {
	opts := &pebble.IterOptions{LowerBound: latestKey(nil, sp.start)}
	if sp.end != nil {
		opts.UpperBound = latestKey(nil, sp.end)
	} else {
		opts.UpperBound = []byte{prefixLatest + 1}
	}
	it, err := r.NewIter(opts)
	if err != nil {
		return nil, err
	}
	return &latestCursor{r: r, it: it, reverse: reverse}, nil
}

func (c *latestCursor) step() bool {
	if !c.started {
		c.started = true
		if c.reverse {
			return c.it.Last()
		}
		return c.it.First()
	}
	if c.reverse {
		return c.it.Prev()
	}
	return c.it.Next()
}

func (c *latestCursor) next() (bool, error) {
	if !c.step() {
		return false, c.it.Error()
	}
	v, err := c.it.ValueAndErr()
	if err != nil {
		return false, err
	}
	return true, decodeLatest(v, &c.m)
}

// skipCount counts the remaining keys without decoding them.
func (c *latestCursor) skipCount() (int64, error) {
	var n int64
	for c.step() {
		n++
	}
	return n, c.it.Error()
}

func (c *latestCursor) key() []byte { return c.it.Key()[1:] }
func (c *latestCursor) meta() *meta { return &c.m }

func (c *latestCursor) value() ([]byte, error) {
	if c.vals == nil {
		c.vals = &valueReader{r: c.r}
	}
	return c.vals.get(c.key(), c.m.mod, c.m.modSub)
}

func (c *latestCursor) close() error {
	err := c.it.Close()
	if c.vals != nil {
		err = errors.Join(err, c.vals.close())
	}
	return err
}

// valueReader reads the value of exact versions. Successive reads in key
// order move its iterator forward, which pebble serves cheaply.
type valueReader struct {
	r   pebble.Reader
	it  *pebble.Iterator
	buf []byte
	m   meta
}

// get returns the value of key's version (main, sub), valid until the next
// call. A missing version is corruption: callers ask only for versions that a
// latest record or a cursor named.
func (v *valueReader) get(key []byte, main, sub int64) ([]byte, error) {
	if err := v.open(); err != nil {
		return nil, err
	}
	v.buf = versionKey(v.buf[:0], key, main, sub)
	if !v.it.SeekGE(v.buf) || !bytes.Equal(v.it.Key(), v.buf) {
		if err := v.it.Error(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: version %d.%d of key %q missing", ErrCorrupt, main, sub, key)
	}
	raw, err := v.it.ValueAndErr()
	if err != nil {
		return nil, err
	}
	val, tomb, err := decodeVersion(raw, &v.m)
	if err == nil && tomb {
		err = fmt.Errorf("%w: version %d.%d of key %q is a tombstone", ErrCorrupt, main, sub, key)
	}
	return val, err
}

// open creates the iterator over the versions on first use.
func (v *valueReader) open() error {
	if v.it != nil {
		return nil
	}
	it, err := v.r.NewIter(&pebble.IterOptions{
		LowerBound: []byte{prefixVersion},
		UpperBound: []byte{prefixVersion + 1},
	})
	if err != nil {
		return err
	}
	v.it = it
	return nil
}

func (v *valueReader) close() error {
	if v.it == nil {
		return nil
	}
	return v.it.Close()
}

// historyCursor walks the versions, finding for each key its newest version
// at or below rev with a seek, and skipping to the next key with another.
type historyCursor struct {
	rd      pebble.Reader
	sp      span
	it      *pebble.Iterator
	rev     int64
	reverse bool
	started bool
	done    bool // next returned false
	lower   []byte
	prefix  []byte // version prefix of the current key (owned copy)
	seekBuf []byte
	keyBuf  []byte
	m       meta
	val     []byte // aliases the iterator's value
}

func newHistoryCursor(r pebble.Reader, sp span, rev int64, reverse bool) (*historyCursor, error) {
	opts := &pebble.IterOptions{LowerBound: versionPrefix(nil, sp.start)}
	if sp.end != nil {
		opts.UpperBound = versionPrefix(nil, sp.end)
	} else {
		opts.UpperBound = []byte{prefixVersion + 1}
	}
	it, err := r.NewIter(opts)
	if err != nil {
		return nil, err
	}
	return &historyCursor{rd: r, sp: sp, it: it, rev: rev, reverse: reverse, lower: opts.LowerBound}, nil
}

// skipKeyForward moves to the first version of the key after c.prefix. A few
// Next calls usually get there (keys have few versions after compaction); a
// seek bounds the cost when they do not.
func (c *historyCursor) skipKeyForward() bool {
	for range 3 {
		if !c.it.Next() {
			return false
		}
		if !bytes.HasPrefix(c.it.Key(), c.prefix) {
			return true
		}
	}
	c.seekBuf = nextKeyVersions(c.seekBuf[:0], c.prefix)
	return c.it.SeekGE(c.seekBuf)
}

// skipNewer moves past the versions of c.prefix's key above rev. A few Next
// calls usually get there; a seek bounds the cost when they do not.
func (c *historyCursor) skipNewer() bool {
	for range 3 {
		if !c.it.Next() {
			return false
		}
		k := c.it.Key()
		if !bytes.HasPrefix(k, c.prefix) || len(k) != len(c.prefix)+versionSuffixLen {
			return true // the next key
		}
		if int64(^binary.BigEndian.Uint64(k[len(c.prefix):])) <= c.rev {
			return true
		}
	}
	c.seekBuf = seekAtRev(c.seekBuf[:0], c.prefix, c.rev)
	return c.it.SeekGE(c.seekBuf)
}

func (c *historyCursor) next() (bool, error) {
	ok, err := c.step()
	c.done = !ok
	return ok, err
}

func (c *historyCursor) step() (bool, error) {
	if c.reverse {
		return c.prev()
	}
	var ok bool
	if !c.started {
		c.started = true
		ok = c.it.SeekGE(c.lower)
	} else {
		ok = c.skipKeyForward()
	}
	for ok {
		prefix, main, sub, err := splitVersionKey(c.it.Key())
		if err != nil {
			return false, err
		}
		c.prefix = append(c.prefix[:0], prefix...)
		if main > c.rev {
			// Newer than rev: move to this key's newest version at or
			// below rev, or to the next key if it has none.
			ok = c.skipNewer()
			continue
		}
		found, err := c.load(main, sub)
		if err != nil {
			return false, err
		}
		if found {
			return true, nil
		}
		ok = c.skipKeyForward()
	}
	return false, c.it.Error()
}

// prev walks keys in reverse: land on some version of the previous key, then
// seek to its newest version at or below rev.
func (c *historyCursor) prev() (bool, error) {
	var ok bool
	if !c.started {
		c.started = true
		ok = c.it.Last()
	} else {
		ok = c.it.SeekLT(c.prefix)
	}
	for ok {
		prefix, _, _, err := splitVersionKey(c.it.Key())
		if err != nil {
			return false, err
		}
		c.prefix = append(c.prefix[:0], prefix...)
		c.seekBuf = seekAtRev(c.seekBuf[:0], c.prefix, c.rev)
		if c.it.SeekGE(c.seekBuf) && bytes.HasPrefix(c.it.Key(), c.prefix) {
			_, main, sub, err := splitVersionKey(c.it.Key())
			if err != nil {
				return false, err
			}
			found, err := c.load(main, sub)
			if err != nil {
				return false, err
			}
			if found {
				return true, nil
			}
		} else if err := c.it.Error(); err != nil {
			return false, err
		}
		ok = c.it.SeekLT(c.prefix)
	}
	return false, c.it.Error()
}

// load decodes the version under the iterator, the newest of its key at or
// below rev. It reports false for a tombstone.
func (c *historyCursor) load(main, sub int64) (bool, error) {
	raw, err := c.it.ValueAndErr()
	if err != nil {
		return false, err
	}
	val, tomb, err := decodeVersion(raw, &c.m)
	if err != nil || tomb {
		return false, err
	}
	c.m.mod, c.m.modSub = main, sub
	c.val = val
	c.keyBuf, err = appendUnescaped(c.keyBuf[:0], c.prefix[1:])
	return err == nil, err
}

// countBelow counts the keys a reverse cursor has not reached yet, walking
// them forward: a forward walk costs about one seek per key, a reverse one
// two.
func (c *historyCursor) countBelow() (int64, error) {
	if c.done {
		return 0, nil
	}
	sp := c.sp
	if c.started {
		sp.end = bytes.Clone(c.keyBuf)
	}
	if sp.end != nil && bytes.Compare(sp.start, sp.end) >= 0 {
		return 0, nil
	}
	fwd, err := newHistoryCursor(c.rd, sp, c.rev, false)
	if err != nil {
		return 0, err
	}
	var n int64
	for {
		ok, err := fwd.next()
		if err != nil || !ok {
			return n, errors.Join(err, fwd.close())
		}
		n++
	}
}

func (c *historyCursor) key() []byte            { return c.keyBuf }
func (c *historyCursor) meta() *meta            { return &c.m }
func (c *historyCursor) value() ([]byte, error) { return c.val, nil }
func (c *historyCursor) close() error           { return c.it.Close() }

// getLatest reads key's latest record into m. It reports false if the key
// does not exist.
func getLatest(r pebble.Reader, buf, key []byte, m *meta) (bool, error) {
	found := false
	err := getWith(r, latestKey(buf, key), func(v []byte) error {
		found = true
		return decodeLatest(v, m)
	})
	return found, err
}

// getWith calls fn with the value of k, valid only during the call, if k
// exists.
func getWith(r pebble.Reader, k []byte, fn func(v []byte) error) error {
	v, closer, err := r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	err = fn(v)
	if cerr := closer.Close(); err == nil {
		err = cerr
	}
	return err
}
