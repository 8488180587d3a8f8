-- The durable queue of backend keys whose bytes are to be deleted: a replaced
-- or deleted object's version is queued in the same transaction that changes
-- its row, so a crash can never lose the deletion. The sweeper drains it.

create table if not exists storage.gateway_deletions (
    id bigint generated always as identity primary key,
    backend_key text not null,
    not_before timestamptz not null default now(),
    attempts integer not null default 0,
    created_at timestamptz not null default now()
);
create index if not exists gateway_deletions_due on storage.gateway_deletions (not_before);
alter table storage.gateway_deletions enable row level security;
grant all on storage.gateway_deletions to service_role;
