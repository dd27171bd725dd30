package history

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// versions returns the store's schema_version rows as "version applied_at".
func versions(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.db.QueryContext(testContext(t, time.Minute), s.d.sql("SELECT version, applied_at FROM @schema_version ORDER BY version"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		var at time.Time
		if err := rows.Scan(&v, scanTime{&at}); err != nil {
			t.Fatal(err)
		}
		out = append(out, v+" "+at.Format(time.RFC3339Nano))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigration(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := testContext(t, time.Minute)
		s := b.open(t)
		ms, err := s.d.migrations()
		if err != nil {
			t.Fatal(err)
		}
		before := versions(t, s)
		if len(before) != len(ms) {
			t.Fatalf("schema versions %v, want %d", before, len(ms))
		}
		id, err := s.StartRun(ctx, Start{Command: "table-diff", Cluster: "c1"})
		if err != nil {
			t.Fatal(err)
		}

		// Opening a current store changes nothing.
		again := b.open(t)
		wantLines(t, "versions after reopening", versions(t, again), before)
		if r, err := again.Run(ctx, id); err != nil || r.Command != "table-diff" {
			t.Errorf("run after reopening: %+v %v", r, err)
		}

		// A store migrated by a newer pgparity is refused.
		if _, err := s.db.ExecContext(ctx, s.d.sql("INSERT INTO @schema_version (version, applied_at) VALUES (?, ?)"),
			len(ms)+1, s.d.time(time.Now())); err != nil {
			t.Fatal(err)
		}
		_, err = Open(ctx, b.dsn, b.path)
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("opening a newer store: %v, want ErrSchemaTooNew", err)
		}
		t.Logf("%s: %v", b.name, err)
		if want := "version 2, this build knows versions up to 1"; len(ms) == 1 && !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	})
}

func TestSQLiteFile(t *testing.T) {
	ctx := testContext(t, time.Minute)
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "history.db")
	s, err := Open(ctx, "", path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.StartRun(ctx, Start{Command: "table-diff", Cluster: "c1"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v %v, want mode 0700", fi.Mode().Perm(), err)
	}
	var mode string
	var timeout int
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q %v, want wal", mode, err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil || timeout != int(busyTimeout.Milliseconds()) {
		t.Errorf("busy_timeout %d %v", timeout, err)
	}
	if _, err := Open(ctx, "", filepath.Join(dir, "what?.db")); err == nil {
		t.Error("a path with '?' was accepted")
	}
}

func TestDefaultPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cases := []struct{ xdg, want string }{
		{"/var/state", "/var/state/pgparity/history.db"},
		{"", filepath.Join(home, ".local/state/pgparity/history.db")},
		{"relative/state", filepath.Join(home, ".local/state/pgparity/history.db")},
	}
	for _, c := range cases {
		t.Setenv("XDG_STATE_HOME", c.xdg)
		if got, err := DefaultPath(); err != nil || got != c.want {
			t.Errorf("XDG_STATE_HOME=%q: %q %v, want %q", c.xdg, got, err, c.want)
		}
	}
}

// TestDSNPasswordNotInErrors opens stores with DSNs holding a password that cannot work: the errors
// name the problem without the password.
func TestDSNPasswordNotInErrors(t *testing.T) {
	ctx := testContext(t, time.Minute)
	const secret = "s3cr3t-pw"
	db := newBackend(t, "postgres").dsn
	for _, dsn := range []string{
		"postgres://u:" + secret + "@127.0.0.1:notaport/db",
		"host=127.0.0.1 port=1 user=u password=" + secret + " connect_timeout=2",
		db + " user=nobody password=" + secret,
	} {
		_, err := Open(ctx, dsn, "")
		if err == nil {
			t.Errorf("opening with a broken DSN succeeded")
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the password: %v", err)
		}
	}
}
