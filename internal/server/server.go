// Package server runs pgparity as a service: an HTTP API (mTLS, roles by client certificate),
// a job queue on River (PostgreSQL control plane shared by several instances, or an embedded
// SQLite file for one), a scheduler, Prometheus metrics and a dashboard. Jobs call the same job
// functions as the command line. docs/serve.md describes the configuration and the API.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/history"
	"github.com/pgparity/pgparity/internal/job"
)

// Options say how to start a server.
type Options struct {
	// Env holds the settings (pgparity.yaml, with its server section and schedules) and where
	// clusters are defined. Reload reads Env.SettingsFile again.
	Env *job.Env
	// StatePath is the SQLite file of the job queue and the history store when history_dsn is
	// "" (default: history_path, else history.DefaultPath()).
	StatePath string
	Logger    *slog.Logger
	// Instance names this instance in job records and River (default: host-pid).
	Instance string
}

// Server is a running pgparity service.
type Server struct {
	log      *slog.Logger
	instance string
	opts     Options

	mu        sync.RWMutex
	env       *job.Env
	cfg       cluster.ServerSettings
	schedules []*schedule

	backend *backend
	locks   locker
	hist    *history.Store
	metrics *metrics
	tls     *tls.Config

	rows     rowCache // job rows for GET /v1/jobs/{id}
	running  atomic.Int64
	draining atomic.Bool

	httpSrv, metricsSrv *http.Server
	addr, metricsAddr   string
	stopSched           context.CancelFunc
	schedDone           chan struct{}
	shutdown            sync.Once
	shutdownErr         error
}

// New opens the control plane (migrating River's tables and the history store) and checks the
// configuration; it does not listen yet.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if o.Instance == "" {
		host, _ := os.Hostname()
		o.Instance = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if o.StatePath == "" {
		o.StatePath = o.Env.Settings.HistoryPath
	}
	if o.StatePath == "" && o.Env.Settings.HistoryDSN == "" {
		p, err := history.DefaultPath()
		if err != nil {
			return nil, err
		}
		o.StatePath = p
	}
	if o.Env.Settings.HistoryDSN == "" && o.Env.Settings.HistoryPath != o.StatePath {
		// Jobs record their runs where GET /v1/history reads them.
		e := *o.Env
		e.Settings.HistoryPath = o.StatePath
		o.Env = &e
	}
	s := &Server{log: o.Logger, instance: o.Instance, opts: o, metrics: newMetrics()}
	if err := s.apply(o.Env); err != nil {
		return nil, err
	}
	cfg := s.cfg
	tc, err := tlsConfig(cfg, s.log)
	if err != nil {
		return nil, err
	}
	s.tls = tc
	hist, err := history.Open(ctx, o.Env.Settings.HistoryDSN, o.StatePath)
	if err != nil {
		return nil, err
	}
	s.hist = hist
	w := &worker{s: s, rescueAfter: cfg.JobRescueAfter.Duration}
	b, err := openBackend(ctx, o.Env.Settings.HistoryDSN, o.StatePath, riverConfig(w, cfg.Workers, cfg.JobRescueAfter.Duration, o.Instance))
	if err != nil {
		hist.Close()
		return nil, err
	}
	s.backend, s.locks = b, b.locks
	return s, nil
}

// apply makes env's settings current: roles, limits and schedules (checked first; nothing
// changes when they are wrong).
func (s *Server) apply(env *job.Env) error {
	scheds, err := buildSchedules(env.Settings.ScheduleList())
	if err != nil {
		return err
	}
	cfg := env.Settings.ServeConfig()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Listen != "" {
		// What the listeners and the queue were started with stays.
		cfg.Listen, cfg.MetricsListen, cfg.TLSCert, cfg.TLSKey, cfg.ClientCA, cfg.Insecure =
			s.cfg.Listen, s.cfg.MetricsListen, s.cfg.TLSCert, s.cfg.TLSKey, s.cfg.ClientCA, s.cfg.Insecure
		cfg.Workers, cfg.JobRescueAfter = s.cfg.Workers, s.cfg.JobRescueAfter
	}
	s.env, s.cfg, s.schedules = env, cfg, carryOver(s.schedules, scheds)
	return nil
}

// Reload reads pgparity.yaml again (what SIGHUP does): roles, schedules and per-node limits
// change; running jobs go on. A file with an error changes nothing.
func (s *Server) Reload() error {
	cur := s.currentEnv()
	env, err := job.LoadEnv(cur.SettingsFile, s.opts.Env.ServiceFile)
	if err != nil {
		return err
	}
	// The control plane stays what the server started with.
	env.Settings.HistoryDSN, env.Settings.HistoryPath = cur.Settings.HistoryDSN, cur.Settings.HistoryPath
	if err := s.apply(env); err != nil {
		return err
	}
	s.log.Info("configuration reloaded", "schedules", len(env.Settings.ScheduleList()), "roles", len(s.config().Roles))
	return nil
}

func (s *Server) currentEnv() *job.Env {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.env
}

func (s *Server) config() cluster.ServerSettings {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg
}

func (s *Server) queue() queue { return s.backend.q }

// Start listens on server.listen (and metrics_listen), starts working jobs and the scheduler.
func (s *Server) Start(ctx context.Context) error {
	cfg := s.config()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	s.addr = ln.Addr().String()
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	if err := s.backend.q.Start(context.WithoutCancel(ctx)); err != nil { // River stops when its context ends: Shutdown stops it
		ln.Close()
		return fmt.Errorf("job queue: %w", err)
	}
	if jobs, err := s.ListJobs(ctx, "", "", 1000); err == nil {
		s.metrics.seed(jobs)
	} else {
		s.log.Warn("metrics: not seeded from earlier jobs", "err", err)
	}
	s.httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	go s.httpSrv.Serve(ln) //nolint:errcheck // ends with Shutdown
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("listen %s: %w", cfg.MetricsListen, err)
		}
		s.metricsAddr = mln.Addr().String()
		s.metricsSrv = &http.Server{Handler: s.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
		go s.metricsSrv.Serve(mln) //nolint:errcheck // ends with Shutdown
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopSched, s.schedDone = cancel, make(chan struct{})
	go s.runScheduler(sctx)
	s.log.Info("serving", "listen", s.addr, "tls", s.tls != nil, "queue", s.backend.driver, "instance", s.instance)
	return nil
}

// Addr is the address the API listens on (after Start).
func (s *Server) Addr() string { return s.addr }

// MetricsAddr is the address of the plain metrics listener ("" when none).
func (s *Server) MetricsAddr() string { return s.metricsAddr }

// Shutdown drains: the scheduler stops, no new job is fetched, running jobs get drain_timeout
// to finish and are then cancelled (read-only jobs go back to the queue), the listeners close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Do(func() { s.shutdownErr = s.drain(ctx) })
	return s.shutdownErr
}

func (s *Server) drain(ctx context.Context) error {
	s.draining.Store(true)
	if s.stopSched != nil {
		s.stopSched()
		<-s.schedDone
	}
	dctx, cancel := context.WithTimeout(ctx, s.config().DrainTimeout.Duration)
	err := s.backend.q.Stop(dctx)
	cancel()
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("drain timeout: cancelling running jobs", "running", s.running.Load())
		err = s.backend.q.StopAndCancel(ctx)
	}
	for _, h := range []*http.Server{s.httpSrv, s.metricsSrv} {
		if h != nil {
			hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			h.Shutdown(hctx) //nolint:errcheck // best effort at exit
			cancel()
		}
	}
	s.backend.close()
	s.hist.Close()
	return err
}

// Run starts the server and serves until ctx ends (SIGTERM), then drains. SIGHUP reloads.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	stop := notifyHangup(ctx, func() {
		if err := s.Reload(); err != nil {
			s.log.Error("reload failed; keeping the previous configuration", "err", err)
		}
	})
	defer stop()
	<-ctx.Done()
	s.log.Info("draining", "running", s.running.Load())
	return s.Shutdown(context.WithoutCancel(ctx))
}
