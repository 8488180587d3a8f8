package restapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
)

// lastModified is the object's Last-Modified time: the one stored with its
// bytes, else the row's update time.
func lastModified(o meta.Object) time.Time {
	if t, err := http.ParseTime(o.Meta.LastModified); err == nil {
		return t
	}
	if t, err := time.Parse(time.RFC1123, o.Meta.LastModified); err == nil {
		return t
	}
	if t, err := time.Parse(time.RFC3339, o.Meta.LastModified); err == nil {
		return t
	}
	return o.UpdatedAt
}

// setValidators sets ETag and Last-Modified.
func setValidators(c *fiber.Ctx, o meta.Object) {
	if o.Meta.ETag != "" {
		c.Set(fiber.HeaderETag, o.Meta.ETag)
	}
	c.Set(fiber.HeaderLastModified, lastModified(o).UTC().Format(http.TimeFormat))
}

// notModified evaluates If-None-Match, then (only without it)
// If-Modified-Since, as RFC 9110 orders them.
func notModified(c *fiber.Ctx, o meta.Object) bool {
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" {
		return etagMatches(inm, o.Meta.ETag)
	}
	if ims := c.Get(fiber.HeaderIfModifiedSince); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !lastModified(o).Truncate(time.Second).After(t)
	}
	return false
}

// etagMatches reports a weak match of etag against an If-None-Match list.
func etagMatches(list, etag string) bool {
	if etag == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "*" || strings.TrimPrefix(e, "W/") == want {
			return true
		}
	}
	return false
}

// setObjectHeaders sets what every object response carries (API.md §1.4).
// head selects the HEAD renderer's cache-control rule.
func (h *Handler) setObjectHeaders(c *fiber.Ctx, o meta.Object, expires string, head bool) {
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	ct := o.Meta.Mimetype
	if ct == "" {
		ct = "application/octet-stream"
	}
	if strings.Contains(ct, "text/html") {
		ct = "text/plain"
	}
	c.Set(fiber.HeaderContentType, ct)
	setValidators(c, o)
	if expires != "" {
		c.Set(fiber.HeaderExpires, expires)
	} else {
		c.Set(fiber.HeaderCacheControl, h.cacheControl(c, o.Meta, head))
	}
	robots := o.Meta.XRobotsTag
	if robots == "" || !validRobotsTag(robots) {
		robots = "none"
	}
	c.Set("X-Robots-Tag", robots)
	if c.Context().QueryArgs().Has("download") {
		c.Set(fiber.HeaderContentDisposition, contentDisposition(c.Query("download")))
	}
}

// cacheControl is the stored Cache-Control, with the reference's additions
// when the request carried an If-None-Match: s-maxage (Options.SMaxAge)
// and stale-while-revalidate=30 on a mismatch; on HEAD, must-revalidate on
// a mismatch.
func (h *Handler) cacheControl(c *fiber.Ctx, m meta.ObjectMeta, head bool) string {
	parts := []string{m.CacheControl}
	inm := c.Get(fiber.HeaderIfNoneMatch)
	switch {
	case inm == "":
	case head && inm != m.ETag:
		parts = append(parts, "must-revalidate")
	case head:
		if h.opts.SMaxAge > 0 {
			parts = append(parts, "s-maxage="+strconv.Itoa(h.opts.SMaxAge))
		}
	default:
		if h.opts.SMaxAge > 0 {
			parts = append(parts, "s-maxage="+strconv.Itoa(h.opts.SMaxAge))
		}
		if inm != m.ETag {
			parts = append(parts, "stale-while-revalidate=30")
		}
	}
	return strings.Join(parts, ", ")
}

// contentDisposition is the reference's answer to ?download[=name].
func contentDisposition(name string) string {
	if name == "" {
		return "attachment;"
	}
	enc := encodeURIComponent(name)
	return "attachment; filename=" + enc + "; filename*=UTF-8''" + enc + ";"
}

// encodeURIComponent escapes s as JavaScript's encodeURIComponent does.
func encodeURIComponent(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' ||
			strings.IndexByte("-_.!~*'()", ch) >= 0 {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[ch>>4])
		b.WriteByte(hex[ch&15])
	}
	return b.String()
}

// parseRange parses a single-range "bytes=" header. A missing, multi-range
// or non-bytes header is ignored (the whole object is sent), as HTTP
// allows; a malformed bytes range is InvalidRange.
func parseRange(h string) (*backend.Range, error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	bad := apierr.New(apierr.InvalidRange, "")
	if !ok {
		return nil, bad
	}
	if first == "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return nil, bad
		}
		return &backend.Range{Start: n, Suffix: true}, nil
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return nil, bad
	}
	r := &backend.Range{Start: start, End: -1}
	if last != "" {
		if r.End, err = strconv.ParseInt(last, 10, 64); err != nil || r.End < start {
			return nil, bad
		}
	}
	return r, nil
}
