package s3api

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/supagate/storage/meta/metatest"
)

const (
	userA = "11111111-1111-1111-1111-111111111111"
	userB = "22222222-2222-2222-2222-222222222222"
)

const folderPolicies = `
create policy "own folder read" on storage.objects for select to authenticated
    using (bucket_id = 'priv' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder write" on storage.objects for insert to authenticated
    with check (bucket_id = 'priv' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder update" on storage.objects for update to authenticated
    using (bucket_id = 'priv' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder delete" on storage.objects for delete to authenticated
    using (bucket_id = 'priv' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "see priv" on storage.buckets for select to authenticated using (id = 'priv');
`

// TestRLSAppliesToS3 checks that the same policies decide on S3 for a user
// in session-token mode and for a stored credential carrying her claims.
func TestRLSAppliesToS3(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ctx := context.Background()
	mustCreateBucket(t, ts.service(), "priv")
	metatest.Exec(t, ts.dsn, folderPolicies)
	put(t, ts.service(), "priv", userB+"/secret.txt", []byte("b's"))

	tokA, _ := ts.jwt.Sign(map[string]any{"role": "authenticated", "sub": userA})
	anon, _ := ts.jwt.Sign(map[string]any{"role": "anon"})
	cred, err := ts.store.CreateCredential(ctx, ts.sealer, []byte(`{"role":"authenticated","sub":"`+userA+`"}`), "user a")
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]*s3.Client{
		"session token": client(ts.url, "stub", anon, tokA),
		"stored key":    client(ts.url, cred.AccessKey, cred.Secret, ""),
	}
	for name, c := range clients {
		t.Run(name+": user A writes and reads her folder", func(t *testing.T) {
			put(t, c, "priv", userA+"/"+strings.ReplaceAll(name, " ", "-"), []byte("a's"))
			if got := string(get(t, c, "priv", userA+"/"+strings.ReplaceAll(name, " ", "-"))); got != "a's" {
				t.Fatalf("got %q", got)
			}
		})
		t.Run(name+": user A cannot write into B's folder", func(t *testing.T) {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("priv"), Key: aws.String(userB + "/evil"),
				Body: strings.NewReader("x")})
			if apiCode(err) != "AccessDenied" || httpStatus(err) != 403 {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run(name+": user A cannot read B's object", func(t *testing.T) {
			_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("priv"), Key: aws.String(userB + "/secret.txt")})
			if apiCode(err) != "NoSuchKey" {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run(name+": listing shows only A's folder", func(t *testing.T) {
			out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("priv"), Delimiter: aws.String("/")})
			if err != nil || len(out.CommonPrefixes) != 1 || *out.CommonPrefixes[0].Prefix != userA+"/" {
				t.Fatalf("%+v %v", out.CommonPrefixes, err)
			}
		})
		t.Run(name+": deleting B's object is refused", func(t *testing.T) {
			out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("priv"), Delete: &s3types.Delete{
				Objects: []s3types.ObjectIdentifier{{Key: aws.String(userB + "/secret.txt")}}}})
			if err != nil || len(out.Errors) != 1 || *out.Errors[0].Code != "AccessDenied" {
				t.Fatalf("%+v %v", out, err)
			}
		})
		t.Run(name+": creating a bucket needs a policy", func(t *testing.T) {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mine-" + strings.ReplaceAll(name, " ", "-"))})
			if apiCode(err) != "AccessDenied" {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("a session token signed with another secret is refused", func(t *testing.T) {
		bad := tokA[:len(tokA)-2] + "xx"
		_, err := client(ts.url, "stub", anon, bad).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("priv")})
		if apiCode(err) != "AccessDenied" {
			t.Fatalf("err = %v", err)
		}
	})
	if string(get(t, ts.service(), "priv", userB+"/secret.txt")) != "b's" {
		t.Fatal("B's object changed")
	}
}
