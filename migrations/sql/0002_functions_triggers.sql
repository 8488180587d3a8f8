-- Helper functions for policies and RPC callers, and the triggers of
-- Supabase's schema. create or replace keeps them current without touching data.

create or replace function storage.foldername(name text)
returns text[] language plpgsql immutable as $$
declare
    _parts text[];
begin
    select string_to_array(name, '/') into _parts;
    return _parts[1:array_length(_parts, 1) - 1];
end
$$;

create or replace function storage.filename(name text)
returns text language plpgsql immutable as $$
declare
    _parts text[];
begin
    select string_to_array(name, '/') into _parts;
    return _parts[array_length(_parts, 1)];
end
$$;

create or replace function storage.extension(name text)
returns text language plpgsql immutable as $$
declare
    _parts text[];
    _filename text;
begin
    select string_to_array(name, '/') into _parts;
    select _parts[array_length(_parts, 1)] into _filename;
    return reverse(split_part(reverse(_filename), '.', 1));
end
$$;

create or replace function storage.get_size_by_bucket()
returns table (size bigint, bucket_id text) language plpgsql stable as $$
begin
    return query
        select sum((metadata->>'size')::bigint)::bigint as size, obj.bucket_id
        from storage.objects as obj
        group by obj.bucket_id;
end
$$;

create or replace function storage.operation()
returns text language plpgsql stable as $$
begin
    return current_setting('storage.operation', true);
end
$$;

create or replace function storage.allow_only_operation(expected_operation text)
returns boolean language sql stable as $$
    select regexp_replace(coalesce(current_setting('storage.operation', true), ''), '^storage\.', '')
         = regexp_replace(expected_operation, '^storage\.', '');
$$;

create or replace function storage.allow_any_operation(expected_operations text[])
returns boolean language sql stable as $$
    select regexp_replace(coalesce(current_setting('storage.operation', true), ''), '^storage\.', '')
         = any (select regexp_replace(op, '^storage\.', '') from unnest(expected_operations) as op);
$$;

create or replace function storage.update_updated_at_column()
returns trigger language plpgsql as $$
begin
    new.updated_at = now();
    return new;
end
$$;

create or replace function storage.enforce_bucket_name_length()
returns trigger language plpgsql as $$
begin
    if length(new.name) > 100 then
        raise exception 'bucket name "%" is too long (% characters). Max is 100.', new.name, length(new.name);
    end if;
    return new;
end
$$;

create or replace function storage.protect_delete()
returns trigger language plpgsql as $$
begin
    if coalesce(current_setting('storage.allow_delete_query', true), 'false') <> 'true' then
        raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
            using hint = 'This prevents accidental data loss from orphaned objects.',
                  errcode = '42501';
    end if;
    return null;
end
$$;

do $$
begin
    if not exists (select 1 from pg_trigger where tgname = 'update_objects_updated_at'
                   and tgrelid = 'storage.objects'::regclass) then
        create trigger update_objects_updated_at before update on storage.objects
            for each row execute function storage.update_updated_at_column();
    end if;
    if not exists (select 1 from pg_trigger where tgname = 'enforce_bucket_name_length_trigger'
                   and tgrelid = 'storage.buckets'::regclass) then
        create trigger enforce_bucket_name_length_trigger
            before insert or update of name on storage.buckets
            for each row execute function storage.enforce_bucket_name_length();
    end if;
    if not exists (select 1 from pg_trigger where tgname = 'protect_buckets_delete'
                   and tgrelid = 'storage.buckets'::regclass) then
        create trigger protect_buckets_delete before delete on storage.buckets
            for each statement execute function storage.protect_delete();
    end if;
    if not exists (select 1 from pg_trigger where tgname = 'protect_objects_delete'
                   and tgrelid = 'storage.objects'::regclass) then
        create trigger protect_objects_delete before delete on storage.objects
            for each statement execute function storage.protect_delete();
    end if;
end $$;
