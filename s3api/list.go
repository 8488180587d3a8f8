package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"net/url"
	"strconv"
	"strings"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
)

type listEntry struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	Owner        *owner `xml:"Owner,omitempty"`
	StorageClass string `xml:"StorageClass"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

type listBucketResult struct {
	XMLName               xml.Name       `xml:"ListBucketResult"`
	Xmlns                 string         `xml:"xmlns,attr"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Marker                *string        `xml:"Marker,omitempty"`
	NextMarker            string         `xml:"NextMarker,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	KeyCount              *int           `xml:"KeyCount,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	IsTruncated           bool           `xml:"IsTruncated"`
	Contents              []listEntry    `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

type versionEntry struct {
	Key          string `xml:"Key"`
	VersionID    string `xml:"VersionId"`
	IsLatest     bool   `xml:"IsLatest"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	Owner        owner  `xml:"Owner"`
	StorageClass string `xml:"StorageClass"`
}

type listVersionsResult struct {
	XMLName             xml.Name       `xml:"ListVersionsResult"`
	Xmlns               string         `xml:"xmlns,attr"`
	Name                string         `xml:"Name"`
	Prefix              string         `xml:"Prefix"`
	KeyMarker           string         `xml:"KeyMarker"`
	VersionIDMarker     string         `xml:"VersionIdMarker"`
	NextKeyMarker       string         `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string         `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int            `xml:"MaxKeys"`
	Delimiter           string         `xml:"Delimiter,omitempty"`
	EncodingType        string         `xml:"EncodingType,omitempty"`
	IsTruncated         bool           `xml:"IsTruncated"`
	Versions            []versionEntry `xml:"Version"`
	CommonPrefixes      []commonPrefix `xml:"CommonPrefixes"`
}

// listObjects serves ListObjects (v1), ListObjectsV2 and, as an
// unversioned bucket answers it, ListObjectVersions.
func (h *Handler) listObjects(k *call) error {
	q := k.op.Query
	maxKeys, err := maxParam(q, "max-keys", 0)
	if err != nil {
		return err
	}
	enc := q.Get("encoding-type")
	if enc != "" && enc != "url" {
		return apierr.New(apierr.InvalidArgument, "Invalid Encoding Method specified in Request")
	}
	lq := meta.ListQuery{Bucket: k.op.Bucket, Prefix: q.Get("prefix"), Delimiter: q.Get("delimiter"), MaxKeys: maxKeys}
	var token string
	switch k.op.Kind {
	case OpListObjectsV2:
		lq.StartAfter = q.Get("start-after")
		if token = q.Get("continuation-token"); token != "" {
			b, err := base64.RawURLEncoding.DecodeString(token)
			if err != nil {
				return apierr.New(apierr.InvalidArgument, "The continuation token provided is incorrect")
			}
			lq.StartAfter = string(b)
		}
	case OpListObjectVersions:
		lq.StartAfter = q.Get("key-marker")
	default:
		lq.StartAfter = q.Get("marker")
	}
	if maxKeys == 0 {
		lq.MaxKeys = 1 // still answers NoSuchBucket; the page itself is dropped
	}
	res, err := h.opts.Store.ListObjects(k.c.UserContext(), k.id, lq)
	if err != nil {
		return err
	}
	if maxKeys == 0 {
		res = meta.ListResult{Truncated: len(res.Objects)+len(res.Prefixes) > 0}
	}
	encode := func(s string) string {
		if enc == "url" {
			return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
		}
		return s
	}
	var prefixes []commonPrefix
	for _, p := range res.Prefixes {
		prefixes = append(prefixes, commonPrefix{Prefix: encode(p)})
	}
	if k.op.Kind == OpListObjectVersions {
		out := listVersionsResult{Xmlns: xmlNS, Name: k.op.Bucket, Prefix: encode(lq.Prefix), KeyMarker: encode(lq.StartAfter),
			MaxKeys: maxKeys, Delimiter: encode(lq.Delimiter), EncodingType: enc, IsTruncated: res.Truncated, CommonPrefixes: prefixes}
		for _, o := range res.Objects {
			out.Versions = append(out.Versions, versionEntry{Key: encode(o.Name), VersionID: "null", IsLatest: true,
				LastModified: s3Time(o.UpdatedAt), ETag: o.Meta.ETag, Size: o.Meta.Size, Owner: objectOwner(o), StorageClass: "STANDARD"})
		}
		if res.Truncated {
			out.NextKeyMarker, out.NextVersionIDMarker = encode(res.Next), "null"
		}
		return writeXML(k.c, out)
	}
	out := listBucketResult{Xmlns: xmlNS, Name: k.op.Bucket, Prefix: encode(lq.Prefix), MaxKeys: maxKeys,
		Delimiter: encode(lq.Delimiter), EncodingType: enc, IsTruncated: res.Truncated, CommonPrefixes: prefixes}
	fetchOwner := k.op.Kind == OpListObjects || q.Get("fetch-owner") == "true"
	for _, o := range res.Objects {
		e := listEntry{Key: encode(o.Name), LastModified: s3Time(o.UpdatedAt), ETag: o.Meta.ETag, Size: o.Meta.Size, StorageClass: "STANDARD"}
		if fetchOwner {
			ow := objectOwner(o)
			e.Owner = &ow
		}
		out.Contents = append(out.Contents, e)
	}
	if k.op.Kind == OpListObjectsV2 {
		n := len(res.Objects) + len(res.Prefixes)
		out.KeyCount = &n
		out.StartAfter = encode(q.Get("start-after"))
		out.ContinuationToken = token
		if res.Truncated {
			out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Next))
		}
	} else {
		m := encode(lq.StartAfter)
		out.Marker = &m
		if res.Truncated {
			out.NextMarker = encode(res.Next)
		}
	}
	return writeXML(k.c, out)
}

func objectOwner(o meta.Object) owner {
	if o.OwnerID != nil && *o.OwnerID != "" {
		return owner{ID: *o.OwnerID, DisplayName: *o.OwnerID}
	}
	return owner{ID: "service_role", DisplayName: "service_role"}
}

// maxParam reads a page-size parameter (max-keys, max-parts, max-uploads):
// 1000 when absent, capped at 1000, and at least least.
func maxParam(q url.Values, name string, least int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		if least > 0 {
			return 0, apierr.Newf(apierr.InvalidArgument, "%s must be a positive integer", name)
		}
		return 0, apierr.Newf(apierr.InvalidArgument, "%s must be a non-negative integer", name)
	}
	return min(n, 1000), nil
}
