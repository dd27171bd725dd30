package diff

import (
	"math/big"
	"math/bits"
)

// mix is encode.Mix computed here: PostgreSQL's hashint8extended(h, h), which folds h to 32
// bits (as hashint8 does), seeds lookup3 with all 64 bits of h and returns the 64-bit result.
// A range's checksum sum can then be added up from streamed row hashes, equal to what the
// server's sum(encode.Mix(h)) returns (TestMixMatchesServer).
func mix(h int64) int64 {
	lo, hi := uint32(h), uint32(uint64(h)>>32)
	if h >= 0 {
		lo ^= hi
	} else {
		lo ^= ^hi
	}
	seed := uint64(h)
	a := uint32(0x9e3779b9 + 4 + 3923095)
	b, c := a, a
	if seed != 0 {
		a += uint32(seed >> 32)
		b += uint32(seed)
		a, b, c = lookup3Mix(a, b, c)
	}
	a += lo
	b, c = lookup3Final(a, b, c)
	return int64(uint64(b)<<32 | uint64(c))
}

func lookup3Mix(a, b, c uint32) (uint32, uint32, uint32) {
	a -= c
	a ^= bits.RotateLeft32(c, 4)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 6)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 8)
	b += a
	a -= c
	a ^= bits.RotateLeft32(c, 16)
	c += b
	b -= a
	b ^= bits.RotateLeft32(a, 19)
	a += c
	c -= b
	c ^= bits.RotateLeft32(b, 4)
	b += a
	return a, b, c
}

func lookup3Final(a, b, c uint32) (uint32, uint32) {
	c ^= b
	c -= bits.RotateLeft32(b, 14)
	a ^= c
	a -= bits.RotateLeft32(c, 11)
	b ^= a
	b -= bits.RotateLeft32(a, 25)
	c ^= b
	c -= bits.RotateLeft32(b, 16)
	a ^= c
	a -= bits.RotateLeft32(c, 4)
	b ^= a
	b -= bits.RotateLeft32(a, 14)
	c ^= b
	c -= bits.RotateLeft32(b, 24)
	return b, c
}

// mixSum adds up the mixed hashes of rows exactly (128 bits: no overflow below 2^64 rows): a
// RangeSum equal to the server's (count, sum) of them.
type mixSum struct {
	count  int64
	hi, lo uint64 // two's complement
}

func (s *mixSum) add(h int64) {
	m := mix(h)
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, uint64(m), 0)
	ext := uint64(0)
	if m < 0 {
		ext = ^uint64(0)
	}
	s.hi, _ = bits.Add64(s.hi, ext, carry)
	s.count++
}

// sum is the RangeSum of the rows added: the zero RangeSum for none, as a range hashing query
// returns no row for an empty sub-range.
func (s *mixSum) sum() RangeSum {
	if s.count == 0 {
		return RangeSum{}
	}
	v := new(big.Int).SetUint64(s.hi)
	v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(s.lo))
	if int64(s.hi) < 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), 128))
	}
	return RangeSum{Count: s.count, Sum: v.String()}
}
