package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/job"
	"github.com/pgparity/pgparity/internal/server"
)

func init() { commands = append(commands, newServeCmd) }

type serveOptions struct {
	stateFile string
	instance  string
}

func newServeCmd(g *globals) *cobra.Command {
	o := &serveOptions{}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP API, scheduler, metrics and dashboard (see docs/serve.md)",
		Long: `serve runs pgparity as a service, configured by the server: section and the schedules: list
of pgparity.yaml: an HTTP API over mutual TLS (client certificate common names map to roles viewer,
operator, admin), a job queue (River; shared by several instances when history_dsn names a
PostgreSQL database, else an embedded SQLite file for one instance), a scheduler, Prometheus
metrics and a dashboard at /.

SIGHUP reloads roles, schedules and limits without dropping running jobs; SIGTERM stops fetching
jobs and waits up to server.drain_timeout for running ones. Use --log-level info to see requests
being served and jobs being scheduled.`,
		Args: argsRange(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := job.LoadEnv(g.configFile, g.serviceFile)
			if err != nil {
				return err
			}
			s, err := server.New(cmd.Context(), server.Options{Env: e, StatePath: o.stateFile, Logger: slog.Default(), Instance: o.instance})
			if err != nil {
				return err
			}
			return s.Run(cmd.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&o.stateFile, "state-file", "", "SQLite file of the job queue and history when history_dsn is empty (default: history_path, else the history store's default path)")
	f.StringVar(&o.instance, "instance", "", "name of this instance in job records (default: host-pid)")
	return c
}
