package main

import (
	"io"
	"net"
	"sync/atomic"
	"time"
)

// idleListener hands out connections that fail a read or a write making no
// progress for idle. This is how slow clients are cut off without a
// deadline on whole requests: fasthttp's ReadTimeout would cover headers
// and a streamed body together (fatal for a large upload) and its
// WriteTimeout a whole response (fatal for a large download), while an idle
// bound only cuts clients that stop sending or reading. It wraps the
// listener, so both fronts get it without any code of their own.
//
// Reads are bounded by whichever comes first: idle after the read began, or
// the deadline fasthttp set (the header timeout while headers arrive, see
// baseApp; the keep-alive timeout between requests).
type idleListener struct {
	net.Listener
	idle time.Duration
}

// Accept implements net.Listener.
func (l idleListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil || l.idle <= 0 {
		return c, err
	}
	return &idleConn{Conn: c, idle: l.idle}, nil
}

// idleConn is a connection of an idleListener.
type idleConn struct {
	net.Conn
	idle  time.Duration
	limit atomic.Int64 // the read deadline fasthttp set, unix ns; 0: none
	// failed is the first read error: a connection whose read failed (or
	// timed out) mid-request has lost its framing, so it stays failed.
	failed error
}

// sendChunk is the most a single sendfile may move under one write
// deadline: a download must advance by this much per idle period (2 KiB/s
// at the default minute).
const sendChunk = 128 << 10

// SetReadDeadline records the deadline fasthttp asks for; Read applies it.
func (c *idleConn) SetReadDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.limit.Store(ns)
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline implements net.Conn.
func (c *idleConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *idleConn) Read(p []byte) (int, error) {
	if c.failed != nil {
		return 0, c.failed
	}
	d := time.Now().Add(c.idle)
	if ns := c.limit.Load(); ns != 0 && ns < d.UnixNano() {
		d = time.Unix(0, ns)
	}
	if err := c.Conn.SetReadDeadline(d); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if err != nil {
		c.failed = err
	}
	return n, err
}

func (c *idleConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// ReadFrom keeps sendfile(2) for downloads (a filestore body reaches here
// as an *io.LimitedReader over an *os.File) while bounding each chunk of
// it by the idle deadline.
func (c *idleConn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{c}, r)
	}
	lr, limited := r.(*io.LimitedReader)
	var total int64
	for {
		chunk := &io.LimitedReader{R: r, N: sendChunk}
		if limited {
			if lr.N <= 0 {
				return total, nil
			}
			chunk = &io.LimitedReader{R: lr.R, N: min(lr.N, sendChunk)}
		}
		want := chunk.N
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.idle)); err != nil {
			return total, err
		}
		n, err := rf.ReadFrom(chunk)
		total += n
		if limited {
			lr.N -= n
		}
		if err != nil || n < want {
			return total, err
		}
	}
}

// writerOnly hides ReadFrom, so io.Copy does not call it back.
type writerOnly struct{ io.Writer }
