package filestore

import (
	"io"
	"os"
)

// Reader is the io.ReadCloser that Store.Get returns: a window of an open
// data file. It is exported so an HTTP server can hand the bytes to the
// kernel instead of copying them through user space.
//
// WriteTo copies the remaining window with io.Copy from an *io.LimitedReader
// over the *os.File, so io.Copy(conn, r) with a *net.TCPConn (or an *os.File)
// destination uses sendfile(2) or copy_file_range(2). A server that drives
// the system call itself uses File, Offset and Remaining: the file's
// position is at Offset, and Remaining bytes belong to the response. Mixing
// that with Read or WriteTo is the caller's business. Close closes File.
type Reader struct {
	f     *os.File
	start int64 // file offset of the window's first byte
	n     int64 // window length
	lr    io.LimitedReader
}

func newReader(f *os.File, start, n int64) *Reader {
	return &Reader{f: f, start: start, n: n, lr: io.LimitedReader{R: f, N: n}}
}

// Read reads from the window.
func (r *Reader) Read(p []byte) (int, error) { return r.lr.Read(p) }

// WriteTo writes the rest of the window to w, letting w's ReadFrom use a
// zero-copy system call when it has one.
func (r *Reader) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, &r.lr) }

// Close closes the underlying file.
func (r *Reader) Close() error { return r.f.Close() }

// File returns the open data file. Its bytes past the object (the metadata
// trailer) are never part of the window.
func (r *Reader) File() *os.File { return r.f }

// Offset returns the file offset of the next byte of the window.
func (r *Reader) Offset() int64 { return r.start + r.n - r.lr.N }

// Remaining returns how many bytes of the window are still unread.
func (r *Reader) Remaining() int64 { return r.lr.N }
