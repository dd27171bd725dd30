// Package cli turns command lines into calls of pgparity's capabilities: one file per command,
// each parsing flags into an options struct and calling one capability function.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/cluster"
	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/job"
)

// Exit codes, as documented in DESIGN.md and the README.
const (
	ExitOK        = 0
	ExitDiffer    = 1
	ExitInput     = 2
	ExitRuntime   = 3
	ExitCancelled = 130
)

// ExitInconclusive is verify's exit code when it reached no verdict (a subscriber behind or
// broken, coverage below the minimum).
const ExitInconclusive = 4

// globals are the flags every command shares.
type globals struct {
	configFile  string
	serviceFile string
	logLevel    string
	version     string
	noHistory   bool
	started     bool // a command's run function was entered (flag and argument parsing passed)
}

// Root builds the pgparity command tree.
func Root(version string) *cobra.Command {
	root, _ := newRoot(version)
	return root
}

func newRoot(version string) (*cobra.Command, *globals) {
	g := &globals{version: version}
	root := &cobra.Command{
		Use:   "pgparity",
		Short: "Find, report and repair differing rows between PostgreSQL nodes",
		Long: `pgparity compares tables across 2..N PostgreSQL nodes (logical-replication publishers and
subscribers, multi-master clusters, old and new databases of a migration), reports every differing
row, and repairs them safely.

Exit codes: 0 nodes match / success, 1 differences found, 2 usage or input error,
3 runtime failure (node unreachable, query failed), 4 inconclusive (verify), 130 interrupted.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			g.started = true
			var level slog.Level
			if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
				return fault.Input("--log-level %q: use debug, info, warn or error", g.logLevel)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})))
			return nil
		},
	}
	root.PersistentFlags().StringVar(&g.configFile, "config", "", "runtime defaults file (default: $PGPARITY_CONFIG, ./pgparity.yaml)")
	root.PersistentFlags().StringVar(&g.serviceFile, "service-file", "", "service file with cluster definitions (default: search as libpq does)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "diagnostics on stderr: debug, info, warn, error")
	root.PersistentFlags().BoolVar(&g.noHistory, "no-history", false, "do not record this run in the history store (see pgparity history)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fault.Input("%v (see %s --help)", err, cmd.CommandPath())
	})
	root.AddCommand(newVersionCmd(version))
	for _, add := range commands {
		root.AddCommand(add(g))
	}
	return root, g
}

// commands are registered by the command files in init, one constructor each.
var commands []func(*globals) *cobra.Command

// Run executes the command line and returns the exit code; errors are printed on stderr as one
// line. A command line that cobra refuses before any command runs is a usage error (exit 2).
func Run(ctx context.Context, version string, args []string, stdout, stderr io.Writer) int {
	root, g := newRoot(version)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitCode(ctx, err)
	if !g.started && code == ExitRuntime {
		code = ExitInput
	}
	switch {
	case code == ExitCancelled:
		fmt.Fprintln(stderr, "pgparity: interrupted")
	case !errors.Is(err, fault.ErrDiffer) && !errors.Is(err, fault.ErrInconclusive):
		fmt.Fprintln(stderr, "pgparity: "+strings.ReplaceAll(err.Error(), "\n", " "))
	}
	return code
}

// ExitCode maps an error to pgparity's exit codes.
func ExitCode(ctx context.Context, err error) int {
	switch {
	case err == nil:
		return ExitOK
	case ctx.Err() != nil:
		return ExitCancelled
	case errors.Is(err, fault.ErrDiffer):
		return ExitDiffer
	case errors.Is(err, fault.ErrInconclusive):
		return ExitInconclusive
	case fault.IsInput(err):
		return ExitInput
	default:
		return ExitRuntime
	}
}

// jobEnv loads the runtime settings of a job with the global flags applied (--config,
// --service-file, --no-history).
func (g *globals) jobEnv() (*job.Env, error) {
	e, err := job.LoadEnv(g.configFile, g.serviceFile)
	if err != nil {
		return nil, err
	}
	e.NoHistory = g.noHistory
	return e, nil
}

// env is what a command needs from the global flags: runtime settings and cluster lookup.
type env struct {
	settings     cluster.Settings
	settingsFile string
	serviceFile  string
}

func (g *globals) env() (*env, error) {
	s, path, err := cluster.LoadSettings(g.configFile)
	if err != nil {
		return nil, err
	}
	sf := g.serviceFile
	if sf == "" {
		sf = s.ServiceFile
	}
	return &env{settings: s, settingsFile: path, serviceFile: sf}, nil
}

// cluster resolves the cluster named by the first positional argument, or default_cluster.
func (e *env) cluster(name string) (*cluster.Cluster, error) {
	if name == "" {
		name = e.settings.DefaultCluster
	}
	if name == "" {
		return nil, fault.Input("no CLUSTER given and no default_cluster in pgparity.yaml")
	}
	return cluster.Load(name, cluster.LoadOptions{ServiceFile: e.serviceFile})
}

// connect resolves the cluster named (or default_cluster), selects nodeNames (all when empty)
// and opens one pool per node.
func (e *env) connect(ctx context.Context, name string, nodeNames []string) (*cluster.Cluster, cluster.Pools, error) {
	cl, err := e.cluster(name)
	if err != nil {
		return nil, nil, err
	}
	nodes, err := cl.Select(nodeNames)
	if err != nil {
		return nil, nil, err
	}
	pools, err := cluster.Connect(ctx, nodes, e.poolOptions())
	if err != nil {
		return nil, nil, err
	}
	return cl, pools, nil
}

// poolOptions derives connection settings from the runtime settings.
func (e *env) poolOptions() cluster.PoolOptions {
	return cluster.PoolOptions{
		MaxConns:         e.settings.MaxConnections,
		StatementTimeout: e.settings.StatementTimeout.Duration,
		ConnectTimeout:   e.settings.ConnectTimeout.Duration,
	}
}

// argsRange returns a cobra argument validator whose errors are input errors.
func argsRange(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return fault.Input("%s takes %s, got %d: see %s --help", cmd.CommandPath(), argCount(min, max), len(args), cmd.CommandPath())
		}
		return nil
	}
}

func argCount(min, max int) string {
	switch {
	case min == max && min == 0:
		return "no arguments"
	case min == max:
		return fmt.Sprintf("%d argument(s)", min)
	default:
		return fmt.Sprintf("%d to %d arguments", min, max)
	}
}

func newVersionCmd(version string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the pgparity version",
		Args:  argsRange(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "pgparity %s\n", version)
			return nil
		},
	}
}

// isTerminal reports whether w is a character device (progress bars only then).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
