//! The schema tables themselves: RFC 7643 §3.1 (common attributes), §4.1
//! (User), §4.2 (Group), §4.3 (Enterprise User) and rollcall's own User
//! extension. Characteristics follow the schema representation of RFC 7643
//! §8.7.1 and §8.7.2; descriptions are ours.

use super::{
    AttrType, AttributeDef, Mutability, ResourceTypeDef, Returned, SchemaDef, SchemaExtension,
    Uniqueness, urn,
};

const fn string(name: &'static str) -> AttributeDef {
    AttributeDef::new(name, AttrType::String)
}

const fn boolean(name: &'static str) -> AttributeDef {
    AttributeDef::new(name, AttrType::Boolean)
}

const fn reference(name: &'static str, types: &'static [&'static str]) -> AttributeDef {
    AttributeDef::new(name, AttrType::Reference).reference_types(types)
}

const fn complex(name: &'static str, subs: &'static [AttributeDef]) -> AttributeDef {
    AttributeDef::new(name, AttrType::Complex).sub_attributes(subs)
}

/// The `value`/`display`/`type`/`primary` shape shared by most multi-valued
/// attributes of the User (RFC 7643 §2.4); only the type of `value` and the
/// canonical `type` values differ.
const fn multi_value_subs(
    value: AttributeDef,
    what: &'static str,
    types: &'static [&'static str],
) -> [AttributeDef; 4] {
    [
        value,
        string("display").describe("A human-readable name, primarily used for display purposes."),
        string("type").canonical_values(types).describe(what),
        boolean("primary")
            .describe("Marks the preferred value; true appears on at most one value."),
    ]
}

// ---------------------------------------------------------------------------
// Common attributes (RFC 7643 §3.1), part of every resource but of no schema.

const META_SUBS: &[AttributeDef] = &[
    string("resourceType")
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .describe("The name of the resource type of the resource."),
    AttributeDef::new("created", AttrType::DateTime)
        .mutability(Mutability::ReadOnly)
        .describe("When the resource was added to the service provider."),
    AttributeDef::new("lastModified", AttrType::DateTime)
        .mutability(Mutability::ReadOnly)
        .describe("When the resource was last updated."),
    reference("location", &["uri"])
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .describe("The URI of the resource being returned."),
    string("version")
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .describe("The version (entity tag) of the resource."),
];

/// `id`, `externalId` and `meta`: defined once for every resource type.
pub static COMMON_ATTRIBUTES: &[AttributeDef] = &[
    string("id")
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .uniqueness(Uniqueness::Server)
        .describe("Identifier of the resource, assigned by the service provider."),
    string("externalId")
        .case_exact()
        .max_chars(super::MAX_NAME_CHARS)
        .describe("Identifier of the resource as defined by the provisioning client."),
    complex("meta", META_SUBS)
        .mutability(Mutability::ReadOnly)
        .describe("Resource metadata maintained by the service provider."),
];

/// `schemas` is not declared by any schema (RFC 7643 §3) but may be filtered
/// on (RFC 7644 §3.4.2.2 example) and is always returned.
pub static SCHEMAS_ATTRIBUTE: AttributeDef = reference("schemas", &["uri"])
    .multi_valued()
    .returned(Returned::Always)
    .describe("The schema URIs the resource conforms to.");

// ---------------------------------------------------------------------------
// User (RFC 7643 §4.1).

const NAME_SUBS: &[AttributeDef] = &[
    string("formatted").describe("The full name, formatted for display."),
    string("familyName").describe("The family name, or last name."),
    string("givenName").describe("The given name, or first name."),
    string("middleName").describe("The middle name(s)."),
    string("honorificPrefix").describe("Honorific prefix(es), or title (e.g. 'Ms.')."),
    string("honorificSuffix").describe("Honorific suffix(es) (e.g. 'III')."),
];

const EMAIL_SUBS: &[AttributeDef] = &multi_value_subs(
    string("value")
        .max_chars(crate::domain::names::EMAIL_MAX_CHARS)
        .describe("An email address, canonicalised per RFC 5321."),
    "The function of the address, e.g. 'work' or 'home'.",
    &["work", "home", "other"],
);

const PHONE_SUBS: &[AttributeDef] = &multi_value_subs(
    string("value").describe("A phone number, preferably in RFC 3966 form."),
    "The function of the number, e.g. 'work', 'mobile'.",
    &["work", "home", "mobile", "fax", "pager", "other"],
);

const IM_SUBS: &[AttributeDef] = &multi_value_subs(
    string("value").describe("An instant messaging address."),
    "The messaging service, e.g. 'xmpp'.",
    &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
);

const PHOTO_SUBS: &[AttributeDef] = &multi_value_subs(
    reference("value", &["external"]).describe("The URL of an image of the user."),
    "Whether the image is a 'photo' or a 'thumbnail'.",
    &["photo", "thumbnail"],
);

const ADDRESS_SUBS: &[AttributeDef] = &[
    string("formatted").describe("The full mailing address, formatted for display."),
    string("streetAddress").describe("Street address: house number, street, and so on."),
    string("locality").describe("City or locality."),
    string("region").describe("State or region."),
    string("postalCode").describe("Zip or postal code."),
    string("country").describe("Country, as an ISO 3166-1 alpha-2 code."),
    string("type")
        .canonical_values(&["work", "home", "other"])
        .describe("The function of the address, e.g. 'work' or 'home'."),
    boolean("primary").describe("Marks the preferred address; true appears at most once."),
];

const USER_GROUP_SUBS: &[AttributeDef] = &[
    string("value")
        .mutability(Mutability::ReadOnly)
        .describe("The id of the group."),
    reference("$ref", &["User", "Group"])
        .mutability(Mutability::ReadOnly)
        .describe("The URI of the group resource."),
    string("display")
        .mutability(Mutability::ReadOnly)
        .describe("The group's display name."),
    string("type")
        .canonical_values(&["direct", "indirect"])
        .mutability(Mutability::ReadOnly)
        .describe("Whether membership is 'direct' or 'indirect' (through nested groups)."),
];

const ENTITLEMENT_SUBS: &[AttributeDef] = &multi_value_subs(
    string("value").describe("The value of an entitlement."),
    "A label for the entitlement's function.",
    &[],
);

const ROLE_SUBS: &[AttributeDef] = &multi_value_subs(
    string("value").describe("The value of a role."),
    "A label for the role's function.",
    &[],
);

const CERTIFICATE_SUBS: &[AttributeDef] = &multi_value_subs(
    AttributeDef::new("value", AttrType::Binary)
        .case_exact()
        .describe("A DER-encoded X.509 certificate, base64."),
    "A label for the certificate's function.",
    &[],
);

const USER_ATTRIBUTES: &[AttributeDef] = &[
    string("userName")
        .max_chars(crate::domain::names::USER_NAME_MAX_CHARS)
        .required()
        .uniqueness(Uniqueness::Server)
        .describe("Unique identifier the user signs in with; required and unique."),
    complex("name", NAME_SUBS).describe("The components of the user's real name."),
    string("displayName")
        .max_chars(super::MAX_NAME_CHARS)
        .describe("The name of the user, suitable for display."),
    string("nickName").describe("The casual way to address the user."),
    reference("profileUrl", &["external"]).describe("A URI to the user's online profile."),
    string("title").describe("The user's title, e.g. 'Vice President'."),
    string("userType").describe("The relationship to the organisation, e.g. 'Employee'."),
    string("preferredLanguage").describe("Preferred written or spoken language."),
    string("locale").describe("Default location for localisation, e.g. 'en-US'."),
    string("timezone").describe("Time zone in IANA format, e.g. 'Europe/Paris'."),
    boolean("active").describe("The user's administrative status."),
    string("password")
        .mutability(Mutability::WriteOnly)
        .returned(Returned::Never)
        .describe("Cleartext password; accepted on write, never stored nor returned."),
    complex("emails", EMAIL_SUBS)
        .multi_valued()
        .describe("Email addresses for the user."),
    complex("phoneNumbers", PHONE_SUBS)
        .multi_valued()
        .describe("Phone numbers for the user."),
    complex("ims", IM_SUBS)
        .multi_valued()
        .describe("Instant messaging addresses for the user."),
    complex("photos", PHOTO_SUBS)
        .multi_valued()
        .describe("URLs of photos of the user."),
    complex("addresses", ADDRESS_SUBS)
        .multi_valued()
        .describe("Physical mailing addresses for the user."),
    complex("groups", USER_GROUP_SUBS)
        .multi_valued()
        .unbounded()
        .mutability(Mutability::ReadOnly)
        .describe("Groups the user belongs to; maintained through the Group resource."),
    complex("entitlements", ENTITLEMENT_SUBS)
        .multi_valued()
        .describe("Entitlements held by the user."),
    complex("roles", ROLE_SUBS)
        .multi_valued()
        .describe("Roles held by the user."),
    complex("x509Certificates", CERTIFICATE_SUBS)
        .multi_valued()
        .describe("Certificates issued to the user."),
];

pub static USER_SCHEMA: SchemaDef = SchemaDef {
    id: urn::USER,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

// ---------------------------------------------------------------------------
// Group (RFC 7643 §4.2).

const MEMBER_SUBS: &[AttributeDef] = &[
    string("value")
        .mutability(Mutability::Immutable)
        .describe("The id of the member resource."),
    reference("$ref", &["User", "Group"])
        .mutability(Mutability::Immutable)
        .describe("The URI of the member resource."),
    string("type")
        .canonical_values(&["User", "Group"])
        .mutability(Mutability::Immutable)
        .describe("The type of the member resource."),
];

const GROUP_ATTRIBUTES: &[AttributeDef] = &[
    string("displayName")
        .required()
        .max_chars(super::MAX_NAME_CHARS)
        .describe("A human-readable name for the group; required."),
    complex("members", MEMBER_SUBS)
        .multi_valued()
        .unbounded()
        .describe("Members of the group."),
];

pub static GROUP_SCHEMA: SchemaDef = SchemaDef {
    id: urn::GROUP,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};

// ---------------------------------------------------------------------------
// Enterprise User extension (RFC 7643 §4.3).

const MANAGER_SUBS: &[AttributeDef] = &[
    string("value").describe("The id of the user's manager."),
    reference("$ref", &["User"]).describe("The URI of the manager's User resource."),
    string("displayName")
        .mutability(Mutability::ReadOnly)
        .describe("The manager's display name."),
];

const ENTERPRISE_ATTRIBUTES: &[AttributeDef] = &[
    string("employeeNumber").describe("Identifier assigned by the organisation."),
    string("costCenter").describe("Name of a cost center."),
    string("organization").describe("Name of an organisation."),
    string("division").describe("Name of a division."),
    string("department").describe("Name of a department."),
    complex("manager", MANAGER_SUBS).describe("The user's manager."),
];

pub static ENTERPRISE_USER_SCHEMA: SchemaDef = SchemaDef {
    id: urn::ENTERPRISE_USER,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: ENTERPRISE_ATTRIBUTES,
};

// ---------------------------------------------------------------------------
// rollcall User extension: lets the IdP assign role and workspace access.

const ROLLCALL_ATTRIBUTES: &[AttributeDef] = &[
    string("role").describe("The rollcall role for the user, by key or by name."),
    string("workspaces")
        .multi_valued()
        .describe("Slugs of the workspaces the user may access."),
    string("homeWorkspace").describe("Slug of the workspace the user lands in."),
];

pub static ROLLCALL_USER_SCHEMA: SchemaDef = SchemaDef {
    id: urn::ROLLCALL_USER,
    name: "RollcallUser",
    description: "rollcall role and workspace access",
    attributes: ROLLCALL_ATTRIBUTES,
};

// ---------------------------------------------------------------------------
// Resource types (RFC 7643 §6).

pub static USER: ResourceTypeDef = ResourceTypeDef {
    id: "User",
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER_SCHEMA,
    extensions: &[
        SchemaExtension {
            schema: &ENTERPRISE_USER_SCHEMA,
            required: false,
        },
        SchemaExtension {
            schema: &ROLLCALL_USER_SCHEMA,
            required: false,
        },
    ],
};

pub static GROUP: ResourceTypeDef = ResourceTypeDef {
    id: "Group",
    name: "Group",
    endpoint: "/Groups",
    description: "Group",
    schema: &GROUP_SCHEMA,
    extensions: &[],
};

pub static ALL_SCHEMAS: [&SchemaDef; 4] = [
    &USER_SCHEMA,
    &GROUP_SCHEMA,
    &ENTERPRISE_USER_SCHEMA,
    &ROLLCALL_USER_SCHEMA,
];

pub static ALL_RESOURCE_TYPES: [&ResourceTypeDef; 2] = [&USER, &GROUP];
