package restapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"time"

	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
)

// tusCall is what the TUS route learnt about a request before tusd runs:
// who it acts as, and what the store reports back for the response.
type tusCall struct {
	id     meta.Identity
	signed bool  // /upload/resumable/sign: the x-signature token authorised it
	upsert bool  // for a create: x-upsert, or the token's upsert claim
	length int64 // the request's Content-Length; -1 when unknown

	created bool // this request created the upload (no second probe)
	// Reported by the store, for Upload-Expires.
	expires   time.Time
	completed bool
}

func (c *tusCall) note(u meta.TUSUpload) {
	c.expires, c.completed = u.ExpiresAt, u.Completed
}

type tusCallKey struct{}

// callFrom returns the request's tusCall from a context tusd derived from
// the request's.
func callFrom(ctx context.Context) (*tusCall, bool) {
	c, ok := ctx.Value(tusCallKey{}).(*tusCall)
	return c, ok
}

// tusStore is tusd's DataStore (with termination) over meta's resumable
// uploads.
type tusStore struct{ t *tusFront }

var (
	_ tusd.DataStore           = tusStore{}
	_ tusd.TerminaterDataStore = tusStore{}
	_ tusd.Locker              = tusLocker{}
)

var digitsRe = regexp.MustCompile(`^-?\d+$`)

// NewUpload implements tusd.DataStore: Upload-Metadata carries bucketName,
// objectName, contentType, cacheControl (seconds) and metadata (a JSON
// object), as the reference reads them.
func (s tusStore) NewUpload(ctx context.Context, info tusd.FileInfo) (tusd.Upload, error) {
	call, ok := callFrom(ctx)
	if !ok {
		return nil, s.t.tusError(ctx, errors.New("restapi: tus call missing"))
	}
	md := info.MetaData
	in := meta.TUSCreate{Bucket: md["bucketName"], Name: md["objectName"], Length: info.Size,
		ContentType: md["contentType"], CacheControl: "no-cache", Metadata: md, Upsert: call.upsert}
	if info.SizeIsDeferred {
		in.Length = -1
	}
	if in.Bucket == "" || in.Name == "" {
		return nil, s.t.tusError(ctx, apierr.New(apierr.InvalidRequest, "Metadata bucketName and objectName are required"))
	}
	if in.ContentType == "" {
		in.ContentType = "application/octet-stream"
	}
	if v := md["cacheControl"]; digitsRe.MatchString(v) {
		in.CacheControl = "max-age=" + v
	}
	if v, ok := md["metadata"]; ok {
		in.UserMetadata = jsonObject([]byte(v))
	}
	u, err := s.t.store().CreateTUS(ctx, call.id, in, s.t.opts)
	if err != nil {
		return nil, s.t.tusError(ctx, keyExists(err))
	}
	call.created = true
	call.note(u)
	return &tusUpload{t: s.t, u: u}, nil
}

// GetUpload implements tusd.DataStore. tusd calls it holding the upload's
// lock; an upload whose bytes are all in but whose finish was cut off is
// finished here, so no request ever sees it complete before its row is.
func (s tusStore) GetUpload(ctx context.Context, id string) (tusd.Upload, error) {
	call, ok := callFrom(ctx)
	if !ok {
		return nil, s.t.tusError(ctx, errors.New("restapi: tus call missing"))
	}
	u, err := s.t.store().GetTUS(ctx, call.id, id)
	if err != nil {
		return nil, s.t.tusError(ctx, err)
	}
	if u.Offset == u.Length && !u.Completed {
		if _, err := s.t.store().FinishTUS(ctx, &u, s.t.opts); err != nil {
			return nil, s.t.tusError(ctx, keyExists(err))
		}
	}
	call.note(u)
	return &tusUpload{t: s.t, u: u}, nil
}

// AsTerminatableUpload implements tusd.TerminaterDataStore.
func (s tusStore) AsTerminatableUpload(u tusd.Upload) tusd.TerminatableUpload {
	return u.(*tusUpload)
}

// tusUpload is one upload as tusd sees it.
type tusUpload struct {
	t *tusFront
	u meta.TUSUpload
}

// GetInfo implements tusd.Upload.
func (u *tusUpload) GetInfo(context.Context) (tusd.FileInfo, error) {
	return tusd.FileInfo{ID: u.u.ID, Size: u.u.Length, Offset: u.u.Offset, MetaData: u.u.Metadata}, nil
}

// WriteChunk implements tusd.Upload. A caller acting under RLS must still
// be allowed to write the object (the reference probes on every PATCH).
func (u *tusUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	call, ok := callFrom(ctx)
	if !ok {
		return 0, u.t.tusError(ctx, errors.New("restapi: tus call missing"))
	}
	if offset != u.u.Offset {
		return 0, tusd.ErrMismatchOffset
	}
	st := u.t.store()
	if !call.signed && !call.created {
		err := st.ProbeWrite(ctx, call.id, meta.PutInput{Bucket: u.u.Bucket, Name: u.u.Name, Size: u.u.Length,
			ContentType: u.u.ContentType, UserMetadata: u.u.UserMetadata, Upsert: u.u.Upsert})
		if err != nil {
			return 0, u.t.tusError(ctx, keyExists(err))
		}
	}
	n, err := st.WriteTUS(ctx, &u.u, src, call.length, u.t.opts)
	call.note(u.u)
	return n, u.t.tusError(ctx, err)
}

// GetReader implements tusd.Upload; downloads go through the REST routes.
func (u *tusUpload) GetReader(context.Context) (io.ReadCloser, error) {
	return nil, tusd.ErrNotImplemented
}

// FinishUpload implements tusd.Upload: the object's row is committed.
func (u *tusUpload) FinishUpload(ctx context.Context) error {
	_, err := u.t.store().FinishTUS(ctx, &u.u, u.t.opts)
	if call, ok := callFrom(ctx); ok {
		call.note(u.u)
	}
	return u.t.tusError(ctx, keyExists(err))
}

// Terminate implements tusd.TerminatableUpload.
func (u *tusUpload) Terminate(ctx context.Context) error {
	return u.t.tusError(ctx, u.t.store().TerminateTUS(ctx, &u.u))
}

// tusLocker is tusd's Locker over meta.TUSLocker: a Postgres advisory lock
// per upload, so requests on one upload take turns across servers.
type tusLocker struct{ l *meta.TUSLocker }

// NewLock implements tusd.Locker.
func (k tusLocker) NewLock(id string) (tusd.Lock, error) { return &tusLock{l: k.l, id: id}, nil }

type tusLock struct {
	l      *meta.TUSLocker
	id     string
	unlock func() error
}

// Lock implements tusd.Lock.
func (k *tusLock) Lock(ctx context.Context, requestUnlock func()) error {
	unlock, err := k.l.Lock(ctx, k.id, requestUnlock)
	if err != nil {
		if apierr.Is(err, apierr.LockTimeout) {
			return tusd.ErrLockTimeout
		}
		return tusd.NewError("ERR_LOCK", "the upload could not be locked", http.StatusServiceUnavailable)
	}
	k.unlock = unlock
	return nil
}

// Unlock implements tusd.Lock.
func (k *tusLock) Unlock() error {
	if k.unlock == nil {
		return nil
	}
	return k.unlock()
}

// tusError turns an error into the response tusd sends: the catalogue's
// real status with the message as a plain-text body, as the reference's
// TUS server answers (its REST routes' 400 convention does not apply).
func (t *tusFront) tusError(ctx context.Context, err error) error {
	var te tusd.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return te
	case errors.Is(err, meta.ErrTUSConflict):
		return tusd.ErrMismatchOffset
	}
	e := apierr.From(err)
	ent := e.Entry()
	status := ent.RESTStatus
	switch {
	case e.Code == apierr.MissingContentLength:
		status = http.StatusLengthRequired
	case status >= 500:
		t.h.logCtx(ctx).Error("tus request failed", "code", ent.RESTCode, "err", err)
	}
	msg := e.Msg()
	return tusd.Error{ErrorCode: ent.RESTCode, Message: msg, HTTPResponse: tusd.HTTPResponse{
		StatusCode: status, Body: msg, Header: tusd.HTTPHeader{"Content-Type": "text/plain; charset=utf-8"}}}
}
