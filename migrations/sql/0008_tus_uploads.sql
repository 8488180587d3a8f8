-- Resumable (TUS) uploads: the state of each upload lives here and in the
-- backend, so any server can take the next request of an upload, also
-- after a restart. The bytes received so far are the parts of a backend
-- multipart upload (listed in gateway_tus_parts, in offset order), followed
-- by at most one "tail" object holding what came after the last part when
-- a chunk was too small to be a part (every part but the last must be at
-- least 5 MiB). Finished uploads are kept until they expire, so a client
-- that lost the last response still learns that the upload is complete.
-- Only the service role may touch these tables.

create table if not exists storage.gateway_tus_uploads (
    id text primary key,                      -- base64url("<bucket>/<name>/<version>"): the URL's upload id
    bucket_id text not null,
    name text collate "C" not null,
    version text not null,                    -- the object version the upload will commit
    backend_upload_id text not null,          -- the backend's multipart upload
    upload_length bigint not null,            -- Upload-Length
    upload_offset bigint not null default 0,  -- bytes stored: the parts, then the tail
    parts_size bigint not null default 0,     -- bytes in the parts
    next_part integer not null default 1,     -- the next backend part number; numbers are never reused
    tail_version text,                        -- last key segment of the tail object, if any
    owner_id text,
    upsert boolean not null default false,
    content_type text not null,
    cache_control text not null,
    user_metadata jsonb,
    upload_metadata jsonb not null default '{}',  -- Upload-Metadata as sent, echoed by HEAD
    completed_at timestamptz,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
);
create index if not exists gateway_tus_uploads_expires on storage.gateway_tus_uploads (expires_at);
create index if not exists gateway_tus_uploads_object on storage.gateway_tus_uploads (bucket_id, name);

create table if not exists storage.gateway_tus_parts (
    upload_id text not null references storage.gateway_tus_uploads (id) on delete cascade,
    part_number integer not null,
    etag text not null,
    size bigint not null,
    primary key (upload_id, part_number)
);

alter table storage.gateway_tus_uploads enable row level security;
alter table storage.gateway_tus_parts enable row level security;
revoke all on storage.gateway_tus_uploads, storage.gateway_tus_parts from anon, authenticated;
grant all on storage.gateway_tus_uploads, storage.gateway_tus_parts to service_role;
