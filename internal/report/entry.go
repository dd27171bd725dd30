package report

import (
	"encoding/json"
	"strconv"

	"github.com/pgparity/pgparity/internal/encode"
)

// Entry is one differing key in compact form, as the engine emits it and diff files (v2) store
// it: the key's texts, and one Version per distinct row the nodes hold, with the nodes holding it.
// A node in no version lacks the row. Values are PostgreSQL's text (nil = NULL), by position in
// Diff.Columns; names live once in the Diff.
//
// In whole-row mode (no key) Key is nil, Versions holds exactly the one row (its Hash is the row
// hash that stands in for a key, its Nodes those holding at least one copy), and Counts holds the
// copies per node, by position in Diff.Nodes.
type Entry struct {
	Key       []string
	Versions  []Version
	Counts    []int64
	Transient bool // differed at first, agreed when re-read after --recheck
}

// Version is one distinct row of a key: the nodes holding it (positions in Diff.Nodes, ascending),
// its row hash (encode.RowHash) and its values.
type Version struct {
	Nodes  []int
	Hash   int64
	Values []*string
}

// VersionOf returns the position in e.Versions of the version node i holds, or -1.
func (e *Entry) VersionOf(i int) int {
	for v := range e.Versions {
		for _, n := range e.Versions[v].Nodes {
			if n == i {
				return v
			}
		}
	}
	return -1
}

// jsonKind is how a column's text is typed in JSON: exact numbers for integer types, booleans,
// strings for everything else (PostgreSQL's text output).
type jsonKind uint8

const (
	kindString jsonKind = iota
	kindNumber
	kindBool
)

func kindOf(c Column) jsonKind {
	t := c.Base
	if t == "" {
		t = c.Type
	}
	switch t {
	case "smallint", "integer", "bigint", "oid":
		return kindNumber
	case "boolean":
		return kindBool
	}
	return kindString
}

func kinds(cols []Column) []jsonKind {
	out := make([]jsonKind, len(cols))
	for i, c := range cols {
		out[i] = kindOf(c)
	}
	return out
}

// typed converts a text (nil = NULL) into its JSON value of the given kind.
func typed(k jsonKind, text *string) any {
	if text == nil {
		return nil
	}
	switch k {
	case kindNumber:
		return json.Number(*text)
	case kindBool:
		return *text == "true"
	}
	return *text
}

// untyped converts a JSON value back into PostgreSQL text (nil = NULL).
func untyped(v any) *string {
	s, ok := encode.Text(v)
	if !ok {
		return nil
	}
	return &s
}

// keyColumns returns the columns of d's key, in key order.
func (d *Diff) keyColumns() []Column {
	out := make([]Column, len(d.Key))
	for i, k := range d.Key {
		out[i] = Column{Name: k}
		for _, c := range d.Columns {
			if c.Name == k {
				out[i] = c
				break
			}
		}
	}
	return out
}

// Expand returns e as a Row of d: every present node's full record, typed for JSON. It is the
// form repair plans and reports work on, one entry (or one batch) at a time.
func (d *Diff) Expand(e *Entry) Row {
	r := Row{Values: make(map[string]*Record, len(d.Nodes))}
	ck := kinds(d.Columns)
	record := func(v *Version) *Record {
		rec := make(Record, len(d.Columns))
		for j, c := range d.Columns {
			var t *string
			if j < len(v.Values) {
				t = v.Values[j]
			}
			rec[j] = Field{Name: c.Name, Value: typed(ck[j], t)}
		}
		return &rec
	}
	for _, n := range d.Nodes {
		r.Values[n] = nil
	}
	if len(d.Key) == 0 {
		r.Counts = make(map[string]int64, len(d.Nodes))
		for i, n := range d.Nodes {
			if i < len(e.Counts) {
				r.Counts[n] = e.Counts[i]
			}
		}
		if len(e.Versions) > 0 {
			v := &e.Versions[0]
			r.Key = Record{{Name: RowHashField, Value: json.Number(strconv.FormatInt(v.Hash, 10))}}
			rec := record(v)
			for _, i := range v.Nodes {
				r.Values[d.Nodes[i]] = rec
			}
		}
		return r
	}
	kc := d.keyColumns()
	r.Key = make(Record, len(kc))
	for i, c := range kc {
		var t *string
		if i < len(e.Key) {
			t = &e.Key[i]
		}
		r.Key[i] = Field{Name: c.Name, Value: typed(kindOf(c), t)}
	}
	r.Hashes = make(map[string]json.Number, len(d.Nodes))
	for v := range e.Versions {
		rec := record(&e.Versions[v])
		h := json.Number(strconv.FormatInt(e.Versions[v].Hash, 10))
		for _, i := range e.Versions[v].Nodes {
			r.Values[d.Nodes[i]] = rec
			r.Hashes[d.Nodes[i]] = h
		}
	}
	return r
}

// RowHashField names the key of whole-row mode rows in expanded rows and v1 diff files.
const RowHashField = "row_hash"

// Compact returns r (an expanded row of d, e.g. read from a v1 diff file) as an Entry. Present
// nodes are grouped into versions by their recorded row hash where every present node has one,
// else by equal values.
func (d *Diff) Compact(r *Row) (Entry, error) {
	var e Entry
	nodeIndex := make(map[string]int, len(d.Nodes))
	for i, n := range d.Nodes {
		nodeIndex[n] = i
	}
	if len(d.Key) > 0 {
		e.Key = make([]string, len(d.Key))
		for i, k := range d.Key {
			v, ok := r.Key.Get(k)
			t := untyped(v)
			if !ok || t == nil {
				return e, errMissingKey(k)
			}
			e.Key[i] = *t
		}
	}
	hashed := true
	for n, rec := range r.Values {
		if rec == nil {
			continue
		}
		if _, ok := r.Hashes[n]; !ok {
			hashed = false
		}
	}
	for i, n := range d.Nodes {
		rec := r.Values[n]
		if rec == nil {
			continue
		}
		var hash int64
		if hashed {
			h, err := strconv.ParseInt(string(r.Hashes[n]), 10, 64)
			if err != nil {
				return e, errBadHash(n)
			}
			hash = h
		}
		values := make([]*string, len(d.Columns))
		for j, c := range d.Columns {
			v, _ := fieldAt(*rec, j, c.Name)
			values[j] = untyped(v)
		}
		joined := false
		for v := range e.Versions {
			ev := &e.Versions[v]
			if (hashed && ev.Hash == hash) || (!hashed && sameTexts(ev.Values, values)) {
				ev.Nodes = append(ev.Nodes, i)
				joined = true
				break
			}
		}
		if !joined {
			e.Versions = append(e.Versions, Version{Nodes: []int{i}, Hash: hash, Values: values})
		}
	}
	if len(d.Key) == 0 {
		e.Counts = make([]int64, len(d.Nodes))
		for n, c := range r.Counts {
			if i, ok := nodeIndex[n]; ok {
				e.Counts[i] = c
			}
		}
		if v, ok := r.Key.Get(RowHashField); ok {
			if h, err := strconv.ParseInt(string(asNumber(v)), 10, 64); err == nil {
				if len(e.Versions) == 0 {
					e.Versions = []Version{{Hash: h}}
				}
				e.Versions[0].Hash = h
				// Whole-row mode has one row: every node holding a copy holds it.
				e.Versions = e.Versions[:1]
				e.Versions[0].Nodes = e.Versions[0].Nodes[:0]
				for i, c := range e.Counts {
					if c > 0 {
						e.Versions[0].Nodes = append(e.Versions[0].Nodes, i)
					}
				}
			}
		}
	}
	return e, nil
}

func asNumber(v any) json.Number {
	switch x := v.(type) {
	case json.Number:
		return x
	case string:
		return json.Number(x)
	}
	return ""
}

// fieldAt returns the field named name, looking at position i first.
func fieldAt(r Record, i int, name string) (any, bool) {
	if i < len(r) && r[i].Name == name {
		return r[i].Value, true
	}
	return r.Get(name)
}

func sameTexts(a, b []*string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || (a[i] != nil && *a[i] != *b[i]) {
			return false
		}
	}
	return true
}
