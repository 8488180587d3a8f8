package meta

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
)

// tusLockClass is the first key of every upload's advisory lock
// (pg_advisory_lock(int, int)): the two-key form keeps these locks apart
// from the one-key locks of the row commit. The second key is
// hashtext(upload id); a collision only makes two uploads take turns.
const tusLockClass = 0x54555331 // "TUS1"

// tusReleaseChannel carries, by NOTIFY, the id of an upload another server
// wants the lock of.
const tusReleaseChannel = "storage_tus_release"

// tusLockIdle is how long the lock sessions stay open once no lock is held.
const tusLockIdle = 30 * time.Second

// TUSLocker serialises the requests of one resumable upload across every
// server that shares the database, with a session-level Postgres advisory
// lock per upload. The locks of one server are held on one dedicated
// connection, outside the pool: no pooled connection and no transaction is
// held while a request's bytes stream, however many uploads are in flight.
// A second dedicated connection LISTENs for release requests: a request
// that finds an upload locked (on this server or another) asks the holder
// to let go, so a request whose client vanished is ended at once (tusd's
// requestUnlock) instead of holding the upload until a timeout. Both
// connections are opened on first use and closed when no lock was held for
// a while, or by Close.
//
// If the lock session is lost (the database restarted), its locks are gone
// with it: every holder on this server is asked to stop, and the offset
// compare-and-swap of WriteTUS keeps the bytes consistent meanwhile.
type TUSLocker struct {
	s   *Store
	log *slog.Logger

	mu     sync.Mutex // guards everything below and serialises use of conn
	conn   *pgx.Conn  // the lock session; nil when closed
	held   map[string]*tusHold
	stop   context.CancelFunc // ends the listener
	idle   *time.Timer
	closed bool
}

// tusHold is a lock held by a request of this server.
type tusHold struct {
	release func() // the holder's requestUnlock
	asked   bool
	done    chan struct{} // closed on unlock
}

// NewTUSLocker returns the locker of s's resumable uploads. Close it when
// the server stops.
func NewTUSLocker(s *Store) *TUSLocker {
	return &TUSLocker{s: s, log: s.log, held: map[string]*tusHold{}}
}

// Lock takes the lock of upload uploadID, waiting until ctx ends (then it
// fails with LockTimeout). While it waits, the holder is asked to release
// (its release func is called, once). release is this caller's own: it is
// called when someone else asks for the lock. The returned func unlocks.
func (l *TUSLocker) Lock(ctx context.Context, uploadID string, release func()) (func() error, error) {
	wait := 10 * time.Millisecond
	var lastAsk time.Time
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, apierr.New(apierr.DatabaseUnavailable, "the server is shutting down")
		}
		if h, ok := l.held[uploadID]; ok {
			rel := h.ask()
			l.mu.Unlock()
			if rel != nil {
				rel()
			}
			select {
			case <-h.done:
				continue
			case <-ctx.Done():
				return nil, apierr.Wrap(apierr.LockTimeout, ctx.Err(), "")
			}
		}
		got, err := l.tryLock(ctx, uploadID)
		if got {
			h := &tusHold{release: release, done: make(chan struct{})}
			l.held[uploadID] = h
			if l.idle != nil {
				l.idle.Stop()
			}
			l.mu.Unlock()
			return func() error { return l.unlock(uploadID, h) }, nil
		}
		l.mu.Unlock()
		if err != nil {
			return nil, err
		}
		// Held by another server: ask it to let go, now and again.
		if time.Since(lastAsk) > time.Second {
			lastAsk = time.Now()
			b := &pgx.Batch{}
			b.Queue(`select pg_notify($1, $2)`, tusReleaseChannel, uploadID)
			if err := l.s.Batch(ctx, Service(), b, nil); err != nil && ctx.Err() == nil {
				l.log.Warn("tus lock: ask holder to release", "err", err)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, apierr.Wrap(apierr.LockTimeout, ctx.Err(), "")
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

// ask marks h as asked to release and returns its release func the first
// time. Called with l.mu held.
func (h *tusHold) ask() func() {
	if h.asked || h.release == nil {
		return nil
	}
	h.asked = true
	return h.release
}

// tryLock tries the advisory lock on the lock session, opening it (and the
// listener) when needed. Called with l.mu held.
func (l *TUSLocker) tryLock(ctx context.Context, uploadID string) (bool, error) {
	if l.conn == nil {
		if err := l.open(ctx); err != nil {
			return false, err
		}
	}
	// The statement gets a context of its own: one cut off by the
	// caller's deadline would cost the session and every lock on it.
	qctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var got bool
	err := l.conn.QueryRow(qctx, `select pg_try_advisory_lock($1, hashtext($2))`, tusLockClass, uploadID).Scan(&got)
	if err != nil {
		l.lost(err)
		return false, mapErr(err)
	}
	return got, nil
}

func (l *TUSLocker) unlock(uploadID string, h *tusHold) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[uploadID] != h {
		return nil // the session was lost: the lock went with it
	}
	delete(l.held, uploadID)
	close(h.done)
	var err error
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err = l.conn.Exec(ctx, `select pg_advisory_unlock($1, hashtext($2))`, tusLockClass, uploadID); err != nil {
			l.lost(err)
			err = mapErr(err)
		}
	}
	if len(l.held) == 0 && l.conn != nil {
		if l.idle == nil {
			l.idle = time.AfterFunc(tusLockIdle, l.closeIdle)
		} else {
			l.idle.Reset(tusLockIdle)
		}
	}
	return err
}

// open connects the lock session and the listener. Called with l.mu held.
func (l *TUSLocker) open(ctx context.Context) error {
	cfg := l.s.pool.Config().ConnConfig.Copy()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return mapErr(err)
	}
	lis, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err == nil {
		_, err = lis.Exec(ctx, "listen "+tusReleaseChannel)
	}
	if err != nil {
		conn.Close(context.Background()) //nolint:errcheck // failing anyway
		if lis != nil {
			lis.Close(context.Background()) //nolint:errcheck // failing anyway
		}
		return mapErr(err)
	}
	lctx, stop := context.WithCancel(context.Background())
	l.conn, l.stop = conn, stop
	go l.listen(lctx, lis)
	return nil
}

// listen hands release requests to the holders on this server until ctx
// ends or the connection fails.
func (l *TUSLocker) listen(ctx context.Context, c *pgx.Conn) {
	defer c.Close(context.Background()) //nolint:errcheck // closing
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			l.mu.Lock()
			if ctx.Err() == nil {
				// This is the current listener: without it, holders
				// would not hear requests.
				l.lost(err)
			}
			l.mu.Unlock()
			return
		}
		l.mu.Lock()
		var rel func()
		if h, ok := l.held[n.Payload]; ok {
			rel = h.ask()
		}
		l.mu.Unlock()
		if rel != nil {
			rel()
		}
	}
}

// lost drops the lock session after an error: its locks are gone, so
// every holder is asked to stop. Called with l.mu held.
func (l *TUSLocker) lost(err error) {
	l.log.Warn("tus lock: session lost", "err", err)
	for id, h := range l.held {
		if rel := h.ask(); rel != nil {
			go rel()
		}
		close(h.done)
		delete(l.held, id)
	}
	l.shut()
}

// shut closes both sessions. Called with l.mu held.
func (l *TUSLocker) shut() {
	if l.stop != nil {
		l.stop()
		l.stop = nil
	}
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		l.conn.Close(ctx) //nolint:errcheck // closing
		cancel()
		l.conn = nil
	}
}

func (l *TUSLocker) closeIdle() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.held) == 0 {
		l.shut()
	}
}

// Close releases every lock and closes the sessions; Lock fails afterwards.
func (l *TUSLocker) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.idle != nil {
		l.idle.Stop()
	}
	for id, h := range l.held {
		close(h.done)
		delete(l.held, id)
	}
	l.shut()
}
