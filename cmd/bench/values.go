package main

import "math/rand/v2"

// values makes incompressible values (pebble compresses, bbolt does not)
// that cost nothing to make: value i is a window of one pool of random
// bytes, shifted per i.
type values struct {
	pool []byte
	size int
}

// newValues returns values of size bytes, from a pool of at least
// minPool bytes.
func newValues(size, minPool int) *values {
	pool := make([]byte, max(minPool, 2*size+4096))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range pool {
		pool[i] = byte(r.Uint32())
	}
	return &values{pool: pool, size: size}
}

// at returns value i.
func (v *values) at(i int) string {
	span := len(v.pool) - v.size
	off := (i * 4099) % span
	if v.size < 4099 {
		off = (i * v.size) % span
	}
	return string(v.pool[off : off+v.size])
}
