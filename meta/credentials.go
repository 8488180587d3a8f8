package meta

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/meta/apierr"
)

// Credential is an S3 access key kept in Postgres.
type Credential struct {
	ID          string
	AccessKey   string
	Secret      string // plain text; only set when created or resolved
	Claims      json.RawMessage
	Description string
	CreatedAt   time.Time
}

// Sealer encrypts stored secrets with AES-256-GCM under a key derived
// from AUTH_ENCRYPTION_KEY.
type Sealer struct{ aead cipher.AEAD }

// NewSealer derives the key (SHA-256 of passphrase).
func NewSealer(passphrase string) (*Sealer, error) {
	if passphrase == "" {
		return nil, errors.New("meta: encryption key is empty")
	}
	k := sha256.Sum256([]byte(passphrase))
	blk, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

func (s *Sealer) seal(plain string) string {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce) //nolint:errcheck // crypto/rand does not fail
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(plain), nil))
}

func (s *Sealer) open(enc string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errors.New("meta: stored secret is malformed")
	}
	p, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], nil)
	if err != nil {
		return "", errors.New("meta: stored secret does not decrypt (wrong AUTH_ENCRYPTION_KEY?)")
	}
	return string(p), nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return hex.EncodeToString(b)
}

// CreateCredential makes a new access key acting with claims (which must
// name an allowed role) and returns it with its secret, shown only now.
func (s *Store) CreateCredential(ctx context.Context, sealer *Sealer, claims json.RawMessage, description string) (Credential, error) {
	var c struct {
		Role string `json:"role"`
	}
	if err := json.Unmarshal(claims, &c); err != nil || !s.roles[c.Role] {
		return Credential{}, apierr.New(apierr.InvalidArgument, "claims must be a JSON object with an allowed role")
	}
	cred := Credential{AccessKey: strings.ToUpper(randomToken(10)), Secret: randomToken(20), Claims: claims, Description: description}
	b := &pgx.Batch{}
	b.Queue(`insert into storage.gateway_s3_credentials (access_key, secret_enc, claims, description)
		values ($1, $2, $3, $4) returning id::text, created_at`, cred.AccessKey, sealer.seal(cred.Secret), string(claims), description)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&cred.ID, &cred.CreatedAt)
	})
	return cred, err
}

// ListCredentials returns the stored keys without secrets.
func (s *Store) ListCredentials(ctx context.Context) ([]Credential, error) {
	var out []Credential
	b := &pgx.Batch{}
	b.Queue(`select id::text, access_key, claims, description, created_at from storage.gateway_s3_credentials order by created_at`)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error {
		return eachRow(br, func(rows pgx.Rows) error {
			var c Credential
			if err := rows.Scan(&c.ID, &c.AccessKey, &c.Claims, &c.Description, &c.CreatedAt); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

// DeleteCredential removes a key by id or access key.
func (s *Store) DeleteCredential(ctx context.Context, idOrKey string) error {
	b := &pgx.Batch{}
	b.Queue(`delete from storage.gateway_s3_credentials where id::text = $1 or access_key = $1`, idOrKey)
	return s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err == nil && tag.RowsAffected() == 0 {
			return apierr.Newf(apierr.InvalidAccessKeyID, "no credential %q", idOrKey)
		}
		return err
	})
}

// ResolveCredential returns the secret and claims of accessKey, or an
// InvalidAccessKeyID error.
func (s *Store) ResolveCredential(ctx context.Context, sealer *Sealer, accessKey string) (Credential, error) {
	var c Credential
	var enc string
	b := &pgx.Batch{}
	b.Queue(`select id::text, access_key, secret_enc, claims from storage.gateway_s3_credentials where access_key = $1`, accessKey)
	err := s.Batch(ctx, Service(), b, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&c.ID, &c.AccessKey, &enc, &c.Claims)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return c, apierr.New(apierr.InvalidAccessKeyID, "")
	}
	if err != nil {
		return c, err
	}
	if sealer == nil {
		return c, apierr.Wrap(apierr.Internal, errors.New("AUTH_ENCRYPTION_KEY is not configured"), "")
	}
	if c.Secret, err = sealer.open(enc); err != nil {
		return c, apierr.Wrap(apierr.Internal, fmt.Errorf("credential %s: %w", accessKey, err), "")
	}
	return c, nil
}
