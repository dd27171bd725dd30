package schema

import (
	"fmt"
	"sort"
	"strings"
)

// Difference is one structural difference: an object that only some nodes have (Property
// empty), or a property of an object whose value is not the same on every node that has the
// object. Values holds each node's value; nil means the node lacks the object or the property.
type Difference struct {
	Kind     string             `json:"kind"`
	Object   string             `json:"object"`
	Property string             `json:"property,omitempty"`
	Values   map[string]*string `json:"values"`
	// Diffs holds, for a property that stands for a longer text (a view's query, a function's
	// CREATE statement), the unified diff of that text from the first node that has it to each
	// node whose text differs, by node.
	Diffs map[string]string `json:"diffs,omitempty"`
}

// present splits the nodes Values covers (in the given order) into those with a value and
// those without. A property difference covers only the nodes that have the object.
func (d Difference) present(nodes []string) (have, lack []string) {
	for _, n := range nodes {
		v, ok := d.Values[n]
		if !ok {
			continue
		}
		if v != nil {
			have = append(have, n)
		} else {
			lack = append(lack, n)
		}
	}
	return have, lack
}

// Describe says in one line what differs: "column extra: only on n2 (integer)", or each node's
// value when every node has one.
func (d Difference) Describe(nodes []string) string {
	what := d.Property
	if what == "" {
		what = d.Kind + " " + d.Object
	}
	have, lack := d.present(nodes)
	if d.Property == "" {
		return fmt.Sprintf("%s: missing on %s", what, strings.Join(lack, ", "))
	}
	if len(lack) > 0 && distinct(d, have) == 1 {
		return fmt.Sprintf("%s: only on %s (%s), not on %s", what, strings.Join(have, ", "), *d.Values[have[0]], strings.Join(lack, ", "))
	}
	var parts []string
	for _, n := range nodes {
		v, ok := d.Values[n]
		if !ok {
			continue
		}
		text := "(absent)"
		if v != nil {
			text = *v
		}
		parts = append(parts, n+" = "+text)
	}
	return fmt.Sprintf("%s: %s", what, strings.Join(parts, "; "))
}

// Short is the shortest description: "column extra only on n2", "index i differs".
func (d Difference) Short(nodes []string) string {
	have, lack := d.present(nodes)
	switch {
	case d.Property == "":
		return "missing on " + strings.Join(lack, ", ")
	case len(lack) > 0 && len(have) <= len(lack):
		return d.Property + " only on " + strings.Join(have, ", ")
	case len(lack) > 0:
		return d.Property + " missing on " + strings.Join(lack, ", ")
	default:
		return d.Property + " differs"
	}
}

func distinct(d Difference, nodes []string) int {
	seen := map[string]bool{}
	for _, n := range nodes {
		seen[*d.Values[n]] = true
	}
	return len(seen)
}

// Compare compares snapshots of one schema N-way (snaps[i] belongs to nodes[i]) and returns every
// difference, ordered by kind, object and property. An object missing on some node is one
// difference; its properties are then compared only among the nodes that have it. A
// publication is compared only among the nodes that have it: a subscriber has none. An object
// whose structure could not be read on some node (Snapshot.Failed) is not compared.
func Compare(nodes []string, snaps []*Snapshot) []Difference {
	ids := map[ObjectID]bool{}
	for _, s := range snaps {
		for id := range s.Objects {
			ids[id] = true
		}
	}
	for _, s := range snaps {
		for id := range s.Failed {
			delete(ids, id)
		}
	}
	var out []Difference
	for id := range ids {
		obj := Difference{Kind: id.Kind, Object: id.Name, Values: map[string]*string{}}
		missing := false
		props := map[string]bool{}
		for i, s := range snaps {
			p, ok := s.Objects[id]
			if !ok {
				obj.Values[nodes[i]] = nil
				missing = true
				continue
			}
			obj.Values[nodes[i]] = ptr(p["kind"])
			if p["kind"] == "" {
				obj.Values[nodes[i]] = ptr(id.Kind)
			}
			for k := range p {
				props[k] = true
			}
		}
		if missing && id.Kind != KindPublication {
			out = append(out, obj)
		}
		for prop := range props {
			d := Difference{Kind: id.Kind, Object: id.Name, Property: prop, Values: map[string]*string{}}
			var first *string
			same, n := true, 0
			for i, s := range snaps {
				p, ok := s.Objects[id]
				if !ok {
					continue
				}
				var v *string
				if val, ok := p[prop]; ok {
					v = ptr(val)
				}
				d.Values[nodes[i]] = v
				if n > 0 && !equalPtr(first, v) {
					same = false
				}
				if n == 0 {
					first = v
				}
				n++
			}
			if !same {
				d.Diffs = textDiffs(nodes, snaps, id, prop)
				out = append(out, d)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return kindOrder(a.Kind) < kindOrder(b.Kind)
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		return a.Property < b.Property
	})
	return out
}

// textDiffs returns the unified diff of the text behind a differing property from the first
// node that has one to each node whose text differs, or nil when the property has no text.
func textDiffs(nodes []string, snaps []*Snapshot, id ObjectID, prop string) map[string]string {
	var out map[string]string
	first := -1
	for i, s := range snaps {
		text, ok := s.Texts[id][prop]
		if !ok {
			continue
		}
		if first < 0 {
			first = i
			continue
		}
		if d := unifiedDiff(nodes[first], nodes[i], snaps[first].Texts[id][prop], text); d != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[nodes[i]] = d
		}
	}
	return out
}

func kindOrder(k string) string {
	switch k {
	case KindExtension:
		return "0"
	case KindEnum, KindDomain, KindType:
		return "1" + k
	case KindTable:
		return "2"
	case KindSequence:
		return "3"
	case KindView:
		return "4"
	case KindPublication:
		return "6"
	default:
		return "5" + k
	}
}

func ptr(s string) *string { return &s }

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
