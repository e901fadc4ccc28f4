//! What resource and action `rocketchat_user_import` share: the users to import (`users_json`
//! or `users` blocks, exactly one of them) with their schema, their checks at validation and
//! plan time (known values only; errors name the attribute and the user's index), their
//! conversion to the objects `import.addUsers` takes, and the duration and flag settings.

use std::time::Duration;

use serde_json::Value as Json;
use tfplugin::{
    AttrPath, AttrType, Attribute, Block, Diagnostic, Diagnostics, NestedBlock, Nesting, Value,
};

use crate::rocketchat::run;

/// Longest wait when none is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Shortest and longest waits accepted.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(1);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Users per `import.addUsers` call.
pub const BATCH_SIZE: usize = 500;
/// Shortest time between two status reads (reads are also spread over the rate-limit window).
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// `users_json`: the users as one JSON array.
pub fn users_json_attribute() -> Attribute {
    Attribute::new("users_json", AttrType::String)
        .optional()
        .description("JSON array of user objects (`emails` and `importIds` required), e.g. jsonencode([...]); or `users` blocks.")
}

/// `users` blocks: one per user.
pub fn users_blocks() -> NestedBlock {
    NestedBlock::new("users", Nesting::List, user_block())
}

/// One `users` block: the documented user object, `import_ids` for `importIds`.
fn user_block() -> Block {
    let list =
        |n: &str, d: &str| Attribute::new(n, AttrType::list(AttrType::String)).description(d);
    let s = |n: &str, d: &str| {
        Attribute::new(n, AttrType::String)
            .optional()
            .description(d)
    };
    Block::new()
        .description("One user (the documented import.addUsers object).")
        .attribute(
            list(
                "emails",
                "Email addresses of the user (`emails`); the first one must be valid.",
            )
            .required(),
        )
        .attribute(
            list(
                "import_ids",
                "Ids of the user in the source system (`importIds`), used to match users on a later import.",
            )
            .required(),
        )
        .attribute(s("username", "Username (`username`)."))
        .attribute(s("name", "Display name (`name`)."))
        .attribute(s("password", "Initial password (`password`).").sensitive())
        .attribute(s("bio", "Bio (`bio`)."))
        .attribute(s("status_text", "Status message (`statusText`)."))
        .attribute(s("avatar_url", "URL of the avatar (`avatarUrl`)."))
        .attribute(list("roles", "Roles to give the user (`roles`), e.g. [\"user\"].").optional())
        .attribute(
            Attribute::new("deleted", AttrType::Bool)
                .optional()
                .description("Import the user as deleted (`deleted`)."),
        )
}

/// A `users` block as the JSON object `import.addUsers` takes.
fn user_json(block: &Value) -> Json {
    let mut out = serde_json::Map::new();
    for (attr, key) in [
        ("emails", "emails"),
        ("import_ids", "importIds"),
        ("roles", "roles"),
    ] {
        if let Some(items) = block.attr(attr).as_list() {
            let items: Vec<Json> = items
                .iter()
                .filter_map(|v| v.as_str().map(|s| Json::from(s.to_owned())))
                .collect();
            out.insert(key.to_owned(), items.into());
        }
    }
    for (attr, key) in [
        ("username", "username"),
        ("name", "name"),
        ("password", "password"),
        ("bio", "bio"),
        ("status_text", "statusText"),
        ("avatar_url", "avatarUrl"),
    ] {
        if let Some(v) = block.attr(attr).as_str() {
            out.insert(key.to_owned(), v.to_owned().into());
        }
    }
    if let Some(d) = block.attr("deleted").as_bool() {
        out.insert("deleted".to_owned(), d.into());
    }
    Json::Object(out)
}

/// One `users` block's required list: known, non-empty, no empty or null element.
fn check_block_list(block: &Value, index: usize, attr: &str, example: &str) -> Option<Diagnostic> {
    let value = block.attr(attr);
    let problem = match value {
        Value::Unknown => return None,
        Value::Null => "is required",
        _ => {
            let items = value.as_list().unwrap_or_default();
            if items.is_empty() {
                "must not be empty"
            } else if items
                .iter()
                .any(|x| x.is_null() || x.as_str().is_some_and(|s| s.trim().is_empty()))
            {
                "must not hold an empty or null element"
            } else {
                return None;
            }
        }
    };
    Some(
        Diagnostic::error(
            format!("Invalid users[{index}].{attr}"),
            format!(
                "user #{} (users[{index}]): `{attr}` {problem}: give at least one, e.g. {attr} = {example}.",
                index + 1
            ),
        )
        .at(AttrPath::attr("users").index(index as i64).then_attr(attr)),
    )
}

/// Checks the users as far as they are known (validation and plan): exactly one of
/// `users_json` and `users` blocks; the JSON is an array of user objects; every user has
/// `emails` and `importIds` (`import_ids` in a block).
pub fn check(config: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let json = config.attr("users_json");
    let blocks = config.attr("users");
    let list = blocks.as_list().unwrap_or_default();
    let conflicting = json.as_str().is_some() && !list.is_empty();
    let missing = json.is_null() && blocks.is_known() && list.is_empty();
    let refused = if conflicting {
        Some((
            "Conflicting users_json and users",
            "give either users_json or users blocks, not both.",
        ))
    } else if missing {
        Some((
            "Missing users",
            "give the users to import: users_json = jsonencode([...]) or users { emails = [...], import_ids = [...] } blocks.",
        ))
    } else {
        None
    };
    if let Some((summary, detail)) = refused {
        diags.push(Diagnostic::error(summary, detail).at(AttrPath::attr("users_json")));
        return diags;
    }
    if let Some(text) = json.as_str() {
        let checked = serde_json::from_str::<Json>(text)
            .map_err(|e| format!("not valid JSON: {e}"))
            .and_then(|v| run::check_users(&v));
        if let Err(e) = checked {
            diags.push(
                Diagnostic::error("Invalid users_json", format!("users_json: {e}."))
                    .at(AttrPath::attr("users_json")),
            );
        }
    }
    for (i, block) in list.iter().enumerate().filter(|(_, b)| b.is_known()) {
        for (attr, example) in [
            ("emails", "[\"ann@example.com\"]"),
            ("import_ids", "[\"ldap-42\"]"),
        ] {
            if let Some(d) = check_block_list(block, i, attr, example) {
                diags.push(d);
            }
        }
    }
    diags
}

/// The users of a fully known configuration, as `import.addUsers` objects.
pub fn users(config: &Value) -> Result<Vec<Json>, Diagnostics> {
    let diags = check(config);
    if diags.has_errors() {
        return Err(diags);
    }
    let invalid = |e: String, attr: &str| -> Diagnostics {
        Diagnostic::error(format!("Invalid {attr}"), format!("{attr}: {e}."))
            .at(AttrPath::attr(attr))
            .into()
    };
    match config.attr("users_json").as_str() {
        Some(text) => serde_json::from_str::<Json>(text)
            .map_err(|e| format!("not valid JSON: {e}"))
            .and_then(|v| run::check_users(&v))
            .map_err(|e| invalid(e, "users_json")),
        None => {
            let blocks = config.attr("users").as_list().unwrap_or_default();
            let users = Json::Array(blocks.iter().map(user_json).collect());
            run::check_users(&users).map_err(|e| invalid(e, "users"))
        }
    }
}

/// A duration attribute (`timeout`, `timeouts.create`) at `path`: `Ok(None)` when null or
/// unknown; an error names `label` and the expected form.
pub fn duration(v: &Value, path: AttrPath, label: &str) -> Result<Option<Duration>, Diagnostic> {
    crate::tfglue::duration_attr(v, path, label, "30s, 30m or 1h30m", |d| {
        let fmt = humantime::format_duration;
        (d < MIN_TIMEOUT || d > MAX_TIMEOUT).then(|| {
            format!(
                "must be between {} and {}",
                fmt(MIN_TIMEOUT),
                fmt(MAX_TIMEOUT)
            )
        })
    })
}

/// A known bool attribute, or `default`.
pub fn flag(v: &Value, name: &str, default: bool) -> bool {
    v.attr(name).as_bool().unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(emails: Value, ids: Value) -> Value {
        Value::object([("emails", emails), ("import_ids", ids)])
    }

    fn strs(items: &[&str]) -> Value {
        Value::list(items.iter().map(|s| Value::from(*s)))
    }

    fn config(json: Value, blocks: Value) -> Value {
        Value::object([("users_json", json), ("users", blocks)])
    }

    fn summaries(d: &Diagnostics) -> Vec<String> {
        d.iter().map(|d| d.summary.clone()).collect()
    }

    #[test]
    fn exactly_one_source_of_users() {
        let one = Value::list([block(strs(&["a@b.c"]), strs(&["a"]))]);
        let both = config(Value::from("[]"), one.clone());
        assert_eq!(
            summaries(&check(&both)),
            ["Conflicting users_json and users"]
        );
        assert!(
            check(&both)
                .iter()
                .next()
                .unwrap()
                .detail
                .contains("not both")
        );
        let none = config(Value::Null, Value::list([]));
        assert_eq!(summaries(&check(&none)), ["Missing users"]);
        // unknown values are not judged
        assert!(check(&config(Value::Unknown, Value::list([]))).is_empty());
        assert!(check(&config(Value::Null, Value::Unknown)).is_empty());
        assert!(check(&config(Value::Null, one.clone())).is_empty());
        assert_eq!(users(&config(Value::Null, one)).unwrap().len(), 1);
    }

    #[test]
    fn errors_name_the_user_and_the_field() {
        let json = config(
            Value::from(r#"[{"emails":["a@b.c"],"importIds":["a"]},{"emails":["b@c.d"]}]"#),
            Value::list([]),
        );
        let d = check(&json);
        let d = d.iter().next().unwrap();
        assert_eq!(d.summary, "Invalid users_json");
        assert!(
            d.detail.contains("user #2") && d.detail.contains("importIds"),
            "{d:?}"
        );
        let bad_json = config(Value::from("[{"), Value::list([]));
        assert!(
            check(&bad_json)
                .iter()
                .next()
                .unwrap()
                .detail
                .contains("not valid JSON")
        );

        let blocks = config(
            Value::Null,
            Value::list([
                block(strs(&["a@b.c"]), strs(&["a"])),
                block(strs(&[]), Value::list([Value::Null])),
                block(Value::Unknown, strs(&["c"])),
                Value::Unknown,
            ]),
        );
        let d = check(&blocks);
        assert_eq!(
            summaries(&d),
            ["Invalid users[1].emails", "Invalid users[1].import_ids"]
        );
        let first = d.iter().next().unwrap();
        assert!(first.detail.contains("user #2"), "{first:?}");
        assert_eq!(
            first.attribute.as_ref().map(ToString::to_string).as_deref(),
            Some("users[1].emails")
        );
    }

    #[test]
    fn blocks_become_the_documented_objects() {
        let mut b = block(strs(&["a@b.c"]), strs(&["a"]));
        b.set("status_text", Value::from("hi"));
        b.set("deleted", Value::Bool(false));
        let users = users(&config(Value::Null, Value::list([b]))).unwrap();
        assert_eq!(
            users[0],
            serde_json::json!({"emails": ["a@b.c"], "importIds": ["a"], "statusText": "hi", "deleted": false})
        );
    }

    #[test]
    fn durations_are_checked() {
        let at = || AttrPath::attr("timeout");
        assert_eq!(
            duration(&Value::from("30m"), at(), "timeout").unwrap(),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(duration(&Value::Unknown, at(), "timeout").unwrap(), None);
        let e = duration(&Value::from("soon"), at(), "timeout").unwrap_err();
        assert_eq!(e.summary, "Invalid timeout");
        assert!(e.detail.contains("\"soon\""), "{e:?}");
        assert!(duration(&Value::from("100h"), at(), "timeout").is_err());
    }
}
