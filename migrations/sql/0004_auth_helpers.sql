-- auth.uid(), auth.role() and auth.jwt(), as the Supabase Postgres image
-- provides them, created only where they are missing so an existing Supabase
-- database keeps its own definitions.

create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

do $$
begin
    if not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                   where n.nspname = 'auth' and p.proname = 'uid') then
        create function auth.uid() returns uuid language sql stable as $f$
            select coalesce(
                nullif(current_setting('request.jwt.claim.sub', true), ''),
                (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
            )::uuid
        $f$;
    end if;
    if not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                   where n.nspname = 'auth' and p.proname = 'role') then
        create function auth.role() returns text language sql stable as $f$
            select coalesce(
                nullif(current_setting('request.jwt.claim.role', true), ''),
                (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
            )::text
        $f$;
    end if;
    if not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                   where n.nspname = 'auth' and p.proname = 'jwt') then
        create function auth.jwt() returns jsonb language sql stable as $f$
            select coalesce(
                nullif(current_setting('request.jwt.claim', true), ''),
                nullif(current_setting('request.jwt.claims', true), '')
            )::jsonb
        $f$;
    end if;
end $$;

grant execute on all functions in schema auth to anon, authenticated, service_role;
