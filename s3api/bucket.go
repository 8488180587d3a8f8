package s3api

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"time"

	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/apierr"
)

// identityFromClaims builds the identity of a stored credential.
func identityFromClaims(raw json.RawMessage) (meta.Identity, error) {
	var c struct {
		Role string `json:"role"`
		Sub  string `json:"sub"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return meta.Identity{}, apierr.Wrap(apierr.Internal, err, "")
	}
	if c.Role == "" {
		c.Role = meta.RoleAnon
	}
	return meta.Identity{Role: c.Role, Sub: c.Sub, Claims: raw}, nil
}

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

func ownerOf(id meta.Identity) owner {
	if id.Sub != "" {
		return owner{ID: id.Sub, DisplayName: id.Sub}
	}
	return owner{ID: id.Role, DisplayName: id.Role}
}

type listAllMyBucketsResult struct {
	XMLName xml.Name `xml:"ListAllMyBucketsResult"`
	Xmlns   string   `xml:"xmlns,attr"`
	Owner   owner    `xml:"Owner"`
	Buckets []bucket `xml:"Buckets>Bucket"`
}

type bucket struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
}

func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (h *Handler) listBuckets(k *call) error {
	bs, err := h.opts.Store.ListBuckets(k.c.UserContext(), k.id, meta.BucketQuery{SortColumn: "id"})
	if err != nil {
		return err
	}
	res := listAllMyBucketsResult{Xmlns: xmlNS, Owner: ownerOf(k.id), Buckets: []bucket{}}
	for _, b := range bs {
		res.Buckets = append(res.Buckets, bucket{Name: b.ID, CreationDate: s3Time(b.CreatedAt)})
	}
	return writeXML(k.c, res)
}

// createBucketConfiguration is CreateBucket's optional body.
type createBucketConfiguration struct {
	LocationConstraint string `xml:"LocationConstraint"`
}

func (h *Handler) createBucket(k *call) error {
	body, err := h.readSmallBody(k, 64<<10)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var cfg createBucketConfiguration
		if err := xml.Unmarshal(body, &cfg); err != nil {
			return apierr.New(apierr.MalformedXML, "")
		}
	}
	acl := strings.ToLower(k.c.Get("X-Amz-Acl"))
	public := acl == "public-read" || acl == "public-read-write"
	err = h.opts.Store.CreateBucket(k.c.UserContext(), k.id, meta.NewBucket{ID: k.op.Bucket, Name: k.op.Bucket, Public: public})
	if apierr.Is(err, apierr.BucketAlreadyExists) {
		// As in us-east-1: re-creating one's own bucket is an error naming it so.
		b, gerr := h.opts.Store.GetBucket(k.c.UserContext(), meta.Service(), k.op.Bucket)
		if gerr == nil && (k.id.IsService() || (b.OwnerID != nil && *b.OwnerID == k.id.Sub)) {
			return apierr.New(apierr.BucketAlreadyOwnedByYou, "").WithResource(k.op.Bucket)
		}
		return apierr.Newf(apierr.BucketAlreadyExists, "The requested bucket name is not available.").WithResource(k.op.Bucket)
	}
	if err != nil {
		return err
	}
	k.c.Set("Location", "/"+k.op.Bucket)
	return nil
}

func (h *Handler) deleteBucket(k *call) error {
	if err := h.opts.Store.DeleteBucket(k.c.UserContext(), k.id, k.op.Bucket); err != nil {
		return err
	}
	k.c.Status(204)
	return nil
}

func (h *Handler) headBucket(k *call) error {
	if _, err := h.opts.Store.GetBucket(k.c.UserContext(), k.id, k.op.Bucket); err != nil {
		return err
	}
	k.c.Set("X-Amz-Bucket-Region", h.opts.Region)
	return nil
}

func (h *Handler) getBucketLocation(k *call) error {
	if _, err := h.opts.Store.GetBucket(k.c.UserContext(), k.id, k.op.Bucket); err != nil {
		return err
	}
	region := h.opts.Region
	if region == "us-east-1" {
		region = "" // us-east-1 answers an empty constraint
	}
	type locationConstraint struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		Xmlns   string   `xml:"xmlns,attr"`
		Region  string   `xml:",chardata"`
	}
	return writeXML(k.c, locationConstraint{Xmlns: xmlNS, Region: region})
}

func (h *Handler) getBucketVersioning(k *call) error {
	if _, err := h.opts.Store.GetBucket(k.c.UserContext(), k.id, k.op.Bucket); err != nil {
		return err
	}
	type versioningConfiguration struct {
		XMLName xml.Name `xml:"VersioningConfiguration"`
		Xmlns   string   `xml:"xmlns,attr"`
	}
	return writeXML(k.c, versioningConfiguration{Xmlns: xmlNS})
}

// accessControlPolicy is the minimal owner-FULL_CONTROL ACL clients such as
// s3cmd read before a copy.
type accessControlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Xmlns   string   `xml:"xmlns,attr"`
	Owner   owner    `xml:"Owner"`
	Grants  []grant  `xml:"AccessControlList>Grant"`
}

type grant struct {
	Grantee    grantee `xml:"Grantee"`
	Permission string  `xml:"Permission"`
}

type grantee struct {
	XMLNS       string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

func (h *Handler) getACL(k *call) error {
	if err := h.mustExist(k); err != nil {
		return err
	}
	o := ownerOf(k.id)
	return writeXML(k.c, accessControlPolicy{Xmlns: xmlNS, Owner: o, Grants: []grant{{
		Grantee:    grantee{XMLNS: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
		Permission: "FULL_CONTROL",
	}}})
}

// putACL accepts and ignores ACLs: permissions are RLS policies here.
func (h *Handler) putACL(k *call) error {
	if _, err := h.readSmallBody(k, 64<<10); err != nil {
		return err
	}
	return h.mustExist(k)
}

func (h *Handler) getTagging(k *call) error {
	if err := h.mustExist(k); err != nil {
		return err
	}
	type tagging struct {
		XMLName xml.Name `xml:"Tagging"`
		Xmlns   string   `xml:"xmlns,attr"`
		TagSet  struct{} `xml:"TagSet"`
	}
	return writeXML(k.c, tagging{Xmlns: xmlNS})
}

// mustExist checks that the op's bucket (and key) is visible to the caller.
func (h *Handler) mustExist(k *call) error {
	if k.op.Key == "" {
		_, err := h.opts.Store.GetBucket(k.c.UserContext(), k.id, k.op.Bucket)
		return err
	}
	_, err := h.opts.Store.GetObject(k.c.UserContext(), k.id, meta.ReadRLS, k.op.Bucket, k.op.Key)
	return err
}

// readSmallBody reads a control body (XML) through its signature check,
// refusing more than limit bytes.
func (h *Handler) readSmallBody(k *call, limit int64) ([]byte, error) {
	body, err := h.body(k)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, apierr.Newf(apierr.InvalidRequest, "the request body is larger than %d bytes", limit)
	}
	return b, nil
}
