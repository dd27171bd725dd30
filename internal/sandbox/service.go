package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ConnString returns a keyword/value connection string for a database on one node.
func (s *Sandbox) ConnString(node Node, dbname string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=%s sslmode=disable",
		node.Port, Superuser, s.Password, dbname)
}

// PassFile writes a .pgpass-format file for every node into the sandbox directory (mode 0600) and
// returns its path.
func (s *Sandbox) PassFile() (string, error) {
	var b strings.Builder
	for _, n := range s.Nodes {
		fmt.Fprintf(&b, "127.0.0.1:%d:*:%s:%s\n", n.Port, Superuser, s.Password)
	}
	path := filepath.Join(s.Dir, "pgpass")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("write sandbox passfile: %w", err)
	}
	return path, nil
}

// WriteServiceFile writes a libpq service file at path defining cluster as every node of the
// sandbox on database dbname. Passwords stay in the passfile it references.
func (s *Sandbox) WriteServiceFile(path, cluster, dbname string) error {
	pass, err := s.PassFile()
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# pgparity sandbox cluster; generated, safe to delete.\n")
	fmt.Fprintf(&b, "[%s]\nhost=127.0.0.1\nuser=%s\ndbname=%s\nsslmode=disable\npassfile=%s\n",
		cluster, Superuser, dbname, pass)
	for _, n := range s.Nodes {
		fmt.Fprintf(&b, "\n[%s.%s]\nport=%d\n", cluster, n.Name, n.Port)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write service file: %w", err)
	}
	return nil
}
