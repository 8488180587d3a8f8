package backendtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"regexp"
	"testing"

	"github.com/supagate/storage/backend"
)

// minPart is S3's smallest part but the last one.
const minPart = 5 << 20

var multipartETag = regexp.MustCompile(`^"[0-9a-f]{32}-3"$`)

// uploadParts uploads datas as parts numbered from 1, in the given order of
// indexes, and returns the parts by number.
func uploadParts(t *testing.T, b backend.Backend, key, id string, datas [][]byte, order []int) []backend.Part {
	t.Helper()
	parts := make([]backend.Part, len(datas))
	for _, i := range order {
		p, err := b.UploadPart(context.Background(), key, id, int32(i+1), bytes.NewReader(datas[i]), int64(len(datas[i])))
		if err != nil {
			t.Fatalf("UploadPart(%d): %v", i+1, err)
		}
		if p.Number != int32(i+1) || p.ETag != etagOf(datas[i]) || p.Size != int64(len(datas[i])) {
			t.Fatalf("UploadPart(%d) = %+v, want etag %s size %d", i+1, p, etagOf(datas[i]), len(datas[i]))
		}
		parts[i] = p
	}
	return parts
}

func testMultipart(t *testing.T, b backend.Backend) {
	ctx := context.Background()
	const key = "multi/part/object"
	id, err := b.CreateMultipart(ctx, key, backend.PutOptions{ContentType: "video/mp4"})
	if err != nil {
		t.Fatalf("CreateMultipart: %v", err)
	}
	datas := [][]byte{randomBytes(t, 1, minPart), randomBytes(t, 2, minPart), randomBytes(t, 3, 1234)}
	parts := uploadParts(t, b, key, id, datas, []int{2, 0, 1})
	info, err := b.CompleteMultipart(ctx, key, id, parts)
	if err != nil {
		t.Fatalf("CompleteMultipart: %v", err)
	}
	sums := md5.New()
	for _, d := range datas {
		s := md5.Sum(d)
		sums.Write(s[:])
	}
	wantETag := fmt.Sprintf(`"%x-3"`, sums.Sum(nil))
	if !multipartETag.MatchString(info.ETag) || info.ETag != wantETag {
		t.Errorf("CompleteMultipart ETag = %s, want %s", info.ETag, wantETag)
	}
	whole := bytes.Join(datas, nil)
	if info.Size != int64(len(whole)) {
		t.Errorf("CompleteMultipart size = %d, want %d", info.Size, len(whole))
	}
	wantBytes(t, b, key, whole)
	h, err := b.Head(ctx, key)
	if err != nil || h.Size != int64(len(whole)) || h.ContentType != "video/mp4" {
		t.Errorf("Head = %+v, %v; want size %d, type video/mp4", h, err, len(whole))
	}
	if err := b.AbortMultipart(ctx, key, id); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("AbortMultipart after completion = %v, want ErrNotExist", err)
	}
}

func testMultipartReplacePart(t *testing.T, b backend.Backend) {
	ctx := context.Background()
	const key = "multi/replace"
	id, err := b.CreateMultipart(ctx, key, backend.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := uploadParts(t, b, key, id, [][]byte{randomBytes(t, 1, 1000)}, []int{0})
	second := uploadParts(t, b, key, id, [][]byte{randomBytes(t, 2, 2000)}, []int{0})
	if _, err := b.CompleteMultipart(ctx, key, id, first); !errors.Is(err, backend.ErrPrecondition) {
		t.Errorf("CompleteMultipart with the replaced part = %v, want ErrPrecondition", err)
	}
	if _, err := b.CompleteMultipart(ctx, key, id, second); err != nil {
		t.Fatalf("CompleteMultipart: %v", err)
	}
	wantBytes(t, b, key, randomBytes(t, 2, 2000))
}

func testMultipartWrongPart(t *testing.T, b backend.Backend) {
	datas := [][]byte{randomBytes(t, 1, minPart), randomBytes(t, 2, 100)}
	other := etagOf([]byte("other"))
	tests := []struct {
		name  string
		parts func(p []backend.Part) []backend.Part
	}{
		{name: "wrong etag", parts: func(p []backend.Part) []backend.Part {
			p[1].ETag = other
			return p
		}},
		{name: "part never uploaded", parts: func(p []backend.Part) []backend.Part {
			return append(p, backend.Part{Number: 3, ETag: other, Size: 5})
		}},
		{name: "no parts", parts: func([]backend.Part) []backend.Part { return nil }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			key := fmt.Sprintf("multi/wrong/%d", i)
			id, err := b.CreateMultipart(ctx, key, backend.PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			parts := uploadParts(t, b, key, id, datas, []int{0, 1})
			if _, err := b.CompleteMultipart(ctx, key, id, tt.parts(parts)); !errors.Is(err, backend.ErrPrecondition) {
				t.Fatalf("CompleteMultipart = %v, want ErrPrecondition", err)
			}
			wantGone(t, b, key)
			// The upload is still usable after a failed completion.
			if _, err := b.CompleteMultipart(ctx, key, id, uploadParts(t, b, key, id, datas, []int{0, 1})); err != nil {
				t.Fatalf("CompleteMultipart after a failed one: %v", err)
			}
			wantBytes(t, b, key, bytes.Join(datas, nil))
		})
	}
}

func testAbort(t *testing.T, b backend.Backend) {
	ctx := context.Background()
	const key = "multi/aborted"
	id, err := b.CreateMultipart(ctx, key, backend.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	parts := uploadParts(t, b, key, id, [][]byte{randomBytes(t, 1, 1000)}, []int{0})
	if err := b.AbortMultipart(ctx, key, id); err != nil {
		t.Fatalf("AbortMultipart: %v", err)
	}
	if _, err := b.UploadPart(ctx, key, id, 2, bytes.NewReader([]byte("x")), 1); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("UploadPart after abort = %v, want ErrNotExist", err)
	}
	if _, err := b.CompleteMultipart(ctx, key, id, parts); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("CompleteMultipart after abort = %v, want ErrNotExist", err)
	}
	if err := b.AbortMultipart(ctx, key, id); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("second AbortMultipart = %v, want ErrNotExist", err)
	}
	wantGone(t, b, key)
}

func testAbortUnknown(t *testing.T, b backend.Backend) {
	ctx := context.Background()
	for _, id := range []string{"0123456789abcdef0123456789abcdef", "no-such-upload", "../../etc"} {
		if err := b.AbortMultipart(ctx, "multi/unknown", id); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("AbortMultipart(%q) = %v, want ErrNotExist", id, err)
		}
		if _, err := b.UploadPart(ctx, "multi/unknown", id, 1, bytes.NewReader([]byte("x")), 1); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("UploadPart(%q) = %v, want ErrNotExist", id, err)
		}
	}
}
