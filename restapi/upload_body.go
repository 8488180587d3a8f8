package restapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/meta/apierr"
)

// Multipart upload limits, as the reference's: at most maxFormFields
// fields before the file, each at most maxFieldBytes (user metadata
// included).
const (
	maxFormFields = 10
	maxFieldBytes = 1 << 20
)

// uploadBody is what an upload request carries besides its key: the
// object's bytes as a stream and the properties stored with it.
type uploadBody struct {
	body         io.Reader
	size         int64 // -1 when unknown (chunked, multipart)
	contentType  string
	cacheControl string
	userMetadata json.RawMessage
	robots       string
}

// parseUpload reads an upload's headers and, for multipart/form-data, the
// form fields that precede the first file part; the file's bytes are left
// unread in the returned stream. Nothing is buffered beyond a field's
// value.
func parseUpload(c *fiber.Ctx, body *bodyStream) (uploadBody, error) {
	ct := c.Get(fiber.HeaderContentType)
	u := uploadBody{robots: c.Get("X-Robots-Tag")}
	if u.robots != "" && !validRobotsTag(u.robots) {
		return u, apierr.Newf(apierr.InvalidParameter, "Invalid X-Robots-Tag header: %s", u.robots)
	}
	if mt, params, err := mime.ParseMediaType(ct); err == nil && mt == "multipart/form-data" {
		if preparsed(c) {
			// fasthttp's pre-parser drops file parts with an empty field
			// name, which is how storage-js sends files: refuse loudly.
			return u, apierr.Wrap(apierr.Internal, errPreparsed, "")
		}
		return parseMultipart(body, params["boundary"], u)
	}
	u.body = body
	u.size = int64(c.Request().Header.ContentLength())
	if u.size < 0 {
		u.size = -1
	}
	u.contentType = ct
	if u.contentType == "" {
		u.contentType = "application/octet-stream"
	}
	u.cacheControl = c.Get(fiber.HeaderCacheControl, "no-cache")
	u.userMetadata = decodeMetadataHeader(c.Get("X-Metadata"))
	return u, nil
}

// decodeMetadataHeader decodes x-metadata (base64 of a JSON object); a
// malformed value is ignored, as the reference does.
func decodeMetadataHeader(v string) json.RawMessage {
	if v == "" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil
	}
	return jsonObject(b)
}

// jsonObject returns b when it is a JSON object, else nil.
func jsonObject(b []byte) json.RawMessage {
	var m map[string]any
	if json.Unmarshal(b, &m) != nil || m == nil {
		return nil
	}
	return json.RawMessage(b)
}

// parseMultipart reads the fields before the first file part and returns
// that part as the body.
func parseMultipart(r io.Reader, boundary string, u uploadBody) (uploadBody, error) {
	if boundary == "" {
		return u, apierr.New(apierr.InvalidRequest, "No content provided")
	}
	mr := multipart.NewReader(r, boundary)
	fields := map[string]string{}
	for n := 0; ; n++ {
		p, err := mr.NextPart()
		if err != nil {
			if ae := (*apierr.Error)(nil); errors.As(err, &ae) {
				return u, err
			}
			return u, apierr.Wrap(apierr.InvalidRequest, err, "No content provided")
		}
		if p.FileName() != "" {
			return fileUpload(p, p.Header, fields, u)
		}
		if n >= maxFormFields {
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
		if err != nil {
			return u, apierr.Wrap(apierr.InvalidRequest, err, "No content provided")
		}
		if len(v) > maxFieldBytes {
			return u, apierr.New(apierr.EntityTooLarge, "")
		}
		fields[p.FormName()] = string(v)
	}
}

// errPreparsed is logged when the app is configured to parse multipart
// bodies before the handler runs.
var errPreparsed = errors.New("restapi: the fiber app pre-parses multipart forms; set fiber.Config.DisablePreParseMultipartForm")

// preparsed reports whether fasthttp has already read a multipart body
// into a form before the handler ran: it does so for bodies of known length
// unless the app sets DisablePreParseMultipartForm, which it must.
func preparsed(c *fiber.Ctx) bool {
	return !c.App().Config().DisablePreParseMultipartForm && c.Request().Header.ContentLength() > 0 &&
		len(c.Request().Header.Peek(fiber.HeaderContentEncoding)) == 0
}

func fileUpload(body io.Reader, header textproto.MIMEHeader, fields map[string]string, u uploadBody) (uploadBody, error) {
	u.body, u.size = body, -1
	u.contentType = fields["contentType"]
	if u.contentType == "" {
		u.contentType = header.Get("Content-Type")
	}
	if u.contentType == "" {
		u.contentType = "application/octet-stream"
	}
	u.cacheControl = "no-cache"
	if v := fields["cacheControl"]; v != "" {
		u.cacheControl = "max-age=" + v
	}
	md, ok := fields["metadata"]
	if !ok {
		md = fields["userMetadata"]
	}
	if md != "" {
		u.userMetadata = jsonObject([]byte(md))
	}
	return u, nil
}

// bodyStream is a request body read once: it remembers the end (fasthttp's
// chunked stream would block reading past it, waiting for the next
// request) and marks read failures as the client's (an incomplete body),
// so they are not reported as server errors.
type bodyStream struct {
	r   io.Reader
	err error // sticky: io.EOF or the first failure
}

func newBodyStream(c *fiber.Ctx) *bodyStream { return &bodyStream{r: requestBody(c)} }

func (s *bodyStream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	if err != nil {
		var ae *apierr.Error
		if err != io.EOF && !errors.As(err, &ae) {
			err = apierr.Wrap(apierr.IncompleteBody, err, "")
		}
		s.err = err
	}
	return n, err
}

// drain discards what is left of a small request body so the connection
// can serve the next request; a large rest closes the connection instead.
func (s *bodyStream) drain(c *fiber.Ctx) {
	if s.err != nil {
		return
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(s, 64<<10))
	if n == 64<<10 || (s.err != nil && s.err != io.EOF) {
		c.Context().SetConnectionClose()
	}
}

// robotsDirectives are the X-Robots-Tag values search engines document.
var robotsDirectives = map[string]bool{"all": true, "noindex": true, "nofollow": true, "none": true,
	"noarchive": true, "nosnippet": true, "notranslate": true, "noimageindex": true, "indexifembedded": true,
	"index": true, "follow": true, "nocache": true, "noodp": true}

// validRobotsTag checks an X-Robots-Tag value: comma-separated directives,
// optionally after a "botname:" and with max-snippet, max-image-preview,
// max-video-preview and unavailable_after taking a value.
func validRobotsTag(v string) bool {
	if len(v) > 1000 {
		return false
	}
	for _, d := range strings.Split(v, ",") {
		d = strings.ToLower(strings.TrimSpace(d))
		name, arg, hasArg := strings.Cut(d, ":")
		if hasArg && !strings.HasPrefix(name, "max-") && name != "unavailable_after" {
			// "botname: directive"
			name, arg, hasArg = strings.Cut(strings.TrimSpace(arg), ":")
		}
		name = strings.TrimSpace(name)
		switch {
		case robotsDirectives[name] && !hasArg:
		case (name == "max-snippet" || name == "max-video-preview" || name == "max-image-preview" ||
			name == "unavailable_after") && strings.TrimSpace(arg) != "":
		default:
			return false
		}
	}
	return true
}
