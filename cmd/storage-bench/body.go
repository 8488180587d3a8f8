package main

import (
	"errors"
	"io"
)

// patternBody is a seekable body of a given size made of one repeated
// block, so a gigabyte upload needs no gigabyte of memory and the SDK can
// rewind it after hashing.
type patternBody struct {
	block []byte
	size  int64
	off   int64
}

func newPatternBody(block []byte, size int64) *patternBody {
	return &patternBody{block: block, size: size}
}

func (p *patternBody) Read(b []byte) (int, error) {
	if p.off >= p.size {
		return 0, io.EOF
	}
	if rest := p.size - p.off; int64(len(b)) > rest {
		b = b[:rest]
	}
	n := 0
	for n < len(b) {
		i := int((p.off + int64(n)) % int64(len(p.block)))
		n += copy(b[n:], p.block[i:])
	}
	p.off += int64(n)
	return n, nil
}

func (p *patternBody) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += p.off
	case io.SeekEnd:
		offset += p.size
	}
	if offset < 0 {
		return 0, errors.New("bench: seek before start")
	}
	p.off = offset
	return offset, nil
}

// payload returns n deterministic, incompressible-looking bytes.
func payload(n int, seed uint64) []byte {
	b := make([]byte, n)
	x := seed | 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}
