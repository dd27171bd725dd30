package server

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg           *prometheus.Registry
	differingKeys *prometheus.GaugeVec
	lastCheck     *prometheus.GaugeVec
	runs          *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	// VerifyLag and VerifyCoverage are filled by verify jobs.
	VerifyLag      *prometheus.GaugeVec
	VerifyCoverage *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		differingKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pgparity_table_differing_keys",
			Help: "Differing keys the last finished check of the table found."}, []string{"cluster", "table"}),
		lastCheck: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pgparity_table_last_check_timestamp_seconds",
			Help: "When the last check of the table that reached a verdict finished (Unix time)."}, []string{"cluster", "table", "command"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pgparity_runs_total",
			Help: "Jobs finished, by command and status (done, failed, cancelled, skipped)."}, []string{"command", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pgparity_run_duration_seconds",
			Help:    "Duration of finished jobs.",
			Buckets: prometheus.ExponentialBuckets(0.1, 3, 12)}, []string{"command"}),
		VerifyLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pgparity_verify_lag_bytes",
			Help: "Replication lag the last verify measured, in WAL bytes."}, []string{"cluster", "publisher", "subscriber"}),
		VerifyCoverage: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pgparity_verify_coverage_ratio",
			Help: "Fraction of the published data the last verify compared."}, []string{"cluster", "publisher", "subscriber"}),
	}
	m.reg.MustRegister(m.differingKeys, m.lastCheck, m.runs, m.duration, m.VerifyLag, m.VerifyCoverage,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe counts a finished job and sets the gauges of the tables it reached a verdict on.
func (m *metrics) observe(command string, rec *record, took time.Duration) {
	m.runs.WithLabelValues(command, rec.State).Inc()
	m.duration.WithLabelValues(command).Observe(took.Seconds())
	if rec.Outcome == nil || rec.FinishedAt == nil {
		return
	}
	m.setTables(command, rec.Outcome.Tables, *rec.FinishedAt)
	for _, p := range rec.Outcome.Pairs {
		m.VerifyLag.WithLabelValues(p.Cluster, p.Publisher, p.Subscriber).Set(float64(p.LagBytes))
		if p.Coverage >= 0 {
			m.VerifyCoverage.WithLabelValues(p.Cluster, p.Publisher, p.Subscriber).Set(p.Coverage)
		}
	}
}

// seed sets the table gauges from finished jobs (newest first), so that a restarted instance
// reports the last verdicts at once instead of no series until the next check.
func (m *metrics) seed(jobs []JobView) {
	for i := len(jobs) - 1; i >= 0; i-- {
		if j := jobs[i]; j.FinishedAt != nil {
			m.setTables(j.Command, j.Tables, *j.FinishedAt)
		}
	}
}

// setTables sets the gauges of the tables a job finished at finished reached a verdict on.
func (m *metrics) setTables(command string, tables []TableResult, finished time.Time) {
	for _, t := range tables {
		if t.Status != "match" && t.Status != "differ" {
			continue // a partial or failed check says nothing about the whole table
		}
		m.differingKeys.WithLabelValues(t.Cluster, t.Table).Set(float64(t.DifferingKeys))
		m.lastCheck.WithLabelValues(t.Cluster, t.Table, command).Set(float64(finished.UnixNano()) / 1e9)
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.metrics.handler().ServeHTTP(w, r)
}

// metricsHandler serves only /metrics, for the plain metrics_listen listener.
func (s *Server) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	return mux
}
