package cli

import "github.com/spf13/cobra"

// DocTree builds the command tree as a user meets it, for documentation generated from it (man
// pages, shell completions). It differs from Root in one way: cobra adds its completion command
// only when the tree executes, so DocTree adds it up front.
func DocTree(version string) *cobra.Command {
	root := Root(version)
	root.InitDefaultCompletionCmd()
	return root
}
