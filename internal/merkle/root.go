package merkle

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"github.com/pgparity/pgparity/internal/diff"
)

// root is a node's digest of all its leaf sums: the row count and two independent 64-bit lanes,
// each the sum (mod 2^64) over the leaves of a SHA-256-derived digest of (leaf number, count,
// sum). Like the leaf checksums it is additive (never XOR): replacing one leaf's sum subtracts
// the old digest and adds the new one, so a re-check keeps it current from the leaves it reads.
// Two nodes whose roots, minus the leaves a re-check rehashed, are equal hold equal sums in
// every other leaf (short of a 128-bit collision), and those leaves need not be read.
type root struct {
	rows int64
	a, b uint64
}

// leafDigest is leaf l's contribution to the root; an empty leaf contributes nothing.
func leafDigest(l int, s diff.RangeSum) root {
	if s.Count == 0 {
		return root{}
	}
	h := sha256.Sum256([]byte(strconv.Itoa(l) + ":" + strconv.FormatInt(s.Count, 10) + ":" + s.Sum))
	return root{rows: s.Count, a: binary.BigEndian.Uint64(h[0:8]), b: binary.BigEndian.Uint64(h[8:16])}
}

func (r root) add(o root) root { return root{rows: r.rows + o.rows, a: r.a + o.a, b: r.b + o.b} }
func (r root) sub(o root) root { return root{rows: r.rows - o.rows, a: r.a - o.a, b: r.b - o.b} }

// rootOf is the root of a complete list of leaf sums.
func rootOf(sums []diff.RangeSum) root {
	var r root
	for l, s := range sums {
		r = r.add(leafDigest(l, s))
	}
	return r
}

// layoutOf is a digest of leaf boundaries: nodes storing the same one hold the same leaves.
func layoutOf(bounds []diff.Key) string {
	h := sha256.New()
	var n [8]byte
	for _, k := range bounds {
		binary.BigEndian.PutUint64(n[:], uint64(len(k)))
		h.Write(n[:])
		for _, part := range k {
			binary.BigEndian.PutUint64(n[:], uint64(len(part)))
			h.Write(n[:])
			h.Write([]byte(part))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
