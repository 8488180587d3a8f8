package s3api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
)

// getObject serves GetObject and HeadObject: one query for the row, then
// (for GET) the bytes streamed from the backend.
func (h *Handler) getObject(k *call) error {
	ctx := k.c.UserContext()
	o, err := h.opts.Store.GetObject(ctx, k.id, meta.ReadRLS, k.op.Bucket, k.op.Key)
	if err != nil {
		return err
	}
	if v := k.op.Query.Get("versionId"); v != "" && v != "null" {
		return apierr.New(apierr.NoSuchKey, "The specified version does not exist.")
	}
	if err := checkConditions(k, o.Meta.ETag, o.UpdatedAt); err != nil {
		return err
	}
	rng, err := parseRange(k.c.Get("Range"))
	if err != nil {
		return err
	}
	if pn := k.op.Query.Get("partNumber"); pn != "" {
		n, err := strconv.Atoi(pn)
		if err != nil || n < 1 || n > meta.MaxParts {
			return apierr.New(apierr.InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive")
		}
		if n != 1 {
			return apierr.New(apierr.InvalidRange, "The requested partnumber is not satisfiable")
		}
		k.c.Set("X-Amz-Mp-Parts-Count", "1")
	}
	setObjectHeaders(k, o)
	if k.op.Kind == OpHeadObject || rng == nil && o.Meta.Size == 0 {
		if rng != nil {
			if _, _, err := rng.Resolve(o.Meta.Size); err != nil {
				return apierr.Wrap(apierr.InvalidRange, err, "")
			}
		}
		k.c.Response().Header.SetContentLength(int(o.Meta.Size))
		if k.op.Kind == OpHeadObject {
			k.c.Response().SkipBody = true
		}
		return nil
	}
	body, info, err := h.opts.Store.Backend().Get(ctx, h.opts.Store.BackendKey(o.BucketID, o.Name, o.Version), rng)
	if err != nil {
		return meta.BackendError(err)
	}
	if rng != nil {
		k.c.Status(http.StatusPartialContent)
		k.c.Set("Content-Range", "bytes "+itoa(info.Start)+"-"+itoa(info.End)+"/"+itoa(info.Size))
	}
	k.c.Context().SetBodyStream(body, int(info.End-info.Start+1))
	return nil
}

// setObjectHeaders writes the stored headers of o, then any response-*
// overrides the request asked for.
func setObjectHeaders(k *call, o meta.Object) {
	c := k.c
	m := o.Meta
	ct := m.Mimetype
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Set("Content-Type", ct)
	c.Set("ETag", m.ETag)
	c.Set("Last-Modified", o.UpdatedAt.UTC().Format(http.TimeFormat))
	c.Set("Accept-Ranges", "bytes")
	set := func(name, v string) {
		if v != "" {
			c.Set(name, v)
		}
	}
	set("Cache-Control", m.CacheControl)
	set("Content-Disposition", m.ContentDisposition)
	set("Content-Encoding", m.ContentEncoding)
	set("Content-Language", m.ContentLanguage)
	set("Expires", m.Expires)
	for name, v := range m.Checksums {
		if k.c.Get("X-Amz-Checksum-Mode") == "ENABLED" {
			set("X-Amz-Checksum-"+name, v)
		}
	}
	if len(o.UserMetadata) > 0 {
		var um map[string]any
		if json.Unmarshal(o.UserMetadata, &um) == nil {
			for name, v := range um {
				if s, ok := v.(string); ok {
					c.Set("X-Amz-Meta-"+strings.ToLower(name), s)
				}
			}
		}
	}
	for q, hdr := range map[string]string{"response-content-type": "Content-Type", "response-content-language": "Content-Language",
		"response-expires": "Expires", "response-cache-control": "Cache-Control",
		"response-content-disposition": "Content-Disposition", "response-content-encoding": "Content-Encoding"} {
		if v := k.op.Query.Get(q); v != "" {
			c.Set(hdr, v)
		}
	}
}

// checkConditions applies If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since as S3 does (RFC 9110 precedence).
func checkConditions(k *call, etag string, modified time.Time) error {
	modified = modified.Truncate(time.Second)
	im, inm := k.c.Get("If-Match"), k.c.Get("If-None-Match")
	if im != "" && !etagMatches(im, etag) {
		return apierr.New(apierr.PreconditionFailed, "")
	}
	if im == "" {
		if t, err := http.ParseTime(k.c.Get("If-Unmodified-Since")); err == nil && modified.After(t) {
			return apierr.New(apierr.PreconditionFailed, "")
		}
	}
	if inm != "" {
		if etagMatches(inm, etag) {
			return apierr.New(apierr.NotModified, "")
		}
		return nil
	}
	if t, err := http.ParseTime(k.c.Get("If-Modified-Since")); err == nil && !modified.After(t) {
		return apierr.New(apierr.NotModified, "")
	}
	return nil
}

// etagMatches reports whether a conditional header's list names etag ("*"
// matches any).
func etagMatches(list, etag string) bool {
	e := strings.Trim(etag, `"`)
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		v = strings.TrimPrefix(v, "W/")
		if v == "*" || strings.Trim(v, `"`) == e {
			return true
		}
	}
	return false
}

// parseRange reads a single-range "bytes=" header; anything else (several
// ranges, other units, garbage) is ignored as HTTP allows, except a
// malformed bytes range, which S3 also ignores.
func parseRange(v string) (*backend.Range, error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil, nil
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil, nil
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return nil, nil
		}
		if n == 0 {
			return nil, apierr.New(apierr.InvalidRange, "")
		}
		return &backend.Range{Start: n, Suffix: true}, nil
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return nil, nil
	}
	end := int64(-1)
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
			return nil, nil
		}
	}
	return &backend.Range{Start: start, End: end}, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
