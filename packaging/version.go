package main

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	// describeSuffix is what git describe appends to a tag when commits follow it: -<n>-g<hash>.
	describeSuffix = regexp.MustCompile(`^(.+)-([0-9]+)-g([0-9a-f]+)$`)
	// bareHash is git describe --always without any tag: an abbreviated commit hash.
	bareHash = regexp.MustCompile(`^[0-9a-f]{7,40}$`)
	// notVersionChar is anything dpkg and rpm do not both accept in an upstream version.
	notVersionChar = regexp.MustCompile(`[^A-Za-z0-9.+~]`)
)

// packageVersion maps the output of `git describe --tags --always --dirty` (the version the
// binary reports) to a package version that dpkg and rpm both accept, which must start with a
// digit, and that both order the way the commits are ordered:
//
//	v1.2.3              -> 1.2.3
//	v1.2.3-rc1          -> 1.2.3~rc1             ~ sorts before the release itself
//	v1.2.3-4-gabc1234   -> 1.2.3+git4.abc1234    4 commits after the tag: after 1.2.3
//	43bfb1e (no tag)    -> 0.0.0~git43bfb1e      before any release
//	...-dirty           -> ...+dirty, or .dirty after a +
//
// Anything else without a leading digit (a tag like "release-x", the Makefile's "dev" when git
// is missing) becomes 0.0.0~<it>. Characters neither accepts become '.', hyphens and '_' '~'.
func packageVersion(describe string) (string, error) {
	d := strings.TrimSpace(describe)
	if d == "" {
		return "", fmt.Errorf("package version: empty version (want git describe --tags --always --dirty)")
	}
	dirty := strings.HasSuffix(d, "-dirty")
	d = strings.TrimSuffix(d, "-dirty")

	var v string
	switch m := describeSuffix.FindStringSubmatch(d); {
	case m != nil:
		v = fromTag(m[1]) + "+git" + m[2] + "." + m[3]
	case bareHash.MatchString(d):
		v = "0.0.0~git" + d
	default:
		v = fromTag(d)
	}
	if dirty {
		if strings.Contains(v, "+") {
			v += ".dirty"
		} else {
			v += "+dirty"
		}
	}
	return v, nil
}

// fromTag turns a tag into a version: without a leading v, pre-release parts after '~'.
func fromTag(tag string) string {
	t := strings.TrimPrefix(tag, "v")
	t = strings.NewReplacer("-", "~", "_", "~").Replace(t)
	t = notVersionChar.ReplaceAllString(t, ".")
	if t == "" || t[0] < '0' || t[0] > '9' {
		t = "0.0.0~" + t
	}
	return t
}
