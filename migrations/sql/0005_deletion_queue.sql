-- The durable queue of bytes to delete. A trigger queues the bytes of every
-- object version that a row stops pointing at (the row deleted, or replaced
-- by a new version), in the same transaction as the change, whichever role
-- made it: a crash can never lose a deletion, and a committed row's bytes are
-- never queued. The server's reclaimer and `storage sweep` drain the queue.
-- Rows with backend_key set name raw backend keys (bytes of failed writes).

create table if not exists storage.gateway_deletions (
    id bigint generated always as identity primary key,
    bucket_id text,
    name text,
    version text,
    backend_key text,
    not_before timestamptz not null default now(),
    attempts integer not null default 0,
    created_at timestamptz not null default now()
);
create index if not exists gateway_deletions_due on storage.gateway_deletions (not_before);
alter table storage.gateway_deletions enable row level security;
grant all on storage.gateway_deletions to service_role;

create or replace function storage.gateway_queue_old_version()
returns trigger language plpgsql security definer set search_path = '' as $$
begin
    if old.version is not null and old.version <> ''
       and (tg_op = 'DELETE' or old.version is distinct from new.version
            or old.name is distinct from new.name or old.bucket_id is distinct from new.bucket_id) then
        insert into storage.gateway_deletions (bucket_id, name, version)
        values (old.bucket_id, old.name, old.version);
    end if;
    return null;
end
$$;
revoke all on function storage.gateway_queue_old_version() from public;

do $$
begin
    if not exists (select 1 from pg_trigger where tgname = 'gateway_queue_old_version'
                   and tgrelid = 'storage.objects'::regclass) then
        create trigger gateway_queue_old_version after update or delete on storage.objects
            for each row execute function storage.gateway_queue_old_version();
    end if;
end $$;
