//! Write-side normalisation of the bodies Okta and Entra POST, and
//! projection per RFC 7644 §3.4.2.5 / §3.9.

use serde_json::json;

use super::*;
use crate::scim::ScimType;
use crate::scim::schema::{GROUP, USER, urn};

macro_rules! fixture {
    ($path:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!(
            "../../../tests/fixtures/scim/",
            $path
        )))
        .expect($path)
    };
}

fn normalize(input: Value, rt: &ResourceTypeDef) -> Normalized {
    normalize_for_write(input, rt).unwrap_or_else(|e| panic!("{e}"))
}

fn refused(input: Value, rt: &ResourceTypeDef) -> ScimError {
    normalize_for_write(input, rt).expect_err("the body should be refused")
}

// --- normalisation ---------------------------------------------------------

#[test]
fn okta_create_user_drops_password_and_groups() {
    let n = normalize(fixture!("okta/create_user.json"), &USER);
    assert!(n.password_supplied);
    assert_eq!(n.members, None);
    assert_eq!(
        n.doc,
        json!({
            "schemas": [urn::USER],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "active": true
        })
    );
    let keys: Vec<&String> = n.doc.as_object().unwrap().keys().collect();
    assert_eq!(keys[0], "schemas");
    assert_eq!(
        keys[1], "userName",
        "attributes keep the order they came in"
    );
}

#[test]
fn entra_create_user_keeps_the_enterprise_extension_and_drops_meta() {
    let n = normalize(fixture!("entra/create_user.json"), &USER);
    assert!(!n.password_supplied);
    let doc = n.doc.as_object().unwrap();
    assert_eq!(doc["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));
    assert!(doc.get("meta").is_none());
    assert!(doc.get("roles").is_none(), "an empty list is unassigned");
    assert_eq!(doc["active"], true);
    assert_eq!(
        doc[urn::ENTERPRISE_USER],
        json!({"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}})
    );
}

#[test]
fn okta_create_group_reports_an_empty_member_list() {
    let n = normalize(fixture!("okta/create_group.json"), &GROUP);
    assert_eq!(n.members, Some(vec![]));
    assert_eq!(
        n.doc,
        json!({"schemas": [urn::GROUP], "displayName": "Test SCIMv2"})
    );
}

#[test]
fn entra_create_group_tolerates_a_foreign_schema_uri() {
    let n = normalize(fixture!("entra/create_group.json"), &GROUP);
    assert_eq!(n.members, None);
    assert_eq!(
        n.doc,
        json!({
            "schemas": [urn::GROUP],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName"
        })
    );
}

#[test]
fn group_members_are_extracted() {
    let n = normalize(
        json!({
            "schemas": [urn::GROUP],
            "displayName": "Tour Guides",
            "members": [
                {"value": "2819c223-7f76-453a-919d-413861904646", "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
                {"value": "902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"},
                {"value": "2819c223-7f76-453a-919d-413861904646"}
            ]
        }),
        &GROUP,
    );
    assert_eq!(
        n.members,
        Some(vec![
            "2819c223-7f76-453a-919d-413861904646".to_owned(),
            "902c246b-6245-4190-8e05-00816be7344a".to_owned()
        ])
    );
    assert!(n.doc.get("members").is_none());
    let e = refused(
        json!({"schemas": [urn::GROUP], "displayName": "x", "members": ["u1"]}),
        &GROUP,
    );
    assert_eq!(e.scim_type, ScimType::InvalidValue);
}

#[test]
fn schemas_must_list_the_core_schema() {
    for input in [
        json!({"userName": "x"}),
        json!({"schemas": urn::USER, "userName": "x"}),
        json!({"schemas": [urn::GROUP], "userName": "x"}),
        json!({"schemas": [urn::ENTERPRISE_USER], "userName": "x"}),
        json!({"schemas": [1], "userName": "x"}),
    ] {
        let e = refused(input.clone(), &USER);
        assert_eq!(e.scim_type, ScimType::InvalidSyntax, "{input}");
    }
    assert_eq!(
        refused(json!(["x"]), &USER).scim_type,
        ScimType::InvalidSyntax
    );
    // Case does not matter for URNs.
    normalize(
        json!({"schemas": ["URN:IETF:params:scim:schemas:core:2.0:user"], "userName": "x"}),
        &USER,
    );
}

#[test]
fn extensions_present_but_not_listed_are_added_to_schemas() {
    let n = normalize(
        json!({
            "schemas": [urn::USER],
            "userName": "x",
            urn::ROLLCALL_USER: {"role": "Admin", "workspaces": ["ops", "OPS", "billing"]}
        }),
        &USER,
    );
    assert_eq!(n.doc["schemas"], json!([urn::USER, urn::ROLLCALL_USER]));
    assert_eq!(
        n.doc[urn::ROLLCALL_USER],
        json!({"role": "Admin", "workspaces": ["ops", "billing"]})
    );
}

#[test]
fn urn_qualified_attributes_at_the_top_level_go_to_their_extension() {
    let n = normalize(
        json!({
            "schemas": [urn::USER],
            "userName": "x",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "R&D",
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "X"
        }),
        &USER,
    );
    assert_eq!(n.doc[urn::ENTERPRISE_USER], json!({"department": "R&D"}));
    assert_eq!(n.doc["displayName"], "X");
}

#[test]
fn names_take_their_schema_spelling_and_values_are_coerced() {
    let n = normalize(
        json!({
            "schemas": [urn::USER],
            "UserName": "Babs",
            "NAME": {"GivenName": "Barbara"},
            "Active": "False",
            "emails": [{"Value": "b@example.com", "Primary": "True"}],
            urn::ENTERPRISE_USER: {"Manager": "m-1", "EMPLOYEENUMBER": "7"}
        }),
        &USER,
    );
    assert_eq!(
        n.doc,
        json!({
            "schemas": [urn::USER, urn::ENTERPRISE_USER],
            "userName": "Babs",
            "name": {"givenName": "Barbara"},
            "active": false,
            "emails": [{"value": "b@example.com", "primary": true}],
            urn::ENTERPRISE_USER: {"manager": {"value": "m-1"}, "employeeNumber": "7"}
        })
    );
}

#[test]
fn read_only_attributes_are_ignored() {
    let n = normalize(
        json!({
            "schemas": [urn::USER],
            "id": "client-chosen",
            "userName": "x",
            "meta": {"resourceType": "User"},
            "groups": [{"value": "g1"}],
            urn::ENTERPRISE_USER: {"manager": {"value": "m-1", "displayName": "Boss"}}
        }),
        &USER,
    );
    assert_eq!(
        n.doc,
        json!({
            "schemas": [urn::USER, urn::ENTERPRISE_USER],
            "userName": "x",
            urn::ENTERPRISE_USER: {"manager": {"value": "m-1"}}
        })
    );
}

#[test]
fn required_attributes_must_be_present_and_non_empty() {
    for input in [
        json!({"schemas": [urn::USER]}),
        json!({"schemas": [urn::USER], "userName": ""}),
        json!({"schemas": [urn::USER], "userName": null}),
    ] {
        let e = refused(input, &USER);
        assert_eq!(e.scim_type, ScimType::InvalidValue);
        assert_eq!(e.detail, "userName is required and must not be empty");
    }
    let e = refused(json!({"schemas": [urn::GROUP], "members": []}), &GROUP);
    assert_eq!(e.detail, "displayName is required and must not be empty");
}

#[test]
fn wrong_types_are_invalid_values() {
    for (input, detail) in [
        (
            json!({"schemas": [urn::USER], "userName": 42}),
            "userName must be a string; got a number",
        ),
        (
            json!({"schemas": [urn::USER], "userName": "x", "active": "yes"}),
            "active must be a boolean (true or false); got a string",
        ),
        (
            json!({"schemas": [urn::USER], "userName": "x", "name": ["a"]}),
            "name is single-valued; got an array",
        ),
        (
            json!({"schemas": [urn::USER], "userName": "x", urn::ROLLCALL_USER: {"workspaces": [1]}}),
            "urn:ietf:params:scim:schemas:extension:rollcall:2.0:User:workspaces must be a string; got a number",
        ),
    ] {
        let e = refused(input, &USER);
        assert_eq!(e.scim_type, ScimType::InvalidValue);
        assert_eq!(e.detail, detail);
    }
    let e = refused(
        json!({"schemas": [urn::USER], "userName": "x", urn::ENTERPRISE_USER: "R&D"}),
        &USER,
    );
    assert_eq!(e.scim_type, ScimType::InvalidSyntax);
}

#[test]
fn unknown_attributes_and_extensions_are_kept_as_received() {
    let custom = "urn:ietf:params:scim:schemas:extension:custom:2.0:User";
    let n = normalize(
        json!({
            "schemas": [urn::USER, custom],
            "userName": "x",
            "Shoe_Size": 38,
            "name": {"givenName": "B", "nickname": "Babs"},
            custom: {"employeeNumber": "99887766", "worksiteId": "180"}
        }),
        &USER,
    );
    assert_eq!(n.doc["Shoe_Size"], 38);
    assert_eq!(n.doc["name"], json!({"givenName": "B", "nickname": "Babs"}));
    assert_eq!(
        n.doc[custom],
        json!({"employeeNumber": "99887766", "worksiteId": "180"})
    );
    assert_eq!(n.doc["schemas"], json!([urn::USER, custom]));
}

// --- projection ------------------------------------------------------------

fn stored_user() -> Value {
    json!({
        "schemas": [urn::USER, urn::ENTERPRISE_USER],
        "id": "2819c223",
        "externalId": "bjensen",
        "userName": "bjensen@example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "password": "should never be here, and never leaves",
        "shoeSize": 38,
        "meta": {"resourceType": "User", "location": "https://example.com/v2/Users/2819c223"},
        urn::ENTERPRISE_USER: {"employeeNumber": "701984", "manager": {"value": "m-1"}}
    })
}

fn list(text: &str) -> Vec<AttrPath> {
    parse_attribute_list(text).unwrap()
}

#[test]
fn by_default_everything_but_never_returned_attributes_is_returned() {
    let out = project(&stored_user(), &USER, &[], &[]);
    let mut expected = stored_user();
    expected.as_object_mut().unwrap().remove("password");
    assert_eq!(out, expected);
}

#[test]
fn attributes_selects_and_always_returned_ones_stay() {
    let out = project(&stored_user(), &USER, &list("userName"), &[]);
    assert_eq!(
        out,
        json!({"schemas": [urn::USER, urn::ENTERPRISE_USER], "id": "2819c223", "userName": "bjensen@example.com"})
    );
}

#[test]
fn attributes_may_select_sub_attributes() {
    let out = project(
        &stored_user(),
        &USER,
        &list("name.givenName, emails.value,meta.location"),
        &[],
    );
    assert_eq!(
        out,
        json!({
            "schemas": [urn::USER, urn::ENTERPRISE_USER],
            "id": "2819c223",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}],
            "meta": {"location": "https://example.com/v2/Users/2819c223"}
        })
    );
}

#[test]
fn attributes_may_be_urn_qualified() {
    let out = project(
        &stored_user(),
        &USER,
        &list(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        ),
        &[],
    );
    assert_eq!(out["userName"], "bjensen@example.com");
    assert_eq!(
        out[urn::ENTERPRISE_USER],
        json!({"manager": {"value": "m-1"}})
    );
    assert!(out.get("emails").is_none());

    let whole = project(&stored_user(), &USER, &list(urn::ENTERPRISE_USER), &[]);
    assert_eq!(
        whole[urn::ENTERPRISE_USER],
        stored_user()[urn::ENTERPRISE_USER]
    );
    assert!(whole.get("userName").is_none());
}

#[test]
fn password_is_never_returned_even_when_asked_for() {
    let out = project(&stored_user(), &USER, &list("password,userName"), &[]);
    assert!(out.get("password").is_none());
}

#[test]
fn excluded_attributes_are_removed_except_always_returned_ones() {
    let out = project(
        &stored_user(),
        &USER,
        &[],
        &list(
            "emails,name.givenName,id,schemas,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber,SHOESIZE",
        ),
    );
    assert!(out.get("emails").is_none());
    assert_eq!(out["name"], json!({"familyName": "Jensen"}));
    assert_eq!(out["id"], "2819c223");
    assert!(out.get("schemas").is_some());
    assert_eq!(
        out[urn::ENTERPRISE_USER],
        json!({"manager": {"value": "m-1"}})
    );
    assert!(out.get("shoeSize").is_none());

    let without_extension = project(&stored_user(), &USER, &[], &list(urn::ENTERPRISE_USER));
    assert!(without_extension.get(urn::ENTERPRISE_USER).is_none());
}

#[test]
fn excluded_members_on_groups() {
    let stored = json!({
        "schemas": [urn::GROUP],
        "id": "g1",
        "displayName": "Tour Guides",
        "members": [{"value": "u1", "display": "Babs"}]
    });
    let out = project(&stored, &GROUP, &[], &list("members"));
    assert_eq!(
        out,
        json!({"schemas": [urn::GROUP], "id": "g1", "displayName": "Tour Guides"})
    );
    let only_ids = project(&stored, &GROUP, &list("members.value"), &[]);
    assert_eq!(only_ids["members"], json!([{"value": "u1"}]));
}

static BADGE_ATTRIBUTES: &[AttributeDef] = &[
    AttributeDef::new("userName", crate::scim::schema::AttrType::String),
    AttributeDef::new("history", crate::scim::schema::AttrType::String)
        .multi_valued()
        .returned(Returned::Request),
];

static BADGE_SCHEMA: SchemaDef = SchemaDef {
    id: "urn:example:badge:1.0:Badge",
    name: "Badge",
    description: "test",
    attributes: BADGE_ATTRIBUTES,
};

static BADGE: ResourceTypeDef = ResourceTypeDef {
    id: "Badge",
    name: "Badge",
    endpoint: "/Badges",
    description: "test",
    schema: &BADGE_SCHEMA,
    extensions: &[],
};

#[test]
fn request_only_attributes_come_back_only_when_asked_for() {
    let stored = json!({"schemas": ["urn:example:badge:1.0:Badge"], "id": "b1", "userName": "x", "history": ["a", "b"]});
    assert!(project(&stored, &BADGE, &[], &[]).get("history").is_none());
    assert_eq!(
        project(&stored, &BADGE, &list("history"), &[])["history"],
        json!(["a", "b"])
    );
}

#[test]
fn attribute_lists_parse_and_report_bad_names() {
    assert_eq!(
        list(" userName , name.givenName,,"),
        vec![
            AttrPath::new("userName"),
            AttrPath::new("name").with_sub("givenName")
        ]
    );
    assert!(list("").is_empty());
    let e = parse_attribute_list("userName,emails[type eq \"work\"]").unwrap_err();
    assert!(e.reason.contains("contains '['"), "{e}");
}
