//! PATCH behaviour: the RFC 7644 §3.5.2 examples, then the request shapes
//! Okta and Microsoft Entra ID send (stored as fixtures under
//! `tests/fixtures/scim/`), then the error cases.

use serde_json::json;

use super::*;
use crate::scim::ScimType;
use crate::scim::schema::{GROUP, USER};

macro_rules! fixture {
    ($path:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!(
            "../../../tests/fixtures/scim/",
            $path
        )))
        .expect($path)
    };
}

const BABS: &str = "2819c223-7f76-453a-919d-413861904646";
const MANAGER: &str = "26118915-6090-4610-87e4-49d8ca9f808d";
const GROUP_ID: &str = "6c5bb468-14b2-4183-baf2-06d523e03bd3";

fn body(operations: Value) -> Value {
    json!({"schemas": [urn::PATCH_OP], "Operations": operations})
}

fn run(
    resource: &mut Value,
    body: &Value,
    rt: &ResourceTypeDef,
) -> Result<PatchOutcome, ScimError> {
    let request = PatchRequest::parse(body)?;
    apply(resource, &request, rt)
}

fn ok(resource: &mut Value, body: &Value, rt: &ResourceTypeDef) -> PatchOutcome {
    run(resource, body, rt).unwrap_or_else(|e| panic!("{e}"))
}

fn fails(resource: &mut Value, body: &Value, rt: &ResourceTypeDef) -> ScimError {
    let before = resource.clone();
    let e = run(resource, body, rt).expect_err("the patch should fail");
    assert_eq!(
        *resource, before,
        "a failed patch must leave the resource untouched"
    );
    e
}

/// A stored user, shaped after RFC 7643 §8.2.
fn babs() -> Value {
    json!({
        "schemas": [urn::USER, urn::ENTERPRISE_USER],
        "id": BABS,
        "externalId": "bjensen",
        "userName": "bjensen@example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara", "formatted": "Ms. Barbara J Jensen III"},
        "displayName": "Babs Jensen",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "addresses": [
            {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "USA", "primary": true},
            {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "USA"}
        ],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34Z",
            "location": format!("https://example.com/v2/Users/{BABS}")
        },
        urn::ENTERPRISE_USER: {"employeeNumber": "701984", "manager": {"value": MANAGER}}
    })
}

/// A user as Entra first creates it: no emails, no extension.
fn fresh_user() -> Value {
    json!({
        "schemas": [urn::USER],
        "id": "5171a35d82074e068ce2",
        "userName": "Test_User_ab6490ee@testuser.com",
        "active": true
    })
}

fn group() -> Value {
    json!({
        "schemas": [urn::GROUP],
        "id": GROUP_ID,
        "displayName": "Engineering",
        "meta": {"resourceType": "Group", "created": "2024-01-01T00:00:00Z"}
    })
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

// --- request parsing -------------------------------------------------------

#[test]
fn parses_operations_in_any_casing() {
    let req = PatchRequest::parse(&json!({
        "schemas": ["URN:ietf:params:scim:api:messages:2.0:PatchOp"],
        "operations": [
            {"op": "Replace", "path": "title", "value": "x"},
            {"OP": "ADD", "Path": "nickName", "Value": "y"},
            {"op": "remove", "path": "  emails[type eq \"home\"]  "}
        ]
    }))
    .unwrap();
    let kinds: Vec<PatchOp> = req.operations.iter().map(|o| o.op).collect();
    assert_eq!(kinds, [PatchOp::Replace, PatchOp::Add, PatchOp::Remove]);
    assert_eq!(req.operations[1].value, Some(json!("y")));
    assert_eq!(
        req.operations[2].path.as_ref().unwrap().to_string(),
        "emails[type eq \"home\"]"
    );
}

#[test]
fn a_patch_body_must_be_a_patch_op() {
    let e =
        PatchRequest::parse(&json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}))
            .unwrap_err();
    assert_eq!(e.scim_type, ScimType::InvalidSyntax);
    assert_eq!(e.detail, format!("schemas must list {}", urn::PATCH_OP));

    let e = PatchRequest::parse(&body(json!([]))).unwrap_err();
    assert_eq!(e.scim_type, ScimType::InvalidSyntax);
    assert_eq!(e.detail, "Operations must be a non-empty array");

    let e = PatchRequest::parse(&json!([1])).unwrap_err();
    assert_eq!(e.scim_type, ScimType::InvalidSyntax);
}

#[test]
fn operations_are_checked_one_by_one() {
    let e = PatchRequest::parse(&body(json!([
        {"op": "add", "path": "title", "value": "x"},
        {"op": "merge", "path": "title", "value": "x"}
    ])))
    .unwrap_err();
    assert_eq!(e.scim_type, ScimType::InvalidSyntax);
    assert_eq!(
        e.detail,
        "operation 2: op must be \"add\", \"remove\" or \"replace\"; got \"merge\""
    );

    let e = PatchRequest::parse(&body(json!([{"op": "remove"}]))).unwrap_err();
    assert_eq!(e.scim_type, ScimType::NoTarget);

    let e = PatchRequest::parse(&body(json!([{"op": "replace", "path": "title"}]))).unwrap_err();
    assert_eq!(e.scim_type, ScimType::InvalidSyntax);
    assert_eq!(e.detail, "operation 1: replace requires a value");

    let e = PatchRequest::parse(&body(
        json!([{"op": "add", "path": "1title", "value": "x"}]),
    ))
    .unwrap_err();
    assert_eq!(e.scim_type, ScimType::InvalidPath);

    let e = PatchRequest::parse(&body(
        json!([{"op": "add", "path": "emails[type eq]", "value": "x"}]),
    ))
    .unwrap_err();
    assert_eq!(e.scim_type, ScimType::InvalidFilter);

    let e = PatchRequest::parse(&body(
        json!([{"op": "add", "path": "emails[type eq \"work\"]x", "value": "x"}]),
    ))
    .unwrap_err();
    assert_eq!(e.scim_type, ScimType::InvalidPath);
}

#[test]
fn patch_paths_print_as_they_parse() {
    for text in [
        "userName",
        "name.givenName",
        "emails[type eq \"work\"].value",
        "members[value eq \"a\" or value eq \"b\"]",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    ] {
        assert_eq!(PatchPath::parse(text).unwrap().to_string(), text);
    }
}

// --- RFC 7644 §3.5.2.1: add ------------------------------------------------

#[test]
fn rfc_add_member_to_a_group() {
    let mut g = group();
    let out = ok(
        &mut g,
        &body(json!([{
            "op": "add",
            "path": "members",
            "value": [{"display": "Babs Jensen", "$ref": format!("https://example.com/v2/Users/{BABS}"), "value": BABS}]
        }])),
        &GROUP,
    );
    assert_eq!(out.members.add, ids(&[BABS]));
    assert!(out.members.remove.is_empty() && out.members.replace_all.is_none());
    assert!(!out.changed);
    assert_eq!(g, group(), "members never enter the group document");
}

#[test]
fn rfc_pathless_add_appends_and_canonicalises_names() {
    let mut u = babs();
    let out = ok(
        &mut u,
        &body(json!([{
            "op": "add",
            "value": {
                "emails": [{"value": "babs@jensen.org", "type": "home"}, {"value": "barbara@example.net", "type": "other"}],
                "nickname": "Babs"
            }
        }])),
        &USER,
    );
    assert!(out.changed);
    assert_eq!(u["nickName"], "Babs");
    assert!(u.get("nickname").is_none());
    let emails = u["emails"].as_array().unwrap();
    assert_eq!(
        emails.len(),
        3,
        "the home address already existed: {emails:?}"
    );
    assert_eq!(
        emails[2],
        json!({"value": "barbara@example.net", "type": "other"})
    );
}

#[test]
fn add_to_a_single_valued_attribute_replaces_it() {
    let mut u = babs();
    ok(
        &mut u,
        &body(json!([{"op": "add", "path": "displayName", "value": "Barbara"}])),
        &USER,
    );
    assert_eq!(u["displayName"], "Barbara");
}

#[test]
fn add_of_an_equal_value_updates_it_instead_of_duplicating() {
    let mut u = babs();
    ok(
        &mut u,
        &body(
            json!([{"op": "add", "path": "emails", "value": [{"value": "BJensen@Example.com", "type": "Work", "display": "Work mail"}]}]),
        ),
        &USER,
    );
    let emails = u["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 2);
    assert_eq!(emails[0]["display"], "Work mail");
    assert_eq!(emails[0]["primary"], true);
}

#[test]
fn setting_primary_on_one_value_clears_it_on_the_others() {
    let mut u = babs();
    ok(
        &mut u,
        &body(
            json!([{"op": "add", "path": "emails", "value": {"value": "new@example.com", "type": "other", "primary": true}}]),
        ),
        &USER,
    );
    let emails = u["emails"].as_array().unwrap();
    assert_eq!(emails[0]["primary"], false);
    assert_eq!(emails[2]["primary"], true);

    ok(
        &mut u,
        &body(
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
        ),
        &USER,
    );
    let primaries: Vec<&Value> = u["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["primary"] == true)
        .collect();
    assert_eq!(
        primaries,
        [&json!({"value": "babs@jensen.org", "type": "home", "primary": true})]
    );
}

#[test]
fn two_primary_values_in_one_operation_are_invalid() {
    let mut u = babs();
    let e = fails(
        &mut u,
        &body(json!([{"op": "replace", "path": "emails", "value": [
            {"value": "a@example.com", "primary": true},
            {"value": "b@example.com", "primary": true}
        ]}])),
        &USER,
    );
    assert_eq!(e.scim_type, ScimType::InvalidValue);
}

// --- RFC 7644 §3.5.2.2: remove ---------------------------------------------

#[test]
fn rfc_remove_a_single_member() {
    let mut g = group();
    let out = ok(
        &mut g,
        &body(json!([{"op": "remove", "path": format!("members[value eq \"{BABS}\"]")}])),
        &GROUP,
    );
    assert_eq!(out.members.remove, ids(&[BABS]));
}

#[test]
fn rfc_remove_all_members() {
    let mut g = group();
    let out = ok(
        &mut g,
        &body(json!([{"op": "remove", "path": "members"}])),
        &GROUP,
    );
    assert_eq!(out.members.replace_all, Some(vec![]));
}

#[test]
fn rfc_remove_values_selected_by_a_filter() {
    let mut u = babs();
    ok(
        &mut u,
        &body(
            json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
        ),
        &USER,
    );
    assert_eq!(
        u["emails"],
        json!([{"value": "babs@jensen.org", "type": "home"}])
    );

    ok(
        &mut u,
        &body(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])),
        &USER,
    );
    assert!(u.get("emails").is_none(), "no values left means unassigned");
}

#[test]
fn rfc_replace_all_members_with_remove_then_add() {
    let mut g = group();
    let out = ok(
        &mut g,
        &body(json!([
            {"op": "remove", "path": "members"},
            {"op": "add", "path": "members", "value": [{"display": "Babs Jensen", "value": BABS}, {"display": "James Smith", "value": "08e1d05d-121c-4561-8b96-473d93df9210"}]}
        ])),
        &GROUP,
    );
    assert_eq!(
        out.members.replace_all,
        Some(ids(&[BABS, "08e1d05d-121c-4561-8b96-473d93df9210"]))
    );
    assert!(out.members.add.is_empty());
}

#[test]
fn removing_a_value_that_is_not_there_is_a_no_op() {
    let mut u = babs();
    let out = ok(
        &mut u,
        &body(json!([{"op": "remove", "path": "emails[type eq \"pager\"]"}])),
        &USER,
    );
    assert!(!out.changed);
    let out = ok(
        &mut u,
        &body(json!([{"op": "remove", "path": "nickName"}])),
        &USER,
    );
    assert!(!out.changed);
    assert_eq!(u, babs());
}

#[test]
fn remove_of_a_sub_attribute() {
    let mut u = babs();
    ok(
        &mut u,
        &body(json!([{"op": "remove", "path": "name.formatted"}])),
        &USER,
    );
    assert_eq!(
        u["name"],
        json!({"familyName": "Jensen", "givenName": "Barbara"})
    );
    ok(
        &mut u,
        &body(json!([{"op": "remove", "path": "addresses[type eq \"work\"].region"}])),
        &USER,
    );
    assert!(u["addresses"][0].get("region").is_none());
    assert_eq!(u["addresses"][1]["region"], "CA");
}

#[test]
fn remove_of_required_attributes_is_refused() {
    let mut u = babs();
    let e = fails(
        &mut u,
        &body(json!([{"op": "remove", "path": "userName"}])),
        &USER,
    );
    assert_eq!(e.scim_type, ScimType::InvalidValue);
    assert_eq!(e.detail, "userName is required and cannot be removed");
    let mut g = group();
    let e = fails(
        &mut g,
        &body(json!([{"op": "replace", "path": "displayName", "value": ""}])),
        &GROUP,
    );
    assert_eq!(e.scim_type, ScimType::InvalidValue);
}

// --- RFC 7644 §3.5.2.3: replace --------------------------------------------

#[test]
fn rfc_replace_all_members() {
    let mut g = group();
    let out = ok(
        &mut g,
        &body(
            json!([{"op": "replace", "path": "members", "value": [{"display": "Babs Jensen", "value": BABS}]}]),
        ),
        &GROUP,
    );
    assert_eq!(out.members.replace_all, Some(ids(&[BABS])));
}

#[test]
fn rfc_replace_a_value_selected_by_a_filter() {
    let mut u = babs();
    ok(
        &mut u,
        &body(json!([{
            "op": "replace",
            "path": "addresses[type eq \"work\"]",
            "value": {"type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "US", "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US", "primary": true}
        }])),
        &USER,
    );
    assert_eq!(
        u["addresses"][0]["streetAddress"],
        "911 Universal City Plaza"
    );
    assert_eq!(u["addresses"][0]["country"], "US");
    assert_eq!(u["addresses"][1]["streetAddress"], "456 Hollywood Blvd");
}

#[test]
fn rfc_replace_a_sub_attribute_of_selected_values() {
    let mut u = babs();
    ok(
        &mut u,
        &body(
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
        ),
        &USER,
    );
    assert_eq!(u["addresses"][0]["streetAddress"], "1010 Broadway Ave");
    assert_eq!(u["addresses"][0]["locality"], "Hollywood");
}

#[test]
fn rfc_pathless_replace_replaces_the_listed_attributes() {
    let mut u = babs();
    ok(
        &mut u,
        &body(json!([{
            "op": "replace",
            "value": {"emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}], "nickname": "Babs"}
        }])),
        &USER,
    );
    assert_eq!(
        u["emails"],
        json!([{"value": "bjensen@example.com", "type": "work", "primary": true}])
    );
    assert_eq!(u["nickName"], "Babs");
    assert_eq!(u["userName"], "bjensen@example.com");
}

#[test]
fn replace_of_a_complex_attribute_merges_sub_attributes() {
    let mut u = babs();
    ok(
        &mut u,
        &body(
            json!([{"op": "replace", "path": "name", "value": {"givenName": "Babs", "formatted": null}}]),
        ),
        &USER,
    );
    assert_eq!(
        u["name"],
        json!({"familyName": "Jensen", "givenName": "Babs"})
    );
}

#[test]
fn replace_with_null_unassigns() {
    let mut u = babs();
    ok(
        &mut u,
        &body(json!([{"op": "replace", "path": "displayName", "value": null}])),
        &USER,
    );
    assert!(u.get("displayName").is_none());
}

#[test]
fn replace_through_a_filter_that_selects_nothing_is_no_target() {
    let mut u = babs();
    let e = fails(
        &mut u,
        &body(
            json!([{"op": "replace", "path": "emails[value co \"nowhere\"].type", "value": "other"}]),
        ),
        &USER,
    );
    assert_eq!(e.scim_type, ScimType::NoTarget);
    assert_eq!(
        e.detail,
        "operation 1: no value of emails matches the filter in emails[value co \"nowhere\"].type"
    );
    let e = fails(
        &mut u,
        &body(
            json!([{"op": "replace", "path": "emails[type eq \"pager\" or type eq \"fax\"].value", "value": "x"}]),
        ),
        &USER,
    );
    assert_eq!(e.scim_type, ScimType::NoTarget);
}

#[test]
fn a_patch_that_changes_nothing_says_so() {
    let mut u = babs();
    let out = ok(
        &mut u,
        &body(json!([{"op": "replace", "path": "active", "value": true}])),
        &USER,
    );
    assert!(!out.changed);
    assert_eq!(u, babs());
}

#[test]
fn a_failing_operation_rolls_back_the_earlier_ones() {
    let mut u = babs();
    let e = fails(
        &mut u,
        &body(json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "active", "value": "maybe"}
        ])),
        &USER,
    );
    assert_eq!(e.scim_type, ScimType::InvalidValue);
    assert_eq!(
        e.detail,
        "operation 2: active must be a boolean (true or false); got a string"
    );
}

// --- mutability ------------------------------------------------------------

#[test]
fn read_only_attributes_cannot_be_changed() {
    for (op, path, value) in [
        ("replace", "id", json!("other")),
        (
            "replace",
            "meta.lastModified",
            json!("2020-01-01T00:00:00Z"),
        ),
        ("add", "groups", json!([{"value": GROUP_ID}])),
        ("remove", "groups", Value::Null),
        (
            "replace",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
            json!("Boss"),
        ),
        ("remove", "id", Value::Null),
    ] {
        let mut u = babs();
        let mut operation = json!({"op": op, "path": path});
        if !value.is_null() {
            operation["value"] = value;
        }
        let e = fails(&mut u, &body(json!([operation])), &USER);
        assert_eq!(e.scim_type, ScimType::Mutability, "{op} {path}: {e}");
    }
}

#[test]
fn pathless_values_may_repeat_read_only_attributes_unchanged() {
    let mut u = babs();
    let out = ok(
        &mut u,
        &body(json!([{"op": "replace", "value": {
            "schemas": [urn::USER],
            "id": BABS,
            "meta": {"resourceType": "Something else"},
            "displayName": "Barbara Jensen"
        }}])),
        &USER,
    );
    assert!(out.changed);
    assert_eq!(u["displayName"], "Barbara Jensen");
    assert_eq!(u["meta"], babs()["meta"]);

    let e = fails(
        &mut u,
        &body(json!([{"op": "replace", "value": {"groups": [{"value": GROUP_ID}]}}])),
        &USER,
    );
    assert_eq!(e.scim_type, ScimType::Mutability);
    assert_eq!(
        e.detail,
        "operation 1: groups is readOnly and cannot be changed"
    );
}

static BADGE_ATTRIBUTES: &[AttributeDef] = &[
    AttributeDef::new("userName", AttrType::String).required(),
    AttributeDef::new("badge", AttrType::String).mutability(Mutability::Immutable),
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
fn immutable_attributes_may_be_set_once() {
    let mut doc = json!({"schemas": ["urn:example:badge:1.0:Badge"], "id": "b1", "userName": "x"});
    ok(
        &mut doc,
        &body(json!([{"op": "add", "path": "badge", "value": "B-7"}])),
        &BADGE,
    );
    assert_eq!(doc["badge"], "B-7");
    // Setting the same value again is harmless.
    ok(
        &mut doc,
        &body(json!([{"op": "replace", "path": "badge", "value": "B-7"}])),
        &BADGE,
    );
    for operation in [
        json!({"op": "replace", "path": "badge", "value": "B-8"}),
        json!({"op": "remove", "path": "badge"}),
    ] {
        let e = fails(&mut doc, &body(json!([operation])), &BADGE);
        assert_eq!(e.scim_type, ScimType::Mutability);
    }
}

#[test]
fn passwords_are_reported_and_never_stored() {
    let mut u = babs();
    let out = ok(
        &mut u,
        &body(json!([{"op": "replace", "path": "password", "value": "t1meMa$heen"}])),
        &USER,
    );
    assert!(out.password_supplied);
    assert!(!out.changed);
    assert!(u.get("password").is_none());

    let mut leaked = babs();
    leaked["password"] = json!("old");
    let out = ok(
        &mut leaked,
        &body(json!([{"op": "add", "path": "PASSWORD", "value": "new"}])),
        &USER,
    );
    assert!(out.password_supplied && out.changed);
    assert!(leaked.get("password").is_none());

    let e = fails(
        &mut u,
        &body(json!([{"op": "replace", "path": "password", "value": 1234}])),
        &USER,
    );
    assert_eq!(e.scim_type, ScimType::InvalidValue);
}

// --- names, unknown attributes, extensions ---------------------------------

#[test]
fn known_names_take_their_schema_spelling() {
    let mut u = babs();
    ok(
        &mut u,
        &body(json!([
            {"op": "replace", "path": "UserName", "value": "babs@example.com"},
            {"op": "replace", "path": "NAME.GIVENNAME", "value": "Babs"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User:CostCenter", "value": "4130"}
        ])),
        &USER,
    );
    assert_eq!(u["userName"], "babs@example.com");
    assert!(u.get("UserName").is_none());
    assert_eq!(u["name"]["givenName"], "Babs");
    assert_eq!(u[urn::ENTERPRISE_USER]["costCenter"], "4130");
}

#[test]
fn unknown_attributes_are_kept_as_received() {
    let mut u = babs();
    ok(
        &mut u,
        &body(json!([
            {"op": "add", "value": {"favouriteColour": "teal"}},
            {"op": "add", "value": {"Shoe_Size": 38}},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:custom:2.0:User:department_ids", "value": [{"value": "1"}]},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:custom:2.0:User:department_ids", "value": [{"value": "2"}, {"value": "1"}]}
        ])),
        &USER,
    );
    assert_eq!(u["favouriteColour"], "teal");
    assert_eq!(u["Shoe_Size"], 38);
    let custom = "urn:ietf:params:scim:schemas:extension:custom:2.0:User";
    assert_eq!(
        u[custom],
        json!({"department_ids": [{"value": "1"}, {"value": "2"}]})
    );
    assert_eq!(
        u["schemas"],
        json!([urn::USER, urn::ENTERPRISE_USER, custom])
    );

    ok(
        &mut u,
        &body(json!([{"op": "remove", "path": "FAVOURITECOLOUR"}])),
        &USER,
    );
    assert!(u.get("favouriteColour").is_none());
}

#[test]
fn a_path_no_schema_defines_is_invalid_unless_the_attribute_was_kept() {
    let mut u = babs();
    for path in [
        "doesNotExist",
        "name.doesNotExist",
        "emails[type eq \"work\"].nope",
    ] {
        let e = fails(
            &mut u,
            &body(json!([{"op": "add", "path": path, "value": "x"}])),
            &USER,
        );
        assert_eq!(e.scim_type, ScimType::InvalidPath, "{path}: {}", e.detail);
    }
    // Kept from a pathless add (as a POST keeps it): writable by path.
    ok(
        &mut u,
        &body(json!([{"op": "add", "value": {"favouriteColour": "teal"}}])),
        &USER,
    );
    ok(
        &mut u,
        &body(json!([{"op": "replace", "path": "favouriteColour", "value": "red"}])),
        &USER,
    );
    assert_eq!(u["favouriteColour"], "red");
    // `schemas` repeated inside an extension's object is ignored.
    ok(
        &mut u,
        &body(
            json!([{"op": "replace", "path": urn::ENTERPRISE_USER, "value": {
                "schemas": [urn::ENTERPRISE_USER],
                "costCenter": "4130"
            }}]),
        ),
        &USER,
    );
    assert_eq!(u[urn::ENTERPRISE_USER]["costCenter"], "4130");
    assert!(u[urn::ENTERPRISE_USER].get("schemas").is_none());
    // Removing what is not there stays a no-op.
    ok(
        &mut u,
        &body(json!([{"op": "remove", "path": "doesNotExist"}])),
        &USER,
    );
}

#[test]
fn an_unmodelled_extension_object_in_a_pathless_value_is_merged() {
    let mut u = babs();
    let custom = "urn:example:params:scim:schemas:extension:acme:1.0:User";
    ok(
        &mut u,
        &body(json!([{"op": "add", "value": {custom: {"badge": "A-1", "floor": 3}}}])),
        &USER,
    );
    ok(
        &mut u,
        &body(json!([{"op": "replace", "value": {custom: {"floor": 4}}}])),
        &USER,
    );
    assert_eq!(u[custom], json!({"badge": "A-1", "floor": 4}));
}

#[test]
fn an_extension_emptied_by_a_patch_disappears_from_schemas() {
    let mut u = babs();
    ok(
        &mut u,
        &body(json!([
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"},
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}
        ])),
        &USER,
    );
    assert!(u.get(urn::ENTERPRISE_USER).is_none());
    assert_eq!(u["schemas"], json!([urn::USER]));
}

#[test]
fn a_whole_extension_can_be_addressed_by_its_urn() {
    let mut u = fresh_user();
    ok(
        &mut u,
        &body(
            json!([{"op": "add", "path": urn::ROLLCALL_USER, "value": {"role": "Admin", "workspaces": ["ops", "billing"]}}]),
        ),
        &USER,
    );
    assert_eq!(
        u[urn::ROLLCALL_USER],
        json!({"role": "Admin", "workspaces": ["ops", "billing"]})
    );
    assert_eq!(u["schemas"], json!([urn::USER, urn::ROLLCALL_USER]));
    ok(
        &mut u,
        &body(json!([{"op": "add", "value": {urn::ROLLCALL_USER: {"workspaces": ["OPS", "hr"]}}}])),
        &USER,
    );
    assert_eq!(
        u[urn::ROLLCALL_USER]["workspaces"],
        json!(["ops", "billing", "hr"])
    );
    ok(
        &mut u,
        &body(json!([{"op": "remove", "path": urn::ROLLCALL_USER}])),
        &USER,
    );
    assert!(u.get(urn::ROLLCALL_USER).is_none());
    assert_eq!(u["schemas"], json!([urn::USER]));
}

#[test]
fn simple_multi_valued_attributes_support_value_filters_on_remove() {
    let mut u = fresh_user();
    u[urn::ROLLCALL_USER] = json!({"workspaces": ["ops", "billing", "hr"]});
    ok(
        &mut u,
        &body(
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:rollcall:2.0:User:workspaces[value eq \"BILLING\"]"}]),
        ),
        &USER,
    );
    assert_eq!(u[urn::ROLLCALL_USER]["workspaces"], json!(["ops", "hr"]));
    let e = fails(
        &mut u,
        &body(
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:rollcall:2.0:User:workspaces[value eq \"ops\"]", "value": "x"}]),
        ),
        &USER,
    );
    assert_eq!(e.scim_type, ScimType::InvalidPath);
}

#[test]
fn paths_that_cannot_address_anything_are_invalid() {
    let mut u = babs();
    for (path, scim_type) in [
        ("userName.value", ScimType::InvalidPath),
        ("name[givenName eq \"Barbara\"]", ScimType::InvalidPath),
        ("emails[kind eq \"work\"].value", ScimType::InvalidFilter),
        ("emails[primary gt true]", ScimType::InvalidFilter),
    ] {
        let e = fails(
            &mut u,
            &body(json!([{"op": "replace", "path": path, "value": "x"}])),
            &USER,
        );
        assert_eq!(e.scim_type, scim_type, "{path}: {e}");
    }
}

#[test]
fn values_are_type_checked() {
    let mut u = babs();
    for (path, value) in [
        ("userName", json!(42)),
        ("active", json!("yes")),
        ("name", json!("Barbara")),
        ("emails", json!([{"value": 7}])),
        ("displayName", json!(["a", "b"])),
    ] {
        let e = fails(
            &mut u,
            &body(json!([{"op": "replace", "path": path, "value": value}])),
            &USER,
        );
        assert_eq!(e.scim_type, ScimType::InvalidValue, "{path}: {e}");
    }
}

#[test]
fn pathless_operations_need_an_object() {
    let mut u = babs();
    let e = fails(
        &mut u,
        &body(json!([{"op": "replace", "value": "x"}])),
        &USER,
    );
    assert_eq!(e.scim_type, ScimType::InvalidSyntax);
}

// --- group membership ------------------------------------------------------

#[test]
fn member_adds_and_removes_are_idempotent_and_later_ones_win() {
    let mut g = group();
    let out = ok(
        &mut g,
        &body(json!([
            {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "a"}]},
            {"op": "add", "path": "members", "value": [{"value": "b"}]},
            {"op": "remove", "path": "members[value eq \"c\"]"},
            {"op": "add", "path": "members", "value": [{"value": "c"}]},
            {"op": "remove", "path": "members[value eq \"b\"]"},
            {"op": "remove", "path": "members", "value": [{"value": "d"}, {"value": "d"}]}
        ])),
        &GROUP,
    );
    assert_eq!(
        out.members,
        MemberChanges {
            replace_all: None,
            add: ids(&["a", "c"]),
            remove: ids(&["b", "d"]),
        }
    );
}

#[test]
fn member_edits_after_a_replace_edit_the_replacement() {
    let mut g = group();
    let out = ok(
        &mut g,
        &body(json!([
            {"op": "add", "path": "members", "value": [{"value": "x"}]},
            {"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
            {"op": "add", "path": "members", "value": [{"value": "c"}, {"value": "a"}]},
            {"op": "remove", "path": "members[value eq \"b\" or value eq \"zz\"]"}
        ])),
        &GROUP,
    );
    assert_eq!(
        out.members,
        MemberChanges {
            replace_all: Some(ids(&["a", "c"])),
            add: vec![],
            remove: vec![],
        }
    );
}

#[test]
fn members_must_be_value_objects_with_string_ids() {
    for value in [
        json!(["a"]),
        json!([{"value": 12}]),
        json!([{"display": "x"}]),
        json!("a"),
        json!(null),
    ] {
        let mut g = group();
        let e = fails(
            &mut g,
            &body(json!([{"op": "add", "path": "members", "value": value}])),
            &GROUP,
        );
        assert_eq!(e.scim_type, ScimType::InvalidValue, "{value}");
    }
}

#[test]
fn member_filters_other_than_value_eq_are_invalid() {
    for path in [
        "members[value ne \"a\"]",
        "members[display eq \"Babs\"]",
        "members[value eq \"a\" and type eq \"User\"]",
        "members[value sw \"a\"]",
    ] {
        let mut g = group();
        let e = fails(
            &mut g,
            &body(json!([{"op": "remove", "path": path}])),
            &GROUP,
        );
        assert_eq!(e.scim_type, ScimType::InvalidFilter, "{path}");
    }
    let mut g = group();
    let out = ok(
        &mut g,
        &body(json!([{"op": "remove", "path": "members[value eq 12345]"}])),
        &GROUP,
    );
    assert_eq!(out.members.remove, ids(&["12345"]));
}

#[test]
fn members_cannot_be_edited_through_sub_attributes_or_filters() {
    for operation in [
        json!({"op": "replace", "path": "members[value eq \"a\"].display", "value": "x"}),
        json!({"op": "add", "path": "members[value eq \"a\"]", "value": {"value": "a"}}),
        json!({"op": "remove", "path": "members.value"}),
    ] {
        let mut g = group();
        let e = fails(&mut g, &body(json!([operation])), &GROUP);
        assert_eq!(e.scim_type, ScimType::InvalidPath, "{e}");
    }
}

#[test]
fn pathless_members_are_member_changes_too() {
    let mut g = group();
    let out = ok(
        &mut g,
        &body(
            json!([{"op": "replace", "value": {"displayName": "Eng", "members": [{"value": "a"}]}}]),
        ),
        &GROUP,
    );
    assert_eq!(g["displayName"], "Eng");
    assert!(g.get("members").is_none());
    assert_eq!(out.members.replace_all, Some(ids(&["a"])));
}

// --- Okta ------------------------------------------------------------------

#[test]
fn okta_deactivates_a_user_with_a_pathless_replace() {
    let mut u = babs();
    let out = ok(&mut u, &fixture!("okta/deactivate_user.json"), &USER);
    assert!(out.changed);
    assert_eq!(u["active"], false);
}

#[test]
fn okta_renames_a_group_repeating_its_id() {
    let mut g = group();
    let out = ok(&mut g, &fixture!("okta/rename_group.json"), &GROUP);
    assert!(out.changed);
    assert_eq!(g["displayName"], "Engineering (renamed)");
    assert_eq!(g["id"], GROUP_ID);
    assert!(out.members.is_empty());
}

#[test]
fn okta_rename_with_another_id_is_a_mutability_error() {
    let mut request = fixture!("okta/rename_group.json");
    request["Operations"][0]["value"]["id"] = json!("00000000-0000-0000-0000-000000000000");
    let mut g = group();
    let e = fails(&mut g, &request, &GROUP);
    assert_eq!(e.scim_type, ScimType::Mutability);
    assert_eq!(
        e.detail,
        "operation 1: id is readOnly and cannot be changed"
    );
}

#[test]
fn okta_updates_membership_with_remove_and_add_in_one_request() {
    let mut g = group();
    let out = ok(
        &mut g,
        &fixture!("okta/update_group_membership.json"),
        &GROUP,
    );
    assert_eq!(
        out.members.remove,
        ids(&["89bb1940-b905-4575-9e7f-6f887cfb368e"])
    );
    assert_eq!(
        out.members.add,
        ids(&[
            "23a35c27-23d3-4c03-b4c5-6443c09e7173",
            "f3a5c1de-7d2e-4f0b-9a51-0c2b8d6e4a10"
        ])
    );
    assert_eq!(out.members.replace_all, None);
    assert_eq!(g, group());
}

#[test]
fn okta_replaces_the_member_list() {
    let mut g = group();
    let out = ok(&mut g, &fixture!("okta/replace_group_members.json"), &GROUP);
    assert_eq!(
        out.members.replace_all,
        Some(ids(&[
            "23a35c27-23d3-4c03-b4c5-6443c09e7173",
            "89bb1940-b905-4575-9e7f-6f887cfb368e"
        ]))
    );
}

#[test]
fn okta_removes_all_members() {
    let mut g = group();
    let out = ok(&mut g, &fixture!("okta/remove_all_members.json"), &GROUP);
    assert_eq!(out.members.replace_all, Some(vec![]));
}

#[test]
fn okta_pushes_a_password_that_is_not_stored() {
    let mut u = babs();
    let out = ok(&mut u, &fixture!("okta/replace_password.json"), &USER);
    assert!(out.password_supplied);
    assert!(!out.changed);
    assert_eq!(u, babs());
}

// --- Microsoft Entra ID, default behaviour -----------------------------------

#[test]
fn entra_replaces_single_valued_attributes_one_op_each() {
    let mut u = babs();
    ok(
        &mut u,
        &fixture!("entra/replace_single_valued_attributes.json"),
        &USER,
    );
    assert_eq!(
        u["userName"],
        "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    );
    assert_eq!(u["displayName"], "Ryan Leenay");
    assert_eq!(u["title"], "Principal Engineer");
}

#[test]
fn entra_disables_a_user_with_a_string_boolean() {
    let mut u = babs();
    ok(
        &mut u,
        &fixture!("entra/disable_user_string_boolean.json"),
        &USER,
    );
    assert_eq!(u["active"], json!(false));
}

#[test]
fn entra_replaces_the_work_email_and_a_name_part() {
    let mut u = babs();
    ok(
        &mut u,
        &fixture!("entra/replace_work_email_and_family_name.json"),
        &USER,
    );
    assert_eq!(
        u["emails"][0],
        json!({"value": "updatedEmail@microsoft.com", "type": "work", "primary": true})
    );
    assert_eq!(u["emails"][1]["value"], "babs@jensen.org");
    assert_eq!(u["name"]["familyName"], "updatedFamilyName");
    assert_eq!(u["name"]["givenName"], "Barbara");
}

#[test]
fn entra_adds_a_work_email_that_does_not_exist_yet() {
    let mut u = fresh_user();
    ok(
        &mut u,
        &fixture!("entra/add_work_email_and_primary.json"),
        &USER,
    );
    assert_eq!(
        u["emails"],
        json!([{"type": "work", "value": "Test_User_ab6490ee@testuser.com", "primary": true}])
    );
}

#[test]
fn entra_add_through_a_filter_updates_the_existing_value() {
    let mut u = babs();
    u["emails"][0]["primary"] = json!(false);
    u["emails"][1]["primary"] = json!(true);
    ok(
        &mut u,
        &fixture!("entra/add_work_email_and_primary.json"),
        &USER,
    );
    let emails = u["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 2);
    assert_eq!(
        emails[0],
        json!({"value": "Test_User_ab6490ee@testuser.com", "type": "work", "primary": true})
    );
    assert_eq!(
        emails[1]["primary"], false,
        "the home address is no longer primary"
    );
}

#[test]
fn entra_builds_a_work_address_one_field_at_a_time() {
    let mut u = fresh_user();
    ok(&mut u, &fixture!("entra/add_work_address.json"), &USER);
    assert_eq!(
        u["addresses"],
        json!([{"type": "work", "streetAddress": "1 Microsoft Way", "locality": "Redmond", "postalCode": "98052", "country": "US"}])
    );
    assert_eq!(
        u["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 425 555 0100"}])
    );
}

#[test]
fn entra_adds_enterprise_attributes_and_a_bare_manager_id() {
    let mut u = fresh_user();
    ok(
        &mut u,
        &fixture!("entra/add_enterprise_attributes.json"),
        &USER,
    );
    assert_eq!(
        u[urn::ENTERPRISE_USER],
        json!({"employeeNumber": "701984", "department": "Tour Operations", "manager": {"value": MANAGER}})
    );
    assert_eq!(u["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));
}

#[test]
fn entra_replaces_the_manager_with_an_object() {
    let mut u = babs();
    ok(
        &mut u,
        &fixture!("entra/replace_manager_object.json"),
        &USER,
    );
    assert_eq!(
        u[urn::ENTERPRISE_USER]["manager"],
        json!({"value": "3a1f3c57-5c36-4b5e-a7a8-ac7dbe1b9a5e"})
    );
}

#[test]
fn entra_removes_the_manager() {
    let mut u = babs();
    ok(&mut u, &fixture!("entra/remove_manager.json"), &USER);
    assert_eq!(u[urn::ENTERPRISE_USER], json!({"employeeNumber": "701984"}));
}

#[test]
fn entra_renames_a_group() {
    let mut g = group();
    let out = ok(
        &mut g,
        &fixture!("entra/replace_group_display_name.json"),
        &GROUP,
    );
    assert!(out.changed);
    assert_eq!(
        g["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
}

#[test]
fn entra_adds_members_with_null_refs() {
    let mut g = group();
    let out = ok(&mut g, &fixture!("entra/add_group_members.json"), &GROUP);
    assert_eq!(out.members.add, ids(&["f648f8d5ea4e4cd38e9c"]));
}

#[test]
fn entra_removes_members_listed_in_the_value() {
    let mut g = group();
    let out = ok(&mut g, &fixture!("entra/remove_group_members.json"), &GROUP);
    assert_eq!(
        out.members.remove,
        ids(&["f648f8d5ea4e4cd38e9c", "a71c0f6e2b9d4e55b0b1"])
    );
    assert_eq!(out.members.replace_all, None);
}

// --- Microsoft Entra ID with aadOptscim062020 --------------------------------

#[test]
fn entra_flag_pathless_replace_reads_keys_as_paths() {
    let mut u = babs();
    ok(
        &mut u,
        &fixture!("entra/flag_pathless_replace_with_dotted_keys.json"),
        &USER,
    );
    assert_eq!(u["displayName"], "Pvlo Kvx");
    assert_eq!(u["emails"][0]["value"], "TestBcwqnm@test.microsoft.com");
    assert_eq!(u["name"]["givenName"], "Kvx");
    assert_eq!(u["name"]["familyName"], "Pvlo");
    assert_eq!(u["active"], false);
    assert_eq!(u[urn::ENTERPRISE_USER]["department"], "Tchvsa");
    assert_eq!(
        u[urn::ENTERPRISE_USER]["manager"],
        json!({"value": "c2b33d74-6f1e-4c5a-9b43-4f3f0e6d1f22"})
    );
    assert!(u.get("name.givenName").is_none());
}

#[test]
fn entra_flag_pathless_replace_creates_what_is_missing() {
    let mut u = fresh_user();
    ok(
        &mut u,
        &fixture!("entra/flag_pathless_replace_with_dotted_keys.json"),
        &USER,
    );
    assert_eq!(
        u["emails"],
        json!([{"type": "work", "value": "TestBcwqnm@test.microsoft.com"}])
    );
    assert_eq!(u["name"], json!({"givenName": "Kvx", "familyName": "Pvlo"}));
    assert_eq!(u["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));
}

#[test]
fn entra_flag_pathless_add() {
    let mut u = babs();
    ok(&mut u, &fixture!("entra/flag_pathless_add.json"), &USER);
    assert_eq!(u["nickName"], "Babs");
}

#[test]
fn entra_flag_removes_a_member_by_filter() {
    let mut g = group();
    let out = ok(
        &mut g,
        &fixture!("entra/flag_remove_member_by_filter.json"),
        &GROUP,
    );
    assert_eq!(out.members.remove, ids(&["f648f8d5ea4e4cd38e9c"]));
}

#[test]
fn every_fixture_is_a_valid_patch_request() {
    let all = [
        fixture!("okta/deactivate_user.json"),
        fixture!("okta/rename_group.json"),
        fixture!("okta/update_group_membership.json"),
        fixture!("okta/replace_group_members.json"),
        fixture!("okta/remove_all_members.json"),
        fixture!("okta/replace_password.json"),
        fixture!("entra/replace_single_valued_attributes.json"),
        fixture!("entra/disable_user_string_boolean.json"),
        fixture!("entra/replace_work_email_and_family_name.json"),
        fixture!("entra/add_work_email_and_primary.json"),
        fixture!("entra/add_work_address.json"),
        fixture!("entra/add_enterprise_attributes.json"),
        fixture!("entra/replace_manager_object.json"),
        fixture!("entra/remove_manager.json"),
        fixture!("entra/replace_group_display_name.json"),
        fixture!("entra/add_group_members.json"),
        fixture!("entra/remove_group_members.json"),
        fixture!("entra/flag_pathless_replace_with_dotted_keys.json"),
        fixture!("entra/flag_pathless_add.json"),
        fixture!("entra/flag_remove_member_by_filter.json"),
    ];
    for request in &all {
        PatchRequest::parse(request).unwrap_or_else(|e| panic!("{request}: {e}"));
    }
}
