package storage

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// A backup is the state machine as one stream, for etcd's Maintenance.Snapshot
// (etcdctl snapshot save) and for restoring a new cluster from it:
//
//	"cairn-backup-1\n"
//	for each state machine key, in key order:
//	    uvarint(len(key)) key uvarint(len(value)) value
//	uvarint(0)                    (keys are never empty)
//	zeros up to a multiple of 512 bytes
//	SHA-256 of every byte above
//
// As with etcd's snapshot file (a bbolt file of 512-byte multiples, which
// etcdctl snapshot save checks the size of), the checksum comes last, so the stream is
// written as it is read from a pebble snapshot, holding one key-value at a
// time; a restore checks it before it installs anything. It is not etcd's
// bbolt file: etcdutl cannot restore it, node restore can.

// ErrBadBackup is returned by RestoreBackup for a stream that is not a
// complete, intact backup.
var ErrBadBackup = errors.New("storage: not an intact Cairn backup")

const backupMagic = "cairn-backup-1\n"

// WriteBackup writes a backup of the state machine, as of one moment, to w and
// returns the bytes written. Its memory is w's buffer and one key-value.
func (e *Engine) WriteBackup(w io.Writer) (int64, error) {
	snap, it, err := e.ReadStateMachine()
	if err != nil {
		return 0, err
	}
	defer snap.Close()
	defer it.Close()
	cw := &countingWriter{w: w}
	h := sha256.New()
	out := io.MultiWriter(cw, h)
	if _, err := io.WriteString(out, backupMagic); err != nil {
		return cw.n, err
	}
	var lens [binary.MaxVarintLen64]byte
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return cw.n, err
		}
		for _, b := range [2][]byte{it.Key(), v} {
			if _, err := out.Write(lens[:binary.PutUvarint(lens[:], uint64(len(b)))]); err != nil {
				return cw.n, err
			}
			if _, err := out.Write(b); err != nil {
				return cw.n, err
			}
		}
	}
	if err := it.Error(); err != nil {
		return cw.n, err
	}
	if _, err := out.Write([]byte{0}); err != nil {
		return cw.n, err
	}
	if _, err := out.Write(make([]byte, padding(cw.n))); err != nil {
		return cw.n, err
	}
	_, err = cw.Write(h.Sum(nil))
	return cw.n, err
}

// RestoreBackup replaces the state machine with the backup r holds. It
// builds sstables in tmpDir (which must not exist, and is removed) as it
// reads, and installs them only once the whole stream checked out: a
// truncated or damaged backup fails with ErrBadBackup and changes nothing.
func (e *Engine) RestoreBackup(r io.Reader, tmpDir string) error {
	w, err := e.NewSSTWriter(tmpDir)
	if err != nil {
		return err
	}
	defer w.Abort()
	h := sha256.New()
	br := &hashingReader{r: bufio.NewReaderSize(r, 64<<10), h: h}
	magic := make([]byte, len(backupMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != backupMagic {
		return fmt.Errorf("%w: no backup header", ErrBadBackup)
	}
	var key, value []byte
	for n := 0; ; n++ {
		if key, err = readField(br, key); err != nil {
			return fmt.Errorf("%w: key %d: %v", ErrBadBackup, n, err)
		}
		if len(key) == 0 {
			break
		}
		if value, err = readField(br, value); err != nil {
			return fmt.Errorf("%w: value %d: %v", ErrBadBackup, n, err)
		}
		if err := w.Add(key, value); err != nil {
			return fmt.Errorf("%w: %v", ErrBadBackup, err)
		}
	}
	pad := make([]byte, padding(br.n))
	if _, err := io.ReadFull(br, pad); err != nil || !bytes.Equal(pad, make([]byte, len(pad))) {
		return fmt.Errorf("%w: no padding before the checksum", ErrBadBackup)
	}
	want := h.Sum(nil)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br.r, got); err != nil {
		return fmt.Errorf("%w: no checksum: %v", ErrBadBackup, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%w: checksum mismatch", ErrBadBackup)
	}
	if _, err := br.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("%w: data after the checksum", ErrBadBackup)
	}
	paths, err := w.Finish()
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("%w: no keys", ErrBadBackup)
	}
	return e.ReplaceStateMachine(paths)
}

// maxBackupField bounds one key or value read from a backup, so that a
// damaged length cannot make a restore allocate without bound. Values are
// bounded by the request size limit, far below.
const maxBackupField = 1 << 30

// readField reads one length-prefixed field into buf's storage.
func readField(r *hashingReader, buf []byte) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxBackupField {
		return nil, fmt.Errorf("length %d", n)
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err = io.ReadFull(r, buf)
	return buf, err
}

// backupAlign is what a backup's length before its checksum is a multiple of.
const backupAlign = 512

// padding returns the zeros that bring n bytes to a multiple of backupAlign.
func padding(n int64) int64 { return (backupAlign - n%backupAlign) % backupAlign }

// hashingReader hashes and counts every byte read through it.
type hashingReader struct {
	r *bufio.Reader
	h hash.Hash
	n int64
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	return n, err
}

func (r *hashingReader) ReadByte() (byte, error) {
	b, err := r.r.ReadByte()
	if err == nil {
		r.h.Write([]byte{b})
		r.n++
	}
	return b, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
