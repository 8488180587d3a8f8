-- The storage schema, shaped like Supabase Storage's final schema so that an
-- existing Supabase database can be served as it is. Every statement is
-- idempotent: on a database that already holds the schema it adds only what
-- is missing and never drops or rewrites data.

create schema if not exists storage;

create table if not exists storage.buckets (
    id text primary key,
    name text not null,
    owner uuid,
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);
alter table storage.buckets add column if not exists public boolean default false;
alter table storage.buckets add column if not exists avif_autodetection boolean default false;
alter table storage.buckets add column if not exists file_size_limit bigint;
alter table storage.buckets add column if not exists allowed_mime_types text[];
alter table storage.buckets add column if not exists owner_id text;

do $$
begin
    if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                   where n.nspname = 'storage' and t.typname = 'buckettype') then
        create type storage.buckettype as enum ('STANDARD', 'ANALYTICS', 'VECTOR');
    end if;
end $$;
alter table storage.buckets add column if not exists type storage.buckettype not null default 'STANDARD';

create unique index if not exists bname on storage.buckets using btree (name);

create table if not exists storage.objects (
    id uuid primary key default gen_random_uuid(),
    bucket_id text,
    name text,
    owner uuid,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    last_accessed_at timestamptz default now(),
    metadata jsonb
);
alter table storage.objects add column if not exists path_tokens text[]
    generated always as (string_to_array(name, '/')) stored;
alter table storage.objects add column if not exists version text;
alter table storage.objects add column if not exists owner_id text;
alter table storage.objects add column if not exists user_metadata jsonb;

do $$
begin
    if not exists (select 1 from pg_constraint where conname = 'objects_bucketId_fkey'
                   and conrelid = 'storage.objects'::regclass) then
        alter table storage.objects add constraint "objects_bucketId_fkey"
            foreign key (bucket_id) references storage.buckets (id);
    end if;
end $$;

create unique index if not exists bucketid_objname on storage.objects using btree (bucket_id, name);
create index if not exists idx_objects_bucket_id_name on storage.objects (bucket_id, name collate "C");
create index if not exists idx_objects_bucket_id_name_lower on storage.objects (bucket_id, lower(name) collate "C");
create index if not exists name_prefix_search on storage.objects using btree (name text_pattern_ops);

create table if not exists storage.s3_multipart_uploads (
    id text primary key,
    in_progress_size bigint not null default 0,
    upload_signature text not null,
    bucket_id text not null references storage.buckets (id),
    key text collate "C" not null,
    version text not null,
    owner_id text,
    created_at timestamptz not null default now()
);
alter table storage.s3_multipart_uploads add column if not exists user_metadata jsonb;
alter table storage.s3_multipart_uploads add column if not exists metadata jsonb;
create index if not exists idx_multipart_uploads_list
    on storage.s3_multipart_uploads using btree (bucket_id, key, created_at);

create table if not exists storage.s3_multipart_uploads_parts (
    id uuid primary key default gen_random_uuid(),
    upload_id text not null references storage.s3_multipart_uploads (id) on delete cascade,
    size bigint not null default 0,
    part_number integer not null,
    bucket_id text not null references storage.buckets (id),
    key text collate "C" not null,
    etag text not null,
    owner_id text,
    version text not null,
    created_at timestamptz not null default now()
);
