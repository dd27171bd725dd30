package server

import (
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"
)

//go:embed dashboard.html
var dashboardHTML string

var dashboardTmpl = template.Must(template.New("dashboard").Funcs(template.FuncMap{
	"ago": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return time.Since(*t).Round(time.Second).String() + " ago"
	},
}).Parse(dashboardHTML))

// chartRuns is how many runs a table's history chart shows.
const chartRuns = 30

// dashboard is what the dashboard page shows.
type dashboard struct {
	Now     time.Time
	Nodes   []string
	Tables  []*tableRow
	Running []JobView
	Queued  []JobView
	Recent  []JobView
}

// tableRow is one table of the grid: its last verdict, each node's cell and its history chart.
type tableRow struct {
	Cluster, Table string
	Last           JobView
	Status         string
	DifferingKeys  int
	Cells          []nodeCell
	Chart          template.HTML
	points         []chartPoint // oldest first
}

type nodeCell struct {
	Node    string
	Present bool
	Rows    int64
	Missing int
	Status  string
}

type chartPoint struct {
	Keys   int
	Status string
	Link   string
	Title  string
}

func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	d, err := s.dashboardData(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	if err := dashboardTmpl.Execute(w, d); err != nil {
		s.log.Warn("dashboard", "err", err)
	}
}

// dashboardData builds the page from the newest jobs: the grid from finished ones (newest
// verdict per table), the charts from up to chartRuns verdicts per table.
func (s *Server) dashboardData(ctx context.Context) (*dashboard, error) {
	jobs, err := s.ListJobs(ctx, "", "", 1000)
	if err != nil {
		return nil, err
	}
	d := &dashboard{Now: time.Now().UTC()}
	byTable := map[string]*tableRow{}
	nodes := map[string]bool{}
	for _, j := range jobs { // newest first
		switch j.Status {
		case StateRunning:
			d.Running = append(d.Running, j)
		case StateQueued:
			d.Queued = append(d.Queued, j)
		}
		if j.FinishedAt != nil && len(d.Recent) < 20 {
			d.Recent = append(d.Recent, j)
		}
		for _, t := range j.Tables {
			key := t.Cluster + "\x00" + t.Table
			row := byTable[key]
			if row == nil {
				row = &tableRow{Cluster: t.Cluster, Table: t.Table, Last: j, Status: t.Status, DifferingKeys: t.DifferingKeys}
				for n, rows := range t.RowsCompared {
					nodes[n] = true
					row.Cells = append(row.Cells, nodeCell{Node: n, Present: true, Rows: rows, Missing: t.MissingOn[n], Status: t.Status})
				}
				byTable[key] = row
				d.Tables = append(d.Tables, row)
			}
			if len(row.points) < chartRuns {
				row.points = append(row.points, chartPoint{Keys: t.DifferingKeys, Status: t.Status, Link: j.ReportURL,
					Title: fmt.Sprintf("job %s %s: %s, %d differing key(s)", j.ID, j.FinishedAt.Format(time.RFC3339), t.Status, t.DifferingKeys)})
			}
		}
	}
	for n := range nodes {
		d.Nodes = append(d.Nodes, n)
	}
	slices.Sort(d.Nodes)
	slices.SortFunc(d.Tables, func(a, b *tableRow) int { return strings.Compare(a.Cluster+"."+a.Table, b.Cluster+"."+b.Table) })
	for _, row := range d.Tables {
		cells := make([]nodeCell, len(d.Nodes))
		for i, n := range d.Nodes {
			cells[i] = nodeCell{Node: n}
			for _, c := range row.Cells {
				if c.Node == n {
					cells[i] = c
				}
			}
		}
		row.Cells = cells
		slices.Reverse(row.points)
		row.Chart = chart(row.points)
	}
	return d, nil
}

// chart draws a table's history as inline SVG: one bar per run, its height the differing keys
// (log scale), green for a match; a bar links to its run's HTML report when there is one.
func chart(points []chartPoint) template.HTML {
	const w, h, bw = 240, 40, 8
	max := 1
	for _, p := range points {
		if p.Keys > max {
			max = p.Keys
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="history">`, w, h, w, h)
	for i, p := range points {
		bh := 3
		color := "#2e7d32"
		switch p.Status {
		case "differ":
			bh = 6 + int(float64(h-8)*logRatio(p.Keys, max))
			color = "#c62828"
		case "match":
		default:
			bh, color = h-2, "#9e9e9e"
		}
		x := i * bw
		rect := fmt.Sprintf(`<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s</title></rect>`,
			x, h-bh, bw-2, bh, color, template.HTMLEscapeString(p.Title))
		if p.Link != "" {
			rect = fmt.Sprintf(`<a href="%s">%s</a>`, template.HTMLEscapeString(p.Link), rect)
		}
		b.WriteString(rect)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from escaped parts only
}

// logRatio is log(1+v)/log(1+max), 0..1.
func logRatio(v, max int) float64 {
	lv, lm := 0.0, 0.0
	for x := v; x > 0; x /= 2 {
		lv++
	}
	for x := max; x > 0; x /= 2 {
		lm++
	}
	if lm == 0 {
		return 0
	}
	return lv / lm
}
