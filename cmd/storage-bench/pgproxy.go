package main

import (
	"context"
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
)

// wireCounts are what the proxy saw between the server and Postgres.
type wireCounts struct {
	RoundTrips   int64 // client sends after the server last spoke
	Transactions int64 // explicit (BEGIN…COMMIT/ROLLBACK) and implicit
	Statements   int64 // CommandComplete and EmptyQueryResponse
	Errors       int64 // ErrorResponse
	Conns        int64 // connections opened
}

func (a wireCounts) sub(b wireCounts) wireCounts {
	return wireCounts{a.RoundTrips - b.RoundTrips, a.Transactions - b.Transactions,
		a.Statements - b.Statements, a.Errors - b.Errors, a.Conns - b.Conns}
}

// pgProxy sits on a unix socket between the server and Postgres and counts
// the protocol: round trips (each time the client speaks after the server
// answered), transactions (from ReadyForQuery's status byte) and
// statements. It is exact where pg_stat_database is not: backends flush
// their counters at most once a second and, when idle, ten seconds later.
// Its CPU is the bench's, not counted as the server's or Postgres's.
type pgProxy struct {
	ln       net.Listener
	upstream string
	rt       atomic.Int64
	xacts    atomic.Int64
	stmts    atomic.Int64
	errs     atomic.Int64
	conns    atomic.Int64
	wg       sync.WaitGroup
}

// startProxy listens on the unix socket path and forwards each connection
// to the unix socket upstream.
func startProxy(ctx context.Context, path, upstream string) (*pgProxy, error) {
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	p := &pgProxy{ln: ln, upstream: upstream}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.handle(ctx, c) }()
		}
	}()
	return p, nil
}

func (p *pgProxy) counts() wireCounts {
	return wireCounts{p.rt.Load(), p.xacts.Load(), p.stmts.Load(), p.errs.Load(), p.conns.Load()}
}

// close stops accepting; open connections end when either side closes.
func (p *pgProxy) close() { p.ln.Close() }

// Directions of the last bytes seen on a connection.
const (
	dirNone int32 = iota
	dirClient
	dirServer
)

func (p *pgProxy) handle(ctx context.Context, c net.Conn) {
	defer c.Close()
	var d net.Dialer
	u, err := d.DialContext(ctx, "unix", p.upstream)
	if err != nil {
		return
	}
	defer u.Close()
	p.conns.Add(1)
	var last atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.fromServer(u, c, &last)
		c.Close()
	}()
	p.fromClient(c, u, &last)
	u.Close()
	<-done
}

// fromClient forwards client bytes and counts a round trip whenever the
// client speaks after the server did. The server side records its turn
// before it forwards an answer, and a client cannot send its next request
// before it read that answer, so the order is exact.
func (p *pgProxy) fromClient(c, u net.Conn, last *atomic.Int32) {
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if last.Swap(dirClient) != dirClient {
				p.rt.Add(1)
			}
			if _, werr := u.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// fromServer forwards server bytes and parses the message stream (type
// byte, int32 length) for CommandComplete, EmptyQueryResponse,
// ErrorResponse and ReadyForQuery. The DSN the bench gives the server has
// sslmode=disable, so the stream starts with a typed message.
func (p *pgProxy) fromServer(u, c net.Conn, last *atomic.Int32) {
	buf := make([]byte, 32<<10)
	var m msgScanner
	m.status = 'I'
	for {
		n, err := u.Read(buf)
		if n > 0 {
			m.scan(buf[:n], p)
			last.Store(dirServer)
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// msgScanner follows message boundaries across reads.
type msgScanner struct {
	hdr    [5]byte
	hdrN   int   // header bytes seen of the current message
	left   int64 // payload bytes still to skip
	typ    byte
	atBody bool // the next payload byte is the first
	status byte // transaction status of the last ReadyForQuery
	work   bool // a statement ran since the last ReadyForQuery
}

func (m *msgScanner) scan(b []byte, p *pgProxy) {
	for len(b) > 0 {
		if m.hdrN < 5 {
			k := copy(m.hdr[m.hdrN:], b)
			m.hdrN += k
			b = b[k:]
			if m.hdrN < 5 {
				return
			}
			m.typ = m.hdr[0]
			m.left = int64(binary.BigEndian.Uint32(m.hdr[1:])) - 4
			m.atBody = true
			m.message(p)
		}
		if len(b) == 0 {
			return
		}
		if m.atBody && m.left > 0 && m.typ == 'Z' {
			m.ready(b[0], p)
		}
		m.atBody = false
		k := int64(len(b))
		if k > m.left {
			k = m.left
		}
		b = b[k:]
		m.left -= k
		if m.left == 0 {
			m.hdrN = 0
		}
	}
}

// message counts a message by its type when its header is complete.
func (m *msgScanner) message(p *pgProxy) {
	switch m.typ {
	case 'C', 'I':
		p.stmts.Add(1)
		m.work = true
	case 'E':
		p.errs.Add(1)
		m.work = true
	}
}

// ready ends a transaction when ReadyForQuery reports idle after a
// transaction block, or after statements that ran in an implicit one.
func (m *msgScanner) ready(s byte, p *pgProxy) {
	if s == 'I' && (m.status != 'I' || m.work) {
		p.xacts.Add(1)
	}
	m.status = s
	m.work = false
}
