-- S3 access keys kept in Postgres, each acting with its own JWT claims (so
-- RLS applies to it as to that user). Secrets are encrypted by the server
-- (AES-256-GCM with a key derived from AUTH_ENCRYPTION_KEY) before they
-- reach this table; only the service role may read it.

create table if not exists storage.gateway_s3_credentials (
    id uuid primary key default gen_random_uuid(),
    access_key text not null unique,
    secret_enc text not null,
    claims jsonb not null,
    description text not null default '',
    created_at timestamptz not null default now()
);
alter table storage.gateway_s3_credentials enable row level security;
revoke all on storage.gateway_s3_credentials from anon, authenticated;
grant all on storage.gateway_s3_credentials to service_role;
