-- Cache invalidation between gateway nodes (SPEC §5; src/store/notify.rs).
-- Every change that a node's cache could hold a stale copy of is announced on
-- channel `rollcall_invalidate` by these triggers, so changes made by the CLI,
-- by another node or by hand in SQL reach every node alike. Payloads:
--   org:ORG_ID          the org row, or anything its compiled policy is built
--                       from (catalogue, roles, grants, permission sets and
--                       their items, default permissions, workspaces);
--   api_key:ID, scim_token:ID, directory:ID   credentials and directories.
-- Identical notifications of one transaction are delivered once, so seeding
-- an org sends one `org:` message. Users, bindings and memberships are not
-- cached by the nodes and send nothing. Keep migrations/sqlite in step (a
-- single node there: the caches' timer applies).

-- Tables with the org in a column (TG_ARGV[0]: its name).
CREATE FUNCTION rollcall_notify_org() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('rollcall_invalidate', 'org:' || (to_jsonb(OLD) ->> TG_ARGV[0]));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('rollcall_invalidate', 'org:' || (to_jsonb(NEW) ->> TG_ARGV[0]));
    END IF;
    RETURN NULL;
END $$;

-- Rows of a role (role_grants, role_permission_sets): the role's org. When the
-- role itself is being deleted its own trigger has announced the org.
CREATE FUNCTION rollcall_notify_role_org() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    org TEXT;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT org_id INTO org FROM roles WHERE id = OLD.role_id;
        IF org IS NOT NULL THEN
            PERFORM pg_notify('rollcall_invalidate', 'org:' || org);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT org_id INTO org FROM roles WHERE id = NEW.role_id;
        IF org IS NOT NULL THEN
            PERFORM pg_notify('rollcall_invalidate', 'org:' || org);
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- Items of a permission set: the set's org.
CREATE FUNCTION rollcall_notify_set_org() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    org TEXT;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT org_id INTO org FROM permission_sets WHERE id = OLD.set_id;
        IF org IS NOT NULL THEN
            PERFORM pg_notify('rollcall_invalidate', 'org:' || org);
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT org_id INTO org FROM permission_sets WHERE id = NEW.set_id;
        IF org IS NOT NULL THEN
            PERFORM pg_notify('rollcall_invalidate', 'org:' || org);
        END IF;
    END IF;
    RETURN NULL;
END $$;

-- A credential or directory row (TG_ARGV[0]: the payload's kind).
CREATE FUNCTION rollcall_notify_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rollcall_invalidate', TG_ARGV[0] || ':' || OLD.id);
    RETURN NULL;
END $$;

-- An org row: only a real change (the owner lock's `SELECT … FOR UPDATE` and
-- no-op updates send nothing). A new org is in no cache yet.
CREATE TRIGGER orgs_invalidate AFTER UPDATE ON orgs
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION rollcall_notify_org('id');
CREATE TRIGGER orgs_invalidate_delete AFTER DELETE ON orgs
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_org('id');

CREATE TRIGGER workspaces_invalidate AFTER INSERT OR UPDATE OR DELETE ON workspaces
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_org('org_id');
CREATE TRIGGER permissions_invalidate AFTER INSERT OR UPDATE OR DELETE ON permissions
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_org('org_id');
CREATE TRIGGER roles_invalidate AFTER INSERT OR UPDATE OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_org('org_id');
CREATE TRIGGER permission_sets_invalidate AFTER INSERT OR UPDATE OR DELETE ON permission_sets
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_org('org_id');
CREATE TRIGGER org_default_permissions_invalidate
    AFTER INSERT OR UPDATE OR DELETE ON org_default_permissions
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_org('org_id');

CREATE TRIGGER role_grants_invalidate AFTER INSERT OR UPDATE OR DELETE ON role_grants
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_role_org();
CREATE TRIGGER role_permission_sets_invalidate
    AFTER INSERT OR UPDATE OR DELETE ON role_permission_sets
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_role_org();
CREATE TRIGGER permission_set_items_invalidate
    AFTER INSERT OR UPDATE OR DELETE ON permission_set_items
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_set_org();

-- Credentials: revocation or any other change, but not the `last_used_at`
-- stamp written when a node loads the credential (that would make every
-- load evict the credential on every other node).
CREATE TRIGGER api_keys_invalidate AFTER UPDATE ON api_keys
    FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION rollcall_notify_row('api_key');
CREATE TRIGGER api_keys_invalidate_delete AFTER DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_row('api_key');
CREATE TRIGGER scim_tokens_invalidate AFTER UPDATE ON scim_tokens
    FOR EACH ROW WHEN ((to_jsonb(OLD) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW) - 'last_used_at'))
    EXECUTE FUNCTION rollcall_notify_row('scim_token');
CREATE TRIGGER scim_tokens_invalidate_delete AFTER DELETE ON scim_tokens
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_row('scim_token');
CREATE TRIGGER scim_directories_invalidate AFTER UPDATE OR DELETE ON scim_directories
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_row('directory');
