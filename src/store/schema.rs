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
    }
}

diesel::table! {
    scim_directories (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        created_at -> Timestamp,
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

diesel::allow_tables_to_appear_in_same_query!(
    orgs,
    workspaces,
    scim_directories,
    users,
    identities,
    groups,
    group_members,
    api_keys,
    audit_events,
);
