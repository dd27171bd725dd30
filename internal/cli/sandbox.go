package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/pgparity/pgparity/internal/fault"
	"github.com/pgparity/pgparity/internal/sandbox"
)

func init() { commands = append(commands, newSandboxCmd) }

// sandboxDB is the database the sandbox's sample data and service file use.
const sandboxDB = "pgparity"

type sandboxOptions struct {
	dir     string
	nodes   int
	binDir  string
	rows    int
	diverge bool
	json    bool
}

func newSandboxCmd(_ *globals) *cobra.Command {
	o := &sandboxOptions{}
	c := &cobra.Command{
		Use:   "sandbox",
		Short: "Run local PostgreSQL nodes for trying pgparity out (up, down, status, destroy)",
		Args:  argsRange(0, 0),
	}
	c.PersistentFlags().StringVar(&o.dir, "dir", ".sandbox", "directory holding the nodes' data")
	up := &cobra.Command{
		Use:   "up",
		Short: "Create and start the nodes (idempotent); write a service file for cluster \"sandbox\"",
		Args:  argsRange(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSandboxUp(cmd, o)
		},
	}
	up.Flags().IntVar(&o.nodes, "nodes", 3, "number of nodes")
	up.Flags().StringVar(&o.binDir, "pg-bindir", "", "PostgreSQL bin directory (default: $PG_BINDIR, pg_config --bindir, newest /usr/lib/postgresql/*/bin)")
	up.Flags().IntVar(&o.rows, "rows", 0, "load the sample tables with this many rows in the wide table, identical on every node")
	up.Flags().BoolVar(&o.diverge, "diverge", false, "after loading, apply the documented differences on n2 and n3 (see docs/sandbox.md)")
	down := &cobra.Command{
		Use:   "down",
		Short: "Stop every node (data is kept)",
		Args:  argsRange(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := sandbox.Load(o.dir)
			if err != nil {
				return err
			}
			if err := s.Down(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stopped %d node(s) in %s\n", len(s.Nodes), s.Dir)
			return nil
		},
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show each node and whether it runs",
		Args:  argsRange(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := sandbox.Load(o.dir)
			if err != nil {
				return err
			}
			st := s.Status(cmd.Context())
			if o.json {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%-6s %-17s %-8s %s\n", "NODE", "ADDRESS", "STATE", "DATA")
			for _, n := range st {
				state := "stopped"
				if n.Running {
					state = "running"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-6s 127.0.0.1:%-7d %-8s %s\n", n.Name, n.Port, state, n.DataDir)
			}
			return nil
		},
	}
	status.Flags().BoolVar(&o.json, "json", false, "print JSON")
	destroy := &cobra.Command{
		Use:   "destroy",
		Short: "Stop every node and delete the sandbox directory",
		Args:  argsRange(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := sandbox.Load(o.dir)
			if err != nil {
				return err
			}
			if err := s.Destroy(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "destroyed %s\n", s.Dir)
			return nil
		},
	}
	c.AddCommand(up, down, status, destroy)
	return c
}

func runSandboxUp(cmd *cobra.Command, o *sandboxOptions) error {
	ctx := cmd.Context()
	if o.rows < 0 {
		return fault.Input("--rows must not be negative")
	}
	if o.diverge && o.rows == 0 {
		return fault.Input("--diverge needs sample data: add --rows N")
	}
	s, err := sandbox.Up(ctx, sandbox.Options{Dir: o.dir, Nodes: o.nodes, BinDir: o.binDir})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if err := createSandboxDB(ctx, s); err != nil {
		return err
	}
	svc := filepath.Join(s.Dir, "pg_service.conf")
	if err := s.WriteServiceFile(svc, "sandbox", sandboxDB); err != nil {
		return err
	}
	fmt.Fprintf(out, "sandbox: %d node(s) running in %s\n", len(s.Nodes), s.Dir)
	for _, n := range s.Nodes {
		fmt.Fprintf(out, "  %s  127.0.0.1:%d\n", n.Name, n.Port)
	}
	if o.rows > 0 {
		conns := map[string]string{}
		g, gctx := errgroup.WithContext(ctx)
		for _, n := range s.Nodes {
			conns[n.Name] = s.ConnString(n, sandboxDB)
			g.Go(func() error {
				if err := sandbox.LoadSample(gctx, s.ConnString(n, sandboxDB), o.rows); err != nil {
					return fmt.Errorf("load sample data on %s: %w", n.Name, err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		fmt.Fprintf(out, "loaded sample tables %s (%d rows in public.wide) on every node\n", strings.Join(sandbox.SampleTables, ", "), o.rows)
		if o.diverge {
			changes, err := sandbox.Diverge(ctx, conns, o.rows)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "applied %d differences on n2/n3 (see docs/sandbox.md)\n", len(changes))
		}
	}
	fmt.Fprintf(out, "\nUse it:\n  export PGPARITY_SERVICEFILE=%s\n  pgparity cluster check sandbox\n", svc)
	return nil
}

func createSandboxDB(ctx context.Context, s *sandbox.Sandbox) error {
	for _, n := range s.Nodes {
		conn, err := pgx.Connect(ctx, s.ConnString(n, "postgres"))
		if err != nil {
			return fmt.Errorf("connect to sandbox node %s: %w", n.Name, err)
		}
		var exists bool
		err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1)", sandboxDB).Scan(&exists)
		if err == nil && !exists {
			_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{sandboxDB}.Sanitize())
		}
		conn.Close(ctx)
		if err != nil {
			return fmt.Errorf("create database %s on %s: %w", sandboxDB, n.Name, err)
		}
	}
	return nil
}
