package diff

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/catalog"
	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
)

// checkWhereText rejects filter text that could end the expression it is placed in: statement
// separators, comments, and parentheses that close more than they open. Quoted strings,
// identifiers and dollar-quoted bodies are skipped.
func checkWhereText(w string) error {
	depth := 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c == '\'':
			escapes := i > 0 && (w[i-1] == 'E' || w[i-1] == 'e')
			j := i + 1
			for ; j < len(w); j++ {
				if escapes && w[j] == '\\' {
					j++
					continue
				}
				if w[j] == '\'' {
					if j+1 < len(w) && w[j+1] == '\'' {
						j++
						continue
					}
					break
				}
			}
			if j >= len(w) {
				return fault.Input("--where has an unterminated string literal")
			}
			i = j
		case c == '"':
			j := strings.IndexByte(w[i+1:], '"')
			if j < 0 {
				return fault.Input("--where has an unterminated quoted identifier")
			}
			i += j + 1
		case c == '$':
			end := strings.IndexByte(w[i+1:], '$')
			if end >= 0 && isTag(w[i+1:i+1+end]) {
				tag := w[i : i+end+2]
				close := strings.Index(w[i+len(tag):], tag)
				if close < 0 {
					return fault.Input("--where has an unterminated dollar-quoted string")
				}
				i += len(tag) + close + len(tag) - 1
			}
		case c == ';':
			return fault.Input("--where must be a single boolean expression: ';' is not allowed")
		case c == '-' && i+1 < len(w) && w[i+1] == '-', c == '/' && i+1 < len(w) && w[i+1] == '*':
			return fault.Input("--where must not contain comments")
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return fault.Input("--where has an unbalanced ')'")
			}
		}
	}
	if depth != 0 {
		return fault.Input("--where has an unbalanced '('")
	}
	if strings.TrimSpace(w) == "" {
		return fault.Input("--where is empty")
	}
	return nil
}

func isTag(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// validateWhere checks the filter on every node: EXPLAIN must accept it as the WHERE clause of a
// query on the table alone, inside a read-only transaction, with no subquery.
func validateWhere(ctx context.Context, pools cluster.Pools, t *catalog.Table, where string) error {
	if err := checkWhereText(where); err != nil {
		return err
	}
	sql := "EXPLAIN (FORMAT JSON) SELECT 1 FROM " + t.From() + " AS " + alias + " WHERE (" + where + ")"
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range pools {
		g.Go(func() error {
			var plan string
			err := pgx.BeginTxFunc(gctx, p, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
				return tx.QueryRow(gctx, sql).Scan(&plan)
			})
			if err != nil {
				if gctx.Err() != nil {
					return gctx.Err()
				}
				if !isServerError(err) {
					return &cluster.NodeError{Node: p.Node.Name, Err: err}
				}
				return fault.Input("--where is invalid on node %s: %v", p.Node.Name, pgMessage(err))
			}
			if bad := subplan(plan); bad != "" {
				return fault.Input("--where must be a boolean expression over the table's columns; node %s plans it with a %s", p.Node.Name, bad)
			}
			return nil
		})
	}
	return g.Wait()
}

// subplan returns what in an EXPLAIN JSON plan shows the filter reaches beyond the table.
func subplan(plan string) string {
	var v any
	if err := json.Unmarshal([]byte(plan), &v); err != nil {
		return "plan that cannot be read"
	}
	var walk func(any) string
	walk = func(x any) string {
		switch n := x.(type) {
		case map[string]any:
			if _, ok := n["Subplan Name"]; ok {
				return "subquery"
			}
			if p, _ := n["Parent Relationship"].(string); p == "InitPlan" || p == "SubPlan" {
				return "subquery"
			}
			for _, c := range n {
				if r := walk(c); r != "" {
					return r
				}
			}
		case []any:
			for _, c := range n {
				if r := walk(c); r != "" {
					return r
				}
			}
		}
		return ""
	}
	return walk(v)
}
