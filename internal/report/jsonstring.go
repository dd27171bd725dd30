package report

import (
	"encoding/json"
	"unicode/utf8"
)

// AppendJSONString appends s as a JSON string (diff files, undo files). Invalid UTF-8 goes through encoding/json, which
// replaces it as it always did.
func AppendJSONString[T ~string | ~[]byte](b []byte, s T) []byte {
	i := 0
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	b = append(b, '"')
	if i == len(s) { // the common case: nothing to escape
		b = append(b, s...)
		return append(b, '"')
	}
	if !validUTF8(s[i:]) {
		m, _ := json.Marshal(string(s)) // a string always marshals
		return append(b[:len(b)-1], m...)
	}
	const hex = "0123456789abcdef"
	start := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonPlain holds the bytes a JSON string holds as they are: printable ASCII but '"' and '\\'.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func validUTF8[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(string(s[i:]))
		}
	}
	return true
}
