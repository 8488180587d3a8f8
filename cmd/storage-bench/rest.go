package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// restClient speaks Supabase Storage's REST API with one bearer token.
type restClient struct {
	base   string // e.g. http://127.0.0.1:5000 or https://x.supabase.co/storage/v1
	token  string // Authorization: Bearer
	apikey string // the gateway's apikey header (Supabase's Kong); empty: not sent
	hc     *http.Client
}

// httpError is a non-2xx answer.
type httpError struct {
	method, path string
	status       int
	body         string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s", e.method, e.path, e.status, e.body)
}

// newTransport is a keep-alive transport that keeps a connection per
// client, so no request pays for a TCP handshake.
func newTransport(clients int) *http.Transport {
	return &http.Transport{
		MaxIdleConnsPerHost: clients*2 + 8,
		IdleConnTimeout:     2 * time.Minute,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

func objectPath(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return url.PathEscape(bucket) + "/" + strings.Join(segs, "/")
}

// do sends one request and hands a 2xx body to read (nil: discard it).
func (r *restClient) do(ctx context.Context, method, path string, body io.Reader, size int64,
	hdr map[string]string, read func(io.Reader) (int64, error)) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, body)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.ContentLength = size
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	if r.apikey != "" {
		req.Header.Set("apikey", r.apikey)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, &httpError{method, path, resp.StatusCode, strings.TrimSpace(string(b))}
	}
	if read == nil {
		return io.Copy(io.Discard, resp.Body)
	}
	return read(resp.Body)
}

func (r *restClient) jsonCall(ctx context.Context, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = r.do(ctx, method, path, bytes.NewReader(b), int64(len(b)),
		map[string]string{"Content-Type": "application/json"}, func(rd io.Reader) (int64, error) {
			if out == nil {
				return io.Copy(io.Discard, rd)
			}
			return 0, json.NewDecoder(rd).Decode(out)
		})
	return err
}

func (r *restClient) put(ctx context.Context, bucket, key string, body io.Reader, size int64, upsert bool) error {
	h := map[string]string{"Content-Type": "application/octet-stream"}
	if upsert {
		h["x-upsert"] = "true"
	}
	_, err := r.do(ctx, http.MethodPost, "/object/"+objectPath(bucket, key), body, size, h, nil)
	return err
}

func (r *restClient) get(ctx context.Context, bucket, key string) (int64, error) {
	return r.do(ctx, http.MethodGet, "/object/authenticated/"+objectPath(bucket, key), nil, 0, nil, nil)
}

func (r *restClient) head(ctx context.Context, bucket, key string) error {
	_, err := r.do(ctx, http.MethodHead, "/object/authenticated/"+objectPath(bucket, key), nil, 0, nil, nil)
	return err
}

func (r *restClient) del(ctx context.Context, bucket, key string) error {
	_, err := r.do(ctx, http.MethodDelete, "/object/"+objectPath(bucket, key), nil, 0, nil, nil)
	return err
}

func (r *restClient) createBucket(ctx context.Context, name string) error {
	return r.jsonCall(ctx, http.MethodPost, "/bucket", map[string]any{"name": name, "public": false}, nil)
}

type sortBy struct {
	Column string `json:"column"`
	Order  string `json:"order"`
}

// listV1 is one page of POST /object/list/:bucket (offset paging); it
// returns the number of entries.
func (r *restClient) listV1(ctx context.Context, bucket, prefix string, limit, offset int) (int, error) {
	var out []json.RawMessage
	err := r.jsonCall(ctx, http.MethodPost, "/object/list/"+url.PathEscape(bucket), map[string]any{
		"prefix": prefix, "limit": limit, "offset": offset, "sortBy": sortBy{"name", "asc"},
	}, &out)
	return len(out), err
}

// listV2 is one page of POST /object/list-v2/:bucket (cursor paging).
func (r *restClient) listV2(ctx context.Context, bucket, prefix string, limit int, cursor string) (n int, next string, err error) {
	var out struct {
		HasNext    bool              `json:"hasNext"`
		NextCursor string            `json:"nextCursor"`
		Objects    []json.RawMessage `json:"objects"`
		Folders    []json.RawMessage `json:"folders"`
	}
	in := map[string]any{"prefix": prefix, "limit": limit, "with_delimiter": false}
	if cursor != "" {
		in["cursor"] = cursor
	}
	err = r.jsonCall(ctx, http.MethodPost, "/object/list-v2/"+url.PathEscape(bucket), in, &out)
	if !out.HasNext {
		out.NextCursor = ""
	}
	return len(out.Objects) + len(out.Folders), out.NextCursor, err
}

// status polls GET /status once.
func (r *restClient) status(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/status", nil)
	if err != nil {
		return err
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &httpError{"GET", "/status", resp.StatusCode, strconv.Itoa(resp.StatusCode)}
	}
	return nil
}
