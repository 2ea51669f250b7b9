//! Table definitions, written by hand with the SQL types PostgreSQL and SQLite
//! share (see `migrations/README.md`). Keep in step with the migrations.

diesel::table! {
    orgs (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        settings -> Text,
        policy_version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    workspaces (id) {
        id -> Text,
        org_id -> Text,
        slug -> Text,
        name -> Text,
        created_at -> Timestamp,
        parent_id -> Nullable<Text>,
    }
}

diesel::table! {
    org_domains (org_id, domain) {
        org_id -> Text,
        domain -> Text,
        challenge -> Text,
        created_at -> Timestamp,
        verified_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    item_types (org_id, key) {
        org_id -> Text,
        key -> Text,
        name -> Text,
        fields -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    scim_directories (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        created_at -> Timestamp,
        ceiling_roles -> Text,
        ceiling_workspaces -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        org_id -> Text,
        user_name -> Text,
        user_name_lower -> Text,
        email -> Nullable<Text>,
        email_lower -> Nullable<Text>,
        given_name -> Nullable<Text>,
        family_name -> Nullable<Text>,
        display_name -> Nullable<Text>,
        external_id -> Nullable<Text>,
        directory_id -> Nullable<Text>,
        status -> Text,
        source -> Text,
        scim -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deprovisioned_at -> Nullable<Timestamp>,
        workspaces_restricted -> Bool,
        home_workspace_id -> Nullable<Text>,
        access -> Text,
        display_name_lower -> Nullable<Text>,
        given_name_lower -> Nullable<Text>,
        family_name_lower -> Nullable<Text>,
    }
}

diesel::table! {
    identities (id) {
        id -> Text,
        org_id -> Text,
        user_id -> Text,
        connection_id -> Text,
        issuer -> Text,
        subject -> Text,
        email -> Nullable<Text>,
        created_at -> Timestamp,
        last_seen_at -> Nullable<Timestamp>,
        /// JSON array: the groups the IdP sent at the last login.
        groups -> Text,
    }
}

diesel::table! {
    groups (id) {
        id -> Text,
        org_id -> Text,
        directory_id -> Nullable<Text>,
        display_name -> Text,
        display_name_lower -> Text,
        external_id -> Nullable<Text>,
        scim -> Text,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        org_id -> Nullable<Text>,
        name -> Text,
        role_key -> Nullable<Text>,
        instance_admin -> Bool,
        secret_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        user_id -> Nullable<Text>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        org_id -> Nullable<Text>,
        occurred_at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        actor_label -> Text,
        action -> Text,
        target_kind -> Text,
        target_id -> Nullable<Text>,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
        request_id -> Nullable<Text>,
    }
}

diesel::joinable!(workspaces -> orgs (org_id));
diesel::joinable!(scim_directories -> orgs (org_id));
diesel::joinable!(users -> orgs (org_id));
diesel::joinable!(identities -> users (user_id));
diesel::joinable!(groups -> orgs (org_id));
diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(group_members -> users (user_id));

diesel::table! {
    permissions (org_id, key) {
        org_id -> Text,
        key -> Text,
        position -> Integer,
        definition -> Text,
    }
}

diesel::table! {
    roles (id) {
        id -> Text,
        org_id -> Text,
        key -> Text,
        name -> Text,
        description -> Text,
        builtin -> Bool,
        binds_at -> Text,
        visibility -> Text,
        anonymized -> Bool,
        owner -> Bool,
        attributes -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        inherits_to_children -> Bool,
        item_restrictions -> Text,
    }
}

diesel::table! {
    role_grants (role_id, permission) {
        role_id -> Text,
        permission -> Text,
        effect -> Text,
    }
}

diesel::table! {
    permission_sets (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        description -> Text,
        application -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    permission_set_items (set_id, permission) {
        set_id -> Text,
        permission -> Text,
    }
}

diesel::table! {
    role_permission_sets (role_id, set_id) {
        role_id -> Text,
        set_id -> Text,
    }
}

diesel::table! {
    user_permission_sets (user_id, set_id) {
        user_id -> Text,
        set_id -> Text,
    }
}

diesel::table! {
    org_default_permissions (org_id, permission) {
        org_id -> Text,
        permission -> Text,
    }
}

diesel::table! {
    group_mappings (id) {
        id -> Text,
        org_id -> Text,
        source_kind -> Text,
        source_id -> Text,
        group_key -> Text,
        role_id -> Text,
        workspaces -> Text,
        priority -> Integer,
        created_at -> Timestamp,
    }
}

diesel::table! {
    bindings (id) {
        id -> Text,
        org_id -> Text,
        user_id -> Nullable<Text>,
        group_id -> Nullable<Text>,
        role_id -> Text,
        scope_kind -> Text,
        workspace_id -> Nullable<Text>,
        resource_type -> Nullable<Text>,
        resource_id -> Nullable<Text>,
        source -> Text,
        mapping_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_overrides (id) {
        id -> Text,
        org_id -> Text,
        user_id -> Text,
        permission -> Text,
        effect -> Text,
        scope_kind -> Text,
        workspace_id -> Nullable<Text>,
        resource_type -> Nullable<Text>,
        resource_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_workspaces (user_id, workspace_id) {
        user_id -> Text,
        workspace_id -> Text,
    }
}

diesel::joinable!(roles -> orgs (org_id));
diesel::joinable!(role_grants -> roles (role_id));
diesel::joinable!(permission_set_items -> permission_sets (set_id));
diesel::joinable!(role_permission_sets -> roles (role_id));
diesel::joinable!(role_permission_sets -> permission_sets (set_id));
diesel::joinable!(user_permission_sets -> permission_sets (set_id));
diesel::joinable!(bindings -> roles (role_id));
diesel::joinable!(group_mappings -> roles (role_id));
diesel::joinable!(user_overrides -> users (user_id));
diesel::joinable!(user_workspaces -> users (user_id));
diesel::joinable!(user_workspaces -> workspaces (workspace_id));

diesel::allow_tables_to_appear_in_same_query!(
    orgs,
    workspaces,
    item_types,
    org_domains,
    scim_directories,
    identities,
    audit_events,
    users,
    groups,
    group_members,
    api_keys,
    scim_tokens,
    scim_values,
    permissions,
    roles,
    role_grants,
    permission_sets,
    permission_set_items,
    role_permission_sets,
    user_permission_sets,
    org_default_permissions,
    group_mappings,
    bindings,
    user_overrides,
    user_workspaces,
    sessions,
    invites,
    outbox,
    login_links,
    idempotency_keys,
    bulk_jobs,
    idp_connections,
    sso_logins,
    saml_assertion_ids,
);

diesel::table! {
    idp_connections (id) {
        id -> Text,
        org_id -> Text,
        kind -> Text,
        name -> Text,
        config -> Text,
        secret -> Nullable<Binary>,
        trusted_domains -> Text,
        enabled -> Bool,
        owner_approved -> Bool,
        created_by -> Nullable<Text>,
        metadata_url -> Nullable<Text>,
        metadata_refreshed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sso_logins (id) {
        id -> Text,
        org_id -> Text,
        connection_id -> Text,
        request_id -> Nullable<Text>,
        nonce -> Nullable<Text>,
        pkce_verifier -> Nullable<Text>,
        browser_hash -> Nullable<Text>,
        return_to -> Nullable<Text>,
        purpose -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        consumed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    saml_assertion_ids (issuer, assertion_id) {
        issuer -> Text,
        assertion_id -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    scim_tokens (id) {
        id -> Text,
        directory_id -> Text,
        name -> Text,
        secret_hash -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    scim_values (resource_id, attr, value) {
        resource_id -> Text,
        directory_id -> Text,
        attr -> Text,
        #[sql_name = "type"]
        value_type -> Nullable<Text>,
        value -> Text,
        value_lower -> Text,
        is_primary -> Bool,
    }
}

diesel::joinable!(scim_tokens -> scim_directories (directory_id));

diesel::table! {
    identifier_key_state (id) {
        id -> BigInt,
        version -> BigInt,
    }
}

diesel::table! {
    user_key_collisions (user_id, field) {
        user_id -> Text,
        org_id -> Text,
        field -> Text,
        comparison_key -> Text,
    }
}

diesel::table! {
    org_preset_sync (org_id) {
        org_id -> Text,
        preset -> Text,
        fingerprint -> Text,
        synced_at -> Timestamp,
    }
}

diesel::table! {
    invites (id) {
        id -> Text,
        org_id -> Text,
        user_id -> Text,
        email -> Text,
        name -> Nullable<Text>,
        role_id -> Nullable<Text>,
        workspaces -> Nullable<Text>,
        invited_by -> Text,
        status -> Text,
        token_id -> Text,
        token_hash -> Text,
        message_id -> Nullable<Text>,
        sends -> BigInt,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        org_id -> Nullable<Text>,
        kind -> Text,
        ref_id -> Nullable<Text>,
        sender -> Text,
        recipient -> Text,
        message_id -> Text,
        body -> Nullable<Binary>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        claimed_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        org_id -> Text,
        user_id -> Text,
        secret_hash -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
        method -> Text,
        connection_id -> Nullable<Text>,
        idp_name_id -> Nullable<Text>,
        idp_session_index -> Nullable<Text>,
        pending -> Nullable<Text>,
    }
}

diesel::table! {
    login_links (id) {
        id -> Text,
        org_id -> Text,
        user_id -> Text,
        secret_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (org_id, key) {
        org_id -> Text,
        key -> Text,
        request_hash -> Text,
        status -> Integer,
        response -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    bulk_jobs (id) {
        id -> Text,
        org_id -> Text,
        actor -> Text,
        request_id -> Nullable<Text>,
        atomic -> Bool,
        replace_pending -> Bool,
        rows -> Text,
        total -> BigInt,
        done -> BigInt,
        results -> Text,
        status -> Text,
        claimed_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}
