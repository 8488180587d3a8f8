-- The three API roles, granted to the login user so a transaction can switch
-- to them with set_config('role', ...); privileges on the storage tables; RLS
-- enabled everywhere with no policies (the project adds its own).

do $$
declare
    r text;
begin
    foreach r in array array['anon', 'authenticated', 'service_role'] loop
        if not exists (select 1 from pg_roles where rolname = r) then
            execute format('create role %I nologin noinherit', r);
        end if;
        if not pg_has_role(current_user, r, 'MEMBER') then
            execute format('grant %I to %I', r, current_user);
        end if;
    end loop;
    if not (select rolbypassrls from pg_roles where rolname = 'service_role') then
        alter role service_role bypassrls;
    end if;
end $$;

grant usage on schema storage to anon, authenticated, service_role;
grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
grant select on storage.s3_multipart_uploads, storage.s3_multipart_uploads_parts to anon, authenticated;
grant all on storage.s3_multipart_uploads, storage.s3_multipart_uploads_parts to service_role;
grant execute on all functions in schema storage to anon, authenticated, service_role;

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
alter table storage.s3_multipart_uploads enable row level security;
alter table storage.s3_multipart_uploads_parts enable row level security;
alter table storage.migrations enable row level security;
