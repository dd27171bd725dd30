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
// separators, comments, and parentheses that close more than they open; and text that reaches
// beyond the table: subqueries (SELECT, TABLE, VALUES) and parameters. Quoted strings,
// identifiers and dollar-quoted bodies are skipped the way PostgreSQL's lexer skips them.
func checkWhereText(w string) error {
	depth := 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c == '\'':
			// E'...' is an escape string only when the E is a token of its own: in name'...' (a
			// typed literal) the e ends an identifier and a backslash is a plain character.
			escapes := i > 0 && (w[i-1] == 'E' || w[i-1] == 'e') && !inIdentifier(w, i-1)
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
		case c == '$' && !inIdentifier(w, i): // inside an identifier, $ is a plain character
			if i+1 < len(w) && w[i+1] >= '0' && w[i+1] <= '9' {
				return fault.Input("--where must not contain parameters ($1, $2 ...): write the values")
			}
			end := strings.IndexByte(w[i+1:], '$')
			if end >= 0 && isTag(w[i+1:i+1+end]) {
				tag := w[i : i+end+2]
				close := strings.Index(w[i+len(tag):], tag)
				if close < 0 {
					return fault.Input("--where has an unterminated dollar-quoted string")
				}
				i += len(tag) + close + len(tag) - 1
			}
		case isIdentStart(c) && (i == 0 || !isIdentChar(w[i-1])):
			j := i
			for j < len(w) && isIdentChar(w[j]) {
				j++
			}
			switch word := strings.ToUpper(w[i:j]); word {
			case "SELECT", "TABLE", "VALUES":
				return fault.Input("--where must be a boolean expression over the table's columns: subqueries (%s) are not allowed (quote a column of that name)", word)
			}
			i = j - 1
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

// isIdentStart and isIdentChar follow PostgreSQL's lexer: identifiers start with a letter, '_' or
// a non-ASCII byte and continue with those, digits and '$'.
func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' }

// inIdentifier reports whether w[i] continues an unquoted identifier begun before it (as opposed
// to starting a token, or following a number).
func inIdentifier(w string, i int) bool {
	j := i
	for j > 0 && isIdentChar(w[j-1]) {
		j--
	}
	return j < i && isIdentStart(w[j])
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

// scanNodes are the plan nodes a filter on the table alone can produce: scans of the table (or of
// its partitions, aliased alias_N), their bitmap helpers, Append over partitions, Gather for
// parallel scans, and Result for constant filters.
var scanNodes = map[string]bool{
	"Seq Scan": true, "Index Scan": true, "Index Only Scan": true, "Bitmap Heap Scan": true,
	"Bitmap Index Scan": true, "BitmapAnd": true, "BitmapOr": true, "Tid Scan": true,
	"Tid Range Scan": true, "Foreign Scan": true, "Append": true, "Gather": true, "Result": true,
}

// subplan returns what in an EXPLAIN JSON plan shows the filter reaches beyond the table: a
// subplan, or any node other than a scan of the table (a subquery the planner pulled up into a
// join, a VALUES list, a function scan ...).
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
			if t, ok := n["Node Type"].(string); ok && !scanNodes[t] {
				return "subquery (" + t + ")"
			}
			if a, ok := n["Alias"].(string); ok && a != alias && !isPartitionAlias(a) {
				return "subquery (scan of " + a + ")"
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

// isPartitionAlias reports whether a is the alias PostgreSQL gives a partition scanned for the
// table aliased alias: alias_1, alias_2 ...
func isPartitionAlias(a string) bool {
	n, ok := strings.CutPrefix(a, alias+"_")
	if !ok || n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}
