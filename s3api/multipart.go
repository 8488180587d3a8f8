package s3api

import (
	"bytes"
	"crypto/md5"
	"encoding/xml"
	"hash"
	"io"
	"strconv"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
)

type initiateResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

func (h *Handler) createUpload(k *call) error {
	in, err := putInput(k)
	if err != nil {
		return err
	}
	u, err := h.opts.Store.CreateUpload(k.c.UserContext(), k.id, in)
	if err != nil {
		return err
	}
	return writeXML(k.c, initiateResult{Xmlns: xmlNS, Bucket: k.op.Bucket, Key: k.op.Key, UploadID: u.ID})
}

func partNumber(k *call) (int32, error) {
	n, err := strconv.Atoi(k.op.Query.Get("partNumber"))
	if err != nil || n < 1 || n > meta.MaxParts {
		return 0, apierr.New(apierr.InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive")
	}
	return int32(n), nil
}

func (h *Handler) uploadPart(k *call) error {
	n, err := partNumber(k)
	if err != nil {
		return err
	}
	body, err := h.body(k)
	if err != nil {
		return err
	}
	sum, err := contentMD5(k.c.Get("Content-MD5"))
	if err != nil {
		return err
	}
	var r io.Reader = body
	if sum != nil {
		r = &md5Reader{r: body, h: md5.New(), want: sum}
	}
	p, err := h.opts.Store.PutPart(k.c.UserContext(), k.id, k.op.Bucket, k.op.Key, k.op.Query.Get("uploadId"), n, r, body.Size())
	if err != nil {
		return err
	}
	k.c.Set("ETag", p.ETag)
	for name, v := range checksums(body) {
		k.c.Set("X-Amz-Checksum-"+name, v)
	}
	return nil
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"CopyPartResult"`
	Xmlns        string   `xml:"xmlns,attr"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
}

// uploadPartCopy reads a range of an object the caller may read into a part.
func (h *Handler) uploadPartCopy(k *call) error {
	n, err := partNumber(k)
	if err != nil {
		return err
	}
	sb, sk, err := copySource(k.c.Get("X-Amz-Copy-Source"))
	if err != nil {
		return err
	}
	ctx := k.c.UserContext()
	src, err := h.opts.Store.GetObject(ctx, k.id, meta.ReadRLS, sb, sk)
	if err != nil {
		return err
	}
	if err := copyConditions(k)(src); err != nil {
		return err
	}
	rng, err := parseRange(k.c.Get("X-Amz-Copy-Source-Range"))
	if err != nil {
		return err
	}
	if k.c.Get("X-Amz-Copy-Source-Range") != "" && rng == nil {
		return apierr.New(apierr.InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last")
	}
	if _, err := h.opts.Store.GetUpload(ctx, k.id, k.op.Bucket, k.op.Key, k.op.Query.Get("uploadId")); err != nil {
		return err
	}
	r, info, err := h.opts.Store.Backend().Get(ctx, h.opts.Store.BackendKey(src.BucketID, src.Name, src.Version), rng)
	if err != nil {
		return meta.BackendError(err)
	}
	defer r.Close()
	p, err := h.opts.Store.PutPart(ctx, k.id, k.op.Bucket, k.op.Key, k.op.Query.Get("uploadId"), n, r, info.End-info.Start+1)
	if err != nil {
		return err
	}
	return writeXML(k.c, copyPartResult{Xmlns: xmlNS, LastModified: s3Time(p.LastModified), ETag: p.ETag})
}

type completeRequest struct {
	Parts []struct {
		PartNumber int32  `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

type completeResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

func (h *Handler) completeUpload(k *call) error {
	raw, err := h.readSmallBody(k, 4<<20)
	if err != nil {
		return err
	}
	var req completeRequest
	if err := xml.Unmarshal(raw, &req); err != nil {
		return apierr.New(apierr.MalformedXML, "")
	}
	if len(req.Parts) > meta.MaxParts {
		return apierr.New(apierr.MalformedXML, "too many parts")
	}
	parts := make([]meta.UploadPart, len(req.Parts))
	for i, p := range req.Parts {
		parts[i] = meta.UploadPart{Number: p.PartNumber, ETag: p.ETag}
	}
	upsert := k.c.Get("If-None-Match") != "*"
	o, err := h.opts.Store.CompleteUpload(k.c.UserContext(), k.id, k.op.Bucket, k.op.Key, k.op.Query.Get("uploadId"), parts, upsert)
	if err != nil {
		return err
	}
	return writeXML(k.c, completeResult{Xmlns: xmlNS, Location: "/" + k.op.Bucket + "/" + k.op.Key,
		Bucket: k.op.Bucket, Key: k.op.Key, ETag: o.Meta.ETag})
}

func (h *Handler) abortUpload(k *call) error {
	if err := h.opts.Store.AbortUpload(k.c.UserContext(), k.id, k.op.Bucket, k.op.Key, k.op.Query.Get("uploadId")); err != nil {
		return err
	}
	k.c.Status(204)
	return nil
}

type listPartsResult struct {
	XMLName              xml.Name   `xml:"ListPartsResult"`
	Xmlns                string     `xml:"xmlns,attr"`
	Bucket               string     `xml:"Bucket"`
	Key                  string     `xml:"Key"`
	UploadID             string     `xml:"UploadId"`
	PartNumberMarker     int32      `xml:"PartNumberMarker"`
	NextPartNumberMarker int32      `xml:"NextPartNumberMarker"`
	MaxParts             int        `xml:"MaxParts"`
	IsTruncated          bool       `xml:"IsTruncated"`
	Owner                owner      `xml:"Owner"`
	Initiator            owner      `xml:"Initiator"`
	StorageClass         string     `xml:"StorageClass"`
	Parts                []partItem `xml:"Part"`
}

type partItem struct {
	PartNumber   int32  `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
}

func (h *Handler) listParts(k *call) error {
	q := k.op.Query
	max, err := maxParam(q, "max-parts", 0)
	if err != nil {
		return err
	}
	marker, _ := strconv.Atoi(q.Get("part-number-marker"))
	parts, more, err := h.opts.Store.ListUploadParts(k.c.UserContext(), k.id, k.op.Bucket, k.op.Key, q.Get("uploadId"), int32(marker), max)
	if err != nil {
		return err
	}
	res := listPartsResult{Xmlns: xmlNS, Bucket: k.op.Bucket, Key: k.op.Key, UploadID: q.Get("uploadId"),
		PartNumberMarker: int32(marker), MaxParts: max, IsTruncated: more, Owner: ownerOf(k.id), Initiator: ownerOf(k.id),
		StorageClass: "STANDARD"}
	for _, p := range parts {
		res.Parts = append(res.Parts, partItem{PartNumber: p.Number, LastModified: s3Time(p.LastModified), ETag: p.ETag, Size: p.Size})
		res.NextPartNumberMarker = p.Number
	}
	return writeXML(k.c, res)
}

type listUploadsResult struct {
	XMLName            xml.Name     `xml:"ListMultipartUploadsResult"`
	Xmlns              string       `xml:"xmlns,attr"`
	Bucket             string       `xml:"Bucket"`
	KeyMarker          string       `xml:"KeyMarker"`
	UploadIDMarker     string       `xml:"UploadIdMarker"`
	NextKeyMarker      string       `xml:"NextKeyMarker"`
	NextUploadIDMarker string       `xml:"NextUploadIdMarker"`
	Prefix             string       `xml:"Prefix"`
	MaxUploads         int          `xml:"MaxUploads"`
	IsTruncated        bool         `xml:"IsTruncated"`
	Uploads            []uploadItem `xml:"Upload"`
}

type uploadItem struct {
	Key          string `xml:"Key"`
	UploadID     string `xml:"UploadId"`
	Initiator    owner  `xml:"Initiator"`
	Owner        owner  `xml:"Owner"`
	StorageClass string `xml:"StorageClass"`
	Initiated    string `xml:"Initiated"`
}

func (h *Handler) listUploads(k *call) error {
	q := k.op.Query
	max, err := maxParam(q, "max-uploads", 1)
	if err != nil {
		return err
	}
	if _, err := h.opts.Store.GetBucket(k.c.UserContext(), meta.Service(), k.op.Bucket); err != nil {
		return err
	}
	ups, more, err := h.opts.Store.ListUploads(k.c.UserContext(), k.id, meta.UploadList{Bucket: k.op.Bucket,
		Prefix: q.Get("prefix"), KeyMarker: q.Get("key-marker"), UploadIDMarker: q.Get("upload-id-marker"), Max: max})
	if err != nil {
		return err
	}
	res := listUploadsResult{Xmlns: xmlNS, Bucket: k.op.Bucket, KeyMarker: q.Get("key-marker"),
		UploadIDMarker: q.Get("upload-id-marker"), Prefix: q.Get("prefix"), MaxUploads: max, IsTruncated: more}
	for _, u := range ups {
		o := owner{ID: u.OwnerID, DisplayName: u.OwnerID}
		res.Uploads = append(res.Uploads, uploadItem{Key: u.Key, UploadID: u.ID, Initiator: o, Owner: o,
			StorageClass: "STANDARD", Initiated: s3Time(u.CreatedAt)})
		res.NextKeyMarker, res.NextUploadIDMarker = u.Key, u.ID
	}
	return writeXML(k.c, res)
}

// md5Reader fails with BadDigest at the end of a body whose MD5 is not the
// one the client sent, before the consumer sees EOF (so nothing is stored).
type md5Reader struct {
	r    io.Reader
	h    hash.Hash
	want []byte
}

func (m *md5Reader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.h.Write(p[:n])
	if err == io.EOF && !bytes.Equal(m.h.Sum(nil), m.want) {
		return n, apierr.New(apierr.BadDigest, "")
	}
	return n, err
}
