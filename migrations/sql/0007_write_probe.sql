-- The permission probe of the write path as one statement: the real INSERT
-- (or INSERT ... ON CONFLICT DO UPDATE for an upsert) under the caller's
-- role and policies, always rolled back by the exception block around it.
-- It returns NULL when the write would be allowed, else "<sqlstate>:<message>".
-- SECURITY INVOKER: it can tell a caller nothing it could not learn by
-- writing the row itself.

create or replace function storage.gateway_probe_write(
    p_bucket text, p_name text, p_owner uuid, p_owner_id text,
    p_metadata jsonb, p_user_metadata jsonb, p_upsert boolean)
returns text language plpgsql security invoker as $$
begin
    if p_upsert then
        insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata, version)
        values (p_bucket, p_name, p_owner, p_owner_id, p_metadata, p_user_metadata, '1')
        on conflict (bucket_id, name) do update set
            owner = excluded.owner, owner_id = excluded.owner_id, metadata = excluded.metadata,
            user_metadata = excluded.user_metadata, version = excluded.version;
    else
        insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata, version)
        values (p_bucket, p_name, p_owner, p_owner_id, p_metadata, p_user_metadata, '1');
    end if;
    raise sqlstate 'GWP01';
exception
    when sqlstate 'GWP01' then
        return null;
    when others then
        return sqlstate || ':' || sqlerrm;
end
$$;
grant execute on function storage.gateway_probe_write(text, text, uuid, text, jsonb, jsonb, boolean)
    to anon, authenticated, service_role;
