//! A list of users to import, as `import.addUsers` takes them: a JSON array of objects with
//! `emails` and `importIds` (non-empty arrays of strings), each user once. Checked before
//! anything is sent; an error names the user and the field, or the duplicates.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

/// Checks a user list: a JSON array of objects with `emails` and `importIds` (non-empty
/// arrays of strings); an error names the user and the field.
pub fn check_users(value: &Value) -> Result<Vec<Value>, String> {
    let users = value.as_array().ok_or(
        "the users file must hold a JSON array of user objects, e.g. [{\"emails\": [\"ann@example.com\"], \"importIds\": [\"ann\"], \"username\": \"ann\"}]",
    )?;
    if users.is_empty() {
        return Err("the users array is empty: give at least one user".into());
    }
    for (i, u) in users.iter().enumerate() {
        let Some(obj) = u.as_object() else {
            return Err(format!("user #{} (index {i}) is not a JSON object", i + 1));
        };
        for field in ["emails", "importIds"] {
            let ok = obj
                .get(field)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string));
            if !ok {
                return Err(format!(
                    "user #{} (index {i}): `{field}` is required: a non-empty array of strings, e.g. {}",
                    i + 1,
                    if field == "emails" {
                        "[\"ann@example.com\"]"
                    } else {
                        "[\"ldap-42\"]"
                    }
                ));
            }
        }
    }
    duplicates(users)?;
    Ok(users.clone())
}

/// Refuses users that share an email (compared without case) or an import id: Rocket.Chat
/// would import the second over the first (same email) or skip it as already imported (same
/// import id), which is never what a list with both meant. Names up to five of them.
fn duplicates(users: &[Value]) -> Result<(), String> {
    let mut seen: HashMap<(&'static str, String), usize> = HashMap::new();
    let mut found = Vec::new();
    for (i, u) in users.iter().enumerate() {
        for (field, what) in [("emails", "email"), ("importIds", "importId")] {
            let values = u.get(field).and_then(Value::as_array).into_iter().flatten();
            let mut mine = BTreeSet::new();
            for v in values.filter_map(Value::as_str) {
                let key = if field == "emails" {
                    v.trim().to_lowercase()
                } else {
                    v.to_owned()
                };
                if !mine.insert(key.clone()) {
                    continue;
                }
                match seen.get(&(what, key.clone())) {
                    Some(first) => found.push(format!(
                        "users #{} and #{} share the {what} {v:?}",
                        first + 1,
                        i + 1
                    )),
                    None => {
                        seen.insert((what, key), i);
                    }
                }
            }
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let more = found.len().saturating_sub(5);
    found.truncate(5);
    Err(format!(
        "duplicate users: {}{}; give each user once (emails and importIds must be unique across the list)",
        found.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_user_list_names_the_missing_field() {
        let err =
            check_users(&json!([{"emails": ["a@b.c"], "importIds": ["a"]}, {"emails": ["b@c.d"]}]))
                .unwrap_err();
        assert!(
            err.contains("user #2") && err.contains("importIds"),
            "{err}"
        );
        assert!(check_users(&json!({"users": []})).is_err());
        assert_eq!(
            check_users(&json!([{"emails": ["a@b.c"], "importIds": ["a"]}]))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn duplicate_emails_or_import_ids_are_named() {
        let err = check_users(&json!([
            {"emails": ["Ann@example.com"], "importIds": ["a"]},
            {"emails": ["bob@example.com"], "importIds": ["b"]},
            {"emails": ["ann@example.com "], "importIds": ["c"]},
            {"emails": ["dee@example.com"], "importIds": ["b"]},
        ]))
        .unwrap_err();
        assert!(err.contains("users #1 and #3 share the email"), "{err}");
        assert!(
            err.contains("users #2 and #4 share the importId \"b\""),
            "{err}"
        );
        let one = json!([{"emails": ["a@b.c", "A@b.c"], "importIds": ["a", "a"]}]);
        assert!(
            check_users(&one).is_ok(),
            "one user repeating its own value is one user"
        );
    }
}
