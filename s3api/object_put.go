package s3api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
	"github.com/supagate/storage/sigv4"
)

// body returns the request body, verified as it streams by the payload
// mode the request was signed with (SHA-256, aws-chunked signatures,
// checksums from headers or trailers).
func (h *Handler) body(k *call) (*sigv4.BodyReader, error) {
	var raw io.Reader
	if s := k.c.Context().RequestBodyStream(); s != nil {
		raw = clientBody{s}
	} else {
		raw = bytes.NewReader(k.c.Request().Body())
	}
	return k.v.Body(k.cred, k.req, raw)
}

// clientBody marks failures to read a request body as the client's: a
// client that went silent (the edge's idle timeout) gets RequestTimeout,
// one that went away mid-body IncompleteBody, and neither is logged as a
// server error.
type clientBody struct{ r io.Reader }

func (b clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == nil || err == io.EOF {
		return n, err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return n, apierr.Wrap(apierr.RequestTimeout, err, "")
	}
	return n, apierr.Wrap(apierr.IncompleteBody, err, "")
}

// putInput reads the headers S3 stores with an object.
func putInput(k *call) (meta.PutInput, error) {
	in := meta.PutInput{Bucket: k.op.Bucket, Name: k.op.Key, Upsert: true,
		ContentType: k.c.Get("Content-Type"), CacheControl: k.c.Get("Cache-Control")}
	if in.ContentType == "" {
		in.ContentType = "binary/octet-stream"
	}
	in.Extra = meta.ObjectMeta{ContentDisposition: k.c.Get("Content-Disposition"),
		ContentEncoding: stripAWSChunked(k.c.Get("Content-Encoding")), ContentLanguage: k.c.Get("Content-Language"),
		Expires: k.c.Get("Expires")}
	um := map[string]string{}
	for name, vs := range k.req.Header {
		if m, ok := strings.CutPrefix(name, "X-Amz-Meta-"); ok && len(vs) > 0 {
			um[strings.ToLower(m)] = vs[0]
		}
	}
	if len(um) > 0 {
		b, _ := json.Marshal(um)
		if len(b) > 2048+16*len(um) {
			return in, apierr.New(apierr.InvalidArgument, "Your metadata headers exceed the maximum allowed metadata size.")
		}
		in.UserMetadata = b
	}
	switch inm := strings.TrimSpace(k.c.Get("If-None-Match")); inm {
	case "":
	case "*":
		in.Upsert = false
	default:
		return in, apierr.New(apierr.NotImplemented, "If-None-Match supports only *")
	}
	return in, nil
}

// stripAWSChunked removes the transfer coding aws-chunked from a
// Content-Encoding list: it describes the request, not the object.
func stripAWSChunked(v string) string {
	var keep []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" && !strings.EqualFold(p, "aws-chunked") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

// contentMD5 decodes a Content-MD5 header.
func contentMD5(v string) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(b) != 16 {
		return nil, apierr.New(apierr.InvalidDigest, "")
	}
	return b, nil
}

func (h *Handler) putObject(k *call) error {
	in, err := putInput(k)
	if err != nil {
		return err
	}
	if in.MD5, err = contentMD5(k.c.Get("Content-MD5")); err != nil {
		return err
	}
	body, err := h.body(k)
	if err != nil {
		return err
	}
	in.Body, in.Size, in.Limit = body, body.Size(), h.opts.MaxObjectSize
	if in.Size < 0 && !k.cred.PayloadMode.Streaming() && k.c.Request().Header.ContentLength() < 0 && k.c.Get("Transfer-Encoding") == "" {
		return apierr.New(apierr.MissingContentLength, "")
	}
	in.Finish = func(m *meta.ObjectMeta) error {
		m.Checksums = checksums(body)
		return nil
	}
	o, err := h.opts.Store.PutObject(k.c.UserContext(), k.id, in)
	if err != nil {
		return err
	}
	k.c.Set("ETag", o.Meta.ETag)
	for name, v := range o.Meta.Checksums {
		k.c.Set("X-Amz-Checksum-"+name, v)
	}
	return nil
}

// checksums returns the verified checksums of a body, keyed by the
// algorithm's header suffix ("crc32", "sha256", …).
func checksums(b *sigv4.BodyReader) map[string]string {
	cs := b.Checksums()
	if len(cs) == 0 {
		return nil
	}
	m := make(map[string]string, len(cs))
	for _, c := range cs {
		m[strings.TrimPrefix(strings.ToLower(c.Algorithm.Header()), "x-amz-checksum-")] = c.Value
	}
	return m
}

type copyObjectResult struct {
	XMLName      xml.Name `xml:"CopyObjectResult"`
	Xmlns        string   `xml:"xmlns,attr"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

// copySource parses x-amz-copy-source: "[/]bucket/key[?versionId=…]",
// URL-encoded.
func copySource(v string) (bucket, key string, err error) {
	v, _, _ = strings.Cut(v, "?versionId=")
	d, err := url.PathUnescape(strings.TrimPrefix(v, "/"))
	if err != nil {
		return "", "", apierr.New(apierr.InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	bucket, key, ok := strings.Cut(d, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", apierr.New(apierr.InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	return bucket, key, nil
}

// copyConditions applies the x-amz-copy-source-if-* headers to the source.
func copyConditions(k *call) func(meta.Object) error {
	return func(src meta.Object) error {
		etag := strings.Trim(src.Meta.ETag, `"`)
		mod := src.UpdatedAt.Truncate(time.Second)
		if v := k.c.Get("X-Amz-Copy-Source-If-Match"); v != "" && !etagMatches(v, etag) {
			return apierr.New(apierr.PreconditionFailed, "")
		}
		if v := k.c.Get("X-Amz-Copy-Source-If-None-Match"); v != "" && etagMatches(v, etag) {
			return apierr.New(apierr.PreconditionFailed, "")
		}
		if t, err := parseHTTPTime(k.c.Get("X-Amz-Copy-Source-If-Unmodified-Since")); err == nil && mod.After(t) {
			return apierr.New(apierr.PreconditionFailed, "")
		}
		if t, err := parseHTTPTime(k.c.Get("X-Amz-Copy-Source-If-Modified-Since")); err == nil && !mod.After(t) {
			return apierr.New(apierr.PreconditionFailed, "")
		}
		return nil
	}
}

func (h *Handler) copyObject(k *call) error {
	sb, sk, err := copySource(k.c.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	if _, err := h.readSmallBody(k, 0); err != nil {
		return err
	}
	in, err := putInput(k)
	if err != nil {
		return err
	}
	ci := meta.CopyInput{SrcBucket: sb, SrcName: sk, DstBucket: k.op.Bucket, DstName: k.op.Key, Upsert: in.Upsert,
		Check: copyConditions(k)}
	switch strings.ToUpper(k.c.Get("X-Amz-Metadata-Directive")) {
	case "", "COPY":
		if sb == k.op.Bucket && sk == k.op.Key {
			return apierr.New(apierr.InvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
		}
	case "REPLACE":
		ci.ReplaceMeta, ci.ContentType, ci.CacheControl, ci.UserMetadata = true, in.ContentType, in.CacheControl, in.UserMetadata
		ci.Extra = &in.Extra
	default:
		return apierr.New(apierr.InvalidArgument, "Unknown metadata directive.")
	}
	o, err := h.opts.Store.CopyObject(k.c.UserContext(), k.id, ci)
	if err != nil {
		return err
	}
	return writeXML(k.c, copyObjectResult{Xmlns: xmlNS, LastModified: s3Time(o.UpdatedAt), ETag: o.Meta.ETag})
}

func (h *Handler) deleteObject(k *call) error {
	if v := k.op.Query.Get("versionId"); v != "" && v != "null" {
		k.c.Status(204)
		return nil
	}
	_, err := h.opts.Store.DeleteObject(k.c.UserContext(), k.id, k.op.Bucket, k.op.Key)
	if apierr.Is(err, apierr.NoSuchKey) {
		if _, berr := h.opts.Store.GetBucket(k.c.UserContext(), meta.Service(), k.op.Bucket); berr != nil {
			return berr
		}
		err = nil // deleting a missing key succeeds, as on S3
	}
	if err != nil {
		return err
	}
	k.c.Status(204)
	return nil
}

type deleteRequest struct {
	Quiet   bool `xml:"Quiet"`
	Objects []struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId"`
	} `xml:"Object"`
}

type deleteResult struct {
	XMLName xml.Name        `xml:"DeleteResult"`
	Xmlns   string          `xml:"xmlns,attr"`
	Deleted []deletedEntry  `xml:"Deleted"`
	Errors  []deleteErrItem `xml:"Error"`
}

type deletedEntry struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
}

type deleteErrItem struct {
	Key     string `xml:"Key"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func (h *Handler) deleteObjects(k *call) error {
	raw, err := h.readSmallBody(k, 2<<20)
	if err != nil {
		return err
	}
	var req deleteRequest
	if err := xml.Unmarshal(raw, &req); err != nil || len(req.Objects) == 0 {
		return apierr.New(apierr.MalformedXML, "")
	}
	if len(req.Objects) > meta.MaxDeleteKeys {
		return apierr.New(apierr.MalformedXML, "The request must contain at most 1000 keys")
	}
	if _, err := h.opts.Store.GetBucket(k.c.UserContext(), meta.Service(), k.op.Bucket); err != nil {
		return err
	}
	names := make([]string, 0, len(req.Objects))
	for _, o := range req.Objects {
		if o.VersionID == "" || o.VersionID == "null" {
			names = append(names, o.Key)
		}
	}
	_, denied, err := h.opts.Store.DeleteObjects(k.c.UserContext(), k.id, k.op.Bucket, names)
	if err != nil {
		return err
	}
	no := make(map[string]bool, len(denied))
	res := deleteResult{Xmlns: xmlNS}
	for _, d := range denied {
		no[d] = true
		res.Errors = append(res.Errors, deleteErrItem{Key: d, Code: "AccessDenied", Message: "Access Denied"})
	}
	if !req.Quiet {
		for _, o := range req.Objects {
			if !no[o.Key] {
				res.Deleted = append(res.Deleted, deletedEntry{Key: o.Key, VersionID: o.VersionID})
			}
		}
	}
	return writeXML(k.c, res)
}

func parseHTTPTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, strconv.ErrSyntax
	}
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, time.RFC850, time.ANSIC, time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, strconv.ErrSyntax
}
