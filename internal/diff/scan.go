package diff

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/jackc/pgx/v5"
)

// rawRow decodes the columns of the current row from the wire without pgx's reflection-based
// Scan: every column read here is text (text and binary formats are the same bytes) or the int8
// row hash. One row's texts share one allocation, so a million differing rows cost a few
// allocations each instead of one per value.
type rawRow struct {
	formats []int16
}

func newRawRow(rows pgx.Rows) rawRow {
	fds := rows.FieldDescriptions()
	f := make([]int16, len(fds))
	for i, fd := range fds {
		f[i] = fd.Format
	}
	return rawRow{formats: f}
}

// texts returns columns [from, from+n) of raw as texts (nil = NULL).
func (rawRow) texts(raw [][]byte, from, n int) []*string {
	size := 0
	for _, b := range raw[from : from+n] {
		size += len(b)
	}
	buf := make([]byte, 0, size)
	for _, b := range raw[from : from+n] {
		buf = append(buf, b...)
	}
	all := unsafe.String(unsafe.SliceData(buf), len(buf)) // buf is never written again
	vals := make([]string, n)
	out := make([]*string, n)
	off := 0
	for i, b := range raw[from : from+n] {
		if b == nil {
			continue
		}
		vals[i] = all[off : off+len(b)]
		off += len(b)
		out[i] = &vals[i]
	}
	return out
}

// keyTexts returns columns [0, n) as key texts (keys are never NULL).
func (rawRow) keyTexts(raw [][]byte, n int) (Key, error) {
	k := make(Key, n)
	for i := range k {
		if raw[i] == nil {
			return nil, fmt.Errorf("key column %d is NULL", i+1)
		}
		k[i] = string(raw[i])
	}
	return k, nil
}

// int8 returns column i as an int8.
func (r rawRow) int8(raw [][]byte, i int) (int64, error) {
	b := raw[i]
	if b == nil {
		return 0, fmt.Errorf("column %d is NULL", i+1)
	}
	if r.formats[i] == pgx.BinaryFormatCode {
		if len(b) != 8 {
			return 0, fmt.Errorf("column %d: %d bytes for an int8", i+1, len(b))
		}
		return int64(binary.BigEndian.Uint64(b)), nil
	}
	return strconv.ParseInt(string(b), 10, 64)
}

// int returns column i as an int (a small integer such as an ordinal).
func (r rawRow) int(raw [][]byte, i int) (int, error) {
	b := raw[i]
	if b == nil {
		return 0, fmt.Errorf("column %d is NULL", i+1)
	}
	if r.formats[i] == pgx.BinaryFormatCode {
		switch len(b) {
		case 8:
			return int(int64(binary.BigEndian.Uint64(b))), nil
		case 4:
			return int(int32(binary.BigEndian.Uint32(b))), nil
		}
		return 0, fmt.Errorf("column %d: %d bytes for an integer", i+1, len(b))
	}
	return strconv.Atoi(string(b))
}

// bool returns column i as a boolean (NULL = false).
func (r rawRow) bool(raw [][]byte, i int) bool {
	b := raw[i]
	if len(b) == 0 {
		return false
	}
	if r.formats[i] == pgx.BinaryFormatCode {
		return b[0] == 1
	}
	return b[0] == 't'
}
