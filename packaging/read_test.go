package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
)

// Readers of the two package formats, just enough to list what a package installs: the tests
// check the packages themselves, not only what was asked of nfpm.

// packagedFile is a regular file a package installs.
type packagedFile struct {
	mode  os.FileMode // permission bits
	flags uint32      // rpm file flags (fileFlagLicense, ...); 0 in a deb
}

// debFiles lists the regular files of a .deb's data archive by absolute path, and returns the
// control file.
func debFiles(deb []byte) (map[string]packagedFile, string, error) {
	members, err := arMembers(deb)
	if err != nil {
		return nil, "", err
	}
	files := map[string]packagedFile{}
	var control string
	for name, data := range members {
		if !strings.HasSuffix(name, ".tar.gz") {
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", name, err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", name, err)
			}
			switch {
			case name == "data.tar.gz" && h.Typeflag == tar.TypeReg:
				files[path.Clean("/"+h.Name)] = packagedFile{mode: os.FileMode(h.Mode).Perm()}
			case name == "control.tar.gz" && path.Clean(h.Name) == "control":
				b, err := io.ReadAll(tr)
				if err != nil {
					return nil, "", err
				}
				control = string(b)
			}
		}
	}
	if len(files) == 0 || control == "" {
		return nil, "", fmt.Errorf("no data.tar.gz or control file (members: %d)", len(members))
	}
	return files, control, nil
}

// arMembers splits an ar archive (the container of a .deb) into its members by name.
func arMembers(b []byte) (map[string][]byte, error) {
	const magic, headerLen = "!<arch>\n", 60
	if !bytes.HasPrefix(b, []byte(magic)) {
		return nil, errors.New("not an ar archive")
	}
	members := map[string][]byte{}
	for rest := b[len(magic):]; len(rest) >= headerLen; {
		name := strings.TrimSuffix(strings.TrimSpace(string(rest[:16])), "/")
		size, err := strconv.Atoi(strings.TrimSpace(string(rest[48:58])))
		if err != nil || size > len(rest)-headerLen {
			return nil, fmt.Errorf("ar member %q: bad size", name)
		}
		members[name] = rest[headerLen : headerLen+size]
		rest = rest[headerLen+size+size%2:] // members start at even offsets
	}
	return members, nil
}

// rpm header tags and file flags read by rpmFiles (rpm's lib/rpmtag.h, lib/rpmfiles.h).
const (
	tagVersion    = 1001
	tagFileModes  = 1030
	tagFileFlags  = 1037
	tagDirIndexes = 1116
	tagBaseNames  = 1117
	tagDirNames   = 1118

	fileFlagLicense = 1 << 7
)

// rpmFiles lists the regular files of an .rpm from its header by absolute path, and returns
// the package version.
func rpmFiles(rpm []byte) (map[string]packagedFile, string, error) {
	const leadLen = 96
	if len(rpm) < leadLen || !bytes.HasPrefix(rpm, []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, "", errors.New("not an rpm")
	}
	_, n, err := rpmHeader(rpm[leadLen:]) // the signature header
	if err != nil {
		return nil, "", fmt.Errorf("signature header: %w", err)
	}
	off := leadLen + (n+7)/8*8 // the main header starts 8-byte aligned
	if off > len(rpm) {
		return nil, "", errors.New("truncated rpm")
	}
	h, _, err := rpmHeader(rpm[off:])
	if err != nil {
		return nil, "", fmt.Errorf("header: %w", err)
	}
	dirs, names := h.strings(tagDirNames), h.strings(tagBaseNames)
	index, modes, flags := h.ints(tagDirIndexes, 4), h.ints(tagFileModes, 2), h.ints(tagFileFlags, 4)
	if len(index) != len(names) || len(modes) != len(names) || len(flags) != len(names) {
		return nil, "", fmt.Errorf("header: %d names, %d dir indexes, %d modes, %d flags", len(names), len(index), len(modes), len(flags))
	}
	files := map[string]packagedFile{}
	for i, name := range names {
		const regular = 0o100000
		if modes[i]&0o170000 != regular || int(index[i]) >= len(dirs) {
			continue
		}
		files[dirs[index[i]]+name] = packagedFile{mode: os.FileMode(modes[i]).Perm(), flags: flags[i]}
	}
	version := h.strings(tagVersion)
	if len(version) != 1 {
		return nil, "", errors.New("header: no version")
	}
	return files, version[0], nil
}

// rpmHeaderData is one header structure of an rpm: its index entries by tag and its data store.
type rpmHeaderData struct {
	entries map[uint32][3]uint32 // tag -> type, offset, count
	store   []byte
}

// rpmHeader reads the header structure at the start of b and returns it with its length.
func rpmHeader(b []byte) (rpmHeaderData, int, error) {
	if len(b) < 16 || !bytes.HasPrefix(b, []byte{0x8e, 0xad, 0xe8, 0x01}) {
		return rpmHeaderData{}, 0, errors.New("bad header magic")
	}
	count, size := int(binary.BigEndian.Uint32(b[8:])), int(binary.BigEndian.Uint32(b[12:]))
	end := 16 + count*16 + size
	if end > len(b) {
		return rpmHeaderData{}, 0, errors.New("truncated header")
	}
	h := rpmHeaderData{entries: map[uint32][3]uint32{}, store: b[16+count*16 : end]}
	for i := range count {
		e := b[16+i*16:]
		h.entries[binary.BigEndian.Uint32(e)] = [3]uint32{binary.BigEndian.Uint32(e[4:]), binary.BigEndian.Uint32(e[8:]), binary.BigEndian.Uint32(e[12:])}
	}
	return h, end, nil
}

// strings returns the value of a STRING or STRING_ARRAY tag.
func (h rpmHeaderData) strings(tag uint32) []string {
	e, ok := h.entries[tag]
	if !ok || int(e[1]) > len(h.store) {
		return nil
	}
	var out []string
	rest := h.store[e[1]:]
	for range e[2] {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return nil
		}
		out = append(out, string(rest[:i]))
		rest = rest[i+1:]
	}
	return out
}

// ints returns the value of an INT16 (width 2) or INT32 (width 4) array tag.
func (h rpmHeaderData) ints(tag uint32, width int) []uint32 {
	e, ok := h.entries[tag]
	if !ok || int(e[1])+int(e[2])*width > len(h.store) {
		return nil
	}
	out := make([]uint32, e[2])
	for i := range out {
		p := h.store[int(e[1])+i*width:]
		if width == 2 {
			out[i] = uint32(binary.BigEndian.Uint16(p))
		} else {
			out[i] = binary.BigEndian.Uint32(p)
		}
	}
	return out
}
