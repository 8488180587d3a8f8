package s3store

import (
	"context"
	"net"
	"net/http"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// DefaultTimeout bounds every wait on the S3 service when Options.Timeout
// is zero.
const DefaultTimeout = time.Minute

// timeoutClient is the SDK's default HTTP client with bounded waits: a
// request fails when the service sends no response headers within d of the
// request being sent, or when a connection makes no progress, reading or
// writing, for d. A slow but moving transfer is never cut; a stalled one
// is, so a request never hangs on a service that stopped answering.
func timeoutClient(d time.Duration) *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.ResponseHeaderTimeout = d
		// Idle connections are dropped before their read deadline could
		// fire while they wait in the pool.
		if t.IdleConnTimeout == 0 || t.IdleConnTimeout > d/2 {
			t.IdleConnTimeout = d / 2
		}
		dial := t.DialContext
		if dial == nil {
			dial = (&net.Dialer{Timeout: d}).DialContext
		}
		t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: d}, nil
		}
	})
}

// idleConn fails a Read or Write that makes no progress for idle.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
