package filestore

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidKey is returned (wrapped) for a key the store refuses: empty,
// with a "." or ".." segment, with control bytes, or too
// long for the file system once encoded.
var ErrInvalidKey = errors.New("filestore: invalid key")

const (
	dataSuffix = "@" // ends an object's data file name
	contSuffix = "~" // ends a directory that continues the same key segment
	maxChunk   = 240 // encoded bytes per path component, below NAME_MAX (255)
	maxRelPath = 3800
	// emptySegment stands for an empty key segment; '=' is never kept as
	// itself by the encoding.
	emptySegment = "="
)

// safeByte reports whether c is kept as itself in an encoded segment.
func safeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.'
}

// encodeKey validates key and returns the path components of its data file,
// relative to the root.
func encodeKey(key string) ([]string, error) {
	if key == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidKey)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f {
			return nil, fmt.Errorf("%w: control byte 0x%02x at %d", ErrInvalidKey, c, i)
		}
	}
	var comps []string
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			// S3 keys may hold empty segments ("dir/", "a//b"): they get a
			// component of their own that no encoded segment can equal.
			comps = append(comps, emptySegment)
			continue
		case ".", "..":
			return nil, fmt.Errorf("%w: %q segment", ErrInvalidKey, seg)
		}
		comps = appendSegment(comps, seg)
	}
	comps[len(comps)-1] += dataSuffix
	n := 0
	for _, c := range comps {
		n += len(c) + 1
	}
	if n > maxRelPath {
		return nil, fmt.Errorf("%w: %d bytes once encoded", ErrInvalidKey, n)
	}
	return comps, nil
}

// appendSegment appends the path components of one key segment. Every
// component but the last ends in contSuffix; no component starts with '.'.
func appendSegment(comps []string, seg string) []string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		n := 3
		if safeByte(c) && (c != '.' || b.Len() > 0) {
			n = 1
		}
		if b.Len()+n > maxChunk {
			comps = append(comps, b.String()+contSuffix)
			b.Reset()
			if c == '.' {
				n = 3
			}
		}
		if n == 1 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return append(comps, b.String())
}

// decodeChunk reverses the percent-encoding of one path component (without
// its marker suffix). ok is false for names this package never writes.
func decodeChunk(s string) (string, bool) {
	if s == emptySegment {
		return "", true
	}
	if s == "" || s[0] == '.' {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case safeByte(c):
			b.WriteByte(c)
		case c == '%' && i+2 < len(s):
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
		default:
			return "", false
		}
	}
	return b.String(), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
