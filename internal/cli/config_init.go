package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgparity/pgparity/internal/cluster"
)

func init() { commands = append(commands, newConfigCmd) }

func newConfigCmd(_ *globals) *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Manage the runtime defaults file", Args: argsRange(0, 0)}
	var path string
	var force bool
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Write pgparity.yaml with every runtime default, commented",
		Args:  argsRange(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cluster.WriteSettingsTemplate(path, force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", path)
			return nil
		},
	}
	initCmd.Flags().StringVar(&path, "path", "pgparity.yaml", "file to write")
	initCmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	c.AddCommand(initCmd)
	return c
}
