package cluster

import (
	"errors"
	"fmt"
	"os"

	"github.com/pgparity/pgparity/internal/fault"
)

// ServiceTemplate is the commented service file written by `pgparity cluster init`.
const ServiceTemplate = `# pgparity cluster definitions, in libpq service-file format (pg_service.conf).
#
# [CLUSTER] holds connection keywords shared by every node of the cluster.
# [CLUSTER.NODE] defines one node; its keywords override the shared ones. The node name is the
# part after the dot. Any libpq keyword pgx understands works: host, port, dbname, user, password,
# passfile, sslmode, sslrootcert, sslcert, sslkey, connect_timeout, target_session_attrs, ...
#
# Prefer a passfile (~/.pgpass format, mode 0600) over password= lines: this file then holds no
# secret. pgparity never prints passwords.

[mycluster]
dbname=app
user=pgparity
sslmode=prefer
connect_timeout=10
# passfile=/home/me/.pgpass

[mycluster.n1]
host=127.0.0.1
port=5432

[mycluster.n2]
host=127.0.0.1
port=5433
`

// WriteTemplate writes the service template to path with mode 0600. It refuses to overwrite an
// existing file unless force is set.
func WriteTemplate(path string, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fault.Input("%s already exists: pass --force to overwrite it", path)
	}
	if err != nil {
		return fault.Input("cannot write %s: %v", path, err)
	}
	if _, err := f.WriteString(ServiceTemplate); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return f.Close()
}

// WriteSettingsTemplate writes the runtime defaults template to path (mode 0644); no overwrite
// without force.
func WriteSettingsTemplate(path string, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return fault.Input("%s already exists: pass --force to overwrite it", path)
	}
	if err != nil {
		return fault.Input("cannot write %s: %v", path, err)
	}
	if _, err := f.WriteString(SettingsTemplate); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
