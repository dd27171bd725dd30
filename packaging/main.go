// Command packaging builds pgparity's .deb and .rpm packages with nfpm, used as a library: the
// binary, a man page per command and bash, zsh and fish completions generated from the command
// definitions, the license and the docs, as nfpm.yaml lists them. `make package` builds the
// binary and runs this command in this directory.
//
// This directory is a module of its own, so that nfpm and its dependencies (go-git, OpenPGP,
// compressors: some 190 packages) are neither dependencies of pgparity nor built, vetted and
// race-tested by the main module's make test; the replace directive in go.mod points it at the
// pgparity of this checkout.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

// formats are the packages built, in this order.
var formats = []string{"deb", "rpm"}

type options struct {
	bin     string    // the pgparity binary, built for arch
	version string    // what the binary reports: git describe --tags --always --dirty
	arch    string    // GOARCH of the binary; nfpm names it the deb and rpm way
	config  string    // nfpm configuration
	out     string    // directory for the packages
	date    time.Time // file times in the packages and the date of the man pages
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "../dist/pgparity", "pgparity `binary` built for -arch")
	flag.StringVar(&o.version, "version", "", "the binary's `version`: git describe --tags --always --dirty")
	flag.StringVar(&o.arch, "arch", runtime.GOARCH, "GOARCH the binary was built for")
	flag.StringVar(&o.config, "config", "nfpm.yaml", "nfpm configuration; its relative paths are relative to the working directory")
	flag.StringVar(&o.out, "out", "../dist", "`directory` for the packages")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "packaging: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "packaging:", err)
		os.Exit(1)
	}
}

// run builds the packages and prints the path of each one built.
func run(o options) error {
	date, err := buildDate()
	if err != nil {
		return err
	}
	o.date = date
	paths, err := build(o)
	for _, p := range paths {
		fmt.Println(p)
	}
	return err
}

// buildDate is SOURCE_DATE_EPOCH when set (make package sets the commit's time, so that a
// commit packages to the same files), else now.
func buildDate() (time.Time, error) {
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		return time.Now().UTC().Truncate(time.Second), nil
	}
	sec, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", epoch)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// build generates the man pages and completions into a temporary directory, then writes one
// package per format into o.out and returns their paths.
func build(o options) ([]string, error) {
	version, err := packageVersion(o.version)
	if err != nil {
		return nil, err
	}
	stage, err := os.MkdirTemp("", "pgparity-packaging-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	if err := writeDocs(stage, o.version, o.date); err != nil {
		return nil, err
	}

	// The configuration names these as ${NAME}; anything else comes from the environment, as
	// with nfpm's own command (NFPM_PASSPHRASE and the like).
	vars := map[string]string{"VERSION": version, "ARCH": o.arch, "BIN": o.bin, "STAGE": stage}
	config, err := nfpm.ParseFileWithEnvMapping(o.config, func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		return os.Getenv(name)
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", o.config, err)
	}
	config.MTime = o.date

	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, format := range formats {
		path, err := writePackage(&config, format, o.out)
		if err != nil {
			return paths, fmt.Errorf("%s package: %w", format, err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// writePackage writes the package of one format into dir under its conventional name
// (pgparity_<version>-1_<arch>.deb, pgparity-<version>-1.<arch>.rpm).
func writePackage(config *nfpm.Config, format, dir string) (string, error) {
	info, err := config.Get(format)
	if err != nil {
		return "", err
	}
	info = nfpm.WithDefaults(info)
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, packager.ConventionalFileName(info))
	info.Target = path
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := packager.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	return path, f.Close()
}
