package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/cluster"
)

func init() { commands = append(commands, newClusterCmd) }

// newClusterCmd is the `cluster` group: init and check.
func newClusterCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "cluster", Short: "Define and check clusters", Args: argsRange(0, 0)}
	c.AddCommand(newClusterInitCmd(g))
	for _, add := range clusterCommands {
		c.AddCommand(add(g))
	}
	return c
}

// clusterCommands are the `cluster` subcommands registered by other files.
var clusterCommands []func(*globals) *cobra.Command

type clusterInitOptions struct {
	path   string
	force  bool
	stdout bool
}

func newClusterInitCmd(_ *globals) *cobra.Command {
	o := clusterInitOptions{}
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a commented pg_service.conf template with a [mycluster] cluster of two nodes",
		Args:  argsRange(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.stdout {
				_, err := fmt.Fprint(cmd.OutOrStdout(), cluster.ServiceTemplate)
				return err
			}
			if err := cluster.WriteTemplate(o.path, o.force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s (mode 0600): edit the [mycluster] sections, then run `pgparity cluster check mycluster`\n", o.path)
			return nil
		},
	}
	c.Flags().StringVar(&o.path, "path", "pg_service.conf", "file to write")
	c.Flags().BoolVar(&o.force, "force", false, "overwrite an existing file")
	c.Flags().BoolVar(&o.stdout, "stdout", false, "print the template instead of writing a file")
	return c
}
